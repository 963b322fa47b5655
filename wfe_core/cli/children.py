"""No process started by ``wfe`` outlives it.

``wfe run`` (and ``resume``, ``rollback``) makes itself a *child subreaper* on Linux
(``prctl(PR_SET_CHILD_SUBREAPER)``): a process whose parent dies is re-parented to the
nearest subreaper ancestor instead of PID 1. So a command's background process that
escaped its process group with ``setsid`` and whose shell has exited is still our
descendant, and can be found through ``/proc``.

Before the command returns, :func:`stop_descendants` stops every descendant left —
SIGTERM to its process group, SIGKILL after the grace period, then reaping — because
steps that were timed out or cancelled may still be in the middle of their own group
kill on daemon threads that would die with the interpreter (and the delayed SIGKILL
with them). Elsewhere (no /proc, no prctl) both are no-ops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator

__all__ = ["GRACE", "become_subreaper", "descendants", "kill_descendants", "owning_children", "stop_descendants"]

#: Seconds between SIGTERM and SIGKILL (the same grace wfe-shell gives a process group).
GRACE = 2.0
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants; true if it now is."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _table() -> dict[int, tuple[bytes, int, int]] | None:
    """pid -> (state, ppid, pgid) for every process in /proc, or ``None`` without /proc."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    table = {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            table[int(name)] = (fields[0], int(fields[1]), int(fields[2]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def descendants() -> dict[int, tuple[bytes, int, int]]:
    """Every descendant of this process (zombies included): pid -> (state, ppid, pgid)."""
    table = _table()
    if not table:
        return {}
    children: dict[int, list[int]] = {}
    for pid, (_state, ppid, _pgid) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {}, [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found[child] = table[child]
                todo.append(child)
    return found


def _reap(found: dict[int, tuple[bytes, int, int]]) -> None:
    me = os.getpid()
    for pid, (state, ppid, _pgid) in found.items():
        if ppid == me and state in (b"Z", b"X"):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _signal(found: dict[int, tuple[bytes, int, int]], sig: int) -> None:
    own_group = os.getpgrp()
    groups = set()
    for pid, (state, _ppid, pgid) in found.items():
        if state in (b"Z", b"X"):
            continue
        try:
            if pgid != own_group:
                if pgid not in groups:
                    groups.add(pgid)
                    os.killpg(pgid, sig)  # the whole group: what a step started
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _alive() -> dict[int, tuple[bytes, int, int]]:
    found = descendants()
    _reap(found)
    return {pid: info for pid, info in found.items() if info[0] not in (b"Z", b"X")}


def stop_descendants(grace: float = GRACE) -> int:
    """SIGTERM every live descendant's group, SIGKILL after ``grace`` s, reap; the count found."""
    alive = _alive()
    count = len(alive)
    if not alive:
        return 0
    _signal(alive, signal.SIGTERM)
    deadline = time.monotonic() + grace
    pause = 0.001  # most go at once (wfe-shell's watchdog, always there: see its module)
    while alive and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
        alive = _alive()
    deadline = time.monotonic() + 5.0  # SIGKILL cannot be ignored; D-state sleep can delay it
    while alive and time.monotonic() < deadline:
        _signal(alive, signal.SIGKILL)
        time.sleep(0.02)
        alive = _alive()
    return count


def kill_descendants() -> None:
    """SIGKILL every live descendant's group now, without waiting (a forced stop).

    Not waiting is deliberate: the process exits right after, and while it waited the
    run could finish and be recorded as cancelled rather than interrupted. SIGKILL
    cannot be caught, so they die within moments.
    """
    alive = _alive()
    if alive:
        _signal(alive, signal.SIGKILL)


@contextlib.contextmanager
def owning_children() -> Iterator[None]:
    """Be the subreaper of what runs inside, and stop all descendants on the way out."""
    become_subreaper()
    try:
        yield
    finally:
        stop_descendants()
