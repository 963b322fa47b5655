"""``trigger: always / on_failure`` through the real ``wfe`` process: cleanup runs after a
failed build (the run still exits 1), after a first Ctrl-C but not after a second, and
``on_failure`` runs only on failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time


def env_for(tmp_path):
    return {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}


def wfe(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env_for(tmp_path), timeout=120
    )


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


BUILD = """\
    id: build
    steps:
      - id: build
        action: shell.execute
        parameters: {command: "echo compiling; exit {code}"}
      - id: package
        action: shell.execute
        dependencies: [build]
        parameters: {command: "echo packaged > {out}/package"}
      - id: cleanup
        action: shell.execute
        dependencies: [package]
        trigger: always
        parameters: {command: "echo cleaned > {out}/cleanup; exit {cleanup_code}"}
      - id: notify
        action: shell.execute
        dependencies: [build]
        trigger: on_failure
        parameters: {command: "echo notified > {out}/notify"}
"""


def run_build(tmp_path, code, cleanup_code=0):
    path = write(tmp_path, "build.yaml", BUILD)
    return wfe(
        tmp_path,
        "run",
        path,
        "--var",
        f"out={tmp_path}",
        "--var",
        f"code={code}",
        "--var",
        f"cleanup_code={cleanup_code}",
        "--reporter",
        "json",
    )


def events(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def status_of(result):
    return {e["step_id"]: e["kind"].split(".", 1)[1] for e in events(result) if e["kind"].startswith("step.")}


def test_a_failing_build_still_gets_its_cleanup_and_the_run_exits_1(tmp_path):
    result = run_build(tmp_path, code=3)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (tmp_path / "cleanup").read_text() == "cleaned\n"
    assert not (tmp_path / "package").exists()
    steps = status_of(result)
    assert steps["build"] == "failed" and steps["package"] == "cancelled"
    assert steps["cleanup"] == "succeeded" and steps["notify"] == "succeeded"
    finished = next(e for e in events(result) if e["kind"] == "run.finished")
    assert finished["status"] == "failed" and finished["error"] == "critical step 'build' failed"


def test_on_failure_does_not_run_when_everything_succeeds_and_always_does(tmp_path):
    result = run_build(tmp_path, code=0)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "notify").exists()
    assert (tmp_path / "package").exists() and (tmp_path / "cleanup").exists()
    steps = status_of(result)
    assert steps["notify"] == "skipped"
    skipped = next(e for e in events(result) if e["kind"] == "step.skipped")
    assert skipped["reason"] == "trigger on_failure: no dependency failed or timed out"


def test_a_failing_cleanup_does_not_mask_the_original_failure(tmp_path):
    result = run_build(tmp_path, code=3, cleanup_code=9)
    assert result.returncode == 1
    assert status_of(result)["cleanup"] == "failed"
    finished = next(e for e in events(result) if e["kind"] == "run.finished")
    assert finished["error"] == "critical step 'build' failed"


def test_a_failing_cleanup_after_a_success_fails_the_run(tmp_path):
    result = run_build(tmp_path, code=0, cleanup_code=9)
    assert result.returncode == 1
    finished = next(e for e in events(result) if e["kind"] == "run.finished")
    assert finished["error"] == "critical step 'cleanup' failed"


INTERRUPTED = """\
    id: long
    steps:
      - id: work
        action: shell.execute
        parameters: {command: "touch {out}/started; sleep 60"}
      - id: cleanup
        action: shell.execute
        dependencies: [work]
        trigger: always
        parameters: {command: "sleep {pause}; echo cleaned > {out}/cleanup"}
"""


def start_long_run(tmp_path, pause):
    path = write(tmp_path, "long.yaml", INTERRUPTED)
    process = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", path, "--var", f"out={tmp_path}", "--var", f"pause={pause}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path),
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None, "the work step never started"
        time.sleep(0.05)
    return process


def test_a_first_ctrl_c_still_runs_the_always_step_past_the_cancel_grace_period(tmp_path):
    process = start_long_run(tmp_path, pause=6)  # longer than the 5 s grace of a cancel
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert (tmp_path / "cleanup").read_text() == "cleaned\n"
    assert " work cancelled" in out and " cleanup succeeded" in out


def test_a_second_ctrl_c_stops_at_once_without_the_always_step(tmp_path):
    process = start_long_run(tmp_path, pause=3)
    process.send_signal(signal.SIGINT)
    time.sleep(1.0)  # the cleanup has started its 3 s pause
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    time.sleep(4)  # longer than the cleanup's pause: it was killed, not left running
    assert not (tmp_path / "cleanup").exists()


QUEUED = """\
    id: queued
    steps:
      - id: slow
        action: shell.execute
        parameters: {command: "sleep 0.2"}
      - id: broken
        action: shell.execute
        parameters: {command: "exit 4"}
      - id: cleanup
        action: shell.execute
        trigger: always
        parameters: {command: "echo cleaned > {out}/cleanup"}
