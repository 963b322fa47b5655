"""How deep lists and mappings may nest in a workflow, a variable or a step's output.

Masking secrets, sealing them for the store, templating, JSON encoding and writing a
workflow back out all walk values; Python's recursion limit (1000 frames, two per level
in most walks) made an ``http.get`` of ``[[[…]]]`` 500 levels deep end the run with a
``RecursionError``, and later ``wfe runs show`` too. Values are therefore bounded where
they come in: a workflow file (the loader), a step's output and the variables it sets
(:func:`wfe_core.run.attempt.run_attempt`). Both say where the limit was crossed. The
walks over stored data (:mod:`wfe_core.model.secrets`) are iterative, so a store written
before the limit existed can still be shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LEAF_TYPES", "MAX_NESTING", "too_deep"]

#: Types that never nest: a value of one of them (or ``None``) needs no walk.
LEAF_TYPES = frozenset({str, int, float, bool, bytes})

#: Most levels of lists/mappings inside one value (JSON from real APIs rarely passes 20).
MAX_NESTING = 100


def too_deep(value: Any, limit: int = MAX_NESTING) -> str | None:
    """``None`` if ``value`` nests at most ``limit`` levels, else the path where it goes
    deeper (``[0][0]["a"]…``, shortened), found without recursion."""
    if value is None or type(value) in LEAF_TYPES:  # most outputs: nothing to walk
        return None
    if limit >= 1 and type(value) is dict and all(v is None or type(v) in LEAF_TYPES for v in value.values()):
        return None  # one level of plain values (most of the rest)
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 0, ())]
    seen: set[int] = set()
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, (Mapping, list, tuple)):
            if depth >= limit:
                shown = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in path[:6])
                return shown + ("…" if len(path) > 6 else "")
            if id(item) in seen:  # shared (YAML anchors): its depth below was already checked
                continue
            seen.add(id(item))
            children = item.items() if isinstance(item, Mapping) else enumerate(item)
            stack.extend((child, depth + 1, (*path, key) if len(path) < 7 else path) for key, child in children)
    return None
