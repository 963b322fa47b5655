"""Stopping a process's commands when that process dies without stopping them itself.

:func:`~wfe_shell.process.run_process` stops each command's processes before it returns,
and ``wfe`` stops every descendant before it exits. Neither can run when the process is
killed outright (``kill -9``, the OOM killer, a Dask worker lost with its memory): its
commands, each in a session of its own, kept running, and a resumed run (or Dask's
recompute) then ran the step again beside them.

So the first command a process starts also starts its watchdog: a small ``sh`` in a
session of its own that reads a pipe whose write end only this process holds. When the
interpreter exits normally (``atexit``) with no command running, ``done`` is written to
it and it exits. When the pipe ends without that (the process was killed, or left with
``os._exit`` or ``exec``, or exited while a command ran), the watchdog stops the
processes whose environment starts an entry with this process's tag prefix (every
command's ``WFE_SHELL_TAG`` begins with it, see :func:`next_tag`; descendants inherit
it, escapees that left the group too): SIGTERM once each (to the group of each that
leads one; it looks again every 0.1 s), then after the grace SIGKILL until none is left.
A process, or a failed start, that left this process without a watchdog gets a new one
with its next command.

It costs nothing per command (the tag was already there) and one ``sh`` per process
that runs commands, a child of it until it exits: a program that waits for all its
children (``os.wait()`` until none is left) waits for it too. Linux only (it reads
``/proc``); elsewhere no watchdog is started. Not found: a process that removed the tag
from its environment or overwrote its environment's memory (``setproctitle``), or
whose environment this process's user cannot read; and nothing when the watchdog
cannot fork (a command used up the user's process limit) or finds no ``grep`` or
``xargs`` in ``/usr/bin``, ``/bin`` or this process's ``PATH``.
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import subprocess
import sys
import threading
import time

from .escapees import TAG_VARIABLE

__all__ = ["command_ended", "next_tag"]

#: The watchdog. $1: a basic regular expression matching an environment entry of this
#: process's commands from its start; $2: the grace in tenths of a second. ``read``
#: returns at the end of the pipe; only "done" means there is nothing to stop. The
#: environment files are listed by ``printf`` (a builtin: no limit on their number).
#: Each process (or group) found gets one SIGTERM, as a command stopped by
#: ``run_process`` does (a cleanup handler is not cut short); what is still there when
#: the grace is over gets SIGKILL, looked for again until none is left.
_SCRIPT = r"""
entry=$1 tenths=$2
while IFS= read -r line; do
  if [ "$line" = done ]; then exit 0; fi
done
found() {
  targets=
  for f in $(printf '%s\0' /proc/[0-9]*/environ | xargs -0 grep -lsaz -e "$entry"); do
    p=${f#/proc/}; p=${p%/environ}
    read -r stat 2>/dev/null < "/proc/$p/stat" || continue
    set -- ${stat##*) }
    if [ "$3" = "$p" ]; then targets="$targets -$p"
    else  # (in a group already signalled, as what a cleanup handler starts: not again)
      case $signalled in *" -$3 "*) signalled="$signalled$p " ;; esac
      targets="$targets $p"
    fi
  done
  [ -n "$targets" ]
}
signalled=" "
waited=0
while found; do
  if [ "$waited" -lt "$tenths" ]; then
    for t in $targets; do
      case $signalled in *" $t "*) ;; *) kill -TERM $t 2>/dev/null; signalled="$signalled$t " ;; esac
    done
  else
    kill -KILL $targets 2>/dev/null
  fi
  sleep 0.1
  waited=$((waited + 1))
  if [ "$waited" -gt $((tenths + 100)) ]; then exit 1; fi
