"""A step that ended at its first attempt keeps no attempt log of its own in the store
(``rows.ONE_ATTEMPT``): readers spell it out from the row's status and times. Only the
usual attempt is kept so (its status, times, error and keys are the row's); any other
is written out whole, and a kept one is written out before its row changes (a resume, a
fan-out step's running row). A real SQLite file; through the ``wfe`` process in
tests/integration/test_a_single_attempt_is_read_from_its_row_through_cli.py.
"""

from __future__ import annotations

import json

import pytest
from stored_runs import start_run

from wfe_core.store.rows import ONE_ATTEMPT
from wfe_core.store.runstore import RunStore


def _store(tmp_path, resumed: bool = False) -> RunStore:
    store = RunStore(tmp_path / "runs.sqlite")
    start_run(store, [("a", "fa")], resumed=resumed)
    return store


def _ran(
    store: RunStore, number: int, attempt: str, step: str, finished: float, error: str | None = None, **noted: str
) -> None:
    """Attempt ``number`` of step a ran from 10.0 to 11.0 and ended ``attempt`` (with
    ``error``); the step ended ``step`` at ``finished`` (its row's time)."""
    store.step_started("r1", "a", number, 10.0)
    if noted:
        store.attempt_noted("r1", "a", number, **noted)
    store.attempt_finished("r1", "a", number, attempt, 10.0, error, 11.0)
    store.step_finished("r1", "a", step, number, None, None, None, error, None, 10.0, finished, 1.0, None)
    store.commit()


def _read(store: RunStore) -> tuple[str, list[dict]]:
    (raw,) = store.db.execute("SELECT attempt_log FROM steps WHERE step_id='a'").fetchone()
    return raw, store.run("r1")["steps"][0]["attempt_log"]


@pytest.mark.parametrize(
    ("attempt", "step", "finished", "error", "noted"),
    [
        ("succeeded", "cancelled", 11.0, None, {}),  # the step's status is not its attempt's
        ("succeeded", "succeeded", 11.5, None, {}),  # nor its time
        ("failed", "failed", 11.0, "boom", {}),  # an error
        ("succeeded", "succeeded", 11.0, None, {"worker": "tcp://127.0.0.1:1"}),  # a key more (wfe-dask)
    ],
)
def test_an_attempt_that_is_not_its_row_is_written_out_whole(tmp_path, attempt, step, finished, error, noted):
    store = _store(tmp_path)
    try:
        _ran(store, 1, attempt, step, finished, error, **noted)
        raw, log = _read(store)
    finally:
        store.close()
    expected = [{"number": 1, "status": attempt, "started_at": 10.0, **noted, "finished_at": 11.0, "error": error}]
    assert raw != ONE_ATTEMPT and json.loads(raw) == expected
    assert log == expected


def test_an_attempt_whose_times_are_not_floats_is_written_out_as_they_are(tmp_path):
    """A REAL column reads an int back as a float: such an attempt is not kept as the row."""
    store = _store(tmp_path)
    try:
        store.step_started("r1", "a", 1, 10)
        store.attempt_finished("r1", "a", 1, "succeeded", 10, None, 11)
        store.step_finished("r1", "a", "succeeded", 1, None, None, None, None, None, 10, 11, 1.0, None)
        store.commit()
        raw, log = _read(store)
    finally:
        store.close()
    assert raw != ONE_ATTEMPT
    assert [(type(a["started_at"]), type(a["finished_at"])) for a in log] == [(int, int)]


def test_a_resumed_step_keeps_its_first_attempt_in_its_log(tmp_path):
    store = _store(tmp_path)
    try:
        _ran(store, 1, "cancelled", "cancelled", 11.0)
        assert _read(store)[0] == ONE_ATTEMPT
    finally:
        store.close()
    store = _store(tmp_path, resumed=True)
    try:
        _ran(store, 2, "succeeded", "succeeded", 11.0)
        _, log = _read(store)
    finally:
        store.close()
    assert [(a["number"], a["status"]) for a in log] == [(1, "cancelled"), (2, "succeeded")]


def test_a_step_that_runs_again_as_a_fan_out_step_keeps_its_earlier_attempt(tmp_path):
    store = _store(tmp_path)
    try:
        _ran(store, 1, "cancelled", "cancelled", 11.0)
    finally:
        store.close()
    store = _store(tmp_path, resumed=True)
    try:
        store.step_running("r1", "a", 20.0)  # its instances started (no attempt of its own)
        store.commit()
        status = store.run("r1")["steps"][0]["status"]
        _, log = _read(store)
    finally:
        store.close()
    assert status == "running"
    assert log == [{"number": 1, "status": "cancelled", "started_at": 10.0, "finished_at": 11.0, "error": None}]
