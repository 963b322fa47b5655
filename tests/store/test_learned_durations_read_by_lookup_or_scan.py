"""Learned durations read the same whether a workflow's rows are looked up by step id (up
to 500 steps) or read whole: including when an earlier run of the same workflow id had
thousands of steps this one no longer has. Real runs into a real SQLite file."""

from __future__ import annotations

import random
import sqlite3

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins
from wfe_core.store import learned
from wfe_core.store.journal import fingerprint
from wfe_core.store.runstore import RunStore


def _workflow(ids: list[str]) -> Workflow:
    return Workflow(id="same-id", steps=[WorkflowStep(id=sid, action="noop") for sid in ids])


def _engine(path) -> WorkflowEngine:
    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=path)
    engine.register_custom_action("noop", lambda _p, _c: None, side_effects=False, inline=True)
    return engine


def _both_ways(path, workflow: Workflow, monkeypatch) -> tuple[dict[str, float], dict[str, float]]:
    fingerprints = {s.id: fingerprint(s) for s in workflow.steps}
    store = RunStore(path)
    try:
        monkeypatch.setattr(learned, "_LOOKED_UP", 10**9)
        looked_up = learned.known_durations(store, workflow.id, fingerprints)
        monkeypatch.setattr(learned, "_LOOKED_UP", -1)
        scanned = learned.known_durations(store, workflow.id, fingerprints)
    finally:
        store.close()
    return looked_up, scanned


def test_a_small_workflow_learns_from_a_big_earlier_run_of_its_id(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    big = [f"s{i}" for i in range(1200)]
    assert _engine(path).run(_workflow(big)).succeeded
    small = _workflow(["s7", "s999", "new"])
    looked_up, scanned = _both_ways(path, small, monkeypatch)
    assert looked_up == scanned
    assert set(looked_up) == {"s7", "s999"}
    db = sqlite3.connect(path)
    (duration,) = db.execute("SELECT duration FROM steps WHERE step_id='s7'").fetchone()
    assert looked_up["s7"] == duration


def test_lookups_and_scans_agree_over_runs_with_different_steps(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    rng = random.Random(5)
    pool = [f"s{i}" for i in range(60)]
    engine = _engine(path)
    for _ in range(7):  # more runs than are read, each with a different subset of steps
        assert engine.run(_workflow(rng.sample(pool, rng.randint(1, 40)))).succeeded
    for _ in range(5):
        workflow = _workflow(rng.sample(pool, rng.randint(1, 60)))
        looked_up, scanned = _both_ways(path, workflow, monkeypatch)
        assert looked_up == scanned
