"""Running the real ``wfe`` process on a workflow file, and looking for what it left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def write_workflow(directory: Path, steps: list[dict[str, Any]], **extra: Any) -> Path:
    path = directory / "wf.yaml"
    path.write_text(yaml.safe_dump({"id": "wf", **extra, "steps": steps}, sort_keys=False))
    return path


def wfe(
    *args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess:
    """``python -m wfe_core ARGS`` in ``cwd``, as a user runs ``wfe``."""
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def run_finished(stdout: str) -> dict[str, Any]:
    """The ``run.finished`` event printed by ``--reporter json``."""
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return next(e for e in events if e["kind"] == "run.finished")


def processes_with(marker: str) -> list[tuple[int, str]]:
    """Live processes whose command line contains ``marker`` (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append((int(entry), cmdline))
    return found


def kill_leftovers(marker: str) -> None:
    """Clean up after a failing test: SIGKILL, by pid, what carries ``marker``."""
    for pid, _cmdline in processes_with(marker):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
