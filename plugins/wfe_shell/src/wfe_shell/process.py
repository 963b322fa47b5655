"""Running one command in its own process group, and making sure none of it outlives the step.

One loop in the calling thread (no helper threads) watches, with ``poll``, the read ends
of the command's stdout, stderr and "lifeline" pipes, its stdin pipe when it has input,
and — on Linux — a pidfd of the child, so the command's exit wakes the loop at once (no
polling interval between the pipes closing and the child being reaped). The loop still
wakes every :data:`POLL_INTERVAL` seconds to notice the cancel event and the deadline.
When the command is stopped — or when it exits while processes it started in the
background are still running — the whole process group gets SIGTERM, then SIGKILL after
:data:`KILL_GRACE` seconds.

A process that leaves the group (``setsid``) is found by a tag: every command gets
``WFE_SHELL_TAG=<unique>`` in its environment and an inherited lifeline pipe. When the
group is gone but the lifeline (or stdout/stderr) is still held, the processes carrying
the tag are stopped the same way (see :mod:`wfe_shell.escapees`).

The pipes are plain descriptors made here, not ``Popen``'s file objects: a ``true``
step then costs little more than ``subprocess.run`` (each file object costs system
calls to set up, and ``communicate`` a selector).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from .escapees import TAG_VARIABLE, stop_tagged
from .groups import group_alive, reap_group_zombies, signal_group
from .output import OUTPUT_LIMIT, TailBuffer, past_cut_values
from .spawn import others_may_hold, spawn
from .watchdog import command_ended, next_tag

__all__ = [
    "DRAIN_TIME",
    "KILL_GRACE",
    "OUTPUT_LIMIT",
    "POLL_INTERVAL",
    "SWEEP_DELAY",
    "Completed",
    "TailBuffer",
    "group_alive",
    "past_cut_values",
    "run_process",
    "stop_group",
]

#: Seconds between SIGTERM and SIGKILL when stopping a process group.
KILL_GRACE = 2.0
#: Seconds between checks of the cancel event and the deadline (the command's exit and
#: its output wake the loop at once).
POLL_INTERVAL = 0.05
#: Seconds to keep reading output after the process group and its tagged escapees are
#: gone (a process that also dropped the tag may still hold the pipes open).
DRAIN_TIME = 1.0
#: The longest the pipes may stay open after the group is gone, while a command that
#: another thread is starting may hold copies of them (see :mod:`wfe_shell.spawn`),
#: before processes carrying the command's tag are looked for in /proc (a scan of every
#: process). Without such a start under way they are looked for at once.
SWEEP_DELAY = 1.0


@attrs.frozen
class Completed:
    """What :func:`run_process` observed.

    Attributes:
        exit_code: the command's exit status (negative: killed by that signal).
        stdout, stderr: decoded, bounded output (see :class:`TailBuffer`).
        stopped: ``None`` if the command ended by itself, else ``"timeout"`` or ``"cancelled"``.
    """

    exit_code: int
    stdout: str
    stderr: str
    stopped: str | None = None


def _wait_group(proc: subprocess.Popen[bytes], pgid: int, seconds: float) -> bool:
    """Reap ``proc`` and wait up to ``seconds`` for group ``pgid`` to empty; true if it did."""
    deadline = time.monotonic() + seconds
    delay = 0.001
    while True:
        proc.poll()  # reap the leader so it does not count as alive
        if not group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def stop_group(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE) -> None:
    """SIGTERM the process group of ``proc``, SIGKILL it after ``grace`` s, and reap ``proc``.

    Members re-parented to this process (it may be a child subreaper, see ``wfe``) are
    reaped too, so no zombie of the group is left behind.
    """
    pgid = proc.pid  # start_new_session makes the child its group's leader
    if signal_group(pgid, signal.SIGTERM):
        if not _wait_group(proc, pgid, grace):
            signal_group(pgid, signal.SIGKILL)
            _wait_group(proc, pgid, 5.0)
        reap_group_zombies(pgid)
    proc.wait()


#: Process groups of commands running now, for :func:`kill_all` (a forced stop).
LIVE_GROUPS: set[int] = set()
_LIVE_LOCK = threading.Lock()


def _forget_groups() -> None:
    """In a forked child: the parent's commands are not the child's to stop."""
    global _LIVE_LOCK
    _LIVE_LOCK = threading.Lock()
    LIVE_GROUPS.clear()


os.register_at_fork(after_in_child=_forget_groups)


def kill_all() -> None:
    """SIGKILL every process group this process started and has not reaped yet."""
    with _LIVE_LOCK:
        groups = list(LIVE_GROUPS)
    for pgid in groups:
        signal_group(pgid, signal.SIGKILL)


def _pidfd(pid: int) -> int | None:
    """A file descriptor that becomes readable when ``pid`` exits (Linux ≥ 5.3), or ``None``."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd


