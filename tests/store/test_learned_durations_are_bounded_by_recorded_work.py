"""Learned durations are skipped only on the work the runs they would come from recorded
(``runs.work``, their steps' summed durations): a finished run keeps it; a run that did
not finish, or is being resumed, has none, and then the durations are read. Real runs
and a real SQLite file."""

from __future__ import annotations

import sqlite3

from stored_runs import start_run

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins
from wfe_core.store.learned import known_durations
from wfe_core.store.runstore import RunStore

STEPS = {"s0": "f0", "s1": "f1", "s2": "f2"}


def test_a_finished_run_keeps_its_steps_summed_durations(tmp_path):
    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=tmp_path / "runs.sqlite")
    engine.register_custom_action("nap", lambda params, ctx: ctx.sleep(params["s"]), side_effects=False)
    stats = engine.run(
        Workflow(id="w", steps=[WorkflowStep(id=f"s{i}", action="nap", parameters={"s": 0.02}) for i in range(3)])
    )
    assert stats.succeeded
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    ((work,),) = db.execute("SELECT work FROM runs").fetchall()
    assert work == stats.busy_time >= 0.06


def _succeeded(store: RunStore, step_id: str, seconds: float, number: int = 1) -> None:
    store.step_started("r1", step_id, number, 100.0)
    store.attempt_finished("r1", step_id, number, "succeeded", 100.0, None, 100.0 + seconds)
    store.step_finished(
        "r1", step_id, "succeeded", number, None, None, None, None, None, 100.0, 100.0 + seconds, seconds, 1
    )
    store.commit()


def test_a_run_that_did_not_finish_is_read_whatever_it_did(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    try:
        start_run(store, STEPS.items(), strategy="adaptive")
        for sid in STEPS:
            _succeeded(store, sid, 10.0)  # then the process died: no work recorded
        assert known_durations(store, "w", STEPS, at_once=8) == dict.fromkeys(STEPS, 10.0)
    finally:
        store.close()


def test_a_resumed_run_forgets_its_earlier_work_until_it_finishes(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    try:
        start_run(store, STEPS.items(), strategy="adaptive")
        store.finish_run("r1", status="failed", error="boom", variables={}, work=1e-6)  # failed at once
        start_run(store, STEPS.items(), resumed=True, strategy="adaptive")
        for sid in STEPS:
            _succeeded(store, sid, 10.0)  # then the resumed process died
        assert known_durations(store, "w", STEPS, at_once=8) == dict.fromkeys(STEPS, 10.0)
        store.finish_run("r1", status="succeeded", error=None, variables={}, work=30.0)
        assert known_durations(store, "w", STEPS, at_once=8) == dict.fromkeys(STEPS, 10.0)
    finally:
        store.close()
