"""Starting a command with fresh pipes, and telling when only the command can hold them.

A pipe made here is close-on-exec, but a command that another thread starts while the
pipe's write end is still open here gets a copy of it until that child closes its
inherited descriptors (``close_fds``) and executes its program. Once the other thread's
``Popen`` has returned, that moment is over. :func:`others_may_hold` says whether a
start that may have copied a command's pipes is still under way: only then can pipes
that stay open after the command's exit be held by anyone but an escapee of it.
Serialising the starts with a lock instead would make parallel steps queue for the
whole fork and exec of each other's commands.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import NamedTuple

__all__ = ["Spawned", "others_may_hold", "spawn"]

_lock = threading.Lock()
_tick = 0
#: Starts under way: token -> the tick at which each began.
_starting: dict[int, int] = {}


def _begin() -> int:
    global _tick
    with _lock:
        _tick += 1
        _starting[_tick] = _tick
        return _tick


def _end(token: int) -> int:
    global _tick
    with _lock:
        del _starting[token]
        _tick += 1
        return _tick


def others_may_hold(spawned_at: int) -> bool:
    """Whether a command start that began before tick ``spawned_at`` (when a command's
    own pipe ends were closed here) is still under way: its child may hold copies."""
    with _lock:
        return any(began < spawned_at for began in _starting.values())


class Spawned(NamedTuple):
    """A started command: its process, this side's pipe ends (stdout, stderr, lifeline,
    stdin or ``None``) and the tick for :func:`others_may_hold`."""

    proc: subprocess.Popen[bytes]
    out: int
    err: int
    lifeline: int
    stdin: int | None
    spawned_at: int


def _pipes(count: int) -> list[tuple[int, int]]:
    """``count`` pipes (close-on-exec); none left open if making one fails."""
    made: list[tuple[int, int]] = []
    try:
        for _ in range(count):
            made.append(os.pipe())
    except BaseException:
        for pair in made:
            os.close(pair[0])
            os.close(pair[1])
        raise
    return made


def spawn(argv: list[str], cwd: str | os.PathLike[str] | None, env: dict[str, str], with_input: bool) -> Spawned:
    """Start ``argv`` in a new session with fresh stdout, stderr and lifeline pipes (and a
    stdin pipe, ``with_input``; else /dev/null). The lifeline's write end is inherited by
    the command only: nobody writes to it, it tells who still holds it.

    Raises:
        OSError: the program could not be started (nothing is left open).
    """
    token = _begin()
    try:
        pipes = _pipes(4 if with_input else 3)
        (out_r, out_w), (err_r, err_w), (life_r, life_w) = pipes[:3]
        in_r, in_w = pipes[3] if with_input else (None, None)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                pass_fds=(life_w,),
                stdin=subprocess.DEVNULL if in_r is None else in_r,
                stdout=out_w,
                stderr=err_w,
                start_new_session=True,
            )
        except BaseException:
            for pair in pipes:
                os.close(pair[0])
                os.close(pair[1])
            raise
        for fd in (out_w, err_w, life_w, in_r):  # the child's ends: only the child holds them now
            if fd is not None:
                os.close(fd)
    finally:
        spawned_at = _end(token)
    return Spawned(proc, out_r, err_r, life_r, in_w, spawned_at)
