"""Shared fixtures: a hermetic plugin registry (built-ins only) and an engine on it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from wfe_core import WorkflowEngine, load_plugins

# Property tests are judged on what they find, not on how fast the shared machine makes
# their examples: no deadline, and no health check failing a slow minute's generation.
settings.register_profile("shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")


@pytest.fixture
def plugins():
    return load_plugins(autoload=False)


@pytest.fixture
def engine(plugins):
    engine = WorkflowEngine(max_concurrent_steps=4, plugins=plugins)
    yield engine
    engine.cleanup()


@pytest.fixture(autouse=True)
def _isolated_run_store(tmp_path, monkeypatch):
    """Each test records its runs in its own store, never in the user's, and keeps its own
    plugin index (what installed plugins provide: see wfe_core.plugin.index)."""
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.setenv("WFE_PLUGIN_CACHE", str(tmp_path / "plugin-index.json"))
