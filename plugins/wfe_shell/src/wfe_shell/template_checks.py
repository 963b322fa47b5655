"""Validation of where placeholders sit in ``shell.execute`` commands.

Refused before anything runs (errors, not warnings):

- a command that is nothing but one placeholder (``command: "{cmd}"``): its value would
  be run as a command — the opposite of what quoting promises. ``{cmd!raw}`` says that
  running the value as shell code is intended.
- a placeholder that no quoting can make safe (see :mod:`wfe_shell.quoting`): the script
  of a nested shell (``sh -c {v}``, ``eval {v}``) or a here-document with a quoted
  delimiter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from wfe_core.plugin import Problem

from .quoting import ShellQuote

__all__ = ["check_command_templates"]

# The placeholder grammar of wfe_core's templating (plugins do not import the core's
# internals): {path} or {path!raw}; {{ and }} are literal braces; ${...} is left alone.
_TOKEN = re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*)(!raw)?\}")


class _Probe:
    """A stand-in substitution: validation knows where a value goes, not the value."""

    __slots__ = ("raw", "text", "value")

    def __init__(self, text: str, raw: bool):
        self.text, self.raw, self.value = text, raw, "" if raw else "0"


def _pieces(command: str) -> list[Any]:
    pieces: list[Any] = []
    end = 0
    for match in _TOKEN.finditer(command):
        pieces.append(command[end : match.start()])
        end = match.end()
        if match.group(1) is None:
            pieces.append(match.group(0)[0])
        else:
            pieces.append(_Probe(match.group(1), bool(match.group(2))))
    pieces.append(command[end:])
    return [p for p in pieces if p != ""]


def _calls(workflow: Any) -> Iterator[tuple[int, Any, dict, str]]:
    for index, step in enumerate(workflow.steps):
        if step.action == "shell.execute" and isinstance(step.parameters, dict):
            yield index, step, step.parameters, "parameters"
        if step.rollback_action == "shell.execute" and isinstance(step.rollback_parameters, dict):
            yield index, step, step.rollback_parameters, "rollback_parameters"


def check_command_templates(workflow: Any, context: Any) -> Iterator[Problem]:
    """Refuse commands whose placeholders would run a value as shell code."""
    for index, step, params, field in _calls(workflow):
        command = params.get("command")
        if not isinstance(command, str) or "{" not in command:
            continue
        path = f"steps[{index}].{field}.command"
        whole = _TOKEN.fullmatch(command.strip())
        if whole and whole.group(1) and not whole.group(2):
            name = whole.group(1)
            yield Problem(
                f"step '{step.id}': the command is only the placeholder '{{{name}}}', so its value "
                f"would run as a command; write the command around it, or '{{{name}!raw}}' if the "
                "value is meant to be run as shell code",
                path=path,
                step_id=step.id,
            )
            continue
        try:
            ShellQuote().render_template(_pieces(command))
        except ValueError as exc:
            yield Problem(f"step '{step.id}': {exc}", path=path, step_id=step.id)
