"""``{name}`` templates in step parameters.

Grammar: ``{path}`` or ``{path!raw}`` where ``path`` is dotted segments (identifiers or
list indexes): ``{message}``, ``{steps.fetch.output.json.items.0.id}``. ``{{`` and ``}}``
are literal braces. Anything else in braces (``{print $1}``, ``${HOME}``, JSON text) is
left as it is, so shell and JSON snippets need no escaping.

Names resolve against run variables, and ``steps.<id>`` against finished steps
(``output``, ``status``, ``error``). There is no attribute access: only mapping keys and
list indexes, so a template cannot reach Python internals. An undefined name is a
:class:`TemplateError` naming it, never an empty string.

A parameter that is exactly one placeholder keeps the value's type (a dict stays a dict);
inside longer text a value is inserted as ``str`` (JSON for lists and mappings), passed
through the action's quote function for that parameter unless ``!raw``.

A quote function that also has a ``render_template(pieces)`` method gets the whole
template instead, because where a value may go depends on the text around it (a shell
value inside quotes the author wrote): ``pieces`` is the template split into literal
text (``str``, ``{{``/``}}`` already made single) and :class:`Substitution` records, and
what it returns is the parameter's value. A :class:`ValueError` it raises is a template
error naming the parameter.
"""

from __future__ import annotations

import json
import re
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from wfe_core.model.errors import TemplateError, did_you_mean

__all__ = [
    "Placeholder",
    "Substitution",
    "Unknown",
    "has_placeholders",
    "placeholder_texts",
    "placeholders",
    "render",
    "render_value",
]

#: ``{{``, ``}}``, or a placeholder (group 1 its path, group 2 ``!raw``) not after a ``$``.
#: Every alternative starts with a brace, so the regex engine skips other text at C
#: speed (with ``(?<!\$)\{`` first it tried each position: 3x slower on plain text).
_TOKEN = re.compile(r"\{(?:\{|(?<!\$\{)([A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*)(!raw)?\})|\}\}")
#: The grammar as first written; :data:`_TOKEN` must find exactly what it finds (tested).
_TOKEN_REFERENCE = r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*)(!raw)?\}"
#: :data:`_TOKEN` as one group: ``split`` gives text, then per token its text, path and
#: ``!raw``, then text again (one C call for what ``finditer`` took a call per token for).
_SPLIT = re.compile(f"({_TOKEN.pattern})")
_NO_TOKEN = object()


class Unknown(str):
    """A value a dry run cannot know (the output of a step it did not run): ``<path>``."""

    def __new__(cls, path: str) -> Unknown:
        return super().__new__(cls, f"<{path}>")


class Placeholder:
    """One ``{path}`` occurrence: its dotted parts and whether it is ``!raw``."""

    __slots__ = ("parts", "raw", "text")

    def __init__(self, text: str, raw: bool):
        self.text = text
        self.parts = text.split(".")
        self.raw = raw


class Substitution:
    """A placeholder with its value, as handed to a context-aware quoter.

    Attributes:
        text: the placeholder's path, e.g. ``steps.fetch.output``.
        value: the value as text (JSON for lists and mappings).
        raw: whether the template opted out of quoting (``{x!raw}``).
    """

    __slots__ = ("raw", "text", "value")

    def __init__(self, text: str, value: str, raw: bool):
        self.text, self.value, self.raw = text, value, raw

    def __repr__(self) -> str:
        return f"Substitution({self.text!r}, raw={self.raw})"  # never the value: it may be a secret


