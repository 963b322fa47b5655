"""Thousands of short steps with side effects through the real ``wfe`` process, where
worker threads take prepared steps themselves (wfe_core.run.lending): a Ctrl-C in the
middle stops them at once, the store reads every step as ended, and ``wfe resume``
finishes the run without running any step that had succeeded again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STEPS = 3000
WORKERS = 2


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}


def _workflow(tmp_path: Path) -> None:
    # Each step appends one "x" to a file of its own: a step run twice leaves "xx".
    steps = "".join(
        f"  - id: s{i:04}\n    action: file.write\n    parameters: {{path: out/s{i:04}, content: x, append: true}}\n"
        for i in range(STEPS)
    )
    (tmp_path / "wf.yaml").write_text(f"id: many\nsteps:\n{steps}")


def test_ctrl_c_amid_short_steps_then_resume_runs_each_step_once_but_those_it_stopped(tmp_path: Path) -> None:
    _workflow(tmp_path)
    out = tmp_path / "out"
    events_file = tmp_path / "events.jsonl"  # (a pipe nobody reads yet would fill and stop the run)
    with events_file.open("w") as events_out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wfe_core", "run", "wf.yaml", "--max-workers", str(WORKERS), "--reporter", "json"],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=events_out,
            stderr=subprocess.PIPE,
            text=True,
        )
    deadline = time.monotonic() + 60
    while not out.exists() or len(os.listdir(out)) < 200:
        assert proc.poll() is None, "the run ended before the Ctrl-C"
        assert time.monotonic() < deadline, "the steps never started"
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    run_id = events[0]["run_id"]
    written = {name: (out / name).read_text() for name in os.listdir(out)}
    assert len(written) < STEPS, "the run finished before the Ctrl-C: nothing was tested"

    shown = subprocess.run(
        [sys.executable, "-m", "wfe_core", "runs", "show", run_id, "--json"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    statuses = {step["step_id"]: step["status"] for step in json.loads(shown.stdout)["steps"]}
    assert set(statuses.values()) <= {"succeeded", "cancelled"}, set(statuses.values())
    succeeded = {sid for sid, status in statuses.items() if status == "succeeded"}
    # What the store calls succeeded was written, once; what it calls cancelled was
    # either never started or running at the Ctrl-C (at most one per thread, and one
    # a thread took as the Ctrl-C landed): never a run of steps after it.
    assert all(written.get(sid) == "x" for sid in succeeded), sorted(
        sid for sid in succeeded if written.get(sid) != "x"
    )
    stopped = [sid for sid, text in written.items() if sid not in succeeded]
    assert len(stopped) <= 2 * WORKERS, stopped

    resumed = subprocess.run(
        [sys.executable, "-m", "wfe_core", "resume", run_id],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout[-2000:]
    after = {name: (out / name).read_text() for name in os.listdir(out)}
    assert len(after) == STEPS
    twice = sorted(name for name, text in after.items() if text != "x")
    assert set(twice) <= set(stopped), twice  # only a step stopped mid-way runs again
    assert all(text in ("x", "xx") for text in after.values())
