"""Fixtures: a real HTTP server on 127.0.0.1, and wfe_core.testing's (an isolated run
store, a real StepContext) for calling actions directly."""

from __future__ import annotations

from typing import Any

import pytest
from wfe_http_testserver import TestServer

import wfe_http.plugin
from wfe_core import StepContext
from wfe_http.request import SESSION_KEY

# wfe_isolated_store (autouse: $WFE_STORE in tmp_path), wfe_context and wfe_call.
pytest_plugins = ["wfe_core.testing"]


@pytest.fixture
def server():
    srv = TestServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def make_context(wfe_context):
    """``make_context(timeout=…)``: a real StepContext for a step ``fetch``; sessions closed after."""
    made: list[StepContext] = []

    def make(timeout: float = 60.0, action: str = "http.get") -> StepContext:
        context = wfe_context(action=action, step_id="fetch", timeout=timeout)
        made.append(context)
        return context

    yield make
    for context in made:
        session = context.resources.get(SESSION_KEY)
        if session is not None:
            session.close()


ACTIONS = {a.name: a for a in wfe_http.plugin.wfe_actions()}


@pytest.fixture
def call(make_context, wfe_call):
    """``call("http.get", {...}, context=None)``: structure parameters and run the action."""

    def run(name: str, parameters: dict[str, Any], context: StepContext | None = None) -> Any:
        return wfe_call(ACTIONS[name], parameters, context or make_context(action=name))

    return run
