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

_TOKEN = re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*)(!raw)?\}")
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


def _lookup(ph: Placeholder, scope: Mapping[str, Any]) -> Any:
    first = ph.parts[0]
    if first not in scope:
        names = [k for k in scope if k != "steps"]
        defined = _names(names)
        raise TemplateError(f"undefined name '{first}'{did_you_mean(first, names)}; defined variables: {defined}")
    value = scope[first]
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
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def render_value(text: str, scope: Mapping[str, Any], quote: Callable[[str], str] | None = None) -> Any:
    """Render one string. A string that is a single placeholder returns the value itself.

    With a context-aware ``quote`` (see the module docstring) only a single ``!raw``
    placeholder keeps its value as it is; everything else goes through the quoter.
    """
    match = _TOKEN.fullmatch(text)
    whole = getattr(quote, "render_template", None)
    if match and match.group(1) and (whole is None or match.group(2)):
        return _lookup(Placeholder(match.group(1), bool(match.group(2))), scope)
    if whole is not None:
        pieces: list[Any] = []
        end = 0
        for m in _TOKEN.finditer(text):
            pieces.append(text[end : m.start()])
            end = m.end()
            if m.group(1) is None:
                pieces.append(m.group(0)[0])
            else:
                ph = Placeholder(m.group(1), bool(m.group(2)))
                pieces.append(Substitution(ph.text, _as_text(_lookup(ph, scope)), ph.raw))
        pieces.append(text[end:])
        try:
            return whole([p for p in pieces if p != ""])
        except ValueError as exc:
            raise TemplateError(str(exc)) from None

    def substitute(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        ph = Placeholder(m.group(1), bool(m.group(2)))
        out = _as_text(_lookup(ph, scope))
        return quote(out) if quote is not None and not ph.raw else out

    return _TOKEN.sub(substitute, text)


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
    quote = quote or {}

    def walk(value: Any, path: str, quoter: Callable[[str], str] | None) -> Any:
        if isinstance(value, str):
            if "{" not in value and "}" not in value:
                return value
            try:
                return render_value(value, scope, quoter)
            except TemplateError as exc:
                raise TemplateError(f"parameter '{path}': {exc}") from None
        if isinstance(value, Mapping):
            # Quoting is for text a shell will parse: a list is argv, a mapping is data.
            return {k: walk(v, f"{path}.{k}", None) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}[{i}]", None) for i, v in enumerate(value)]
        return value

    return {name: walk(value, name, quote.get(name)) for name, value in parameters.items()}
