"""A fan-out step's row in the store while its instances run, after ``kill -9`` and on
resume, through the real ``wfe`` process: the step reads ``running`` from its first
instance's start (not ``pending``), ``interrupted`` once its process is killed, and a
resumed run in which the step never expands again (its ``when`` is now false) still
rolls the finished instance back with its own ``{item}`` / ``{item_index}`` (recorded
with the instance in the store)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

FLOW = """\
    id: interruptible
    steps:
      - id: build
        action: shell.execute
        parameters:
          command: >-
            echo run >> {out}/runs-{item}; echo built-{item};
            test {item} != b || ! test -f {out}/hold || { echo $$ > {out}/pid; exec sleep 60; }
        for_each: [a, b, c]
        max_parallel: 1
        when: "go == 'yes'"
        rollback_action: shell.execute
        rollback_parameters: {command: "echo undo-{item}-{item_index} >> {out}/undo"}
      - id: verify
        action: shell.execute
        parameters: {command: "exit 3"}
        when: "go == 'no'"
"""


def wfe(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFE_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def shown(store: Path, run_id: str) -> dict:
    result = wfe(store, "runs", "show", run_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def kill_mid_fan_out(tmp_path: Path) -> tuple[Path, str, dict]:
    """Run FLOW with go=yes, read the store while build[1] runs, then kill -9 the run."""
    store = tmp_path / "runs.sqlite"
    flow = tmp_path / "flow.yaml"
    flow.write_text(textwrap.dedent(FLOW))
    (tmp_path / "hold").touch()  # build[1] sleeps until the run is killed
    env = {**os.environ, "WFE_STORE": str(store)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", str(flow), "--var", f"out={tmp_path}", "--var", "go=yes",
         "--reporter", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    sleeper = None
    try:
        run_id = json.loads(proc.stdout.readline())["run_id"]
        deadline = time.monotonic() + 60
        while not (tmp_path / "pid").exists() or not (tmp_path / "pid").read_text().strip():
            assert time.monotonic() < deadline, "build[1] never started"
            time.sleep(0.05)
        sleeper = int((tmp_path / "pid").read_text())
        deadline = time.monotonic() + 30
        while True:  # the attempt's start is committed shortly after it is handed out
            during = {s["step_id"]: s for s in shown(store, run_id)["steps"]}
            if during["build[1]"]["status"] == "running" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert during["build[0]"]["status"] == "succeeded"
        assert during["build[1]"]["status"] == "running"
        assert during["build[2]"]["status"] == "pending"
        assert during["build"]["status"] == "running"  # was "pending" until the step ended
        assert during["build"]["attempts"] == 0
        # started_at is the first instance's start, not the run's or the expansion's.
        first = during["build[0]"]["attempt_log"][0]["started_at"]
        assert during["build"]["started_at"] is not None
        assert abs(during["build"]["started_at"] - first) < 0.5
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if sleeper is not None and alive(sleeper):
            os.kill(sleeper, signal.SIGKILL)  # the shell step of the killed run (its own group)
            deadline = time.monotonic() + 10
            while alive(sleeper) and time.monotonic() < deadline:
                time.sleep(0.05)
    assert sleeper is not None and not alive(sleeper), "the killed run's shell step is left over"

    return store, run_id, during


def test_a_fan_out_step_reads_running_then_interrupted_and_resume_rolls_back_its_item(tmp_path):
    store, run_id, during = kill_mid_fan_out(tmp_path)
    assert during["build"]["status"] == "running"
    after = shown(store, run_id)
    steps = {s["step_id"]: s["status"] for s in after["steps"]}
    assert after["status"] == "interrupted"
    assert steps["build"] == "interrupted" and steps["build[1]"] == "interrupted"
    assert steps["build[0]"] == "succeeded" and steps["build[2]"] == "pending"
    text = wfe(store, "runs", "show", run_id)
    assert "build                    interrupted" in text.stdout, text.stdout

    # Resumed with go=no: build is skipped (never expands again), verify fails, and the
    # instance that succeeded before the kill is rolled back with its own item.
    resumed = wfe(store, "resume", run_id, "--var", "go=no", "--reporter", "plain")
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "build[0] rolled back" in resumed.stdout, resumed.stdout
    assert (tmp_path / "undo").read_text().split() == ["undo-a-0"]
    final = {s["step_id"]: s["status"] for s in shown(store, run_id)["steps"]}
    assert final["build[0]"] == "rolled_back" and final["build"] == "skipped"
    # The instance the killed process was running does not read running in a run that ended.
    assert final["build[1]"] == "interrupted"
    assert "running" not in final.values()


def test_resume_after_kill_9_mid_fan_out_keeps_the_finished_instances(tmp_path):
    store, run_id, _ = kill_mid_fan_out(tmp_path)
    (tmp_path / "hold").unlink()
    resumed = wfe(store, "resume", run_id, "--reporter", "plain")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    runs = {item: (tmp_path / f"runs-{item}").read_text().count("run") for item in "abc"}
    assert runs == {"a": 1, "b": 2, "c": 1}  # a finished before the kill: not run again
    final = {s["step_id"]: s for s in shown(store, run_id)["steps"]}
    assert {sid: s["status"] for sid, s in final.items()} == dict.fromkeys(
        ["build", "build[0]", "build[1]", "build[2]"], "succeeded"
    ) | {"verify": "skipped"}
    assert [o["stdout"].strip() for o in final["build"]["output"]] == ["built-a", "built-b", "built-c"]
