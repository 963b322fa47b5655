"""A commit that fails (another process held the write lock past the timeout, a full
disk) keeps the writes it was making: they wait for the next commit, as the run's crash
handler expects (it commits what ended before the error, so resume does not run it
again). And a step resumed from a row with no attempts keeps its first attempt as its row."""

from __future__ import annotations

import sqlite3

import pytest
from stored_runs import start_run

from wfe_core.store.rows import ONE_ATTEMPT
from wfe_core.store.runstore import RunStore, StoreError


def _finish(store: RunStore, sid: str, at: float, seq: int) -> None:
    store.step_started("r1", sid, 1, at)
    store.attempt_finished("r1", sid, 1, "succeeded", at, None, at + 0.5)
    store.step_finished("r1", sid, "succeeded", 1, None, None, None, None, None, at, at + 0.5, 0.5, seq)


# One finished row alone is a statement of its own; more rows, or a running one, a transaction.
@pytest.mark.parametrize(("steps", "running"), [(1, False), (3, True)])
def test_a_failed_commit_keeps_its_rows_for_the_next(tmp_path, steps, running):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path, timeout=0.1)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        start_run(store, [(f"s{i}", f"f{i}") for i in range(steps)])
        for i in range(steps):
            _finish(store, f"s{i}", 100.0 + i, i)
        if running:
            store.step_started("r1", "late", 1, 200.0)  # still running: a "running" row
        other.execute("BEGIN IMMEDIATE")  # another process writes
        with pytest.raises(StoreError, match="locked"):
            store.commit()
        assert store.dirty
        other.execute("ROLLBACK")
        store.mark_failed("r1", "internal error")  # what a run's crash handler does: commits first
        rows = dict(store.db.execute("SELECT step_id, status FROM steps").fetchall())
        logs = {r[0] for r in store.db.execute("SELECT step_id FROM steps WHERE attempt_log=?", (ONE_ATTEMPT,))}
    finally:
        other.close()
        store.close()
    assert rows == {**{f"s{i}": "succeeded" for i in range(steps)}, **({"late": "running"} if running else {})}
    assert logs == {f"s{i}" for i in range(steps)}


def test_a_step_resumed_from_a_row_without_attempts_keeps_its_first_as_its_row(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    start_run(store, [("a", "fa"), ("b", "fb")])
    _finish(store, "a", 100.0, 0)
    store.set_step_status("r1", "b", "cancelled")  # a row, no attempt
    store.commit()
    store.close()
    store = RunStore(path)  # `wfe resume`: a new connection
    try:
        start_run(store, [("a", "fa"), ("b", "fb")], resumed=True)
        _finish(store, "b", 300.0, 1)
        store.commit()
        (raw,) = store.db.execute("SELECT attempt_log FROM steps WHERE step_id='b'").fetchone()
        (step,) = [s for s in store.run("r1")["steps"] if s["step_id"] == "b"]
    finally:
        store.close()
    assert raw == ONE_ATTEMPT
    assert [(e["number"], e["status"], e["started_at"]) for e in step["attempt_log"]] == [(1, "succeeded", 300.0)]
