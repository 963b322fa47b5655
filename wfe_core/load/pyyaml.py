"""PyYAML, imported without compiling the one regular expression only its pure-Python reader uses.

``import yaml`` executes every module of the package, ``yaml.reader`` included, even
though wfe parses with libyaml (``CSafeLoader``, ``CParser``) wherever it is installed.
That module compiles ``NON_PRINTABLE``, a character class spanning the whole of Unicode:
~5 ms, a fortieth of a small ``wfe run``. Here the pattern is compiled on its first use
instead: before PyYAML's first import, :mod:`re`'s cache is given a stand-in for exactly
that pattern, which compiles the same pattern when something first searches with it (the
pure-Python loader, where libyaml is missing); the entry is removed right after the
import, so no other code ever receives the stand-in. Nothing changes where the cache
does not have the shape this expects: the pattern is then compiled as usual.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

__all__ = ["yaml"]

#: ``yaml.reader.Reader.NON_PRINTABLE``'s pattern, character for character.
_NON_PRINTABLE = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


class _CompiledOnFirstUse:
    """Stands in for a compiled pattern: compiles it when first used, then delegates."""

    def __init__(self, pattern: str) -> None:
        self._source = pattern
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:  # search, match, sub ... and .pattern
        if self._compiled is None:
            # Under another cache key than this stand-in's (for a str pattern, UNICODE is
            # the default: the same pattern), so re never hands back the stand-in itself.
            self._compiled = re.compile(self._source, re.UNICODE)
        return getattr(self._compiled, name)


def _import_yaml() -> Any:
    cache = getattr(re, "_cache", None)
    key = (str, _NON_PRINTABLE, 0)
    stand_in = _CompiledOnFirstUse(_NON_PRINTABLE)
    primed = "yaml" not in sys.modules and isinstance(cache, dict) and key not in cache
    if primed:
        cache[key] = stand_in  # type: ignore[index]
    try:
        import yaml as module
    finally:
        # Python 3.12+ also copies what it returns into a second cache, ``_cache2``.
        for name in ("_cache", "_cache2"):
            other = getattr(re, name, None)
            if isinstance(other, dict) and other.get(key) is stand_in:
                del other[key]
    return module


if TYPE_CHECKING:
    import yaml
else:
    yaml = _import_yaml()
