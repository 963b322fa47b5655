"""Running one command in its own process group, and making sure none of it outlives the step.

One loop (no helper threads) multiplexes stdin, stdout, stderr and — on Linux — a pidfd of
the child with a selector, so the command's exit wakes the loop at once (no polling
interval between the pipes closing and the child being reaped). The loop still wakes
every :data:`POLL_INTERVAL` seconds to notice the cancel event and the deadline. When the
command is stopped — or when it exits while processes it started in the background are
still running — the whole process group gets SIGTERM, then SIGKILL after
:data:`KILL_GRACE` seconds.

A process that leaves the group (``setsid``) is found by a tag: every command gets
``WFE_SHELL_TAG=<unique>`` in its environment and an inherited "lifeline" pipe. When the
group is gone but the lifeline (or stdout/stderr) is still held, the processes carrying
the tag are stopped the same way (see :mod:`wfe_shell.escapees`).
"""

from __future__ import annotations

import itertools
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import AnyStr

import attrs

from .escapees import TAG_VARIABLE, stop_tagged
from .groups import group_alive, reap_group_zombies, signal_group

__all__ = [
    "KILL_GRACE",
    "OUTPUT_LIMIT",
    "POLL_INTERVAL",
    "Completed",
    "TailBuffer",
    "group_alive",
    "past_cut_values",
    "run_process",
    "stop_group",
]

#: Bytes kept of each of stdout and stderr (the last ones; earlier output is dropped).
OUTPUT_LIMIT = 1024 * 1024
#: Seconds between SIGTERM and SIGKILL when stopping a process group.
KILL_GRACE = 2.0
#: Seconds between checks of the cancel event and the deadline (the command's exit and
#: its output wake the loop at once).
POLL_INTERVAL = 0.05
#: Seconds to keep reading output after the process group and its tagged escapees are
#: gone (a process that also dropped the tag may still hold the pipes open).
DRAIN_TIME = 1.0
#: Seconds the pipes may stay open after the group is gone before processes carrying the
#: command's tag are looked for in /proc (a scan of every process). The wait ends at once
#: when the pipes close: a child that another thread is starting may hold copies of them
#: for a moment, until it executes its program.
SWEEP_DELAY = 0.05

_TAGS = itertools.count(1)


def past_cut_values(text: AnyStr, cut: int, values: Sequence[AnyStr]) -> int:
    """``cut`` moved forward past any occurrence of one of ``values`` that it splits.

    Output cut short must not start with the tail of a templated value (it may be a
    secret): masking recognises a secret only whole, so a fragment would leak.
    """
    moved = True
    while moved:
        moved = False
        for value in values:
            if len(value) < 2:
                continue
            at = text.find(value, max(0, cut - len(value) + 1))
            if at != -1 and at < cut < at + len(value):
                cut, moved = at + len(value), True
    return cut


class TailBuffer:
    """Keeps the last ``limit`` bytes written to it and counts the ones it dropped.

    ``protect``: byte strings (templated values) the kept text must not start inside;
    enough bytes before the cut are kept to see one that spans it.
    """

    def __init__(self, limit: int = OUTPUT_LIMIT, protect: Sequence[bytes] = ()):
        self.limit = limit
        self.protect = [p for p in protect if p]
        self.guard = max((len(p) for p in self.protect), default=1) - 1
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit + self.guard:  # trim in batches, not on every chunk
            self._trim()

    def _trim(self) -> None:
        excess = len(self.data) - self.limit - self.guard
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        """The kept bytes as UTF-8 (bad bytes replaced), after a marker if any were dropped."""
        self._trim()
        data = bytes(self.data)
        cut = max(0, len(data) - self.limit)
        if not self.dropped and not cut:
            return data.decode("utf-8", errors="replace")
        cut = past_cut_values(data, cut, self.protect)
        # Do not start in the middle of a multi-byte character.
        skip = 0
        while skip < min(3, len(data) - cut) and data[cut + skip] & 0xC0 == 0x80:
            skip += 1
        marker = f"[wfe-shell: output truncated, {self.dropped + cut + skip} earlier bytes dropped]\n"
        return marker + data[cut + skip :].decode("utf-8", errors="replace")


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


def _wait_group(proc: subprocess.Popen, pgid: int, seconds: float) -> bool:
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


def stop_group(proc: subprocess.Popen, grace: float = KILL_GRACE) -> None:
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
        return opener(pid)
    except OSError:
        return None


def _held(fd: int) -> bool:
    """Whether the write end of the non-blocking pipe read by ``fd`` is still open somewhere."""
    try:
        return os.read(fd, 1) != b""
    except BlockingIOError:
        return True


def _selector() -> selectors.BaseSelector:
    """A selector for a handful of descriptors: ``poll`` needs no descriptor of its own
    (``epoll`` costs a create, a control call per descriptor and a close per command)."""
    poll_selector = getattr(selectors, "PollSelector", None)
    return poll_selector() if poll_selector is not None else selectors.DefaultSelector()


