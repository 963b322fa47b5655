"""Compact JSON text for the run store, from encoders built once, and the bounds on what
one value may take in the store.

``json.dumps(value, separators=…)`` (and ``JSONEncoder.encode``) builds a new C encoder on
every call: most of the cost of the small values a run writes per step (~2 µs of ~3).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = [
    "LOG_KEYS",
    "bounded",
    "bounded_vars",
    "compact_json",
    "cut_marker",
    "encoded",
    "is_cut",
    "json_text",
    "log_json",
    "quoted",
    "within",
]

#: A string as its JSON text (ASCII, as ``json.dumps`` writes it): C, no encoder object.
quoted: Callable[[str], str] = json.encoder.encode_basestring_ascii


def compact_json(*, sort_keys: bool = False) -> Callable[[Any], str]:
    """A function giving ``json.dumps(value, default=repr, separators=(",", ":"),
    sort_keys=sort_keys)``, the same text.

    Without the circular-reference check (its markers, shared between threads, could
    misfire): what reaches the store was bounded first (``wfe_core.model.nesting``, the
    validators), and a cycle that did not would end in ``RecursionError`` instead of
    ``ValueError``.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the pure-Python encoder, built once
        return json.JSONEncoder(default=repr, separators=(",", ":"), sort_keys=sort_keys).encode
    encode = make(None, repr, quoted, None, ":", ",", sort_keys, False, True)
    join = "".join

    def text(value: Any) -> str:
        return join(encode(value, 0))

    return text


#: What a value too big to store is replaced with starts with (see :func:`is_cut`).
_CUT = "<<wfe:not stored: "
#: Any value as compact JSON (``compact_json()``'s function, built once for the store).
encoded = compact_json()


def json_text(value: Any) -> str | None:
    """``value`` as compact JSON, or None (SQL NULL) for None."""
    if value is None:
        return None
    if type(value) is str:  # most values: no encoder call
        return quoted(value)
    return encoded(value)


#: The keys of an attempt's log entry, in the order a run writes them.
LOG_KEYS = ("number", "status", "started_at", "finished_at", "error")
_float_text = float.__repr__


def log_json(log: list[dict[str, Any]]) -> str | None:
    """A step's attempt log as ``json_text`` writes it. The usual log, one finished attempt
    of a run (an int, a status, two times, no error), is written without an encoder
    call: the same text, each time as ``repr`` writes it."""
    if len(log) == 1:
        entry = log[0]
        if len(entry) == 5 and tuple(entry) == LOG_KEYS:
            number, status, started, finished, error = entry.values()
            if (
                type(number) is int
                and type(status) is str
                and type(started) is float
                and type(finished) is float
                and error is None
                and started - started == 0.0
                and finished - finished == 0.0
            ):
                return (
                    f'[{{"number":{number},"status":{quoted(status)},"started_at":{_float_text(started)},'
                    f'"finished_at":{_float_text(finished)},"error":null}}]'
                )
    return json_text(log or None)


def cut_marker(size: int, limit: int) -> str:
    """What the store keeps instead of a value whose JSON has ``size`` characters, over ``limit``."""
    return f"{_CUT}{size:,} characters of JSON, over the store limit of {limit:,} (WFE_STORE_VALUE_LIMIT)>>"


def is_cut(value: Any) -> bool:
    """Whether ``value`` (read from the store) is the marker of a value too big to store."""
    return isinstance(value, str) and value.startswith(_CUT)


def bounded(value: Any, limit: int) -> str | None:
    """``value`` as JSON, or its marker's JSON when that is longer than ``limit``: encoded once."""
    if value is None:
        return None
    text = quoted(value) if type(value) is str else encoded(value)  # (json_text, inlined: once per value)
    if not limit or len(text) <= limit or isinstance(value, (bool, int, float)):  # numbers are kept whole
        return text
    return quoted(cut_marker(len(text), limit))


def bounded_vars(variables: Any, limit: int) -> str | None:
    """Variables as JSON, each one bounded on its own: a big one does not take the others
    with it. Each value is encoded once (the object is joined from their texts)."""
    if not isinstance(variables, dict) or not limit:
        return bounded(variables, limit)
    texts = []
    for name, value in variables.items():  # (a loop, not generators: a step sets one or two)
        if type(name) is not str:  # keys the encoder turns into strings
            return json_text({name: within(value, limit) for name, value in variables.items()})
        texts.append(quoted(name) + ":" + (bounded(value, limit) or "null"))
    return "{" + ",".join(texts) + "}"


def within(value: Any, limit: int) -> Any:
    """``value``, or its marker when its JSON is longer than ``limit``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    size = len(json_text(value) or "")
    return cut_marker(size, limit) if size > limit else value
