"""A step that ended at its first attempt keeps no attempt log of its own in the store
(``rows.ONE_ATTEMPT``): the attempt is its row's status and times, and every reader
spells it out as before — ``wfe runs show``, ``wfe report`` — while a retried step's
log is kept whole. Rolling the step back changes its row's status, not what its
attempt did: the log is written out first. The real ``wfe`` process and its SQLite file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from wfe_core.store.rows import ONE_ATTEMPT
from wfe_core.store.runstore import RunStore

WORKFLOW = """\
id: once
steps:
  - {id: set, action: variable.set, parameters: {name: x, value: 1}}
  - id: flaky
    action: shell.execute
    parameters: {command: "test -f marker || { touch marker; exit 3; }"}
    max_retries: 1
    retry_delay: 0.01
    dependencies: [set]
  - {id: write, action: file.write, parameters: {path: out.txt, content: hi}, dependencies: [flaky]}
  - {id: plain, action: wait, parameters: {seconds: 0.001}, dependencies: [flaky]}
"""


def wfe(tmp_path, *args: str) -> str:
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def rows(tmp_path) -> dict[str, tuple]:
    """step id -> (status, attempts, attempt_log column, started_at, finished_at), as stored."""
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    try:
        found = db.execute("SELECT step_id, status, attempts, attempt_log, started_at, finished_at FROM steps")
        return {sid: rest for sid, *rest in found}
    finally:
        db.close()


def only_run(tmp_path) -> str:
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    try:
        ((run_id,),) = db.execute("SELECT run_id FROM runs").fetchall()
        return str(run_id)
    finally:
        db.close()


def one_attempt(status: str, started_at: float, finished_at: float) -> dict:
    return {"number": 1, "status": status, "started_at": started_at, "finished_at": finished_at, "error": None}


def test_a_first_attempt_is_its_row_and_readers_spell_it_out(tmp_path):
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    wfe(tmp_path, "run", "w.yaml")
    stored = rows(tmp_path)
    # Whatever else the row holds (variables set, a rollback memo, nothing): no log text.
    for sid in ("set", "write", "plain"):
        assert stored[sid][:3] == ["succeeded", 1, ONE_ATTEMPT], sid
    status, attempts, log, _, _ = stored["flaky"]
    assert (status, attempts) == ("succeeded", 2)
    assert [(a["number"], a["status"]) for a in json.loads(log)] == [(1, "failed"), (2, "succeeded")]

    run_id = only_run(tmp_path)
    shown = {
        s["step_id"]: s["attempt_log"] for s in json.loads(wfe(tmp_path, "runs", "show", run_id, "--json"))["steps"]
    }
    report = json.loads(wfe(tmp_path, "report", run_id, "-f", "json"))
    reported = {s["id"]: s["attempts"] for s in report["steps"]}
    for sid in ("set", "write", "plain"):
        status, _, _, started_at, finished_at = stored[sid]
        assert shown[sid] == [one_attempt(status, started_at, finished_at)], sid
        assert [(a["number"], a["status"], a["started_at"], a["finished_at"], a["error"]) for a in reported[sid]] == [
            (1, "succeeded", started_at, finished_at, None)
        ], sid
    assert shown["flaky"] == json.loads(stored["flaky"][2])
    assert [a["error"] for a in reported["flaky"]] == ["command exited with code 3 (expected 0)", None]


def test_a_rolled_back_step_still_shows_the_attempt_that_succeeded(tmp_path):
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    wfe(tmp_path, "run", "w.yaml")
    before = rows(tmp_path)["write"]
    run_id = only_run(tmp_path)
    assert "write: rolled_back" in wfe(tmp_path, "rollback", run_id)
    status, attempts, log, started_at, finished_at = rows(tmp_path)["write"]
    assert (status, attempts) == ("rolled_back", 1)
    # Written out before the status changed: the attempt it records succeeded.
    assert json.loads(log) == [one_attempt("succeeded", before[3], before[4])]
    shown = {s["step_id"]: s for s in json.loads(wfe(tmp_path, "runs", "show", run_id, "--json"))["steps"]}
    assert shown["write"]["status"] == "rolled_back"
    assert shown["write"]["attempt_log"] == [one_attempt("succeeded", started_at, finished_at)]
    assert rows(tmp_path)["plain"][2] == ONE_ATTEMPT  # (not compensated: left as it was)


# -- the store itself: what is kept as the row, and what is written out ---------------------


def _store(tmp_path, resumed: bool = False) -> RunStore:
    store = RunStore(tmp_path / "runs.sqlite")
    store.start_run(
        run_id="r1",
        workflow_id="w",
        workflow_name="w",
        source=None,
        definition=None,
        strategy="parallel",
        dry_run=False,
        variables={},
        step_ids=[("a", "fa")],
        resumed=resumed,
    )
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
