"""Secrets: values read from the environment, usable as ``{secrets.NAME}``, never recorded.

A workflow declares ``secrets: [API_TOKEN, …]``; each is read from the environment when
the run starts (a missing one is an error before anything runs). Every string that
leaves the scheduler for an event, a reporter or the run store goes through a
:class:`Redactor` that replaces secret values with ``***``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InvalidWorkflowError, Problem

__all__ = ["MASK", "Redactor", "read_secrets"]

MASK = "***"
#: Shorter values would mask ordinary text ("a", "on"): they are refused instead.
MIN_SECRET_LENGTH = 4


def read_secrets(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values of the declared secrets; every missing or too short one is a problem."""
    environ = os.environ if environ is None else environ
    values, problems = {}, []
    for index, name in enumerate(names):
        value = environ.get(name)
        if value is None:
            problems.append(Problem(f"secret '{name}' is not set in the environment", path=f"secrets[{index}]"))
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(Problem(f"secret '{name}' is shorter than {MIN_SECRET_LENGTH} characters; "
                                    "it could not be told apart from ordinary text in logs",
                                    path=f"secrets[{index}]"))
        else:
            values[name] = value
    if problems:
        raise InvalidWorkflowError(problems)
    return values


class Redactor:
    """Replaces every secret value inside strings (recursing into lists and mappings)."""

    def __init__(self, values: Iterable[str] = ()):
        ordered = sorted({v for v in values if v}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, value: Any) -> Any:
        if self._pattern is None:
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._pattern.sub(MASK, value)
        if isinstance(value, Mapping):
            return {k: self._walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._walk(v) for v in value]
        if isinstance(value, (bytes, bytearray)):
            return self._pattern.sub(MASK, value.decode("utf-8", "replace"))
        return value
