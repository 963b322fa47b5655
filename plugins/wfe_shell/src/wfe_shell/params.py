"""The parameter class of ``shell.execute``."""

from __future__ import annotations

from typing import Any

import attrs

from wfe_core.plugin import fields_eq, fields_hash, fields_repr, positive_seconds

__all__ = ["ShellParams"]


def _command(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("command must not be empty")
        return
    if isinstance(value, list):
        if not value:
            raise ValueError("command must not be an empty list")
        bad = [i for i, item in enumerate(value) if not isinstance(item, str)]
        if bad:
            raise ValueError(f"command[{bad[0]}] must be a string, got {type(value[bad[0]]).__name__}")
        return
    raise ValueError(f"command must be a string or a list of strings, got {type(value).__name__}")


def _env(instance: Any, attribute: Any, value: dict) -> None:
    for key, item in value.items():
        if not isinstance(key, str) or not key or "=" in key:
            raise ValueError(f"env: {key!r} is not a valid variable name")
        if item is not None and not isinstance(item, str):
            raise ValueError(f"env.{key} must be a string (or null to unset it), got {type(item).__name__}")


def _codes(instance: Any, attribute: Any, value: list[int]) -> None:
    if not value:
        raise ValueError("expected_exit_codes must list at least one exit code")


@attrs.frozen
class ShellParams:
    """Parameters of ``shell.execute``.

    Attributes:
        command: a string, run by ``/bin/sh -c``; or a list, run directly as argv (no
            shell, nothing is quoted or expanded).
        cwd: working directory, relative to the step's workdir (default: the workdir).
        env: variables merged onto the engine's environment; ``null`` unsets one.
        timeout: seconds the command may run (the step's own timeout applies as well).
        expected_exit_codes: exit codes that count as success (default ``[0]``).
        input: text fed to the command's stdin (default: stdin is ``/dev/null``).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    command: Any = attrs.field(validator=_command)
    cwd: str | None = None
    env: dict[str, Any] = attrs.field(factory=dict, validator=_env)
    timeout: float | None = attrs.field(default=None, validator=positive_seconds)
    expected_exit_codes: list[int] = attrs.field(factory=lambda: [0], validator=_codes)
    input: str | None = None
