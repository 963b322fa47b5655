"""Secrets: values read from the environment, usable as ``{secrets.NAME}``, never recorded.

A workflow declares ``secrets: [API_TOKEN, …]``; each is read from the environment when
the run starts (a missing one is an error before anything runs). Every string that
leaves the scheduler for an event or a reporter goes through a :class:`Redactor` that
replaces secret values with ``***``; in the run store they become ``<<secret:NAME>>``,
which a resumed run turns back into the value, read from the environment again.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from wfe_core.model.errors import InvalidWorkflowError, Problem

__all__ = ["MASK", "MIN_FRAGMENT_LENGTH", "Redactor", "mask_sealed", "read_secrets", "secret_forms", "unseal"]

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


_SEALED = re.compile(r"<<secret:([A-Za-z_][A-Za-z0-9_]*)(?::([a-z0-9-]+))?>>")

#: A piece of a secret at least this long is masked where text was cut (see :class:`Redactor`).
MIN_FRAGMENT_LENGTH = 3
#: A piece of a secret this long is masked wherever it is, cut or not.
LONG_FRAGMENT_LENGTH = 12
#: What a cut piece of a secret can sit against: text cut before it (``...``, a line
#: start, the start of the string) or after it (``...``, a line end, the end).
_CUT_MARKERS = ("...", "\u2026", "\n")
#: Form of a cut piece of a secret in the store: it cannot be put back, so it stays masked.
_CUT = "cut"


def _base64_core(data: bytes, offset: int) -> str:
    """The base64 characters that depend on ``data`` alone when it starts ``offset`` bytes into a stream.

    Text holding the secret anywhere, base64-encoded as a whole, contains one of the
    three cores (offset 0, 1 or 2 modulo 3); the characters around it mix in neighbours.
    """
    encoded = base64.b64encode(bytes(offset) + data + bytes(2)).decode("ascii")
    first, end = -(-8 * offset // 6), (8 * (offset + len(data))) // 6
    return encoded[first:end]


def secret_forms(value: str) -> dict[str, str]:
    """Every form in which ``value`` may turn up in text, by form name (``""``: as is).

    Escaped as ``repr()`` does (either quote style), as JSON does (ASCII or not),
    percent-encoded (URL path, query, form) and base64-encoded inside a larger text.
    """
    forced = repr(value + "'\"")[1:-4]  # both quotes present: repr picks '...' and escapes '
    data = value.encode("utf-8", "surrogatepass")
    candidates = {
        "": value,
        "repr": forced,
        "repr2": forced.replace("\\'", "'"),  # the "..." style: ' left alone
        "json": json.dumps(value)[1:-1],
        "json-u": json.dumps(value, ensure_ascii=False)[1:-1],
        "url": quote(value, safe=""),
        "url-path": quote(value),
        "url-plus": quote_plus(value),
        **{f"b64-{offset}": _base64_core(data, offset) for offset in range(3)},
    }
    return candidates


def _regex(form: str, text: str) -> str:
    pattern = re.escape(text)
    if form.startswith("url"):  # %2f and %2F are the same byte
        pattern = re.sub(r"%([0-9A-F])([0-9A-F])",
                         lambda m: "%" + "".join(f"[{c}{c.lower()}]" if c.isalpha() else c for c in m.groups()),
                         pattern)
    return pattern


def _walk(value: Any, text: Any) -> Any:
    """``value`` with ``text(s)`` applied to every string in it."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        return {k: _walk(v, text) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, text) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return text(value.decode("utf-8", "replace"))
    return value


