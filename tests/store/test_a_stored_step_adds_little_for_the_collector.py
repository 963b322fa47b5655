"""What a run store holds per step adds almost nothing for Python's cyclic collector to
count: every tuple or list a step leaves alive brings the next collection sooner, and a
full collection walks everything alive (a stored 10,000-step run once made ~100 more
collections than the same run without a store, two of them full ones).

``gc.get_count()[0]`` counts the objects made that the collector may track (tuples,
lists, dicts, instances; less those freed) since its last collection, and a collection
runs when it reaches 700: with the collector paused, the difference over a run's writes
is what they leave for it.
"""

from __future__ import annotations

import gc

from stored_runs import start_run

from wfe_core.store.runstore import RunStore

STEPS = 1000


def _tracked_by(write) -> int:
    was = gc.isenabled()
    gc.disable()
    try:
        before = gc.get_count()[0]
        write()
        return gc.get_count()[0] - before
    finally:
        if was:
            gc.enable()


def test_planning_steps_keeps_no_object_per_step(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    try:
        ids = [(f"s{i}", f"f{i}") for i in range(STEPS)]
        assert _tracked_by(lambda: start_run(store, ids)) < STEPS / 10
    finally:
        store.close()


def test_a_step_that_ends_at_its_first_attempt_waits_for_the_commit_as_one_row(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    try:
        start_run(store, [(f"s{i}", f"f{i}") for i in range(STEPS)])
        store.commit()

        def run_steps() -> None:
            for i in range(STEPS):
                sid, at = f"s{i}", 1000.0 + i
                store.step_started("r1", sid, 1, at)
                store.attempt_finished("r1", sid, 1, "succeeded", at, None, at + 0.5)
                store.step_finished("r1", sid, "succeeded", 1, None, None, None, None, None, at, at + 0.5, 0.5, i)

        # Each step leaves its row's parameters (one tuple, until the commit) and its log
        # entry (a dict): no list for its log, no (run id, step id) keys, no joined tuples.
        assert _tracked_by(run_steps) <= STEPS * 2.1
        store.commit()
        (logs,) = store.db.execute("SELECT count(*) FROM steps WHERE attempt_log = ''").fetchone()
        assert logs == STEPS
    finally:
        store.close()


def test_a_retried_step_keeps_its_whole_log(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    try:
        start_run(store, [("a", "fa")])
        store.step_started("r1", "a", 1, 10.0)
        store.attempt_finished("r1", "a", 1, "failed", 10.0, "boom", 11.0)
        store.commit()  # attempt 2 starts after a commit: its running row has both entries
        store.step_started("r1", "a", 2, 12.0)
        store.commit()
        (running,) = store.db.execute("SELECT attempt_log FROM steps WHERE step_id='a'").fetchone()
        store.attempt_finished("r1", "a", 2, "succeeded", 12.0, None, 13.0)
        store.step_finished("r1", "a", "succeeded", 2, None, None, None, None, None, 12.0, 13.0, 1.0, 0)
        store.commit()
        (step,) = store.run("r1")["steps"]
    finally:
        store.close()
    assert [(e["number"], e["status"]) for e in step["attempt_log"]] == [(1, "failed"), (2, "succeeded")]
    assert '"number":1' in running and '"number":2' in running
