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
    return [
        c
        for _pid, c in processes_with(f"sleep {marker}")
        if c.startswith(("sleep ", "/bin/sleep ", "sh -c ", "/bin/sh -c "))
    ]


def _sleeping(marker: str) -> int:
    return sum(c.startswith(("sleep ", "/bin/sleep ")) for c in _left(marker))


def _kill_once_running(proc: subprocess.Popen, marker: str) -> None:
    _until(lambda: _sleeping(marker) == 3, 30, "the step never started")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _watchdogs_of(pid: int) -> list[tuple[int, str]]:
    """The watchdog of process ``pid`` (its first argument matches the pid's tag prefix)."""
    return processes_with(f"wfe-shell-watchdog ^WFE_SHELL_TAG={pid}[.]")


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


def test_killing_a_program_using_the_api_stops_its_running_steps_and_nothing_else(tmp_path, marker):
    # The program's PATH holds no grep, xargs or sleep (the watchdog must not need it),
    # and two processes it starts outside wfe-shell mention its tag prefix in their
    # environment, not as WFE_SHELL_TAG: they are not its commands.
    command = f"/bin/sleep {marker} & /usr/bin/setsid /bin/sleep {marker} & /bin/sleep {marker}"
    decoy = f"1{marker}"  # (not a command line _left would count)
    program = textwrap.dedent(
        f"""
        import os, subprocess
        from wfe_core import Workflow, WorkflowEngine, WorkflowStep
        from wfe_shell import run_process
        prefix = run_process(["/bin/sh", "-c", "echo $WFE_SHELL_TAG"]).stdout.strip().rsplit(".", 1)[0] + "."
        for extra in ({{"PARENT_WFE_SHELL_TAG": prefix + "7"}}, {{"NOTE": "was WFE_SHELL_TAG=" + prefix + "7"}}):
            env = {{k: v for k, v in os.environ.items() if k != "WFE_SHELL_TAG"}}
            subprocess.Popen(["/bin/sleep", "{decoy}"], env={{**env, **extra}}, start_new_session=True)
        engine = WorkflowEngine(store=None)
        step = WorkflowStep(id="slow", action="shell.execute", parameters={{"command": {command!r}}})
        engine.run(Workflow(id="w", steps=[step]))
        """
    )
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}
    proc = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path, env=env)
    try:
        _kill_once_running(proc, marker)
        _until(lambda: not _left(marker), 5, "the step's processes outlived the program")
        assert len(processes_with(f"sleep {decoy}")) == 2
    finally:
        kill_leftovers(f"sleep {decoy}")


def test_a_command_that_keeps_leaving_its_group_is_stopped(tmp_path, marker):
    # It ignores SIGTERM and starts a new session's sleep whenever the last one ends: the
    # watchdog looks again through the grace period, then SIGKILLs until none is left.
    command = f"exec 2>/dev/null; trap '' TERM; while :; do (trap - TERM; exec setsid sleep {marker}); done"
    program = textwrap.dedent(
        f"""
        from wfe_shell import run_process
        run_process(["sh", "-c", {command!r}])
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path)
    _until(lambda: _sleeping(marker) == 1, 30, "the command never started")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    _until(lambda: not _left(marker), 10, "the command or its latest sleep outlived the program")


def test_a_command_stopped_by_the_watchdog_has_its_grace_to_clean_up(tmp_path, marker):
    # One SIGTERM to the group, as run_process gives a command it stops: its cleanup's own
    # process (in the group, found by the next look) is not signalled: it ends by itself.
    log = tmp_path / "cleanup.log"
    command = (
        f"exec 2>/dev/null; trap 'echo start >> {log}; sleep 0.5; echo end $? >> {log}; exit' TERM; "
        f"sleep {marker} & sleep {marker} & sleep {marker} & wait"
    )
    program = textwrap.dedent(
        f"""
        from wfe_shell import run_process
        run_process(["sh", "-c", {command!r}])
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path)
    _kill_once_running(proc, marker)
    _until(lambda: log.exists() and "end" in log.read_text(), 10, "the cleanup never ended")
    assert log.read_text().split() == ["start", "end", "0"]  # (143: its sleep was SIGTERMed)
    _until(lambda: not _left(marker), 5, "the command outlived the program")


