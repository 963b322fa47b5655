"""Writing report lines to a stream whose reader may go away (``wfe run … | head``)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["BatchedLines", "flush_stream", "holds_lines", "write_line"]


def write_line(stream: TextIO, text: str, *, flush: bool = True) -> bool:
    """Write ``text`` (and flush it, unless ``flush=False``: the caller flushes a batch of
    lines with :func:`flush_stream`); False once the reader has gone."""
    try:
        stream.write(text)
        if flush:
            stream.flush()
        return True
    except BrokenPipeError:
        _reader_gone(stream)
        return False


def holds_lines(stream: TextIO) -> bool:
    """Whether a reporter should keep its lines until its ``flush()`` rather than write
    each: ``stream`` writes through at once (``PYTHONUNBUFFERED=1``, common in
    containers, makes stdout do that), so each ``write`` would be a system call."""
    return getattr(stream, "write_through", False) is True


def flush_stream(stream: TextIO) -> bool:
    """Flush what :func:`write_line` left buffered; False once the reader has gone."""
    try:
        stream.flush()
        return True
    except BrokenPipeError:
        _reader_gone(stream)
        return False


class BatchedLines:
    """A reporter's lines, reaching the reader once per batch of events the run delivers
    (the run calls :meth:`flush` after each): written unflushed or, on a stream that
    writes through at once (:func:`holds_lines`), kept until then and written together.

    Attributes:
        stream: where the lines go.
        open: False once the reader has gone (``wfe run … | head``): nothing is written.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.open = True
        self._held: list[str] | None = [] if holds_lines(stream) else None

    def _write(self, text: str) -> None:
        """Add ``text`` (whole lines) to the batch."""
        if self._held is not None:
            self._held.append(text)
        else:
            self.open = write_line(self.stream, text, flush=False)

    def flush(self) -> None:
        """Let the lines written so far reach the reader (after each batch of events)."""
        held = self._held
        if held:
            self._held = []
            if self.open:
                self.open = write_line(self.stream, "".join(held))
        elif self.open:
            self.open = flush_stream(self.stream)


def _reader_gone(stream: TextIO) -> None:
    # The reader is gone: the run goes on quietly. Point stdout at /dev/null so the
    # interpreter's final flush does not complain either (as the Python docs advise).
    if stream is sys.stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
