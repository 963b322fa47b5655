"""Finding secret values in text, whatever form they took on the way: :class:`SecretFinder`.

A secret rarely reaches a log exactly as it was read. ``repr()`` escapes its quotes and
backslashes, JSON escapes them differently, a URL percent-encodes it, a file's bytes are
kept base64-encoded, and an error message or an output excerpt cuts it short. Masking
only the exact value let each of these through, so the finder looks for every form
:func:`secret_forms` lists, and for the pieces of a secret a cut leaves behind:

- a beginning of a form (at least :data:`MIN_FRAGMENT_LENGTH` characters) right before a
  cut (``...``, a line break, the end of the text), and an end of a form right after one
  (``...``, a line break, the start of the text);
- a beginning or end of at least :data:`LONG_FRAGMENT_LENGTH` characters anywhere.

All forms of all secrets are matched by one regular expression built as a trie, so the
cost per text does not grow with the number of forms (an alternation of hundreds of
literals made the regex engine try each at every position).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["CUT", "LONG_FRAGMENT_LENGTH", "MIN_FRAGMENT_LENGTH", "SecretFinder", "secret_forms"]

#: A piece of a secret at least this long is masked where text was cut.
MIN_FRAGMENT_LENGTH = 3
#: A beginning or end of a secret this long is masked wherever it is, cut or not.
LONG_FRAGMENT_LENGTH = 12
#: The form name of a cut piece: it cannot be put back, so it stays masked.
CUT = "cut"
#: What a cut piece of a secret can sit against (besides either end of the text).
_CUT_MARKERS = ("...", "\u2026", "\n")
#: A base64 core shorter than this would match unrelated base64 text (a 4-byte secret).
_MIN_BASE64_CORE = 6


@functools.cache  # compiled on first use: most runs never need it
def _percent() -> re.Pattern[str]:
    return re.compile(r"%[0-9A-F]{2}")


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
    return {
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


def _trie_regex(words: list[str]) -> str:
    """One regex matching any of ``words``, longest first, shaped as a trie of their characters."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = []
        for char in sorted(k for k in node if k):
            chain, child = char, node[char]
            while len(child) == 1 and "" not in child:  # a run with no choice: one literal
                ((char, child),) = child.items()
                chain += char
            branches.append(re.escape(chain) + build(child))
        if not branches:
            return ""
        body = "(?:" + "|".join(branches) + ")"
        return body + "?" if "" in node else body

    return build(root)


class SecretFinder:
    """Finds secrets in text, in any form (see the module docstring).

    Args:
        secrets: secret value -> name.
    """

    def __init__(self, secrets: Mapping[str, str]):
        self._lookup: dict[str, tuple[str, str]] = {}  # text of a form -> (name, form); the first wins
        for value, name in sorted(secrets.items(), key=lambda item: item[1]):
            for form, text in secret_forms(value).items():
                if not text or (form.startswith("b64") and len(text) < _MIN_BASE64_CORE):
                    continue
                self._lookup.setdefault(text, (name, form))
                if form.startswith("url"):  # %2f is %2F: put back as %2F
                    self._lookup.setdefault(_percent().sub(lambda m: m.group(0).lower(), text), (name, form))
        self._pattern = re.compile(_trie_regex(list(self._lookup))) if self._lookup else None
        # Pieces are looked for where the first or last characters of some form occur.
        self._heads: dict[str, list[tuple[str, str]]] = {}
        self._tails: dict[str, list[tuple[str, str]]] = {}
        for text, (name, _form) in self._lookup.items():
            if len(text) > MIN_FRAGMENT_LENGTH:
                self._heads.setdefault(text[:MIN_FRAGMENT_LENGTH], []).append((text, name))
                self._tails.setdefault(text[-MIN_FRAGMENT_LENGTH:], []).append((text, name))
        ends = set(self._heads) | set(self._tails)
        self._ends = re.compile(f"(?=({_trie_regex(sorted(ends))}))") if ends else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def replace(self, text: str, replacement: Callable[[str, str], str]) -> str:
        """``text`` with each secret form replaced by ``replacement(name, form)``
        (``form`` is :data:`CUT` for a piece)."""
        if self._pattern is None:
            return text
        text = self._pattern.sub(lambda m: replacement(*self._lookup[m.group(0)]), text)
        if self._ends is not None:
            for start, end, name in reversed(self._pieces(text)):
                text = text[:start] + replacement(name, CUT) + text[end:]
        return text

    def _pieces(self, text: str) -> list[tuple[int, int, str]]:
        """Spans of ``text`` that are a proper piece of a secret's form at a cut (merged)."""
        spans = []
        assert self._ends is not None  # called only when there are pieces to look for
        for match in self._ends.finditer(text):
            at, ends = match.start(), match.group(1)
            for piece, name in self._heads.get(ends, ()):  # a beginning, cut after it
                size = MIN_FRAGMENT_LENGTH
                while size < len(piece) - 1 and at + size < len(text) and text[at + size] == piece[size]:
                    size += 1
                while size >= MIN_FRAGMENT_LENGTH:
                    if size >= LONG_FRAGMENT_LENGTH or _cut_after(text, at + size):
                        spans.append((at, at + size, name))
                        break
                    size -= 1
            end = at + MIN_FRAGMENT_LENGTH
            for piece, name in self._tails.get(ends, ()):  # an end, cut before it
                size = MIN_FRAGMENT_LENGTH
                while size < len(piece) - 1 and end - size - 1 >= 0 and text[end - size - 1] == piece[-size - 1]:
                    size += 1
                while size >= MIN_FRAGMENT_LENGTH:
                    if size >= LONG_FRAGMENT_LENGTH or _cut_before(text, end - size):
                        spans.append((end - size, end, name))
                        break
                    size -= 1
        merged: list[tuple[int, int, str]] = []
        for start, end, name in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
            else:
                merged.append((start, end, name))
        return merged


def _cut_after(text: str, index: int) -> bool:
    return index == len(text) or any(text.startswith(marker, index) for marker in _CUT_MARKERS)


def _cut_before(text: str, index: int) -> bool:
    return index == 0 or any(text.endswith(marker, 0, index) for marker in _CUT_MARKERS)
