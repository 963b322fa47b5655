"""A command that leaves nothing behind costs no scan of every process on the machine.

Looking for a command's escapees means reading ``/proc/PID/environ`` of every process:
milliseconds per step on a busy machine. It is only warranted when the command's pipes
are still held after its process group is gone. Before, a command whose exit was seen
before the end of its output (one wake-up for stdout's end, the exit noticed before
stderr's end was read) was taken for one with an escapee and paid the scan.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from wfe_cli import processes_with, run_finished, write_workflow


def _strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    try:  # ptrace may be forbidden (containers): then there is nothing to look at
        return subprocess.run(["strace", "-o", "/dev/null", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _strace_works(), reason="needs a working strace")


def _traced_run(tmp_path, steps, *options):
    """``wfe run`` under ``strace -f`` (which also shifts its timing, widening the race);
    the paths under /proc it opened."""
    path = write_workflow(tmp_path, steps)
    trace = tmp_path / "trace"
    wfe = [sys.executable, "-m", "wfe_core", "run", "--no-store", "--reporter", "json", *options, str(path)]
    done = subprocess.run(
        ["strace", "-f", "-e", "trace=openat,open", "-o", str(trace), *wfe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    opened = re.findall(r'"(/proc/\d+/environ)"', trace.read_text())
    return done, opened


def test_parallel_true_steps_read_no_process_environments(tmp_path):
    steps = [{"id": f"t{i}", "action": "shell.execute", "parameters": {"command": "true"}} for i in range(40)]
    done, opened = _traced_run(tmp_path, steps, "--max-workers", "8")
    assert run_finished(done.stdout)["completed_steps"] == 40
    assert opened == []


def test_a_chain_of_steps_with_output_reads_no_process_environments(tmp_path):
    steps = [
        {
            "id": f"s{i}",
            "action": "shell.execute",
            "parameters": {"command": "echo out; echo err >&2"},
            **({"dependencies": [f"s{i - 1}"]} if i else {}),
        }
        for i in range(20)
    ]
    done, opened = _traced_run(tmp_path, steps)
    assert run_finished(done.stdout)["completed_steps"] == 20
    assert opened == []


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs the setsid program")
def test_an_escapee_holding_the_output_is_still_looked_for_and_stopped(tmp_path):
    # The other side: the pipes stay held after the group is gone, so the scan runs and
    # finds the escapee by its tag.
    marker = "7391.25"
    steps = [
        {
            "id": "a",
            "action": "shell.execute",
            "parameters": {"command": f"setsid sleep {marker} & sleep 0.2; echo started"},
        }
    ]
    try:
        done, opened = _traced_run(tmp_path, steps)
        assert run_finished(done.stdout)["completed_steps"] == 1
        assert opened != []
        assert processes_with(f"sleep {marker}") == []
    finally:
        for pid, _cmdline in processes_with(f"sleep {marker}"):
            subprocess.run(["kill", "-9", str(pid)], check=False)
