"""A step that ended at its first attempt keeps no attempt log of its own in the store
(``rows.ONE_ATTEMPT``): the attempt is its row's status and times, and every reader
spells it out as before — ``wfe runs show``, ``wfe report`` — while a retried step's
log is kept whole. Rolling the step back changes its row's status, not what its
attempt did: the log is written out first. The real ``wfe`` process and its SQLite file,
with wfe-shell and wfe-file (the store's own cases: tests/store/test_a_single_attempt_is_read_from_its_row.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from wfe_core.store.rows import ONE_ATTEMPT

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