class Redactor:
    """Finds secret values inside strings (recursing into lists and mappings).

    Calling it masks them (``***``), for events and reports. :meth:`seal` replaces them
    with ``<<secret:NAME>>`` instead, for the run store: the value is not there, but a
    resumed run can put it back from the environment (:func:`unseal`).

    A secret is found in every form :func:`secret_forms` lists (escaped, JSON,
    percent-encoded, inside base64), sealed as ``<<secret:NAME:FORM>>`` so that
    :func:`unseal` gives back the same form. Text is often cut to a length (an error
    message quoting 40 characters of a value, an excerpt of a response body, the tail of
    stderr), and the cut may fall inside a secret: a piece of a secret of at least
    :data:`MIN_FRAGMENT_LENGTH` characters that runs into a cut (``...``, a line break,
    either end of the string) is masked too, and sealed as ``<<secret:NAME:cut>>``; so is
    a beginning or end of a secret of :data:`LONG_FRAGMENT_LENGTH` characters anywhere.
    """

    def __init__(self, secrets: Mapping[str, str] | Iterable[str] = ()):
        from wfe_core.load.templating import Unknown

        named = dict(secrets) if isinstance(secrets, Mapping) else {f"_{i}": v for i, v in enumerate(secrets)}
        # A dry run's placeholder for a secret not set (<secrets.NAME>) is no secret.
        self._names = {v: k for k, v in named.items() if v and not isinstance(v, Unknown)}
        forms: dict[str, tuple[str, str]] = {}  # text -> (name, form); the first form wins
        for value, name in sorted(self._names.items()):
            for form, text in _usable_forms(value).items():
                forms.setdefault(text, (name, form))
        ordered = sorted(forms, key=len, reverse=True)  # the longest match wins at one place
        self._meta = {f"f{i}": forms[text] for i, text in enumerate(ordered)}
        self._pattern = re.compile("|".join(f"(?P<f{i}>{_regex(forms[text][1], text)})"
                                            for i, text in enumerate(ordered))) if ordered else None
        # Pieces are looked for only around the first/last characters of some form.
        self._pieces = [(text, forms[text][0]) for text in ordered if len(text) > MIN_FRAGMENT_LENGTH]
        ends = {t[:MIN_FRAGMENT_LENGTH] for t, _ in self._pieces} | {t[-MIN_FRAGMENT_LENGTH:] for t, _ in self._pieces}
        self._ends = re.compile("|".join(map(re.escape, sorted(ends)))) if ends else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, value: Any) -> Any:
        if self._pattern is None:
            return value
        return _walk(value, lambda s: self._text(s, lambda name, form: MASK))

    def seal(self, value: Any) -> Any:
        """``value`` with every secret (in any form) as ``<<secret:NAME[:FORM]>>``, for the run store."""
        if self._pattern is None:
            return value
        return _walk(value, lambda s: self._text(s, _marker))

    def _text(self, text: str, replacement: Any) -> str:
        text = self._pattern.sub(lambda m: replacement(*self._meta[m.lastgroup]), text)
        if self._ends is not None and self._ends.search(text):
            spans = self._cut_pieces(text)
            for start, end, name in reversed(spans):
                text = text[:start] + replacement(name, _CUT) + text[end:]
        return text

    def _cut_pieces(self, text: str) -> list[tuple[int, int, str]]:
        """Spans of ``text`` that are a proper piece of a secret running into a cut, merged."""
        spans = []
        for piece, name in self._pieces:
            longest = len(piece) - 1
            head, tail = piece[:MIN_FRAGMENT_LENGTH], piece[-MIN_FRAGMENT_LENGTH:]
            at = text.find(head)
            while at != -1:  # a beginning of the secret, cut after it
                n = MIN_FRAGMENT_LENGTH
                while n < longest and at + n < len(text) and text[at + n] == piece[n]:
                    n += 1
                for size in range(n, MIN_FRAGMENT_LENGTH - 1, -1):
                    if size >= LONG_FRAGMENT_LENGTH or _cut_after(text, at + size):
                        spans.append((at, at + size, name))
                        break
                at = text.find(head, at + 1)
            at = text.find(tail)
            while at != -1:  # an end of the secret, cut before it
                end, n = at + MIN_FRAGMENT_LENGTH, MIN_FRAGMENT_LENGTH
                while n < longest and end - n - 1 >= 0 and text[end - n - 1] == piece[-n - 1]:
                    n += 1
                for size in range(n, MIN_FRAGMENT_LENGTH - 1, -1):
                    if size >= LONG_FRAGMENT_LENGTH or _cut_before(text, end - size):
                        spans.append((end - size, end, name))
                        break
                at = text.find(tail, at + 1)
        merged: list[tuple[int, int, str]] = []
        for start, end, name in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
            else:
                merged.append((start, end, name))
        return merged


def _usable_forms(value: str) -> dict[str, str]:
    """:func:`secret_forms` minus base64 cores too short to tell apart from other base64."""
    return {form: text for form, text in secret_forms(value).items()
            if text and (not form.startswith("b64") or len(text) >= 6)}


def _cut_after(text: str, index: int) -> bool:
    return index == len(text) or any(text.startswith(marker, index) for marker in _CUT_MARKERS)


def _cut_before(text: str, index: int) -> bool:
    return index == 0 or any(text.endswith(marker, 0, index) for marker in _CUT_MARKERS)


def _marker(name: str, form: str) -> str:
    return f"<<secret:{name}:{form}>>" if form else f"<<secret:{name}>>"


def unseal(value: Any, secrets: Mapping[str, str]) -> Any:
    """Sealed secrets in ``value`` put back from ``secrets``, each in the form it was in.

    Unknown names and cut pieces stay masked (``***``).
    """
    def restore(match: re.Match) -> str:
        name, form = match.group(1), match.group(2) or ""
        if name not in secrets or form == _CUT:
            return MASK
        return secret_forms(secrets[name]).get(form, MASK)

    return _walk(value, lambda s: _SEALED.sub(restore, s) if "<<secret:" in s else s)


def mask_sealed(value: Any) -> Any:
    """Sealed secrets in ``value`` shown as ``***`` (for display)."""
    return _walk(value, lambda s: _SEALED.sub(MASK, s) if "<<secret:" in s else s)