def _held(fd: int) -> bool:
    """Whether the write end of the pipe read by ``fd`` is still open somewhere."""
    probe = select.poll()
    probe.register(fd, select.POLLIN)
    if not probe.poll(0):
        return True
    try:
        return os.read(fd, 1) != b""
    except BlockingIOError:
        return True


class _Streams:
    """The parent's side of a running command, in one ``poll`` set: the read ends of
    stdout, stderr and the lifeline (non-blocking), and whatever else is watched.

    A descriptor leaves the set at its end (end of file, input all written, exit seen),
    so "still watched" means "may still get output" or "still held".
    """

    def __init__(
        self,
        out: int,
        err: int,
        lifeline: int,
        buffers: tuple[TailBuffer, TailBuffer],
        on_output: Callable[[str, bytes], None] | None,
    ):
        self.poller = select.poll()
        self.watched: set[int] = set()
        self.outputs = {out: ("stdout", buffers[0]), err: ("stderr", buffers[1])}
        self.lifeline = lifeline
        self.on_output = on_output
        for fd in (out, err, lifeline):
            os.set_blocking(fd, False)
            self.watch(fd)

    def watch(self, fd: int, events: int = select.POLLIN) -> None:
        self.poller.register(fd, events)
        self.watched.add(fd)

    def forget(self, fd: int) -> None:
        self.poller.unregister(fd)
        self.watched.discard(fd)

    def ready(self, seconds: float) -> list[int]:
        """The watched descriptors that are ready (or at their end), waiting up to ``seconds``."""
        return [fd for fd, _events in self.poller.poll(seconds * 1000)]

    def pump(self, fd: int, rounds: int = 1) -> None:
        """Read what ``fd`` holds now (at most ``rounds`` reads); forget it at end of file."""
        for _ in range(rounds):
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self.forget(fd)
                return
            if fd == self.lifeline:
                continue  # nobody should write there; the bytes mean nothing
            name, buffer = self.outputs[fd]
            buffer.add(chunk)
            if self.on_output is not None:
                self.on_output(name, chunk)

    def drain(self) -> None:
        """Read everything already written, and notice every end of file already there.

        When a command exits, the kernel closes its descriptors before it reports the
        exit, so pipes the command alone held are at end of file now: reading them here
        (instead of after another wake-up) tells "nobody holds them" apart from "an
        escapee holds them" without scanning /proc.
        """
        for fd in (*self.outputs, self.lifeline):
            if fd in self.watched:
                self.pump(fd, rounds=16)

    @property
    def reading(self) -> bool:
        """Whether stdout or stderr may still get output."""
        return any(fd in self.watched for fd in self.outputs)

    @property
    def held(self) -> bool:
        """Whether any of the pipes (output or lifeline) is still open somewhere."""
        return self.reading or self.lifeline in self.watched


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    timeout: float | None = None,
    cancel_event: threading.Event | None = None,
    output_limit: int = OUTPUT_LIMIT,
    grace: float = KILL_GRACE,
    protect: Sequence[str] = (),
    on_output: Callable[[str, bytes], None] | None = None,
) -> Completed:
    """Run ``argv`` in a new session and collect its output.

    ``protect``: values (templated into the command) that truncated output must not
    start inside of (see :func:`past_cut_values`). ``on_output(stream, chunk)`` hears
    each chunk read (``stream`` is ``stdout`` or ``stderr``) as it arrives.

    Raises:
        OSError: the program could not be started (not found, not executable, bad cwd).
    """
    # The command counts as running for this process's watchdog (started with its first
    # command) from here until it is stopped and reaped, whatever happens in between.
    tag = next_tag(grace)
    try:
        return _run_tagged(argv, tag, cwd, env, input, timeout, cancel_event, output_limit, grace, protect, on_output)
    finally:
        command_ended()


