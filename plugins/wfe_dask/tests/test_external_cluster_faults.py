"""Against a cluster started with the `dask scheduler` / `dask worker` commands: a
timed-out or interrupted shell step leaves no process on the worker side, and a worker
SIGKILLed mid-run loses only its running attempts (run again: at least once), never
steps that had finished."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import BOUND, ExternalCluster, sleepers, wfe


def _cli(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", "wf.yaml", "--executor", "dask", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _gone(tag: str) -> list[int]:
    deadline = time.monotonic() + 30
    while sleepers(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    return sleepers(tag)


def test_runs_against_dask_scheduler_and_workers(tmp_path: Path, external_cluster: ExternalCluster) -> None:
    (tmp_path / "wf.yaml").write_text(
        "id: t\nname: t\nsteps:\n"
        "  - id: a\n    name: a\n    action: shell.execute\n    parameters: {command: 'echo from-a'}\n"
        "  - id: b\n    name: b\n    action: shell.execute\n    dependencies: [a]\n"
        "    parameters: {command: 'echo b saw {steps.a.output.stdout}'}\n"
    )
    done = wfe("run", "wf.yaml", "--executor", "dask", "--scheduler", external_cluster.address, cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    # The same through the environment variable instead of --scheduler.
    again = wfe("run", "wf.yaml", "--executor", "dask", cwd=tmp_path, WFE_DASK_SCHEDULER=external_cluster.address)
    assert again.returncode == 0, again.stderr + again.stdout


def test_timeout_kills_the_process_group_on_the_worker(tmp_path: Path, external_cluster: ExternalCluster) -> None:
    tag = "4417"  # an unusual duration: a `sleep 4417` is ours
    (tmp_path / "wf.yaml").write_text(
        "id: t\nname: t\nsteps:\n  - id: slow\n    name: slow\n    action: shell.execute\n    timeout: 2\n"
        f"    parameters: {{command: \"sh -c 'sleep {tag} & sleep {tag}'\"}}\n"
    )
    done = wfe("run", "wf.yaml", "--executor", "dask", "--scheduler", external_cluster.address, cwd=tmp_path)
    assert done.returncode == 1, done.stderr + done.stdout
    assert "timed out" in done.stdout
    # The workers are not children of wfe: only the signal path can have stopped these.
    assert _gone(tag) == []
    assert all(p.poll() is None for p in external_cluster.workers), "the workers must survive"


def test_ctrl_c_stops_remote_steps(tmp_path: Path, external_cluster: ExternalCluster) -> None:
    tag = "4419"
    (tmp_path / "wf.yaml").write_text(
        "id: t\nname: t\nsteps:\n  - id: slow\n    name: slow\n    action: shell.execute\n"
        f"    parameters: {{command: \"sh -c 'sleep {tag} & sleep {tag}'\"}}\n"
    )
    proc = _cli(tmp_path, "--scheduler", external_cluster.address)
    deadline = time.monotonic() + BOUND
    while len(sleepers(tag)) < 2:
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=BOUND)
    assert proc.returncode == 130, out + err
    assert _gone(tag) == []


def test_worker_killed_mid_run(tmp_path: Path, external_cluster: ExternalCluster) -> None:
    log = tmp_path / "effects.log"
    steps = "".join(
        f"  - id: s{i}\n    name: s{i}\n    action: shell.execute\n    max_retries: 2\n    retry_delay: 0.1\n"
        f"    parameters: {{command: 'sleep 1.5; echo s{i} >> {log}'}}\n"
        for i in range(8)
    )
    (tmp_path / "wf.yaml").write_text(f"id: t\nname: t\nsteps:\n{steps}")
    proc = _cli(tmp_path, "--scheduler", external_cluster.address, "--strategy", "parallel", "--max-workers", "4")
    deadline = time.monotonic() + BOUND
    while not (log.exists() and log.read_text().strip()):
        assert time.monotonic() < deadline and proc.poll() is None, "no step finished"
        time.sleep(0.05)
    external_cluster.kill_worker(external_cluster.workers[0])
    out, err = proc.communicate(timeout=3 * BOUND)
    assert proc.returncode == 0, out + err
    effects = log.read_text().split()
    # Every side effect happened at least once; only attempts in flight at the kill (at
    # most the two the killed worker ran) can have happened twice.
    assert set(effects) == {f"s{i}" for i in range(8)}
    assert len(effects) <= 8 + 2, effects
