"""Shared fixtures: a hermetic plugin registry (built-ins only) and an engine on it."""

from __future__ import annotations

import pytest

from wfe_core import WorkflowEngine, load_plugins


@pytest.fixture
def plugins():
    return load_plugins(autoload=False)


@pytest.fixture
def engine(plugins):
    engine = WorkflowEngine(max_concurrent_steps=4, plugins=plugins)
    yield engine
    engine.cleanup()