def has_placeholders(value: Any) -> bool:
    """Whether rendering ``value`` could change it (cheap pre-check for the hot path)."""
    if type(value) is dict:  # the usual parameters: a plain dict, mostly of strings
        for item in value.values():
            if type(item) is str:
                if "{" in item or "}" in item:
                    return True
            elif has_placeholders(item):
                return True
        return False
    if isinstance(value, str):
        return "{" in value or "}" in value
    if isinstance(value, Mapping):
        return any(has_placeholders(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_placeholders(v) for v in value)
    return False


def placeholder_texts(text: str) -> list[tuple[str, str]]:
    """``(path, "!raw" or "")`` of every placeholder in ``text``, in order: what
    :func:`placeholders` finds in a string, without building an object for each (checks
    over big workflows look at the first name only, most often a variable's)."""
    return [found for found in _TOKEN.findall(text) if found[0]]


def placeholders(value: Any) -> Iterator[Placeholder]:
    """Every placeholder in ``value`` (recursing into mappings and lists)."""
    if isinstance(value, str):
        for match in _TOKEN.finditer(value):
            if match.group(1):
                yield Placeholder(match.group(1), bool(match.group(2)))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from placeholders(item)


def _names(names: Any, most: int = 12) -> str:
    names = sorted(map(str, names))
    if not names:
        return "none"
    more = f", … ({len(names) - most} more)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


#: A name no scope defines (``None`` may be a variable's value).
_MISSING = object()


def _first(scope: Mapping[str, Any], name: str) -> Any:
    """``scope[name]``, or ``_MISSING``. A :class:`ChainMap` (the run's scope: a view of
    the run variables, never a copy) is searched map by map here: its own ``in`` and
    ``[]`` are Python methods, half the cost of rendering a one-placeholder template."""
    if type(scope) is ChainMap:
        for mapping in scope.maps:
            if name in mapping:
                return mapping[name]
        return _MISSING
    # ``in`` then ``[]``, not ``.get``: a dict subclass may answer ``in`` and ``[]`` itself.
    return scope[name] if name in scope else _MISSING  # noqa: SIM401


def _lookup(ph: Placeholder, scope: Mapping[str, Any]) -> Any:
    first = ph.parts[0]
    if type(scope) is ChainMap:  # _first, inlined: once per placeholder of every step
        for mapping in scope.maps:
            if first in mapping:
                value = mapping[first]
                break
        else:
            value = _MISSING
    else:
        value = _first(scope, first)
    if value is _MISSING:
        names = [k for k in scope if k != "steps"]
        defined = _names(names)
        raise TemplateError(f"undefined name '{first}'{did_you_mean(first, names)}; defined variables: {defined}")
    if len(ph.parts) == 1:
        return value
    for depth, part in enumerate(ph.parts[1:], start=1):
        if isinstance(value, Unknown):
            return Unknown(ph.text)
        where = ".".join(ph.parts[:depth])
        if isinstance(value, Mapping):
            if part not in value:
                keys = _names(value)
                if depth == 1 and first == "steps":
                    raise TemplateError(
                        f"'{ph.text}': step '{part}' has not finished or is not upstream (finished: {keys})"
                    )
                raise TemplateError(
                    f"'{ph.text}': {where} has no key '{part}'{did_you_mean(part, map(str, value))} (keys: {keys})"
                )
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit():
            index = int(part)
            if index >= len(value):
                raise TemplateError(f"'{ph.text}': index {index} is out of range ({where} has {len(value)} items)")
            value = value[index]
        else:
            raise TemplateError(f"'{ph.text}': {where} is {type(value).__name__}, it has no '{part}'")
    return value


def _as_text(value: Any) -> str:
    if type(value) is str:  # the usual case, first
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


#: text -> its pieces (see :func:`_pieces`). Bounded: cleared when full, so a run of
#: 10,000 distinct strings does not keep them all; repeated strings (fan-out instances,
#: retries, rollbacks, the same command in many steps) are split once. Only texts up to
#: _PIECES_TEXT characters: a big one (a file's content) would stay in memory for the
#: life of the process.
_PIECES: dict[str, tuple[str | Placeholder, ...]] = {}
_PIECES_MAX = 512
_PIECES_TEXT = 4096


def _pieces(text: str) -> tuple[str | Placeholder, ...]:
    """``text`` split into literal text and :class:`Placeholder` records, in order.

    An escaped brace (``{{``, ``}}``) is its own piece, already single; empty literal
    text is left out. This is the list a context-aware quoter gets (with each
    placeholder's :class:`Substitution`), and what plain rendering joins.
    """
    found = _PIECES.get(text)
    if found is not None:
        return found
    parts = _SPLIT.split(text)  # [text, (token, path, raw, text)...]
    pieces: list[str | Placeholder] = [parts[0]] if parts[0] else []
    for k in range(1, len(parts), 4):
        path = parts[k + 1]
        pieces.append(parts[k][0] if path is None else Placeholder(path, parts[k + 2] is not None))
        if parts[k + 3]:
            pieces.append(parts[k + 3])
    found = tuple(pieces)
    if len(text) <= _PIECES_TEXT:
        if len(_PIECES) >= _PIECES_MAX:
            _PIECES.clear()
        _PIECES[text] = found
    return found


def render_value(text: str, scope: Mapping[str, Any], quote: Callable[[str], str] | None = None) -> Any:
    """Render one string. A string that is a single placeholder returns the value itself.

    With a context-aware ``quote`` (see the module docstring) only a single ``!raw``
    placeholder keeps its value as it is; everything else goes through the quoter.
    """
    pieces = _pieces(text)
    whole = None if quote is None else getattr(quote, "render_template", None)
    if len(pieces) == 1:
        only = pieces[0]
        if type(only) is Placeholder and (whole is None or only.raw):
            return _lookup(only, scope)
    if whole is not None:
        given: list[Any] = [
            piece if isinstance(piece, str) else Substitution(piece.text, _as_text(_lookup(piece, scope)), piece.raw)
            for piece in pieces
        ]
        try:
            return whole(given)
        except ValueError as exc:
            raise TemplateError(str(exc)) from None
    # A run's scope is a ChainMap (run variables, steps): a one-name placeholder is
    # looked up here, map by map (see _first); anything else through _lookup.
    maps = scope.maps if type(scope) is ChainMap else None
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        value = _MISSING
        if maps is not None and len(piece.parts) == 1:
            name = piece.text
            for mapping in maps:
                if name in mapping:
                    value = mapping[name]
                    break
        if value is _MISSING:
            value = _lookup(piece, scope)
        if type(value) is not str:
            value = _as_text(value)
        out.append(quote(value) if quote is not None and not piece.raw else value)
    return "".join(out)


def render(
    parameters: Mapping[str, Any],
    scope: Mapping[str, Any],
    quote: Mapping[str, Callable[[str], str]] | None = None,
) -> dict[str, Any]:
    """Render every string in ``parameters``; ``quote`` maps top-level names to quoters.

    A quoter applies to a top-level string parameter only, never to the items of a list
    or mapping (an argv list needs no shell quoting). Raises :class:`TemplateError` whose
    message starts with the parameter's path.
    """
    # A module-level walker, not a nested one: a nested function that calls itself is a
    # reference cycle (function <-> cell) holding the scope, garbage only the cyclic
    # collector frees, one per rendered step.
    if not quote:
        return {name: _walk(value, name, None, scope) for name, value in parameters.items()}
    return {name: _walk(value, name, quote.get(name), scope) for name, value in parameters.items()}


def _walk(value: Any, path: str, quoter: Callable[[str], str] | None, scope: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if "{" not in value and "}" not in value:
            return value
        try:
            return render_value(value, scope, quoter)
        except TemplateError as exc:
            raise TemplateError(f"parameter '{path}': {exc}") from None
    if isinstance(value, Mapping):
        # Quoting is for text a shell will parse: a list is argv, a mapping is data.
        return {k: _walk(v, f"{path}.{k}", None, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, f"{path}[{i}]", None, scope) for i, v in enumerate(value)]
    return value
