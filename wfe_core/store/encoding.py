"""Compact JSON text for the run store, from encoders built once.

``json.dumps(value, separators=…)`` (and ``JSONEncoder.encode``) builds a new C encoder on
every call: most of the cost of the small values a run writes per step (~2 µs of ~3).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["compact_json", "quoted"]

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
