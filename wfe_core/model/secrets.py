"""Secrets: values read from the environment, usable as ``{secrets.NAME}``, never recorded.

A workflow declares ``secrets: [API_TOKEN, …]``; each is read from the environment when
the run starts (a missing one is an error before anything runs). Every string that
leaves the scheduler for an event or a reporter goes through a :class:`Redactor` that
replaces secret values with ``***``; in the run store they become ``<<secret:NAME>>``,
which a resumed run turns back into the value, read from the environment again.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from wfe_core.model.errors import InvalidWorkflowError, Problem
from wfe_core.model.secret_text import CUT, MIN_FRAGMENT_LENGTH, SecretFinder, secret_forms

__all__ = ["MASK", "MIN_FRAGMENT_LENGTH", "Redactor", "mask_sealed", "read_secrets", "secret_forms", "unseal"]

MASK = "***"
#: Shorter values would mask ordinary text ("a", "on"): they are refused instead.
MIN_SECRET_LENGTH = 4


def read_secrets(
    names: Iterable[str], environ: Mapping[str, str] | None = None, *, missing_ok: bool = False
) -> dict[str, str]:
    """The values of the declared secrets; every missing or too short one is a problem.

    With ``missing_ok`` (dry runs) a missing secret is the placeholder ``<secrets.NAME>``.
    """
    from wfe_core.load.templating import Unknown

    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for index, name in enumerate(names):
        value = environ.get(name)
        if value is None and missing_ok:
            values[name] = Unknown(f"secrets.{name}")
        elif value is None:
            problems.append(Problem(f"secret '{name}' is not set in the environment", path=f"secrets[{index}]"))
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(
                Problem(
                    f"secret '{name}' is shorter than {MIN_SECRET_LENGTH} characters; "
                    "it could not be told apart from ordinary text in logs",
                    path=f"secrets[{index}]",
                )
            )
        else:
            values[name] = value
    if problems:
        raise InvalidWorkflowError(problems)
    return values


@functools.cache  # compiled on first use: most runs never need it
def _sealed() -> re.Pattern[str]:
    return re.compile(r"<<secret:([A-Za-z_][A-Za-z0-9_]*)(?::([a-z0-9-]+))?>>")


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

    A secret is found in every form :func:`secret_forms` lists (escaped, JSON,
    percent-encoded, inside base64) and sealed as ``<<secret:NAME:FORM>>``, so that
    :func:`unseal` gives back the same form. A piece of a secret left by a cut (an error
    quoting 40 characters of a value, an excerpt, the tail of stderr) is masked too and
    sealed as ``<<secret:NAME:cut>>`` (see :mod:`wfe_core.model.secret_text`).
    """

    def __init__(self, secrets: Mapping[str, str] | Iterable[str] = ()):
        from wfe_core.load.templating import Unknown

        named = dict(secrets) if isinstance(secrets, Mapping) else {f"_{i}": v for i, v in enumerate(secrets)}
        # A dry run's placeholder for a secret not set (<secrets.NAME>) is no secret.
        self._names = {v: k for k, v in named.items() if v and not isinstance(v, Unknown)}
        self._finder = SecretFinder(self._names)

    def __bool__(self) -> bool:
        return bool(self._finder)

    def __call__(self, value: Any) -> Any:
        if not self._finder:
            return value
        return _walk(value, lambda s: self._finder.replace(s, _mask))

    def seal(self, value: Any) -> Any:
        """``value`` with every secret, in any form, as ``<<secret:NAME[:FORM]>>`` (for the run store)."""
        if not self._finder:
            return value
        return _walk(value, lambda s: self._finder.replace(s, _marker))


def _mask(name: str, form: str) -> str:
    return MASK


def _marker(name: str, form: str) -> str:
    return f"<<secret:{name}:{form}>>" if form else f"<<secret:{name}>>"


def unseal(value: Any, secrets: Mapping[str, str]) -> Any:
    """Sealed secrets in ``value`` put back from ``secrets``, each in the form it was in.

    Unknown names and cut pieces stay masked (``***``).
    """

    def restore(match: re.Match[str]) -> str:
        name, form = match.group(1), match.group(2) or ""
        if name not in secrets or form == CUT:
            return MASK
        return secret_forms(secrets[name]).get(form, MASK)

    return _walk(value, lambda s: _sealed().sub(restore, s) if "<<secret:" in s else s)


def mask_sealed(value: Any) -> Any:
    """Sealed secrets in ``value`` shown as ``***`` (for display)."""
    return _walk(value, lambda s: _sealed().sub(MASK, s) if "<<secret:" in s else s)