def test_a_watchdog_that_could_not_start_is_started_with_the_next_command(tmp_path, marker):
    # The first command fails for want of file descriptors (its watchdog too); once some
    # are free, the next command gets a watchdog, which stops it when the program is killed.
    program = textwrap.dedent(
        f"""
        import os, resource
        from wfe_shell import run_process
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        held = []
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        try:
            run_process(["true"])
            raise SystemExit("the command started without a descriptor")
        except OSError:
            pass
        for fd in held:
            os.close(fd)
        run_process(["sh", "-c", {COMMAND.format(m=marker)!r}])
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path)
    _kill_once_running(proc, marker)
    _until(lambda: not _left(marker), 5, "the command outlived the program")


def test_a_command_started_during_the_exit_is_stopped(tmp_path, marker):
    # A daemon thread starts a command while the interpreter exits, after an earlier
    # command started the watchdog: in the first program right after "done" was written
    # (an exit handler registered before wfe-shell's runs after it), in the second
    # whenever the thread gets there. Neither command outlives its program.
    after_done = textwrap.dedent(
        f"""
        import atexit, os, threading, time
        from wfe_shell import run_process

        def late():
            threading.Thread(target=run_process, args=(["sleep", "{marker}"],), daemon=True).start()
            while not any(
                open(f"/proc/{{p}}/cmdline", "rb").read() == b"sleep\\x00{marker}\\x00"
                for p in filter(str.isdigit, os.listdir("/proc"))
                if os.path.exists(f"/proc/{{p}}/cmdline")
            ):
                time.sleep(0.005)

        atexit.register(late)
        run_process(["true"])
        """
    )
    any_time = textwrap.dedent(
        f"""
        import threading
        from wfe_shell import run_process
        run_process(["true"])
        threading.Thread(target=run_process, args=(["sleep", "{marker}"],), daemon=True).start()
        """
    )
    for program in (after_done, after_done, any_time, any_time, any_time):
        done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        _until(lambda: not _left(marker), 5, "a command started during the exit outlived the program")


def test_a_stopped_watchdog_is_replaced_and_its_end_does_not_end_the_exit(tmp_path, marker):
    # The program stops its watchdog (as a host cleaning up its children might), with
    # SIGPIPE at its default: its exit still succeeds (nothing is written to the ended
    # pipe, which would end it with SIGPIPE); and a later command gets a new watchdog,
    # which stops it when the program is killed.
    program = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from wfe_shell import run_process
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        tag = run_process(["sh", "-c", "echo $WFE_SHELL_TAG"]).stdout.strip()
        print(os.getpid(), flush=True)
        sys.stdin.readline()  # the test stops the watchdog
        if sys.argv[1] == "run":
            run_process(["sh", "-c", {COMMAND.format(m=marker)!r}])
        """
    )
    for mode in ("exit", "run"):
        proc = subprocess.Popen(
            [sys.executable, "-c", program, mode],
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdin is not None
            pid = int(proc.stdout.readline())
            ((watchdog, _),) = _watchdogs_of(pid)
            os.kill(watchdog, signal.SIGTERM)
            _until(lambda pid=pid: not _watchdogs_of(pid), 5, "the watchdog did not stop")
            proc.stdin.write("\n")
            proc.stdin.flush()
            if mode == "exit":
                assert proc.wait(timeout=30) == 0  # not 141 (SIGPIPE)
                continue
            _kill_once_running(proc, marker)
            _until(lambda: not _left(marker), 5, "the command outlived the program")
        finally:
            if proc.poll() is None:
                proc.kill()


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
    # program returns once its three sleeps run, the interpreter exits without stopping
    # them, and its watchdog does.
    program = textwrap.dedent(
        f"""
        import os, threading, time
        from wfe_shell import run_process
        threading.Thread(target=run_process, args=(["sh", "-c", {COMMAND.format(m=marker)!r}],), daemon=True).start()

        def sleeping():
            found = 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{{pid}}/cmdline", "rb") as handle:
                        found += handle.read() == b"sleep\\x00{marker}\\x00"
                except OSError:
                    pass
            return found

        while sleeping() < 3:
            time.sleep(0.01)
        """
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
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
