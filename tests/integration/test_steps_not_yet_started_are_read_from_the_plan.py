"""A step gets its row in the store when it first starts (or is skipped, or finishes);
until then readers list it from the run's plan, as pending, in file order.

Through the ``wfe`` process: a run killed with ``kill -9`` while its second step runs has
rows only for the steps that started, yet ``wfe runs show``, ``wfe report`` and ``wfe
resume`` all see the whole file. A fan-out step expanded before it had a row lists its
instances right after itself. A store of schema 4 (a pending row per step) still reads
the same, read-only by a report and migrated by the run store.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

CHAIN = """\
    id: planned
    steps:
      - id: first
        action: shell.execute
        parameters: {command: "echo ran >> {out}/first-runs"}
      - id: slow
        action: shell.execute
        dependencies: [first]
        parameters: {command: "if [ -e {out}/slow-started ]; then exit 0; fi; touch {out}/slow-started; sleep 60"}
      - id: third
        action: shell.execute
        dependencies: [slow]
        parameters: {command: "echo ran >> {out}/third-runs"}
      - id: fourth
        action: variable.set
        dependencies: [third]
        parameters: {name: done, value: yes}
      - id: alone
        action: wait
        dependencies: [slow]
        parameters: {seconds: 0}
      - id: quick
        action: variable.set
        parameters: {name: early, value: yes}
"""
FILE_ORDER = ["first", "slow", "third", "fourth", "alone", "quick"]


def _env(tmp_path) -> dict[str, str]:
    return {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}


def _wfe(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], env=_env(tmp_path), capture_output=True, text=True, timeout=120
    )


def _status(tmp_path, step_id: str) -> str | None:
    """The status in ``step_id``'s row of the store (None: no row, or no store yet)."""
    path = tmp_path / "runs.sqlite"
    if not path.exists():
        return None
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute("SELECT status FROM steps WHERE step_id=?", (step_id,)).fetchone()
    except sqlite3.OperationalError:  # the tables are being created
        return None
    finally:
        db.close()
    return None if row is None else str(row[0])


def _killed_in_slow(tmp_path) -> tuple[str, object]:
    """Run CHAIN through ``wfe``, kill -9 its process group once ``slow`` runs; the run id and out folder."""
    out = tmp_path / "out"
    out.mkdir()
    flow = tmp_path / "flow.yaml"
    flow.write_text(textwrap.dedent(CHAIN))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", str(flow), "--var", f"out={out}"],
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / "slow-started").exists() or _status(tmp_path, "slow") != "running":
            # (the row saying it runs is committed a moment after it starts)
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the step 'slow' never started, or its row never said so")
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    listed = json.loads(_wfe(tmp_path, "runs", "--json").stdout)
    return listed[0]["run_id"], out


def test_a_killed_run_has_rows_only_for_started_steps_and_lists_every_step(tmp_path):
    run_id, out = _killed_in_slow(tmp_path)
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        rows = dict(db.execute("SELECT step_id, status FROM steps WHERE run_id=?", (run_id,)).fetchall())
    assert rows == {"first": "succeeded", "quick": "succeeded", "slow": "running"}  # none for the others

    shown = _wfe(tmp_path, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert run["status"] == "interrupted"
    statuses = {s["step_id"]: s["status"] for s in run["steps"]}
    assert statuses == {
        "first": "succeeded",
        "slow": "interrupted",
        "third": "pending",
        "fourth": "pending",
        "alone": "pending",
        "quick": "succeeded",
    }
    # the finished steps first (in the order they finished), then the others in file order
    listed = [s["step_id"] for s in run["steps"]]
    assert sorted(listed[:2]) == ["first", "quick"] and listed[2:] == ["slow", "third", "fourth", "alone"]
    pending = next(s for s in run["steps"] if s["step_id"] == "fourth")
    assert pending["attempts"] == 0 and pending["attempt_log"] == [] and pending["fingerprint"]

    report = _wfe(tmp_path, "report", run_id, "--format", "json")
    assert report.returncode == 0, report.stderr
    reported = json.loads(report.stdout)
    steps = reported["steps"] if isinstance(reported, dict) else reported
    assert [(s["id"], s["status"]) for s in steps] == [  # a report lists them in file order
        ("first", "succeeded"),
        ("slow", "interrupted"),
        ("third", "pending"),
        ("fourth", "pending"),
        ("alone", "pending"),
        ("quick", "succeeded"),
    ]

    resumed = _wfe(tmp_path, "resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (out / "first-runs").read_text() == "ran\n"  # finished: not run again
    assert (out / "third-runs").read_text() == "ran\n"
    after = json.loads(_wfe(tmp_path, "runs", "show", run_id, "--json").stdout)
    assert {s["step_id"]: s["status"] for s in after["steps"]} == dict.fromkeys(FILE_ORDER, "succeeded")


FANOUT = """\
    id: fanned
    steps:
      - id: before
        action: variable.set
        parameters: {name: x, value: 1}
      - id: each
        action: variable.set
        dependencies: [before]
        for_each: [a, b, c]
        parameters: {name: "v_{item}", value: "{item}"}
      - id: after
        action: variable.set
        parameters: {name: y, value: 2}
"""


def test_fanout_instances_are_listed_right_after_their_step(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(textwrap.dedent(FANOUT))
    ran = _wfe(tmp_path, "run", str(flow))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (listed,) = json.loads(_wfe(tmp_path, "runs", "--json").stdout)
    report = json.loads(_wfe(tmp_path, "report", listed["run_id"], "--format", "json").stdout)
    steps = report["steps"] if isinstance(report, dict) else report
    ids = [s["id"] for s in steps]
    assert ids[0] == "before" and ids[-1] == "after", ids
    assert ids[1:5] == ["each", "each[0]", "each[1]", "each[2]"], ids


def test_a_schema_4_store_reads_the_same_before_and_after_its_migration(tmp_path):
    from wfe_core.report.data import open_store, read_run
    from wfe_core.store.runstore import RunStore
    from wfe_core.store.schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "v4.sqlite"
    db = sqlite3.connect(path)
    for version in range(1, 5):
        db.executescript(MIGRATIONS[version])
    db.execute(
        "INSERT INTO runs (run_id, workflow_id, status, started_at, finished_at) VALUES ('r4', 'wf', 'failed', 1.0, 2.0)"
    )
    db.executemany(  # the old layout: a row for every step from the start
        "INSERT INTO steps (run_id, step_id, status, attempts, seq, fingerprint, position) VALUES (?,?,?,?,?,?,?)",
        [
            ("r4", "a", "succeeded", 1, 1, "fa", 0),
            ("r4", "b", "failed", 1, 2, "fb", 1),
            ("r4", "c", "pending", 0, None, "fc", 2),
        ],
    )
    db.execute("PRAGMA user_version=4")
    db.commit()
    db.close()

    reader = open_store(path)  # read-only: no migration
    try:
        assert [(s.id, s.status) for s in read_run(reader, "r4").steps] == [
            ("a", "succeeded"),
            ("b", "failed"),
            ("c", "pending"),
        ]
    finally:
        reader.close()
    untouched = sqlite3.connect(path)
    try:
        assert untouched.execute("PRAGMA user_version").fetchone()[0] == 4
    finally:
        untouched.close()

    store = RunStore(path)
    try:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        run = store.run("r4")
    finally:
        store.close()
    assert [(s["step_id"], s["status"], s["fingerprint"]) for s in run["steps"]] == [
        ("a", "succeeded", "fa"),
        ("b", "failed", "fb"),
        ("c", "pending", "fc"),
    ]
