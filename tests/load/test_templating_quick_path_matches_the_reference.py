"""Rendering's quick path (a brace-first token pattern, templates split once and cached,
the run's ChainMap scope searched map by map) gives exactly what the first
implementation gave: the same tokens, values, quoting, pieces for a context-aware
quoter, and the same error messages."""

from __future__ import annotations

import gc
import json
import re
from collections import ChainMap
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from wfe_core.load import templating
from wfe_core.load.templating import Placeholder, Substitution, render, render_value
from wfe_core.model.errors import TemplateError

REFERENCE = re.compile(templating._TOKEN_REFERENCE)


# --- the first implementation, kept here as the reference ---------------------------------
def _reference_lookup(ph: Placeholder, scope: Any) -> Any:
    first = ph.parts[0]
    if first not in scope:
        names = [k for k in scope if k != "steps"]
        raise TemplateError(
            f"undefined name '{first}'{templating.did_you_mean(first, names)}; "
            f"defined variables: {templating._names(names)}"
        )
    value = scope[first]
    for depth, part in enumerate(ph.parts[1:], start=1):
        if isinstance(value, templating.Unknown):
            return templating.Unknown(ph.text)
        where = ".".join(ph.parts[:depth])
        if isinstance(value, dict):
            if part not in value:
                keys = templating._names(value)
                if depth == 1 and first == "steps":
                    raise TemplateError(
                        f"'{ph.text}': step '{part}' has not finished or is not upstream (finished: {keys})"
                    )
                raise TemplateError(
                    f"'{ph.text}': {where} has no key '{part}'"
                    f"{templating.did_you_mean(part, map(str, value))} (keys: {keys})"
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


def _reference_text(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def reference_render_value(text: str, scope: Any, quote: Any = None) -> Any:
    match = REFERENCE.fullmatch(text)
    whole = getattr(quote, "render_template", None)
    if match and match.group(1) and (whole is None or match.group(2)):
        return _reference_lookup(Placeholder(match.group(1), bool(match.group(2))), scope)
    if whole is not None:
        pieces: list[Any] = []
        end = 0
        for m in REFERENCE.finditer(text):
            pieces.append(text[end : m.start()])
            end = m.end()
            if m.group(1) is None:
                pieces.append(m.group(0)[0])
            else:
                ph = Placeholder(m.group(1), bool(m.group(2)))
                pieces.append(Substitution(ph.text, _reference_text(_reference_lookup(ph, scope)), ph.raw))
        pieces.append(text[end:])
        return whole([p for p in pieces if p != ""])

    def substitute(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        ph = Placeholder(m.group(1), bool(m.group(2)))
        out = _reference_text(_reference_lookup(ph, scope))
        return quote(out) if quote is not None and not ph.raw else out

    return REFERENCE.sub(substitute, text)


# --- inputs ---------------------------------------------------------------------------------
VARIABLES = {"who": "World", "n": 3, "flag": False, "none": None, "items": [1, {"a": "b"}], "cfg": {"x": {"y": 1}}}
RESULTS = {"s1": {"output": {"rows": [7, 8]}, "status": "succeeded", "error": None}}
# Pieces that make every token and near-token: braces, escapes, `$`, names, dots, indexes.
PARTS = ["{", "}", "{{", "}}", "$", "who", "n", "flag", "none", "items", "cfg", "x", "y", "0", "1", "5", "steps",
         "s1", "s2", "output", "rows", "status", ".", "!raw", "!", "-", "_", " ", "a", "é", "\n",
         "${", "$${", "{who}", "{n!raw}", "{steps.s1.output.rows.1}", "{cfg.x}", "{items.1.a}", "{nope}"]  # fmt: skip
texts = st.lists(st.sampled_from(PARTS), max_size=14).map("".join)


def outcome(render: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "value", render(*args)
    except TemplateError as exc:
        return "error", str(exc)


class Whole:
    """A context-aware quoter: what it is given is what it returns."""

    def __call__(self, text: str) -> str:
        return f"<{text}>"

    def render_template(self, pieces: list[Any]) -> list[Any]:
        return [p if isinstance(p, str) else ("sub", p.text, p.value, p.raw) for p in pieces]


@settings(max_examples=600, deadline=None)
@given(texts)
@example("${who} $${who} {{who}} {who}}")
def test_the_brace_first_pattern_finds_what_the_first_one_found(text):
    def tokens(pattern: re.Pattern[str]) -> list[Any]:
        return [(m.span(), m.groups()) for m in pattern.finditer(text)]

    assert tokens(templating._TOKEN) == tokens(REFERENCE)


class Answering(dict):
    """A dict subclass that answers ``in`` and ``[]`` itself (``get`` would not ask them)."""

    def __contains__(self, key: object) -> bool:
        return key != "nope"

    def __getitem__(self, key: str) -> Any:
        return VARIABLES.get(key, f"<{key}>")


SCOPES = {
    "dict": lambda: {**VARIABLES, "steps": RESULTS},
    "chain": lambda: ChainMap({"steps": RESULTS}, {}, VARIABLES),
    "subclass": Answering,
}


@settings(max_examples=600, deadline=None)
@given(texts, st.sampled_from(sorted(SCOPES)), st.sampled_from([None, "plain", "whole"]))
def test_rendering_gives_what_the_first_implementation_gave(text, kind, quoting):
    scope: Any = SCOPES[kind]()
    quote = {"plain": lambda s: f"'{s}'", "whole": Whole(), None: None}[quoting]
    expected = outcome(reference_render_value, text, scope, quote)
    assert outcome(render_value, text, scope, quote) == expected
    assert outcome(render_value, text, scope, quote) == expected  # again: from the cache of split templates


def test_the_cache_of_split_templates_is_bounded():
    for i in range(templating._PIECES_MAX * 2 + 5):
        assert render_value(f"{{who}} {i}", VARIABLES) == f"World {i}"
    assert len(templating._PIECES) <= templating._PIECES_MAX


def test_rendering_leaves_no_garbage_for_the_cyclic_collector():
    """A step's rendering used to leave a reference cycle (a nested function calling
    itself) holding its scope: garbage only the cyclic collector could free."""
    scope = ChainMap({"steps": RESULTS}, VARIABLES)
    gc.collect()
    gc.disable()
    try:
        for i in range(50):
            render({"a": f"{{who}} {i}", "b": [f"{{n}} {i}", {"c": "{cfg.x}"}]}, scope, {"a": lambda s: s})
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_fan_out_item_shadows_a_run_variable_of_the_same_name():
    # The run's scope is a ChainMap searched first map first: a fan-out instance's names
    # come before the run variables.
    scope = ChainMap({"steps": {}, "item": "instance"}, {"item": "run variable", "who": "w"})
    assert render_value("{item}", scope) == "instance"
    assert render_value("x {item}", scope) == "x instance"
    assert render({"v": "{item} {who}"}, scope) == {"v": "instance w"}


def test_the_split_cache_keeps_no_big_template_text():
    # A big templated value (a file's content) is split for its render, not kept for the
    # life of the process.
    big = '{"rows": [' + ", ".join(f'{{"a": {i}}}' for i in range(200_000)) + "]} {who}"
    assert render_value(big, {"who": "x"}).endswith(" x")
    kept = sum(len(text) for text in templating._PIECES)
    assert kept < 1_000_000, f"{kept} characters of template text kept after the render"
