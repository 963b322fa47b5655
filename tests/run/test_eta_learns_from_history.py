"""The ETA: learned from earlier runs in the store, along the DAG, through the observer contract.

Real runs of ``wait`` steps with a real SQLite run store; no mocks.
"""

from __future__ import annotations

import logging
import time

from wfe_core import RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.run.eta import learned_durations, remaining_time


def wait(sid: str, seconds: float, *deps: str) -> WorkflowStep:
    return WorkflowStep(id=sid, action="wait", parameters={"seconds": seconds}, dependencies=deps)


def diamond(c_seconds: float = 2.5) -> Workflow:
    # a, then b and c side by side, then d: remaining after a is max(b, c) + d = 3.5 s,
    # where a linear extrapolation of a's pace would say 1.5 s.
    return Workflow(
        id="eta-diamond",
        steps=[wait("a", 0.5), wait("b", 1.5, "a"), wait("c", c_seconds, "a"), wait("d", 1.0, "b", "c")],
    )


def run_watched(engine: WorkflowEngine, workflow: Workflow) -> tuple[list[tuple[float, dict]], float]:
    updates: list[tuple[float, dict]] = []

    def observe(workflow_id: str, data: dict) -> None:
        updates.append((time.monotonic(), data))

    engine.progress_tracker.add_observer(observe)
    try:
        stats = engine.run(workflow, max_workers=2)
    finally:
        engine.progress_tracker.remove_observer(observe)
    assert stats.status is RunStatus.SUCCEEDED
    return updates, time.monotonic()


def at_quarter(updates: list[tuple[float, dict]]) -> tuple[float, dict]:
    return next((t, data) for t, data in updates if data["completion_percentage"] >= 25.0)


def test_second_run_eta_at_25_percent_is_within_20_percent_of_the_actual_remaining_time(tmp_path):
    engine = WorkflowEngine(store=tmp_path / "runs.sqlite")
    first, _ = run_watched(engine, diamond())
    _, rough = at_quarter(first)
    # The first run knows only a's 0.5 s: its estimate may be rough (here: far too short).
    assert rough["eta_seconds"] is None or rough["eta_seconds"] < 2.5

    second, ended = run_watched(engine, diamond())
    when, data = at_quarter(second)
    actual = ended - when
    assert data["eta_seconds"] is not None
    assert abs(data["eta_seconds"] - actual) <= 0.2 * actual, (data["eta_seconds"], actual)


def test_observer_payload_has_the_documented_keys(tmp_path):
    engine = WorkflowEngine(store=tmp_path / "runs.sqlite")
    updates, _ = run_watched(engine, diamond(c_seconds=0.1))
    keys = {
        "completion_percentage",
        "completed_steps",
        "total_steps",
        "running",
        "failed",
        "elapsed",
        "eta_seconds",
    }
    for _, data in updates:
        assert keys <= set(data)
    first = updates[0][1]
    assert (first["completed_steps"], first["total_steps"], first["failed"]) == (1, 4, [])
    assert isinstance(first["running"], list) and first["elapsed"] > 0
    last = updates[-1][1]
    assert (last["completion_percentage"], last["eta_seconds"], last["running"]) == (100.0, 0.0, [])


def test_an_observer_that_raises_is_logged_and_the_run_goes_on(tmp_path, caplog):
    engine = WorkflowEngine(store=None)
    seen = []

    def broken(workflow_id: str, data: dict) -> None:
        raise RuntimeError("observer bug")

    engine.progress_tracker.add_observer(broken)
    engine.progress_tracker.add_observer(lambda wid, data: seen.append(data["completed_steps"]))
    with caplog.at_level(logging.ERROR, logger="wfe.progress"):
        stats = engine.run(Workflow(id="obs", steps=[wait("x", 0.0), wait("y", 0.0, "x")]))
    assert stats.status is RunStatus.SUCCEEDED
    assert seen == [1, 2]
    assert any("observer failed" in r.getMessage() for r in caplog.records)


def test_learned_durations_match_the_step_definition(tmp_path):
    from wfe_core.store.journal import fingerprint

    store = tmp_path / "runs.sqlite"
    engine = WorkflowEngine(store=store)
    engine.run(diamond(c_seconds=0.2), max_workers=2)
    changed = diamond(c_seconds=0.3)  # c's definition changed: its history no longer applies
    learned = learned_durations(store, "eta-diamond", {s.id: fingerprint(s) for s in changed.steps})
    assert set(learned) == {"a", "b", "d"}
    assert abs(learned["b"] - 1.5) < 0.3


def test_remaining_time_follows_the_dag_and_the_worker_limit():
    deps = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}
    est = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 1.0}
    assert remaining_time(deps, est, set(), {}, workers=2) == 5.0  # a, c, d
    assert remaining_time(deps, est, set(), {}, workers=1) == 7.0  # every step in turn
    # a finished, c running for 1 s: c has 2 s left, b runs beside it, then d.
    assert remaining_time(deps, est, {"a"}, {"c": 1.0}, workers=2) == 3.0
    assert remaining_time(deps, est, set(deps), {}, workers=2) == 0.0
