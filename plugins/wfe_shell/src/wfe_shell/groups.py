"""Process groups seen through /proc: who is in one, signalling it, reaping its zombies."""

from __future__ import annotations

import os
from collections.abc import Iterator

__all__ = ["ProcEntry", "group_alive", "proc_entries", "reap_group_zombies", "reap_zombie", "signal_group"]


class ProcEntry:
    """One line of /proc/PID/stat: the pid, its state letter, parent and process group."""

    __slots__ = ("pgid", "pid", "ppid", "state")

    def __init__(self, pid: int, state: bytes, ppid: int, pgid: int):
        self.pid, self.state, self.ppid, self.pgid = pid, state, ppid, pgid

    @property
    def zombie(self) -> bool:
        return self.state in (b"Z", b"X")


def proc_entries() -> Iterator[ProcEntry] | None:
    """Every process in /proc, or ``None`` where there is no /proc."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return None

    def entries() -> Iterator[ProcEntry]:
        for name in names:
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
                yield ProcEntry(int(name), fields[0], int(fields[1]), int(fields[2]))
            except (OSError, IndexError, ValueError):
                continue  # it exited while we looked

    return entries()


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count)."""
    entries = proc_entries()
    if entries is not None:
        return any(e.pgid == pgid and not e.zombie for e in entries)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to group ``pgid``; false if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def reap_zombie(pid: int) -> None:
    """Collect ``pid``'s exit status if it is a finished child of this process."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def reap_group_zombies(pgid: int) -> None:
    """Reap the finished members of ``pgid`` that were re-parented to this process.

    With ``wfe`` as child subreaper, a command's background processes become our
    children when the command exits; once killed they would stay zombies until ``wfe``
    exits. Only members of the given group are touched: the command processes of other
    steps lead groups of their own, and their ``Popen`` objects do their own reaping.
    """
    entries = proc_entries()
    if entries is None:
        return
    me = os.getpid()
    for entry in entries:
        if entry.pgid == pgid and entry.ppid == me and entry.zombie and entry.pid != pgid:
            reap_zombie(entry.pid)
