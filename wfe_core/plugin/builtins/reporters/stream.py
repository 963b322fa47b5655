"""Writing report lines to a stream whose reader may go away (``wfe run … | head``)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["flush_stream", "holds_lines", "write_line"]


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


def _reader_gone(stream: TextIO) -> None:
    # The reader is gone: the run goes on quietly. Point stdout at /dev/null so the
    # interpreter's final flush does not complain either (as the Python docs advise).
    if stream is sys.stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