done
exit 0
"""

#: Whether a watchdog can work here (it reads /proc).
_POSSIBLE = sys.platform.startswith("linux") and os.path.isdir("/proc/self")

_lock = threading.Lock()
_counter = itertools.count(1)
_prefix = ""
_owner = 0  # the pid whose watchdog this module now knows (0: none)
_running = 0  # commands of this process between next_tag and command_ended
_told = False  # "done" was written: a command started after it needs a new watchdog
_pipe: list[int] = []  # the ends of the pipe being given to a watchdog now (see _forget)
_exit_handler = False
_write_end: int | None = None
_watchdog: subprocess.Popen[bytes] | None = None


def next_tag(grace: float) -> str:
    """A new command's ``WFE_SHELL_TAG``; the command counts as running until
    :func:`command_ended`. This process's watchdog is started first if it has none (or
    its watchdog ended). ``grace``: seconds between its SIGTERM and SIGKILL."""
    global _prefix, _owner, _running
    with _lock:
        if _owner != os.getpid():  # the first command of this process (or of a fork)
            _owner = os.getpid()
            _prefix = f"{_owner}.{time.monotonic_ns()}."
            _start(grace)
        elif _POSSIBLE and (_told or _watchdog is None or _watchdog.poll() is not None):
            # Told "done" by an exit still under way, stopped, or it could not start.
            _start(grace)
        tag = f"{_prefix}{next(_counter)}"
        _running += 1  # (last: nothing between this and the caller's try can fail)
        return tag


def command_ended() -> None:
    """The command of a :func:`next_tag` is stopped and reaped (or never started)."""
    global _running
    with _lock:
        _running -= 1


def _start(grace: float) -> None:
    """Start a watchdog for this process (the one it had, if any, is told nothing more)."""
    global _write_end, _watchdog, _told, _pipe, _exit_handler
    _told = False
    if _write_end is not None:
        os.close(_write_end)
    _write_end, _watchdog = None, None
    if not _POSSIBLE:
        return
    env = {key: value for key, value in os.environ.items() if key != TAG_VARIABLE}
    # grep, xargs, sleep: the usual places first, then the host's (NixOS has no /usr/bin/grep).
    env["PATH"] = ":".join(filter(None, ("/usr/bin:/bin:/usr/sbin:/sbin", os.environ.get("PATH"))))
    entry = f"^{TAG_VARIABLE}={_prefix.replace('.', '[.]')}"  # (the name is letters and _)
    try:
        # Known to _forget from the start: a fork by another thread meanwhile closes both.
        _pipe = [*os.pipe()]  # (not inherited by the commands: close-on-exec)
        read_end, write_end = _pipe
        try:
            _watchdog = subprocess.Popen(
                ["/bin/sh", "-c", _SCRIPT, "wfe-shell-watchdog", entry, str(max(0, round(grace * 10)))],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd="/",
                start_new_session=True,  # neither a terminal's signals nor a group kill of ours
            )
            _write_end = write_end  # (known to _forget before it leaves _pipe)
            _pipe.remove(write_end)
        except BaseException:
            try:  # a sh already spawned when an interrupt came must stop nothing
                os.write(write_end, b"done\n")
            except OSError:
                pass
            _pipe.remove(write_end)  # (forgotten before closed: a fork meanwhile keeps an end
            os.close(write_end)  # nobody reads, never a reused number)
            raise
        finally:
            _pipe.remove(read_end)
            os.close(read_end)
    except OSError:
        return  # (no descriptor or process left: the next command tries again)
    finally:
        _pipe = []
    if not _exit_handler:
        atexit.register(_done)
        _exit_handler = True


def _done() -> None:
    """At a normal exit with no command running, the watchdog has nothing to stop."""
    global _told
    with _lock:
        if _owner != os.getpid() or _write_end is None or _running or _watchdog is None:
            return  # (a command running: the watchdog stops it once we are gone)
        if _watchdog.poll() is not None:
            return  # already stopped (``wfe`` stops its descendants before it exits)
        # A host may have SIGPIPE at its default (termination): a watchdog stopped since
        # the poll must not end the exit with it. Blocked here, it stays pending; take it.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
        try:
            os.write(_write_end, b"done\n")
            _told = True  # (a daemon thread's command after this gets a watchdog of its own)
        except OSError:
            pass
        finally:
            signal.sigtimedwait({signal.SIGPIPE}, 0)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _forget() -> None:
    """In a forked child: the parent's watchdog and commands are not this process's."""
    global _owner, _write_end, _watchdog, _lock, _running, _told, _pipe
    _lock = threading.Lock()  # (another thread may have held it at the fork)
    for end in (_write_end, *_pipe):
        if end is not None:
            try:
                os.close(end)  # or the parent's death would not end its watchdog's pipe
            except OSError:
                pass
    _pipe = []
    _owner, _write_end, _watchdog, _running, _told = 0, None, None, 0, False


os.register_at_fork(after_in_child=_forget)
