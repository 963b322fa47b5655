"""How every format writes times and durations, so they all read alike."""

from __future__ import annotations

import datetime

__all__ = ["seconds", "timestamp"]


def seconds(value: float | None) -> str:
    """``0.123s``, ``12.3s``, ``4m05s``; ``-`` for no value."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.3f}s"
    if value < 600:
        return f"{value:.1f}s"
    minutes, secs = divmod(round(value), 60)
    return f"{minutes}m{secs:02d}s"


def timestamp(epoch: float | None) -> str:
    """UTC ISO 8601 to the second (``2026-01-31T12:00:00Z``); ``-`` for no value."""
    if not epoch:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
