"""A command does not outlive the process that ran it, even when that process is killed
outright (``kill -9``, the OOM killer) and can stop nothing itself: its watchdog, a
small ``sh`` it started with its first command, stops what carries its tag (see
:mod:`wfe_shell.watchdog`). Before, the commands (each in a session of its own) ran on,
and ``wfe resume`` then ran the step again beside them.

Each test kills a real process (the ``wfe`` command, or a program using the Python API)
and reads /proc for what is left; each uses a sleep duration of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from wfe_cli import kill_leftovers, processes_with, write_workflow

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

#: A step that leaves its group with setsid, keeps a background process, and waits.
COMMAND = "sleep {m} & setsid sleep {m} & sleep {m}"


@pytest.fixture
def marker(request):
    token = f"32{abs(hash(request.node.name)) % 1000}.{os.getpid() % 1000}"
    yield token
    kill_leftovers(f"sleep {token}")


def _until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _left(marker: str) -> list[str]:
    """COMMAND's processes still running: its shell and three sleeps (a test program's own
    command line may hold the marker too: it is not one of them)."""
    return [c for _pid, c in processes_with(f"sleep {marker}") if c.startswith(("sleep ", "sh -c "))]


def _sleeping(marker: str) -> int:
    return sum(c.startswith("sleep ") for c in _left(marker))


def _kill_once_running(proc: subprocess.Popen, marker: str) -> None:
    _until(lambda: _sleeping(marker) == 3, 30, "the step never started")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _watchdogs_of(pid: int) -> list[tuple[int, str]]:
    return processes_with(f"wfe-shell-watchdog {pid}.")


def test_killing_wfe_stops_its_running_steps(tmp_path, marker):
    path = write_workflow(
        tmp_path, [{"id": "slow", "action": "shell.execute", "parameters": {"command": COMMAND.format(m=marker)}}]
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", "--no-store", str(path)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _kill_once_running(proc, marker)
    # SIGTERM at once (sleep does not ignore it): well within the 2 s grace.
    _until(lambda: not _left(marker), 5, "the step's processes outlived wfe")
    _until(lambda: not _watchdogs_of(proc.pid), 5, "the watchdog stayed")


def test_killing_a_program_using_the_api_stops_its_running_steps(tmp_path, marker):
    program = textwrap.dedent(
        f"""
        from wfe_core import Workflow, WorkflowEngine, WorkflowStep
        engine = WorkflowEngine(store=None)
        step = WorkflowStep(id="slow", action="shell.execute", parameters={{"command": {COMMAND.format(m=marker)!r}}})
        engine.run(Workflow(id="w", steps=[step]))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path)
    _kill_once_running(proc, marker)
    _until(lambda: not _left(marker), 5, "the step's processes outlived the program")


def test_a_normal_exit_leaves_no_watchdog_and_stops_nothing(tmp_path, marker):
    # A program that ran a command and exits normally, no command running: its watchdog
    # exits at once and stops nothing, not even a process carrying the program's tag
    # prefix (started here outside wfe-shell, so that a scan would find it).
    program = textwrap.dedent(
        f"""
        import os, subprocess
        from wfe_shell import run_process
        tag = run_process(["sh", "-c", "echo $WFE_SHELL_TAG"]).stdout.strip()
        env = {{**os.environ, "WFE_SHELL_TAG": tag.rsplit(".", 1)[0] + ".999999"}}
        subprocess.Popen(
            ["sleep", "{marker}"], env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        print(os.getpid(), flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout)
    _until(lambda: not _watchdogs_of(pid), 5, "the watchdog outlived a normal exit")
    time.sleep(0.5)  # (a scan, had there been one, would have stopped it by now)
    assert _sleeping(marker) == 1


def test_a_program_that_exits_while_a_command_runs_stops_it(tmp_path, marker):
    # The command runs on a daemon thread (a step the program did not wait for): the
    # interpreter exits without stopping it, and its watchdog does.
    program = textwrap.dedent(
        f"""
        import threading, time
        from wfe_shell import run_process
        threading.Thread(target=run_process, args=(["sh", "-c", {COMMAND.format(m=marker)!r}],), daemon=True).start()
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path)
    try:
        _until(lambda: _sleeping(marker) == 3, 30, "the command never started")
        proc.send_signal(signal.SIGINT)  # KeyboardInterrupt in the main thread: a normal exit
        assert proc.wait(timeout=30) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    _until(lambda: not _left(marker), 5, "the command outlived the program")


def test_a_forked_child_has_a_watchdog_of_its_own(tmp_path, marker):
    # The parent runs a command (its watchdog starts), then forks; the child runs a long
    # one and is killed: the child's watchdog stops it, the parent's stays for the parent.
    program = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from wfe_shell import run_process
        assert run_process(["true"]).exit_code == 0
        child = os.fork()
        if child == 0:
            run_process(["sh", "-c", {COMMAND.format(m=marker)!r}])
            os._exit(0)
        print(child, flush=True)
        sys.stdin.readline()  # the test kills the child, then says so
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", program], cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        child = int(proc.stdout.readline())
        _until(lambda: _sleeping(marker) == 3, 30, "the child's command never started")
        ((parent_watchdog, _),) = _watchdogs_of(proc.pid)
        assert len(_watchdogs_of(child)) == 1
        # The child does not hold the parent's watchdog's pipe open (or the parent's death
        # would not end it while the child lives).
        pipe = os.readlink(f"/proc/{parent_watchdog}/fd/0")
        assert pipe not in [os.readlink(f"/proc/{child}/fd/{fd}") for fd in os.listdir(f"/proc/{child}/fd")]
        os.kill(child, signal.SIGKILL)
        _until(lambda: not _left(marker), 5, "the child's command outlived it")
        assert len(_watchdogs_of(proc.pid)) == 1  # the parent's: still watching the parent
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    _until(lambda: not _watchdogs_of(proc.pid), 5, "the parent's watchdog outlived a normal exit")
