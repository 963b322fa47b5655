"""Against a cluster started with the `dask scheduler` / `dask worker` commands: a
timed-out or interrupted shell step leaves no process on the worker side, and a worker
SIGKILLed mid-run loses only its running attempts (run again: at least once), never
steps that had finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
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
    # most the two the killed worker ran) can have happened twice. Why two: a side effect
    # lands at an attempt's end, the first one 1.5 s in, and the kill follows within a
    # poll; the killed worker's two threads had run at most two attempts by then (a third
    # would end 3 s in). Those the driver had not fetched yet (running or finished) are
    # lost, and Dask runs each once more on the surviving worker. A wfe retry on top of
    # that recompute was the bug that once counted 11 (see the test below).
    assert set(effects) == {f"s{i}" for i in range(8)}
    assert max(Counter(effects).values()) <= 2, effects
    assert len(effects) <= 8 + 2, effects


def test_results_lost_with_their_worker_are_recomputed_not_run_a_third_time(tmp_path: Path) -> None:
    """The sharpest moment to lose a worker: its attempts finished (side effects done) and
    the scheduler told the driver so, but the driver has not fetched their results yet.
    Dask recomputes each lost result on the surviving worker; wfe must take that
    recomputed result instead of also retrying the step (a third run)."""
    started, effects, go = tmp_path / "started", tmp_path / "effects", tmp_path / "go"
    # First runs wait for `go` (so all four are running on the first worker when it is
    # killed); runs started after `go` exists (recomputes, retries) take 2 s, so they are
    # still running when the driver resumes.
    steps = "".join(
        f"  - id: s{i}\n    name: s{i}\n    action: shell.execute\n    max_retries: 2\n    retry_delay: 0.1\n"
        f"    parameters: {{command: 'echo s{i} >> {started}; if [ -e {go} ]; then sleep 2; else "
        f"while [ ! -e {go} ]; do sleep 0.05; done; fi; echo s{i} >> {effects}'}}\n"
        for i in range(4)
    )
    (tmp_path / "wf.yaml").write_text(f"id: t\nname: t\nsteps:\n{steps}")
    cluster = ExternalCluster(tmp_path, workers=1, threads=4)
    try:
        (doomed,) = cluster.workers
        proc = _cli(tmp_path, "--scheduler", cluster.address, "--strategy", "parallel", "--max-workers", "4")
        deadline = time.monotonic() + BOUND
        while len(_lines(started)) < 4:  # all four run on the only worker
            assert time.monotonic() < deadline and proc.poll() is None, "the steps never started"
            time.sleep(0.05)
        cluster.add_worker(threads=4)  # where Dask will recompute the lost results
        cluster.wait_for_workers(2)
        os.kill(proc.pid, signal.SIGSTOP)  # the driver is slow: it fetches nothing for a while
        try:
            go.touch()
            while len(_lines(effects)) < 4:
                assert time.monotonic() < deadline, "the steps never finished"
                time.sleep(0.05)
            time.sleep(0.5)  # the worker reports the four results; the scheduler tells the (stopped) driver
            cluster.kill_worker(doomed)
            _wait_for_worker_count(cluster.address, 1)  # the scheduler saw the loss and recomputes
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=3 * BOUND)
    finally:
        cluster.close()
    assert proc.returncode == 0, out + err
    counts = Counter(_lines(effects))
    # Each step ran on the killed worker and once more where Dask recomputed its lost
    # result: at most once more per loss, never a wfe retry on top (which made it 3).
    assert set(counts) == {f"s{i}" for i in range(4)}
    assert max(counts.values()) <= 2, counts
    # And the run store says so: one attempt each (the old code recorded a failed first
    # attempt, "it did not return (worker died)", then a wfe retry).
    (run,) = json.loads(wfe("runs", "--json", cwd=tmp_path).stdout)
    shown = json.loads(wfe("runs", "show", run["run_id"], "--json", cwd=tmp_path).stdout)
    assert {s["step_id"]: s["attempts"] for s in shown["steps"]} == {f"s{i}": 1 for i in range(4)}


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _wait_for_worker_count(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout=BOUND) as client:
        deadline = time.monotonic() + BOUND
        while len(client.scheduler_info()["workers"]) != n:
            assert time.monotonic() < deadline, f"the scheduler never had {n} workers"
            time.sleep(0.05)
