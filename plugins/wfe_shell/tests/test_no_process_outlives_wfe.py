"""No process a step started is alive once the ``wfe`` process has exited.

Each test runs the real ``wfe run`` and scans /proc *after* it exited for a sleep
duration used by no other test. Before the fix, the delayed SIGKILL of a timed-out
group ran on a daemon thread that died with the interpreter, so these processes were
re-parented to PID 1 and lived on.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from wfe_cli import kill_leftovers, processes_with, write_workflow

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

WFE = [sys.executable, "-m", "wfe_core", "run", "--no-store"]


@pytest.fixture
def marker(request):
    """A unique sleep duration for this test; whatever still carries it is killed at the end."""
    token = f"31{abs(hash(request.node.name)) % 1000}.{os.getpid() % 1000}"
    yield token
    kill_leftovers(f"sleep {token}")


def run_wfe(path, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*WFE, str(path)], cwd=cwd, capture_output=True, text=True, timeout=60)


def assert_nothing_left(marker: str) -> None:
    assert processes_with(f"sleep {marker}") == []


def test_a_timed_out_step_leaves_nothing(tmp_path, marker):
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "slow",
                "action": "shell.execute",
                "timeout": 1,
                "parameters": {"command": f"sh -c 'sleep {marker} & sleep {marker}'"},
            },
        ],
    )
    done = run_wfe(path, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "slow timed out" in done.stdout
    assert_nothing_left(marker)


def test_a_group_ignoring_sigterm_is_killed_after_a_sibling_fails(tmp_path, marker):
    # The critical failure ends the run while the slow sibling's group ignores SIGTERM:
    # only the SIGKILL after the grace period stops it, and wfe must wait for it.
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "slow",
                "action": "shell.execute",
                "timeout": 1,
                "parameters": {"command": f"trap '' TERM; sleep {marker} & sleep {marker}"},
            },
            {"id": "bad", "action": "shell.execute", "parameters": {"command": "sleep 0.2; exit 3"}},
        ],
    )
    started = time.monotonic()
    done = run_wfe(path, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "critical step 'bad' failed" in done.stdout
    assert_nothing_left(marker)
    assert time.monotonic() - started < 30


def test_a_timed_out_rollback_command_leaves_nothing(tmp_path, marker):
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "a",
                "action": "shell.execute",
                "timeout": 1,
                "parameters": {"command": "true"},
                "rollback_action": "shell.execute",
                "rollback_parameters": {"command": f"sleep {marker} & sleep {marker}"},
            },
            {"id": "bad", "action": "shell.execute", "dependencies": ["a"], "parameters": {"command": "exit 3"}},
        ],
    )
    done = run_wfe(path, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "rollback failed: compensation timed out" in done.stdout
    assert_nothing_left(marker)


def _wait_for(path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_ctrl_c_twice_during_a_long_rollback_leaves_nothing(tmp_path, marker):
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "a",
                "action": "shell.execute",
                "parameters": {"command": "true"},
                "rollback_action": "shell.execute",
                "rollback_parameters": {"command": f"touch undoing; sleep {marker} & sleep {marker}"},
            },
            {"id": "bad", "action": "shell.execute", "dependencies": ["a"], "parameters": {"command": "exit 3"}},
        ],
    )
    proc = subprocess.Popen([*WFE, str(path)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path / "undoing")
        proc.send_signal(signal.SIGINT)  # cancels the run; the rollback goes on
        time.sleep(0.5)
        assert proc.poll() is None
        assert processes_with(f"sleep {marker}")  # the rollback is still running
        proc.send_signal(signal.SIGINT)  # stops at once
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "stopped at once" in err
    assert_nothing_left(marker)


def test_ctrl_c_once_during_a_rollback_that_times_out_leaves_nothing(tmp_path, marker):
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "a",
                "action": "shell.execute",
                "timeout": 2,
                "parameters": {"command": "true"},
                "rollback_action": "shell.execute",
                "rollback_parameters": {"command": f"touch undoing; sleep {marker} & sleep {marker}"},
            },
            {"id": "bad", "action": "shell.execute", "dependencies": ["a"], "parameters": {"command": "exit 3"}},
        ],
    )
    proc = subprocess.Popen([*WFE, str(path)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path / "undoing")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert_nothing_left(marker)


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs the setsid program")
def test_setsid_escapees_are_killed_when_their_step_ends(tmp_path, marker):
    # Two escapees: one with its output redirected (found through the inherited
    # lifeline pipe and the tag in its environment), one holding stdout.
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "a",
                "action": "shell.execute",
                "parameters": {
                    "command": (
                        f"setsid sleep {marker} >/dev/null 2>&1 & "
                        f"setsid sh -c 'sleep {marker} & sleep {marker}' & sleep 0.2; echo started"
                    )
                },
            },
            {
                "id": "b",
                "action": "shell.execute",
                "dependencies": ["a"],
                "parameters": {"command": f"pgrep -f 'slee[p] {marker}' > seen; true"},
            },
        ],
    )
    done = run_wfe(path, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "seen").read_text() == ""  # gone before the next step started
    assert_nothing_left(marker)


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs the setsid program")
def test_an_escapee_without_tag_or_pipes_is_killed_before_wfe_exits(tmp_path, marker):
    # It drops the environment and closes every inherited descriptor: the step cannot
    # tell it is there, but as wfe's re-parented child it is stopped when the run ends.
    code = f"import os; os.closerange(3, 65536); os.execve('/bin/sleep', ['sleep', '{marker}'], {{}})"
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "a",
                "action": "shell.execute",
                "parameters": {
                    "command": [
                        "sh",
                        "-c",
                        f'setsid {sys.executable} -c "$0" </dev/null >/dev/null 2>&1 & sleep 0.3',
                        code,
                    ]
                },
            },
        ],
    )
    done = run_wfe(path, tmp_path)
    assert done.returncode == 0, done.stderr
    assert_nothing_left(marker)


def test_killed_background_jobs_leave_no_zombies_during_the_run(tmp_path):
    # Double-forked background jobs are re-parented to wfe (the subreaper) and killed
    # with their step's group; unless wfe reaps them they stay zombies until it exits,
    # one per such process.
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "spawn",
                "action": "shell.execute",
                "parameters": {"command": "for i in 1 2 3 4 5; do (sleep 30 &); done"},
            },
            {
                "id": "look",
                "action": "shell.execute",
                "dependencies": ["spawn"],
                "parameters": {
                    "command": (
                        "sleep 2.5; for f in /proc/[0-9]*/stat; do cat $f 2>/dev/null; echo; done | "
                        "awk -v p=$PPID '$3 == \"Z\" && $4 == p' > zombies"
                    )
                },
            },
        ],
    )
    done = run_wfe(path, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "zombies").read_text() == ""
