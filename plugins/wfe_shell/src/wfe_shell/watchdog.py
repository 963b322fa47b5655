"""Stopping a process's commands when that process dies without stopping them itself.

:func:`~wfe_shell.process.run_process` stops each command's processes before it returns,
and ``wfe`` stops every descendant before it exits. Neither can run when the process is
killed outright (``kill -9``, the OOM killer, a Dask worker lost with its memory): its
commands, each in a session of its own, kept running, and a resumed run (or Dask's
recompute) then ran the step again beside them.

So the first command a process starts also starts its watchdog: a small ``sh`` in a
session of its own that reads a pipe whose write end only this process holds. At a
normal exit with no command running, ``done`` is written to it and it exits. When the
pipe ends without that, the process died: the watchdog finds the processes whose
environment carries this process's tag prefix (every command's ``WFE_SHELL_TAG``
starts with it, see :func:`next_tag`; the commands' descendants inherit it, escapees
that left the group too) and stops them as wfe-shell stops a group: SIGTERM (to the
group of each that leads one), SIGKILL after :data:`~wfe_shell.process.KILL_GRACE`.

It costs nothing per command (the tag was already there) and one ``sh`` per process
that runs commands. Linux only (it reads ``/proc``); elsewhere no watchdog is started.
A process that drops the tag from its environment is not found.
"""

from __future__ import annotations

import atexit
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from .escapees import TAG_VARIABLE

__all__ = ["next_tag", "watchdog_pid"]

#: The watchdog: $1 the tag prefix, $2 the grace in seconds. ``read`` returns at the end
#: of the pipe; only "done" means the process that started it ended as it should.
_SCRIPT = r"""
prefix=$1 grace=$2
while IFS= read -r line; do
  if [ "$line" = done ]; then exit 0; fi
done
targets=
for f in $(grep -lsaF -e "$TAG=$prefix" /proc/[0-9]*/environ); do
  p=${f#/proc/}; p=${p%/environ}
  stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
  set -- ${stat##*) }
  if [ "$3" = "$p" ]; then targets="$targets -$p"; else targets="$targets $p"; fi
done
[ -n "$targets" ] || exit 0
kill -TERM $targets 2>/dev/null
sleep "$grace"
kill -KILL $targets 2>/dev/null
exit 0
"""

_lock = threading.Lock()
_counter = itertools.count(1)
_prefix = ""
_owner = 0  # the pid that started the watchdog now known (0: none)
_write_end: int | None = None
_watchdog: subprocess.Popen[bytes] | None = None


def next_tag(grace: float, running: Callable[[], bool]) -> str:
    """A new command's ``WFE_SHELL_TAG``, with this process's watchdog started first.

    ``grace``: seconds between the watchdog's SIGTERM and SIGKILL. ``running()``: whether
    a command of this process is still running (at exit: then the watchdog must stay).
    """
    global _prefix, _owner
    with _lock:
        if _owner != os.getpid():  # the first command of this process (or of a fork)
            _owner = os.getpid()
            _prefix = f"{_owner}.{time.monotonic_ns()}."
            _start(grace, running)
        return f"{_prefix}{next(_counter)}"


def watchdog_pid() -> int | None:
    """The pid of this process's watchdog, if one is running (for tests)."""
    with _lock:
        if _watchdog is None or _owner != os.getpid() or _watchdog.poll() is not None:
            return None
        return _watchdog.pid


def _start(grace: float, running: Callable[[], bool]) -> None:
    global _write_end, _watchdog
    _write_end, _watchdog = None, None
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc/self"):
        return
    read_end, write_end = os.pipe()  # (not inherited by the commands: close-on-exec)
    env = {key: value for key, value in os.environ.items() if key != TAG_VARIABLE}
    env["TAG"] = TAG_VARIABLE
    try:
        _watchdog = subprocess.Popen(
            ["/bin/sh", "-c", _SCRIPT, "wfe-shell-watchdog", _prefix, f"{grace:g}"],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd="/",
            start_new_session=True,  # neither a terminal's signals nor a group kill of ours
        )
    except OSError:
        os.close(write_end)
        return
    finally:
        os.close(read_end)
    _write_end = write_end
    atexit.register(_done, running)


def _done(running: Callable[[], bool]) -> None:
    """At a normal exit with no command running: the watchdog has nothing to do."""
    with _lock:
        if _owner != os.getpid() or _write_end is None or running():
            return  # (a command still running: the watchdog stops it once we are gone)
        try:
            os.write(_write_end, b"done\n")
        except OSError:
            pass  # it was stopped already (wfe stops its descendants before it exits)


def _forget() -> None:
    """In a forked child: the parent's watchdog is not this process's (see :func:`next_tag`)."""
    global _owner, _write_end, _watchdog, _lock
    _lock = threading.Lock()  # (another thread may have held it at the fork)
    if _write_end is not None:
        try:
            os.close(_write_end)  # or the parent's death would not end its watchdog's pipe
        except OSError:
            pass
    _owner, _write_end, _watchdog = 0, None, None


os.register_at_fork(after_in_child=_forget)
