"""`wfe report` on runs in every state a user meets: in progress (read while another
process runs it, without blocking it), cancelled (Ctrl-C), interrupted (kill -9) and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import SECRET, wfe, write

LONG = """\
id: long
steps:
  - id: first
    action: wait
    parameters: {seconds: 0.1}
  - id: middle
    action: wait
    parameters: {seconds: %s}
    dependencies: [first]
  - id: last
    action: wait
    parameters: {seconds: 0.1}
    dependencies: [middle]
"""


def _start(tmp_path, seconds: float) -> tuple[subprocess.Popen, str]:
    """A `wfe run` in the background; returns it and its run id once `middle` is running."""
    store = tmp_path / "runs.sqlite"
    workflow = write(tmp_path / "long.yaml", LONG % seconds)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", str(workflow)],
        env={**os.environ, "WFE_STORE": str(store), "REPORT_TOKEN": SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if store.exists():
            result = wfe("runs", "--json", store=store, check=None)
            runs = json.loads(result.stdout) if result.returncode == 0 else []
            if runs:
                report = json.loads(wfe("report", runs[0]["run_id"], "-f", "json", store=store).stdout)
                if {s["id"]: s["status"] for s in report["steps"]}["middle"] == "running":
                    return proc, runs[0]["run_id"]
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the run never got to its middle step")


def _json(tmp_path, run_id: str) -> dict:
    return json.loads(wfe("report", run_id, "-f", "json", store=tmp_path / "runs.sqlite").stdout)


def test_a_run_in_progress_is_reported_while_it_runs_and_not_blocked(tmp_path):
    from wfe_core.report.data import open_store

    proc, run_id = _start(tmp_path, 15.0)
    # A reader that holds its read transaction open for the rest of the run: in WAL mode
    # the run commits past it and finishes on time.
    held = open_store(tmp_path / "runs.sqlite")
    held.execute("BEGIN")
    held.execute("SELECT count(*) FROM steps").fetchone()
    try:
        # Read it again while it runs: every read is a snapshot, none blocks the run.
        for _ in range(2):
            data = _json(tmp_path, run_id)
            assert data["run"]["status"] == "running" and data["run"]["in_progress"] is True
            assert data["run"]["finished_at"] is None
        steps = {s["id"]: s for s in data["steps"]}
        assert steps["first"]["status"] == "succeeded"
        assert [a["status"] for a in steps["middle"]["attempts"]] == ["running"]
        assert steps["middle"]["attempts"][0]["finished_at"] is None and steps["last"]["status"] == "pending"
        assert data["analytics"]["workers_source"] == "peak concurrency"
        for fmt in ("html", "junit", "markdown", "text", "yaml"):
            wfe("report", run_id, "-f", fmt, store=tmp_path / "runs.sqlite")
    finally:
        _, err = proc.communicate(timeout=60)
        held.close()
    assert proc.returncode == 0, err
    done = _json(tmp_path, run_id)
    assert done["analytics"]["wall_time"] < 45  # 15.2 s of waits: generous, but not blocked
    assert done["run"]["status"] == "succeeded" and done["summary"] == {"total": 3, "succeeded": 3}
    assert done["analytics"]["workers_source"] == "recorded"


def test_a_cancelled_run(tmp_path):
    proc, run_id = _start(tmp_path, 30)
    os.kill(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    data = _json(tmp_path, run_id)
    assert data["run"]["status"] == "cancelled"
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["middle"]["status"] == "cancelled" and steps["last"]["status"] == "cancelled"
    assert data["analytics"]["wall_time"] < 30
    junit = wfe("report", run_id, "-f", "junit", store=tmp_path / "runs.sqlite").stdout
    assert junit.count("<skipped ") == 2 and 'failures="0"' in junit


def test_an_interrupted_run(tmp_path):
    proc, run_id = _start(tmp_path, 30)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    data = _json(tmp_path, run_id)
    assert data["run"]["status"] == "interrupted" and data["run"]["in_progress"] is False
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["middle"]["status"] == "interrupted"
    # Its end is the last thing the store saw, not "now": the report does not grow with time.
    assert data["analytics"]["wall_time"] < 5
    assert data["analytics"]["critical_path"]["steps"][0] == "first"
    text = wfe("report", run_id, store=tmp_path / "runs.sqlite").stdout
    assert f"run {run_id}  workflow long  interrupted" in text


GATE = """\
id: gate
variables: {mode: stop}
steps:
  - id: prepare
    action: wait
    parameters: {seconds: 0.1}
  - id: check
    action: validate.condition
    parameters: {value: "{mode}", equals: go}
    dependencies: [prepare]
  - id: deploy
    action: wait
    parameters: {seconds: 0.1}
    dependencies: [check]
"""


def test_a_failed_then_resumed_run(tmp_path):
    store = tmp_path / "runs.sqlite"
    workflow = write(tmp_path / "gate.yaml", GATE)
    wfe("run", str(workflow), store=store, check=1)
    run_id = json.loads(wfe("runs", "--json", store=store).stdout)[0]["run_id"]
    failed = _json(tmp_path, run_id)
    assert failed["run"]["status"] == "failed" and "critical step 'check' failed" in failed["run"]["error"]
    assert {s["id"]: s["status"] for s in failed["steps"]} == {
        "prepare": "succeeded",
        "check": "failed",
        "deploy": "cancelled",
    }
    wfe("resume", run_id[:8], "--var", "mode=go", store=store)
    data = _json(tmp_path, run_id)
    assert data["run"]["status"] == "succeeded" and data["run"]["resumed"] == 1
    check = next(s for s in data["steps"] if s["id"] == "check")
    assert [a["status"] for a in check["attempts"]] == ["failed", "succeeded"]
    assert [a["number"] for a in check["attempts"]] == [1, 2]
    assert all(s["wait"] is None for s in data["steps"])  # not derivable across the interruption
    assert data["analytics"]["verdict"].startswith("resumed 1x")