def _run_tagged(
    argv: Sequence[str],
    tag: str,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    input: bytes | None,
    timeout: float | None,
    cancel_event: threading.Event | None,
    output_limit: int,
    grace: float,
    protect: Sequence[str],
    on_output: Callable[[str, bytes], None] | None,
) -> Completed:
    cancel_event = cancel_event or threading.Event()
    env = dict(os.environ if env is None else env)
    env[TAG_VARIABLE] = tag
    proc, out_r, err_r, life_r, in_w, spawned_at = spawn(list(argv), cwd, env, with_input=input is not None)
    with _LIVE_LOCK:
        LIVE_GROUPS.add(proc.pid)
    guarded = [value.encode("utf-8", errors="replace") for value in protect]
    buffers = (TailBuffer(output_limit, guarded), TailBuffer(output_limit, guarded))
    deadline = time.monotonic() + timeout if timeout is not None else None
    stopped: str | None = None
    exited_at: float | None = None
    swept_at: float | None = None
    streams: _Streams | None = None
    pidfd: int | None = None
    try:
        streams = _Streams(out_r, err_r, life_r, buffers, on_output)
        pidfd = _pidfd(proc.pid)
        if pidfd is not None:
            streams.watch(pidfd)
        pending = memoryview(input or b"")
        if in_w is not None:
            os.set_blocking(in_w, False)
            if pending:
                streams.watch(in_w, select.POLLOUT)
            else:
                os.close(in_w)
                in_w = None
        while True:
            now = time.monotonic()
            if exited_at is None:
                until = deadline
            elif swept_at is None:
                until = exited_at + SWEEP_DELAY
            else:
                until = swept_at + DRAIN_TIME
            wait = POLL_INTERVAL if until is None else max(0.0, min(POLL_INTERVAL, until - now))
            ready: list[int] = []
            if streams.watched:
                ready = streams.ready(wait)
            elif exited_at is None:
                # No pidfd and the pipes are closed: Popen.wait polls with a short backoff.
                try:
                    proc.wait(wait)
                except subprocess.TimeoutExpired:
                    pass
            for fd in ready:
                if fd == pidfd:
                    streams.forget(pidfd)  # it stays readable; the exit is seen below
                elif fd == in_w:
                    try:
                        pending = pending[os.write(fd, pending[:65536]) :]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # the command stopped reading; that is its business
                        pending = pending[:0]
                    if not pending:
                        streams.forget(fd)
                        os.close(fd)
                        in_w = None
                else:
                    streams.pump(fd)
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
                stop_group(proc, grace)  # background leftovers do not outlive the step
                streams.drain()
            if exited_at is not None:
                if not streams.held:
                    break
                if swept_at is None:
                    if not others_may_hold(spawned_at) or time.monotonic() >= exited_at + SWEEP_DELAY:
                        # The group is gone, yet something still holds our pipes: a
                        # process that left the group. Stop what carries this command's tag.
                        stop_tagged(tag, grace)
                        swept_at = time.monotonic()
                        streams.drain()
                    continue
                if not streams.reading or time.monotonic() - swept_at > DRAIN_TIME:
                    break
                continue
            if cancel_event.is_set():
                stopped = "cancelled"
            elif deadline is not None and time.monotonic() >= deadline:
                stopped = "timeout"
            if stopped:
                stop_group(proc, grace)
                exited_at = time.monotonic()
                streams.drain()
    finally:
        if pidfd is not None:
            os.close(pidfd)
        if proc.poll() is None:
            stop_group(proc, 0)
        if swept_at is None and (streams is None or life_r in streams.watched) and _held(life_r):
            stop_tagged(tag, 0)
        for end in (out_r, err_r, life_r, in_w):
            if end is not None:
                os.close(end)
        with _LIVE_LOCK:
            LIVE_GROUPS.discard(proc.pid)
    return Completed(proc.returncode, buffers[0].text(), buffers[1].text(), stopped)
