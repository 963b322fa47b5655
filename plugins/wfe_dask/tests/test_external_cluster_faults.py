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

from wfe_dask.executor import _DRAIN


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
    # Each effect names the process its attempt ran in: the shell's parent ($PPID, set when
    # the shell starts) is the Dask worker process that started it.
    steps = "".join(
        f"  - id: s{i}\n    name: s{i}\n    action: shell.execute\n    max_retries: 2\n    retry_delay: 0.1\n"
        f"    parameters: {{command: 'sleep 1.5; echo s{i} $PPID >> {log}'}}\n"
        for i in range(8)
    )
    (tmp_path / "wf.yaml").write_text(f"id: t\nname: t\nsteps:\n{steps}")
    workers = _worker_processes(external_cluster)
    proc = _cli(tmp_path, "--scheduler", external_cluster.address, "--strategy", "parallel", "--max-workers", "4")
    deadline = time.monotonic() + BOUND
    while not _effects(log):
        assert time.monotonic() < deadline and proc.poll() is None, "no step finished"
        time.sleep(0.05)
    # Kill the worker that has just finished an attempt: its other attempts are running or
    # have just finished too, and the driver may not have fetched their results yet.
    (_step, first), *_ = _effects(log)
    assert first in workers, (first, workers)
    doomed = workers[first]
    external_cluster.kill_worker(doomed)
    out, err = proc.communicate(timeout=3 * BOUND)
    assert proc.returncode == 0, out + err
    effects = _effects(log)
    assert {pid for _step, pid in effects} <= workers.keys(), (effects, workers)
    # No bound here depends on when the kill lands (on a loaded machine the killed worker
    # can finish more attempts before it does, and each result lost with it is run again):
    # what may happen to one step is the same whatever the timing. It ran at most once on
    # the killed worker: an attempt that ended there before the kill wrote its effect, one
    # still running is stopped by the worker's wfe-shell watchdog (its shell has its own
    # session, outside the process group killed; the watchdog stops it at once, and it may
    # just have written its effect), and nothing runs there after. And it ran at most once on the surviving worker: where it
    # was sent first; or where Dask ran it again, since it was running on the killed
    # worker or its result was lost with it before the driver fetched it; or where wfe
    # retried it (nothing fails here, but a retry alone would be correct) -- never a Dask
    # recompute and a wfe retry both: that bug once ran a step three times (see the test
    # below), twice here on the surviving worker.
    assert {step for step, _pid in effects} == {f"s{i}" for i in range(8)}, effects
    on_killed = Counter(step for step, pid in effects if workers[pid] is doomed)
    on_survivor = Counter(step for step, pid in effects if workers[pid] is not doomed)
    assert max(on_killed.values(), default=0) <= 1, effects
    assert max(on_survivor.values(), default=0) <= 1, effects


def _worker_processes(cluster: ExternalCluster) -> dict[int, subprocess.Popen[bytes]]:
    """The pid of each Dask worker process -> the ``dask worker`` command it belongs to.

    That command is the nanny; the worker, which runs the attempts (and so is the parent
    of their shells), is a process it started, in its process group; ``Client.run`` asks
    each worker its pid.
    """
    from distributed import Client

    with Client(cluster.address, timeout=BOUND) as client:
        pids = list(client.run(os.getpid).values())
    commands = {proc.pid: proc for proc in cluster.workers}
    found = {pid: commands[os.getpgid(pid)] for pid in pids}
    # One worker process per command, and not the command (the nanny) itself.
    assert sorted(proc.pid for proc in found.values()) == sorted(commands), (found, commands)
    assert not found.keys() & commands.keys(), (found, commands)
    return found


def _effects(path: Path) -> list[tuple[str, int]]:
    """The ``step pid`` lines of ``path``, in order."""
    if not path.exists():
        return []
    return [(step, int(pid)) for step, pid in (line.split() for line in path.read_text().splitlines())]


def test_commands_of_a_killed_worker_stop_with_it(tmp_path: Path) -> None:
    """A worker SIGKILLed (the OOM killer, say) cannot stop the commands it was running:
    its wfe-shell watchdog does (see wfe_shell.watchdog), so Dask's recompute elsewhere
    does not run beside them."""
    tag = "4421"
    (tmp_path / "wf.yaml").write_text(
        "id: t\nname: t\nsteps:\n  - id: slow\n    name: slow\n    action: shell.execute\n"
        f"    parameters: {{command: \"sh -c 'sleep {tag} & sleep {tag}'\"}}\n"
    )
    cluster = ExternalCluster(tmp_path, workers=1, threads=2)
    proc = None
    try:
        (doomed,) = cluster.workers
        proc = _cli(tmp_path, "--scheduler", cluster.address)
        deadline = time.monotonic() + BOUND
        while len(sleepers(tag)) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, "the step never started"
            time.sleep(0.1)
        cluster.kill_worker(doomed)  # its whole process group, the nanny too: nothing restarts it
        # SIGTERM at once from the watchdog (sleep does not ignore it): well within 30 s.
        assert _gone(tag) == []
        # The step now waits for a worker that will not come. Ctrl-C waits out the
        # cancel grace (5 s: the driver cannot know the step is nowhere), but not the
        # executor's drain (15 s) on top: no worker holds the step, so none can run it.
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=BOUND)
        waited = time.monotonic() - sent
        assert proc.returncode == 130, out + err
        assert "cancelled" in out, out
        assert waited < _DRAIN, f"Ctrl-C took {waited:.1f}s to exit"
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()  # (the test failed before its Ctrl-C ended the run)
            proc.communicate(timeout=BOUND)
        cluster.close()
        for pid in sleepers(tag):
            os.kill(pid, signal.SIGKILL)


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
