"""Writing report lines to a stream whose reader may go away (``wfe run … | head``)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["write_line"]


def write_line(stream: TextIO, text: str) -> bool:
    """Write and flush ``text``; False once the reader has gone."""
    try:
        stream.write(text)
        stream.flush()
        return True
    except BrokenPipeError:
        # The reader is gone: the run goes on quietly. Point stdout at /dev/null so the
        # interpreter's final flush does not complain either (as the Python docs advise).
        if stream is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return False
