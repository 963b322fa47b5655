"""Finding and stopping the processes of a command that left its process group.

A command can put a process out of reach of its group kill with ``setsid`` (or any
``setpgid``). Every command wfe-shell starts carries ``WFE_SHELL_TAG=<unique>`` in its
environment, which every descendant inherits unless it scrubs its environment; this
module finds the live processes with a given tag in ``/proc/PID/environ`` (readable for
our own processes) and stops them: SIGTERM to each one's process group, SIGKILL after
the grace period, then reaping those that are our children (``wfe`` makes itself a child
subreaper, so orphans of its commands are re-parented to it).

A process that drops the tag and closes inherited descriptors is not found here; the
``wfe`` command still stops every descendant before it exits.
"""

from __future__ import annotations

import os
import signal
import time

from .groups import proc_entries, reap_zombie

__all__ = ["TAG_VARIABLE", "stop_tagged", "tagged"]

#: The environment variable that marks a command's processes.
TAG_VARIABLE = "WFE_SHELL_TAG"


def tagged(tag: str) -> dict[int, int]:
    """Live processes whose environment carries ``tag``: pid -> process group."""
    entries = proc_entries()
    if entries is None:
        return {}
    needle = f"{TAG_VARIABLE}={tag}\0".encode()
    me = os.getpid()
    found = {}
    for entry in entries:
        if entry.zombie or entry.pid == me:
            continue
        try:
            with open(f"/proc/{entry.pid}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue  # gone, or not ours to read
        if environ.startswith(needle) or b"\0" + needle in environ:
            found[entry.pid] = entry.pgid
    return found


def _signal(found: dict[int, int], sig: int) -> None:
    own_group = os.getpgrp()
    for pid, pgid in found.items():
        try:
            if pgid == pid and pgid != own_group:
                os.killpg(pgid, sig)  # it left with setsid: its group is its own
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_tagged(tag: str, grace: float) -> None:
    """SIGTERM every process tagged ``tag``, SIGKILL the rest after ``grace`` s, reap them."""
    found = tagged(tag)
    if not found:
        return
    seen = set(found)
    _signal(found, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while found and time.monotonic() < deadline:
        time.sleep(0.01)
        for pid in list(seen):
            reap_zombie(pid)
        found = tagged(tag)
        seen |= set(found)
    for _ in range(50):  # SIGKILL cannot be ignored; this ends within a few rounds
        if not found:
            break
        _signal(found, signal.SIGKILL)
        time.sleep(0.01)
        for pid in list(seen):
            reap_zombie(pid)
        found = tagged(tag)
        seen |= set(found)
    for pid in seen:
        reap_zombie(pid)
