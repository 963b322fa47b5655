"""The ``shell.execute`` action."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Sequence
from typing import Any

from wfe_core.plugin import ActionError, StepCancelled

from .params import ShellParams
from .process import OUTPUT_LIMIT, past_cut_values, run_process

__all__ = ["SHELL", "STDERR_TAIL", "execute", "stderr_tail"]

#: The shell a string command runs in.
SHELL = "/bin/sh"
#: How much of stderr a failure message quotes: at most this many lines and characters.
STDERR_TAIL = (20, 2000)


def stderr_tail(stderr: str, protect: Sequence[str] = ()) -> str:
    """The last lines of ``stderr`` for an error message (empty if there were none).

    It never starts inside one of the ``protect`` values (templated values, which may be
    secrets: a fragment would escape masking).
    """
    lines, chars = STDERR_TAIL
    text = "\n".join(stderr.strip().splitlines()[-lines:])
    tail = text[-chars:]
    whole = stderr.strip()
    at = whole.rfind(tail) if tail != whole else -1
    if at > 0 and protect:
        tail = tail[past_cut_values(whole, at, list(protect)) - at :]
    return tail


def _argv(command: str | list[str]) -> list[str]:
    return [SHELL, "-c", command] if isinstance(command, str) else list(command)


#: The last copy of ``os.environ`` made: its raw bytes, and the decoded copy of them.
_snapshot: tuple[dict[bytes, bytes], dict[str, str]] | None = None


def _process_environment() -> dict[str, str]:
    """A copy of ``os.environ``.

    ``dict(os.environ)`` decodes every variable through Python-level calls, a good part
    of what a short command costs. The decoded copy is kept and reused while the raw
    bytes ``os.environ`` keeps underneath are unchanged (one comparison in C).
    """
    global _snapshot
    raw = getattr(os.environ, "_data", None)
    if not isinstance(raw, dict):
        return dict(os.environ)
    snapshot = _snapshot
    if snapshot is None or snapshot[0] != raw:
        # Raw first: a change made while decoding leaves the two apart, and the next
        # call (raw != snapshot[0]) then decodes again.
        snapshot = (dict(raw), dict(os.environ))
        _snapshot = snapshot
    return dict(snapshot[1])


def _environment(overrides: dict[str, str | None]) -> dict[str, str]:
    env = _process_environment()
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _names_variable(command: str | list[str], name: str) -> bool:
    """Whether the command reads environment variable ``name`` itself (``$NAME``, ``${NAME}``)."""
    text = command if isinstance(command, str) else " ".join(command)
    return re.search(rf"\$\{{?{re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def _with_tail(message: str, stderr: str, protect: Sequence[str] = ()) -> str:
    tail = stderr_tail(stderr, protect)
    return f"{message}; stderr:\n{tail}" if tail else message


def execute(params: ShellParams, context: Any) -> dict[str, Any]:
    """Run ``params.command``; return ``{"exit_code", "stdout", "stderr"}``.

    Raises:
        ActionError: the command could not start, exited with an unexpected code, or
            ran past ``timeout``; in the last two cases its ``output`` is still
            ``{"exit_code", "stdout", "stderr"}`` (the run records it and shows its tail).
        StepCancelled: the step was cancelled (its process group has been killed).
    """
    argv = _argv(params.command)
    if context.dry_run:
        return {"exit_code": None, "stdout": "", "stderr": "", "dry_run": True, "argv": argv}
    cwd = context.resolve_path(params.cwd) if params.cwd else context.workdir
    if not os.path.isdir(cwd):
        raise ActionError(f"cwd '{params.cwd or cwd}' is not a directory (resolved to '{cwd}')")
    context.check_cancelled()
    # Popen refuses a NUL byte with a bare ValueError; say which part of the step holds it.
    if any("\0" in part for part in argv):
        raise ActionError(f"cannot run '{argv[0]}': the command contains a NUL byte")
    if any("\0" in key or "\0" in value for key, value in params.env.items() if value is not None):
        raise ActionError(f"cannot run '{argv[0]}': the env contains a NUL byte")
    env = _environment(params.env)
    # A declared secret reaches only the steps that use it: through {secrets.NAME} (then
    # as a WFE_ARG_n of this command), or by naming $NAME in the command or env.
    for name in getattr(context, "secret_names", ()):
        if name not in params.env and not _names_variable(params.command, name):
            env.pop(name, None)
    # Templated values: each is an environment variable of this command only, never
    # part of its command line (visible in ps) nor of any other step's environment.
    templated = getattr(params.command, "env", None) or {}
    env.update(templated)
    protect = [value for value in templated.values() if len(value) >= 4]
    if any("\0" in value for value in templated.values()):  # the rest was checked, or is os.environ
        raise ActionError(f"cannot run '{argv[0]}': a templated value contains a NUL byte")
    feed = _line_feed(context)
    try:
        done = run_process(
            argv,
            cwd=cwd,
            env=env,
            input=params.input.encode("utf-8") if params.input is not None else None,
            timeout=params.timeout,
            cancel_event=context.cancel_event,
            output_limit=OUTPUT_LIMIT,
            protect=protect,
            on_output=feed,
        )
    except FileNotFoundError:
        raise ActionError(f"cannot run '{argv[0]}': no such file or command") from None
    except PermissionError:
        raise ActionError(f"cannot run '{argv[0]}': permission denied") from None
    except OSError as exc:
        raise ActionError(f"cannot run '{argv[0]}': {exc.strerror or exc}") from None
    if feed is not None:
        feed.flush()
    if done.stopped == "cancelled":
        raise StepCancelled(f"step '{context.step.id}' was cancelled; its processes were killed")
    # A failure keeps what the command printed: the run records it and shows its tail.
    printed = {"exit_code": done.exit_code, "stdout": done.stdout, "stderr": done.stderr}
    if done.stopped == "timeout":
        raise ActionError(
            _with_tail(
                f"command timed out after {params.timeout:g} s; its processes were killed", done.stderr, protect
            ),
            output={**printed, "exit_code": None},
        )
    code = done.exit_code
    if code not in params.expected_exit_codes:
        expected = ", ".join(str(c) for c in params.expected_exit_codes)
        expected = f"expected {expected}" if len(params.expected_exit_codes) == 1 else f"expected one of {expected}"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            message = f"command was killed by signal {name} (exit code {code}, {expected})"
        else:
            message = f"command exited with code {code} ({expected})"
        raise ActionError(_with_tail(message, done.stderr, protect), output=printed)
    return {"exit_code": code, "stdout": done.stdout, "stderr": done.stderr}


class _LineFeed:
    """``on_output`` for :func:`run_process` that hands whole lines to ``context.output_line``
    (``wfe run --output``); a partial line waits for its end, or for :meth:`flush`."""

    def __init__(self, output_line: Any) -> None:
        self.output_line = output_line
        self.pending = {"stdout": b"", "stderr": b""}

    def __call__(self, stream: str, chunk: bytes) -> None:
        *lines, self.pending[stream] = (self.pending[stream] + chunk).split(b"\n")
        if len(self.pending[stream]) > 65536:  # a line this long goes out in pieces
            lines.append(self.pending[stream])
            self.pending[stream] = b""
        for line in lines:
            self.output_line(stream, line.decode("utf-8", errors="replace"))

    def flush(self) -> None:
        for stream, rest in self.pending.items():
            if rest:
                self.output_line(stream, rest.decode("utf-8", errors="replace"))
        self.pending = {"stdout": b"", "stderr": b""}


def _line_feed(context: Any) -> _LineFeed | None:
    """A line feed when someone listens (a core without the hook has no ``output_line``)."""
    output_line = getattr(context, "output_line", None)
    return None if output_line is None else _LineFeed(output_line)
