"""The plugin's ``wfe_event_kinds`` names every kind run coordination reads and no other:
a run need not build ``progress`` (nor retries, waits, rollbacks) for it, and a
coordinated run still hears each step start and end (the end-to-end tests in
``test_run_coordination_records_and_learns.py`` prove the records through the server)."""

from __future__ import annotations

from wfe_claude_flow import coordination
from wfe_claude_flow.plugin import EVENT_KINDS, wfe_event_kinds
from wfe_core import load_plugins
from wfe_core.monitoring import KINDS


def test_the_declared_kinds_are_what_coordination_handles():
    assert set(wfe_event_kinds()) == {"run.started", "run.finished", "step.started", *coordination._FINISHED}
    assert set(EVENT_KINDS) <= KINDS
    assert "progress" not in EVENT_KINDS


def test_the_installed_plugin_does_not_ask_for_progress():
    plugins = load_plugins()
    assert plugins.hears("step.succeeded") and plugins.hears("run.started")
    assert not plugins.hears("progress")
