"""A command's output, bounded: the last bytes of a stream, never cut inside a templated value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import AnyStr

__all__ = ["OUTPUT_LIMIT", "TailBuffer", "past_cut_values"]

#: Bytes kept of each of stdout and stderr (the last ones; earlier output is dropped).
OUTPUT_LIMIT = 1024 * 1024


def past_cut_values(text: AnyStr, cut: int, values: Sequence[AnyStr]) -> int:
    """``cut`` moved forward past any occurrence of one of ``values`` that it splits.

    Output cut short must not start with the tail of a templated value (it may be a
    secret): masking recognises a secret only whole, so a fragment would leak.
    """
    moved = True
    while moved:
        moved = False
        for value in values:
            if len(value) < 2:
                continue
            at = text.find(value, max(0, cut - len(value) + 1))
            if at != -1 and at < cut < at + len(value):
                cut, moved = at + len(value), True
    return cut


class TailBuffer:
    """Keeps the last ``limit`` bytes written to it and counts the ones it dropped.

    ``protect``: byte strings (templated values) the kept text must not start inside;
    enough bytes before the cut are kept to see one that spans it.
    """

    def __init__(self, limit: int = OUTPUT_LIMIT, protect: Sequence[bytes] = ()):
        self.limit = limit
        self.protect = [p for p in protect if p]
        self.guard = max((len(p) for p in self.protect), default=1) - 1
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit + self.guard:  # trim in batches, not on every chunk
            self._trim()

    def _trim(self) -> None:
        excess = len(self.data) - self.limit - self.guard
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        """The kept bytes as UTF-8 (bad bytes replaced), after a marker if any were dropped."""
        self._trim()
        data = bytes(self.data)
        cut = max(0, len(data) - self.limit)
        if not self.dropped and not cut:
            return data.decode("utf-8", errors="replace")
        cut = past_cut_values(data, cut, self.protect)
        # Do not start in the middle of a multi-byte character.
        skip = 0
        while skip < min(3, len(data) - cut) and data[cut + skip] & 0xC0 == 0x80:
            skip += 1
        marker = f"[wfe-shell: output truncated, {self.dropped + cut + skip} earlier bytes dropped]\n"
        return marker + data[cut + skip :].decode("utf-8", errors="replace")
