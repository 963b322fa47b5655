"""Fixtures: wfe_core.testing's (an isolated run store, a real StepContext) and a helper
that runs shell.execute as the core does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import wfe_shell.plugin
from wfe_core import StepContext

# Property tests are judged on what they find, not on how fast the shared machine makes
# their examples: no deadline, and no health check failing a slow minute's generation.
settings.register_profile("shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")

# wfe_isolated_store (autouse: $WFE_STORE in tmp_path), wfe_context, wfe_plugins, wfe_call.
pytest_plugins = ["wfe_core.testing"]


@pytest.fixture
def make_context(wfe_context):
    def make(**kwargs: Any) -> StepContext:
        return wfe_context(action="shell.execute", step_id="sh", **kwargs)

    return make


@pytest.fixture
def context(make_context):
    return make_context()


@pytest.fixture
def run(context, wfe_plugins, wfe_call):
    """``run(params, ctx=None)``: structure like the core does, then call shell.execute."""
    action = wfe_plugins(wfe_shell.plugin).actions["shell.execute"]

    def call(params: dict, ctx: StepContext | None = None) -> Any:
        return wfe_call(action, params, ctx or context)

    return call
