"""Shared fixtures: a real StepContext rooted in tmp_path, and a helper to call actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from wfe_core.model.context import StepContext
from wfe_core.load.convert import structure
from wfe_core.model.workflow import WorkflowStep

from wfe_file.paths import FILE_ROOT_ENV


@pytest.fixture(autouse=True)
def _no_file_root(monkeypatch):
    monkeypatch.delenv(FILE_ROOT_ENV, raising=False)


@pytest.fixture
def make_context(tmp_path):
    def make(action: str = "file.write", workdir: Path | None = None, **kwargs: Any) -> StepContext:
        step = WorkflowStep(id="s1", action=action)
        return StepContext(run_id="run-1", workflow_id="wf", step=step, workdir=workdir or tmp_path, **kwargs)

    return make


@pytest.fixture
def context(make_context):
    return make_context()


@pytest.fixture
def call():
    """``call(func, ParamsClass, params, context)``: structure like the core does, then call."""

    def run(func, params_cls, params: dict, context: StepContext) -> Any:
        return func(structure(params, params_cls), context)

    return run


@pytest.fixture(autouse=True)
def _isolated_run_store(tmp_path, monkeypatch):
    """Each test records its runs in its own store, never in the user's."""
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
