"""Fixtures: a real HTTP server on 127.0.0.1 and a real StepContext for calling actions directly."""

from __future__ import annotations

from typing import Any

import pytest
from wfe_core.model.context import StepContext
from wfe_core.load.convert import structure
from wfe_core.model.workflow import WorkflowStep
from wfe_http_testserver import TestServer

import wfe_http.plugin
from wfe_http.request import SESSION_KEY


@pytest.fixture
def server():
    srv = TestServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def make_context(tmp_path):
    """``make_context(timeout=…)``: a real StepContext for a step ``fetch``; sessions closed after."""
    made: list[StepContext] = []

    def make(timeout: float = 60.0, action: str = "http.get") -> StepContext:
        step = WorkflowStep(id="fetch", action=action, timeout=timeout)
        context = StepContext(run_id="run-1", workflow_id="wf", step=step, workdir=tmp_path)
        made.append(context)
        return context

    yield make
    for context in made:
        session = context.resources.get(SESSION_KEY)
        if session is not None:
            session.close()


ACTIONS = {a.name: a for a in wfe_http.plugin.wfe_actions()}


@pytest.fixture
def call(make_context):
    """``call("http.get", {...}, context=None)``: structure parameters and run the action."""

    def run(name: str, parameters: dict[str, Any], context: StepContext | None = None) -> Any:
        action = ACTIONS[name]
        return action.func(structure(parameters, action.parameters), context or make_context(action=name))

    return run


@pytest.fixture(autouse=True)
def _isolated_run_store(tmp_path, monkeypatch):
    """Each test records its runs in its own store, never in the user's."""
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