"""


def test_an_always_step_waiting_for_a_worker_when_a_step_fails_still_runs(tmp_path):
    # One worker: `broken` and `cleanup` wait while `slow` runs; `broken` then fails the
    # run with `cleanup` still waiting for the worker. It runs all the same.
    path = write(tmp_path, "queued.yaml", QUEUED)
    result = wfe(tmp_path, "run", path, "--max-workers", "1", "--var", f"out={tmp_path}", "--reporter", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert (tmp_path / "cleanup").read_text() == "cleaned\n"
    steps = status_of(result)
    assert steps == {"slow": "succeeded", "broken": "failed", "cleanup": "succeeded"}, steps


RUNNING_CLEANUP = """\
    id: running
    steps:
      - id: work
        action: shell.execute
        parameters: {command: "touch {out}/started; sleep 60"}
      - id: cleanup
        action: shell.execute
        trigger: always
        parameters: {command: "touch {out}/cleaning; sleep 1; echo cleaned > {out}/cleanup"}
      - id: notify
        action: shell.execute
        dependencies: [cleanup]
        trigger: on_failure
        parameters: {command: "echo notified > {out}/notify"}
"""


def test_a_cleanup_already_running_at_a_first_ctrl_c_runs_to_its_end(tmp_path):
    # A first Ctrl-C still runs cleanup, started or not: the cancel does not stop a
    # running one (it used to kill its process group and record it failed, which fired
    # its on_failure step).
    path = write(tmp_path, "running.yaml", RUNNING_CLEANUP)
    process = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", path, "--var", f"out={tmp_path}", "--reporter", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path),
    )
    deadline = time.monotonic() + 60
    while not ((tmp_path / "started").exists() and (tmp_path / "cleaning").exists()):
        assert time.monotonic() < deadline and process.poll() is None, "work and cleanup never both started"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert (tmp_path / "cleanup").read_text() == "cleaned\n"
    assert not (tmp_path / "notify").exists()
    steps = {
        e["step_id"]: e["kind"].split(".", 1)[1]
        for e in map(json.loads, out.splitlines())
        if e["kind"].startswith("step.") and e["kind"] != "step.started"
    }
    assert steps == {"work": "cancelled", "cleanup": "succeeded", "notify": "skipped"}, steps


RESOURCE_CLEANUP = """\
    id: resources
    resources: {db: 2}
    steps:
      - id: h1
        action: shell.execute
        parameters: {command: "sleep 0.6"}
        resources: [db]
      - id: h2
        action: shell.execute
        parameters: {command: "sleep 1.2"}
        resources: [db]
      - id: f
        action: shell.execute
        parameters: {command: "sleep 0.3; exit 3"}
      - id: q
        action: shell.execute
        parameters: {command: "true"}
      - id: cleanup
        action: shell.execute
        dependencies: [q]
        trigger: always
        resources: [db]
        parameters: {command: "echo ran >> {out}/cleanup; sleep 1"}
      - id: cleanup2
        action: shell.execute
        dependencies: [cleanup]
        trigger: always
        resources: {db: 2}
        parameters: {command: "echo ran >> {out}/cleanup2"}
"""


def test_a_cleanup_waiting_for_a_resource_when_a_step_fails_runs_once_and_frees_it(tmp_path):
    # cleanup waits for `db` (h1 and h2 hold it) when f fails. It ran twice, the second
    # time beside the first, and the first's unit of `db` leaked: cleanup2 never ran.
    path = write(tmp_path, "resources.yaml", RESOURCE_CLEANUP)
    result = wfe(tmp_path, "run", path, "--max-workers", "4", "--strategy", "parallel", "--var", f"out={tmp_path}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert (tmp_path / "cleanup").read_text() == "ran\n"
    assert (tmp_path / "cleanup2").read_text() == "ran\n"