class _Reader:
    """The read side of a command: its output pipes and the lifeline, in one selector.

    Every descriptor is non-blocking; one that reaches end of file leaves the selector,
    so "still registered" means "someone may still write to it".
    """

    def __init__(
        self,
        selector: selectors.BaseSelector,
        buffers: dict[int, TailBuffer],
        names: dict[int, str],
        lifeline: int,
        on_output: Callable[[str, bytes], None] | None,
    ):
        self.selector = selector
        self.buffers = buffers
        self.names = names
        self.lifeline = lifeline
        self.on_output = on_output
        for fd in (*buffers, lifeline):
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)

    def pump(self, fd: int, rounds: int = 1) -> None:
        """Read what ``fd`` holds now (at most ``rounds`` reads); drop it at end of file."""
        for _ in range(rounds):
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self.selector.unregister(fd)
                return
            if fd == self.lifeline:
                continue  # nobody should write there; the bytes mean nothing
            self.buffers[fd].add(chunk)
            if self.on_output is not None:
                self.on_output(self.names[fd], chunk)

    def drain(self) -> None:
        """Read everything already written, and notice every end of file already there.

        When a command exits, the kernel closes its descriptors before it reports the
        exit, so pipes the command alone held are at end of file now: reading them here
        (instead of waiting for another wake-up) tells "nobody holds them" apart from
        "an escapee holds them" without scanning /proc.
        """
        for fd in (*self.buffers, self.lifeline):
            if fd in self.selector.get_map():
                self.pump(fd, rounds=16)

    @property
    def reading(self) -> bool:
        """Whether stdout or stderr may still get output."""
        registered = self.selector.get_map()
        return any(fd in registered for fd in self.buffers)

    @property
    def held(self) -> bool:
        """Whether any of the pipes (output or lifeline) is still open somewhere."""
        return self.reading or self.lifeline in self.selector.get_map()


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike | None = None,
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
    cancel_event = cancel_event or threading.Event()
    tag = f"{os.getpid()}.{next(_TAGS)}.{time.monotonic_ns()}"
    env = dict(os.environ if env is None else env)
    env[TAG_VARIABLE] = tag
    life_read, life_write = os.pipe()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            pass_fds=(life_write,),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except BaseException:
        os.close(life_read)
        os.close(life_write)
        raise
    os.close(life_write)
    with _LIVE_LOCK:
        LIVE_GROUPS.add(proc.pid)
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    guarded = [value.encode("utf-8", errors="replace") for value in protect]
    buffers = {out_fd: TailBuffer(output_limit, guarded), err_fd: TailBuffer(output_limit, guarded)}
    selector = _selector()
    reader = _Reader(selector, buffers, {out_fd: "stdout", err_fd: "stderr"}, life_read, on_output)
    pidfd = _pidfd(proc.pid)
    if pidfd is not None:
        selector.register(pidfd, selectors.EVENT_READ)
    pending = memoryview(input or b"")
    stdin_fd = proc.stdin.fileno() if input is not None else None
    if stdin_fd is not None:
        os.set_blocking(stdin_fd, False)
        if pending:
            selector.register(stdin_fd, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
    deadline = time.monotonic() + timeout if timeout is not None else None
    stopped: str | None = None
    exited_at: float | None = None
    swept_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if exited_at is None:
                until = deadline
            elif swept_at is None:
                until = exited_at + SWEEP_DELAY
            else:
                until = swept_at + DRAIN_TIME
            wait = POLL_INTERVAL if until is None else max(0.0, min(POLL_INTERVAL, until - now))
            if selector.get_map():
                events = selector.select(wait)
            elif exited_at is None:
                # No pidfd and the pipes are closed: Popen.wait polls with a short backoff.
                try:
                    proc.wait(wait)
                except subprocess.TimeoutExpired:
                    pass
                events = []
            else:
                events = []
            for key, _mask in events:
                if key.fd == pidfd:
                    selector.unregister(pidfd)  # it stays readable; the exit is seen below
                elif key.fd == stdin_fd:
                    try:
                        written = os.write(key.fd, pending[:65536])
                        pending = pending[written:]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # the command stopped reading; that is its business
                        pending = pending[:0]
                    if not pending:
                        selector.unregister(key.fd)
                        proc.stdin.close()
                else:
                    reader.pump(key.fd)
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
                stop_group(proc, grace)  # background leftovers do not outlive the step
                reader.drain()
            if exited_at is not None:
                if not reader.held:
                    break
                if swept_at is None:
                    if time.monotonic() >= exited_at + SWEEP_DELAY:
                        # The group is gone, yet something still holds our pipes: a
                        # process that left the group. Stop what carries this command's tag.
                        stop_tagged(tag, grace)
                        swept_at = time.monotonic()
                        reader.drain()
                    continue
                if not reader.reading or time.monotonic() - swept_at > DRAIN_TIME:
                    break
                continue
            if cancel_event.is_set():
                stopped = "cancelled"
            elif deadline is not None and time.monotonic() >= deadline:
                stopped = "timeout"
            if stopped:
                stop_group(proc, grace)
                exited_at = time.monotonic()
                reader.drain()
    finally:
        selector.close()
        if pidfd is not None:
            os.close(pidfd)
        if proc.poll() is None:
            stop_group(proc, 0)
        if swept_at is None and _held(life_read):
            stop_tagged(tag, 0)
        os.close(life_read)
        with _LIVE_LOCK:
            LIVE_GROUPS.discard(proc.pid)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
    return Completed(proc.returncode, buffers[out_fd].text(), buffers[err_fd].text(), stopped)
