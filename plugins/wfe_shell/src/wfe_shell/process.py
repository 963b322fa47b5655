"""Running one command in its own process group, and making sure none of it outlives the step.

One loop (no helper threads) multiplexes stdin, stdout and stderr with a selector and
wakes every :data:`POLL_INTERVAL` seconds to notice the process exiting, the cancel
event or the deadline. When the command is stopped — or when it exits while processes
it started in the background are still running — the whole process group gets SIGTERM,
then SIGKILL after :data:`KILL_GRACE` seconds.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

import attrs

__all__ = [
    "KILL_GRACE",
    "OUTPUT_LIMIT",
    "POLL_INTERVAL",
    "Completed",
    "TailBuffer",
    "group_alive",
    "run_process",
    "stop_group",
]

#: Bytes kept of each of stdout and stderr (the last ones; earlier output is dropped).
OUTPUT_LIMIT = 1024 * 1024
#: Seconds between SIGTERM and SIGKILL when stopping a process group.
KILL_GRACE = 2.0
#: Seconds between checks of the cancel event and the deadline.
POLL_INTERVAL = 0.05
#: Seconds to keep reading output after the process group is gone (a process that left
#: the group, e.g. through ``setsid``, may still hold the pipes open).
DRAIN_TIME = 1.0


class TailBuffer:
    """Keeps the last ``limit`` bytes written to it and counts the ones it dropped."""

    def __init__(self, limit: int = OUTPUT_LIMIT):
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit:  # trim in batches, not on every chunk
            self._trim()

    def _trim(self) -> None:
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        """The kept bytes as UTF-8 (bad bytes replaced), after a marker if any were dropped."""
        self._trim()
        data = bytes(self.data)
        if not self.dropped:
            return data.decode("utf-8", errors="replace")
        # Do not start in the middle of a multi-byte character.
        skip = 0
        while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
            skip += 1
        marker = f"[wfe-shell: output truncated, {self.dropped + skip} earlier bytes dropped]\n"
        return marker + data[skip:].decode("utf-8", errors="replace")


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


def _group_members(pgid: int) -> list[int] | None:
    """Live (non-zombie) pids in process group ``pgid``; ``None`` if /proc is unavailable."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    members = []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count)."""
    members = _group_members(pgid)
    if members is not None:
        return bool(members)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def stop_group(proc: subprocess.Popen, grace: float = KILL_GRACE) -> None:
    """SIGTERM the process group of ``proc``, SIGKILL it after ``grace`` s, and reap ``proc``."""
    pgid = proc.pid  # start_new_session makes the child its group's leader
    if _signal_group(pgid, signal.SIGTERM):
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader so it does not count as alive
            if not group_alive(pgid):
                break
            time.sleep(0.02)
        else:
            _signal_group(pgid, signal.SIGKILL)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and (proc.poll() is None or group_alive(pgid)):
                time.sleep(0.01)
    proc.wait()


#: Process groups of commands running now, for :func:`kill_all` (a forced stop).
LIVE_GROUPS: set[int] = set()
_LIVE_LOCK = threading.Lock()


def kill_all() -> None:
    """SIGKILL every process group this process started and has not reaped yet."""
    with _LIVE_LOCK:
        groups = list(LIVE_GROUPS)
    for pgid in groups:
        _signal_group(pgid, signal.SIGKILL)


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
) -> Completed:
    """Run ``argv`` in a new session and collect its output.

    Raises:
        OSError: the program could not be started (not found, not executable, bad cwd).
    """
    cancel_event = cancel_event or threading.Event()
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    with _LIVE_LOCK:
        LIVE_GROUPS.add(proc.pid)
    buffers = {proc.stdout.fileno(): TailBuffer(output_limit), proc.stderr.fileno(): TailBuffer(output_limit)}
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    selector = selectors.DefaultSelector()
    for fd in buffers:
        selector.register(fd, selectors.EVENT_READ)
    pending = memoryview(input or b"")
    if input is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        if pending:
            selector.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
    deadline = time.monotonic() + timeout if timeout is not None else None
    stopped: str | None = None
    exited_at: float | None = None
    try:
        while True:
            if selector.get_map():
                events = selector.select(POLL_INTERVAL)
            else:
                cancel_event.wait(POLL_INTERVAL)
                events = []
            for key, _mask in events:
                if key.fd in buffers:
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        buffers[key.fd].add(chunk)
                    else:
                        selector.unregister(key.fd)
                    continue
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
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
                stop_group(proc, grace)  # background leftovers do not outlive the step
            if exited_at is not None:
                reading = any(fd in selector.get_map() for fd in buffers)
                if not reading or time.monotonic() - exited_at > DRAIN_TIME:
                    break
                continue
            if cancel_event.is_set():
                stopped = "cancelled"
            elif deadline is not None and time.monotonic() >= deadline:
                stopped = "timeout"
            if stopped:
                stop_group(proc, grace)
                exited_at = time.monotonic()
    finally:
        selector.close()
        if proc.poll() is None:
            stop_group(proc, 0)
        with _LIVE_LOCK:
            LIVE_GROUPS.discard(proc.pid)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
    return Completed(proc.returncode, buffers[out_fd].text(), buffers[err_fd].text(), stopped)
