"""Security checks of ``file.*`` steps, run before a workflow runs.

The core checks parameter structure; these look at meaning only, and only at values
without a template placeholder (``{...}`` is rendered later, so it cannot be judged
yet; :func:`~wfe_core.plugin.is_templated` decides by the real template grammar).
Findings are warnings; strict validation turns them into errors. Steps' own
parameters and their ``rollback_parameters`` (when the rollback action is a
``file.*`` action) are both checked.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from wfe_core.plugin import Problem, action_calls, is_templated

from .params import parse_mode

__all__ = ["SYSTEM_DIRS", "check_modes", "check_system_paths", "system_dir"]

#: Directories whose contents a workflow should not change (a warning, not a ban).
SYSTEM_DIRS = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/root",
    "/sbin",
    "/sys",
    "/usr",
)

#: action -> (parameter naming the file it changes, verb for messages)
_CHANGED_PATH = {
    "file.write": ("path", "writes to"),
    "file.delete": ("path", "deletes"),
    "file.copy": ("destination", "copies into"),
}


def system_dir(value: Any) -> str | None:
    """The entry of :data:`SYSTEM_DIRS` an absolute, untemplated ``value`` lies in, else ``None``."""
    if not isinstance(value, str) or is_templated(value) or not value.startswith("/"):
        return None
    norm = "/" + posixpath.normpath(value).lstrip("/")
    for directory in SYSTEM_DIRS:
        if norm == directory or norm.startswith(directory + "/"):
            return directory
    return None


def check_system_paths(workflow: Any, context: Any) -> Iterator[Problem]:
    """Warn about writes, deletes and copies into system directories."""
    for call in action_calls(workflow, _CHANGED_PATH):
        key, verb = _CHANGED_PATH[call.action]
        value = call.parameters.get(key)
        directory = system_dir(value)
        if directory is not None:
            yield Problem(
                f"step '{call.step.id}': {call.action} {verb} system path '{value}' (under {directory})",
                path=f"{call.path}.{key}",
                severity="warning",
                step_id=call.step.id,
            )


def check_modes(workflow: Any, context: Any) -> Iterator[Problem]:
    """Warn about world-writable modes, and numbers that were probably meant as octal."""
    for call in action_calls(workflow, "file.write"):
        step, params = call.step, call.parameters
        raw = params.get("mode")
        if raw is None or is_templated(raw):
            continue
        try:
            mode = parse_mode(raw)
        except ValueError:  # a structural problem, reported by the core
            continue
        where = f"{call.path}.mode"
        if mode & 0o002:
            yield Problem(
                f"step '{step.id}': mode {mode:04o} makes '{params.get('path')}' world-writable",
                path=where,
                severity="warning",
                step_id=step.id,
            )
        if isinstance(raw, int) and mode & 0o7000:
            yield Problem(
                f"step '{step.id}': mode {raw} is octal {mode:04o}, which sets setuid, setgid or sticky bits; "
                "a number is taken as it is, so write an octal mode as a string such as '0644'",
                path=where,
                severity="warning",
                step_id=step.id,
            )
