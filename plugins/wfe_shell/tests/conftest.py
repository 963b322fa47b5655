"""Shared fixtures: a real StepContext in tmp_path and a helper that runs shell.execute."""

from __future__ import annotations

from typing import Any

import pytest
from wfe_core.model.context import StepContext
from wfe_core.load.convert import structure
from wfe_core.model.workflow import WorkflowStep

from wfe_shell.execute import execute
from wfe_shell.params import ShellParams


@pytest.fixture
def make_context(tmp_path):
    def make(**kwargs: Any) -> StepContext:
        kwargs.setdefault("workdir", tmp_path)
        step = WorkflowStep(id="sh", action="shell.execute")
        return StepContext(run_id="run-1", workflow_id="wf", step=step, **kwargs)

    return make


@pytest.fixture
def context(make_context):
    return make_context()


@pytest.fixture
def run(context):
    """``run(params, ctx=None)``: structure like the core does, then call shell.execute."""

    def call(params: dict, ctx: StepContext | None = None) -> Any:
        return execute(structure(params, ShellParams), ctx or context)

    return call


@pytest.fixture(autouse=True)
def _isolated_run_store(tmp_path, monkeypatch):
    """Each test records its runs in its own store, never in the user's."""
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
