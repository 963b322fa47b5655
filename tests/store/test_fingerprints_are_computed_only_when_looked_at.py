"""A run without a store computes its steps' fingerprints only if a plugin that learns
durations looks at them (10,000 steps take ~50 ms; wfe-claude-flow looks only in
coordinated runs)."""

from __future__ import annotations

import types

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, engine, hookimpl, load_plugins
from wfe_core.store import journal

WORKFLOW = Workflow(
    id="fp",
    steps=[
        WorkflowStep(id="a", action="variable.set", parameters={"name": "x", "value": 1}),
        WorkflowStep(id="b", action="variable.set", parameters={"name": "y", "value": 2}, dependencies=["a"]),
    ],
)


def _counting(monkeypatch) -> list[str]:
    counted: list[str] = []
    real = journal.fingerprint

    def fingerprint(step):
        counted.append(step.id)
        return real(step)

    monkeypatch.setattr(journal, "fingerprint", fingerprint)
    monkeypatch.setattr(engine, "fingerprint", fingerprint)
    return counted


def _learner(durations):
    @hookimpl
    def wfe_step_durations(workflow, run_id, run_info, fingerprints):
        return durations(fingerprints)

    return types.SimpleNamespace(__name__="learner", wfe_step_durations=wfe_step_durations)


def test_a_plugin_that_does_not_look_costs_no_fingerprints(monkeypatch, tmp_path):
    counted = _counting(monkeypatch)
    plugins = load_plugins(autoload=False, extra={"learner": _learner(lambda _fps: None)})
    assert WorkflowEngine(plugins=plugins, store=None).run(WORKFLOW).succeeded
    assert counted == []
    # With a store they are recorded with the run: computed once each.
    assert WorkflowEngine(plugins=plugins, store=tmp_path / "runs.sqlite").run(WORKFLOW).succeeded
    assert counted == ["a", "b"]


def test_a_plugin_that_looks_gets_every_steps_fingerprint(monkeypatch):
    seen: dict[str, str] = {}

    def durations(fingerprints):
        assert len(fingerprints) == 2 and list(fingerprints) == ["a", "b"]
        seen.update(fingerprints)
        return {"a": 1.5}

    plugins = load_plugins(autoload=False, extra={"learner": _learner(durations)})
    stats = WorkflowEngine(plugins=plugins, store=None).run(WORKFLOW)
    assert stats.succeeded
    assert seen == {s.id: journal.fingerprint(s) for s in WORKFLOW.steps}
