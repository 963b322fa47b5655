"""The durability guarantee through the ``wfe`` process: a step's completion is committed
before any dependent starts. ``kill -9`` the moment a dependent has begun, then resume:
the parent is not run again (it would be if its success had not reached the store)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

FLOW = """\
    id: durable
    steps:
      - id: parent
        action: shell.execute
        parameters: {command: "echo ran >> {out}/parent-runs"}
      - id: child
        action: shell.execute
        dependencies: [parent]
        parameters: {command: "if [ -e {out}/child-started ]; then exit 0; fi; touch {out}/child-started; sleep 60"}
"""


def _env(tmp_path) -> dict[str, str]:
    return {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}


def _wfe(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], env=_env(tmp_path), capture_output=True, text=True, timeout=120
    )


def _kill_once_the_child_started(tmp_path, text: str):
    """Run the workflow ``text`` through ``wfe``; kill -9 it (and its children) the
    moment the child step has started. Returns the ``out`` folder the steps write to."""
    out = tmp_path / "out"
    out.mkdir()
    flow = tmp_path / "flow.yaml"
    flow.write_text(textwrap.dedent(text))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", str(flow), "--var", f"out={out}"],
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / "child-started").exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the dependent step never started")
            time.sleep(0.001)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: wfe and the child's sleep
        proc.wait(timeout=60)
    return out


def test_kill_9_right_after_a_dependent_starts_then_resume_does_not_rerun_the_parent(tmp_path):
    out = _kill_once_the_child_started(tmp_path, FLOW)
    assert (out / "parent-runs").read_text() == "ran\n"

    runs = _wfe(tmp_path, "runs", "--json")
    (run,) = json.loads(runs.stdout)
    assert run["status"] == "interrupted"
    resumed = _wfe(tmp_path, "resume", run["run_id"], "--var", f"out={out}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (out / "parent-runs").read_text() == "ran\n"  # restored from the store, not run again


FREE_PARENT = """\
    id: free-parent
    steps:
      - id: parent
        action: variable.set
        parameters: {name: x, value: 42}
      - id: child
        action: shell.execute
        dependencies: [parent]
        parameters: {command: "echo {x} >> {out}/child-saw; if [ -e {out}/child-started ]; then exit 0; fi; touch {out}/child-started; sleep 60"}
"""


def test_kill_9_while_the_child_of_a_side_effect_free_step_runs_then_resume_finishes_the_run(tmp_path):
    # A side-effect-free parent releases its child before its own commit (running it
    # again changes nothing): whatever the store had at the kill, resume completes the
    # run and the child sees the parent's value both times.
    out = _kill_once_the_child_started(tmp_path, FREE_PARENT)
    runs = _wfe(tmp_path, "runs", "--json")
    (run,) = json.loads(runs.stdout)
    assert run["status"] == "interrupted"
    shown = _wfe(tmp_path, "runs", "show", run["run_id"], "--json")
    steps = {s["step_id"]: s["status"] for s in json.loads(shown.stdout)["steps"]}
    assert steps["child"] != "succeeded"
    resumed = _wfe(tmp_path, "resume", run["run_id"], "--var", f"out={out}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (out / "child-saw").read_text() == "42\n42\n"
