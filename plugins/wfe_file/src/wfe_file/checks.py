"""Security checks of ``file.*`` steps, run before a workflow runs.

The core checks parameter structure; these look at meaning only, and only at values
without a template placeholder (``{...}`` is rendered later, so it cannot be judged
yet). Findings are warnings; strict validation turns them into errors. Steps' own
parameters and their ``rollback_parameters`` (when the rollback action is a
``file.*`` action) are both checked.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

from wfe_core.plugin import Problem

from .params import parse_mode

__all__ = ["SYSTEM_DIRS", "check_modes", "check_system_paths", "system_dir"]

#: Directories whose contents a workflow should not change (a warning, not a ban).
SYSTEM_DIRS = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
    "/proc", "/root", "/sbin", "/sys", "/usr",
)

#: action -> (parameter naming the file it changes, verb for messages)
_CHANGED_PATH = {
    "file.write": ("path", "writes to"),
    "file.delete": ("path", "deletes"),
    "file.copy": ("destination", "copies into"),
}

_TEMPLATE = re.compile(r"\{[^{}]*\}")


def _templated(value: Any) -> bool:
    return isinstance(value, str) and _TEMPLATE.search(value) is not None


def _calls(workflow: Any, actions: Any) -> Iterator[tuple[int, Any, str, dict, str]]:
    """(index, step, action, parameters, field) for each file action a step calls."""
    for index, step in enumerate(workflow.steps):
        calls = [(step.action, step.parameters, "parameters")]
        if step.rollback_action:
            calls.append((step.rollback_action, step.rollback_parameters, "rollback_parameters"))
        for action, params, field in calls:
            if action in actions and isinstance(params, dict):
                yield index, step, action, params, field


def system_dir(value: Any) -> str | None:
    """The entry of :data:`SYSTEM_DIRS` an absolute, untemplated ``value`` lies in, else ``None``."""
    if not isinstance(value, str) or _templated(value) or not value.startswith("/"):
        return None
    norm = "/" + posixpath.normpath(value).lstrip("/")
    for directory in SYSTEM_DIRS:
        if norm == directory or norm.startswith(directory + "/"):
            return directory
    return None


def check_system_paths(workflow: Any, context: Any) -> Iterator[Problem]:
    """Warn about writes, deletes and copies into system directories."""
    for index, step, action, params, field in _calls(workflow, _CHANGED_PATH):
        key, verb = _CHANGED_PATH[action]
        value = params.get(key)
        directory = system_dir(value)
        if directory is not None:
            yield Problem(
                f"step '{step.id}': {action} {verb} system path '{value}' (under {directory})",
                path=f"steps[{index}].{field}.{key}",
                severity="warning",
                step_id=step.id,
            )


def check_modes(workflow: Any, context: Any) -> Iterator[Problem]:
    """Warn about world-writable modes, and numbers that were probably meant as octal."""
    for index, step, _action, params, field in _calls(workflow, {"file.write"}):
        raw = params.get("mode")
        if raw is None or _templated(raw):
            continue
        try:
            mode = parse_mode(raw)
        except ValueError:  # a structural problem, reported by the core
            continue
        where = f"steps[{index}].{field}.mode"
        if mode & 0o002:
            yield Problem(
                f"step '{step.id}': mode {mode:04o} makes '{params.get('path')}' world-writable",
                path=where, severity="warning", step_id=step.id,
            )
        if isinstance(raw, int) and mode & 0o7000:
            yield Problem(
                f"step '{step.id}': mode {raw} is octal {mode:04o}, which sets setuid, setgid or sticky bits; "
                "a number is taken as it is, so write an octal mode as a string such as '0644'",
                path=where, severity="warning", step_id=step.id,
            )
