"""Fixtures: wfe_core.testing's (an isolated run store, a real StepContext), no file root,
and a helper that calls an action as the core does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wfe_core import StepContext
from wfe_core.plugin import structure
from wfe_file.paths import FILE_ROOT_ENV

# wfe_isolated_store (autouse: $WFE_STORE in tmp_path) and wfe_context.
pytest_plugins = ["wfe_core.testing"]


@pytest.fixture(autouse=True)
def _no_file_root(monkeypatch):
    monkeypatch.delenv(FILE_ROOT_ENV, raising=False)


@pytest.fixture
def make_context(wfe_context):
    def make(action: str = "file.write", workdir: Path | None = None, **kwargs: Any) -> StepContext:
        if workdir is not None:
            kwargs["workdir"] = workdir
        return wfe_context(action=action, step_id="s1", **kwargs)

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
