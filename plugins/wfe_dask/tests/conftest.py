"""Fixtures: real Dask clusters on 127.0.0.1, torn down after each test, and a helper
that runs the real ``wfe`` CLI in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# wfe_isolated_store (autouse: $WFE_STORE in tmp_path), ...
pytest_plugins = ["wfe_core.testing"]

#: Upper bound for any wait on a cluster (generous: the machine is shared).
BOUND = 60.0


class ExternalCluster:
    """``dask scheduler`` and ``dask worker`` processes, each in its own process group."""

    def __init__(self, tmp: Path, workers: int, port: int = 0, threads: int = 2):
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.start(workers, port, threads)

    def start(self, workers: int, port: int = 0, threads: int = 2) -> None:
        """Start the scheduler (on ``port``; 0: any free one) and ``workers`` workers of ``threads`` threads."""
        scheduler_file = self.tmp / "scheduler.json"
        scheduler_file.unlink(missing_ok=True)
        self.procs.append(
            self._spawn(
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            )
        )
        deadline = time.monotonic() + BOUND
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but be safe about partial reads
        self.address: str = json.loads(scheduler_file.read_text())["address"]
        for _ in range(workers):
            self.add_worker(threads)
        self.wait_for_workers(workers)

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"dask-{len(self.procs)}.log", "wb")
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "dask"), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def add_worker(self, threads: int = 2) -> subprocess.Popen[bytes]:
        """Start one ``dask worker`` process with ``threads`` threads."""
        proc = self._spawn(
            "worker",
            self.address,
            "--host",
            "127.0.0.1",
            "--nworkers",
            "1",
            "--nthreads",
            str(threads),
            "--no-dashboard",
        )
        self.procs.append(proc)
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n: int) -> list[str]:
        from distributed import Client

        with Client(self.address, timeout=BOUND) as client:
            client.wait_for_workers(n, timeout=BOUND)
            return sorted(client.scheduler_info()["workers"])

    def kill_worker(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker's whole process group (nanny, worker, anything it ran)."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=BOUND)

    def kill_all(self) -> None:
        """The cluster disappears: SIGKILL the scheduler's and every worker's process group."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=BOUND)
        self.workers.clear()

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is not None:
                continue  # gone (its pid may belong to someone else by now)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.procs:
            if proc.returncode is not None:
                continue
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=BOUND)


@pytest.fixture
def external_cluster(tmp_path: Path) -> Iterator[ExternalCluster]:
    """A scheduler and two workers started with the ``dask`` command on 127.0.0.1."""
    cluster = ExternalCluster(tmp_path, workers=2)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def local_cluster() -> Iterator[Any]:
    """``LocalCluster(processes=True, n_workers=2)`` in this process."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None)
    try:
        yield cluster
    finally:
        cluster.close()


def wfe(*args: str, cwd: Path, timeout: float = 120.0, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``wfe`` CLI."""
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )


def sleepers(tag: str) -> list[int]:
    """Pids of live ``sleep TAG`` processes, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if argv[:2] == [b"sleep", tag.encode()] and state != "Z":
            found.append(int(entry.name))
    return found
