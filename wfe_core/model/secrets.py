"""Secrets: values read from the environment, usable as ``{secrets.NAME}``, never recorded.

A workflow declares ``secrets: [API_TOKEN, …]``; each is read from the environment when
the run starts (a missing one is an error before anything runs). Every string that
leaves the scheduler for an event or a reporter goes through a :class:`Redactor` that
replaces secret values with ``***``; in the run store they become ``<<secret:NAME>>``,
which a resumed run turns back into the value, read from the environment again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from wfe_core.model.errors import InvalidWorkflowError, Problem

__all__ = ["MASK", "Redactor", "mask_sealed", "read_secrets", "unseal"]

MASK = "***"
#: Shorter values would mask ordinary text ("a", "on"): they are refused instead.
MIN_SECRET_LENGTH = 4


def read_secrets(names: Iterable[str], environ: Mapping[str, str] | None = None, *,
                 missing_ok: bool = False) -> dict[str, str]:
    """The values of the declared secrets; every missing or too short one is a problem.

    With ``missing_ok`` (dry runs) a missing secret is the placeholder ``<secrets.NAME>``.
    """
    from wfe_core.load.templating import Unknown

    environ = os.environ if environ is None else environ
    values, problems = {}, []
    for index, name in enumerate(names):
        value = environ.get(name)
        if value is None and missing_ok:
            values[name] = Unknown(f"secrets.{name}")
        elif value is None:
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


_SEALED = re.compile(r"<<secret:([A-Za-z_][A-Za-z0-9_]*)>>")


def _leaf(value: Any, text: Any) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, (bytes, bytearray)):
        return text(value.decode("utf-8", "replace"))
    return value


def _walk(value: Any, text: Any) -> Any:
    """``value`` with ``text(s)`` applied to every string in it.

    Iterative (an explicit stack of containers being filled): a value nested deeper than
    Python's recursion limit, such as a stored output from before outputs were bounded,
    must not crash ``wfe runs show`` or ``wfe resume``.
    """
    if not isinstance(value, (Mapping, list, tuple)):
        return _leaf(value, text)
    root: Any = {} if isinstance(value, Mapping) else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, Mapping) else enumerate(source)
        for key, item in items:
            if isinstance(item, (Mapping, list, tuple)):
                child: Any = {} if isinstance(item, Mapping) else []
                stack.append((item, child))
            else:
                child = _leaf(item, text)
            if isinstance(target, dict):
                target[key] = child
            else:
                target.append(child)
    return root


class Redactor:
    """Finds secret values inside strings (recursing into lists and mappings).

    Calling it masks them (``***``), for events and reports. :meth:`seal` replaces them
    with ``<<secret:NAME>>`` instead, for the run store: the value is not there, but a
    resumed run can put it back from the environment (:func:`unseal`).
    """

    def __init__(self, secrets: Mapping[str, str] | Iterable[str] = ()):
        from wfe_core.load.templating import Unknown

        named = dict(secrets) if isinstance(secrets, Mapping) else {f"_{i}": v for i, v in enumerate(secrets)}
        # A dry run's placeholder for a secret not set (<secrets.NAME>) is no secret.
        self._names = {v: k for k, v in named.items() if v and not isinstance(v, Unknown)}
        ordered = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, value: Any) -> Any:
        if self._pattern is None:
            return value
        return _walk(value, lambda s: self._pattern.sub(MASK, s))

    def seal(self, value: Any) -> Any:
        if self._pattern is None:
            return value
        return _walk(value, lambda s: self._pattern.sub(lambda m: f"<<secret:{self._names[m.group(0)]}>>", s))


def unseal(value: Any, secrets: Mapping[str, str]) -> Any:
    """Sealed secrets in ``value`` put back from ``secrets`` (unknown names stay masked)."""
    return _walk(value, lambda s: _SEALED.sub(lambda m: secrets.get(m.group(1), MASK), s) if "<<secret:" in s else s)


def mask_sealed(value: Any) -> Any:
    """Sealed secrets in ``value`` shown as ``***`` (for display)."""
    return _walk(value, lambda s: _SEALED.sub(MASK, s) if "<<secret:" in s else s)
