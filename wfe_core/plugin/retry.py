"""Delays between attempts, as the scheduler spaces a step's retries."""

from __future__ import annotations

import random

__all__ = ["backoff_delay"]


def backoff_delay(
    retry: int, base: float, *, factor: float = 2.0, max_delay: float = 60.0, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry).

    Exponential backoff with *equal jitter*: the delay ``base * factor**(retry-1)``,
    capped at ``max_delay``, is halved and a random part of up to the other half is
    added (``delay/2 + random(0, delay/2)``). Delays still grow, and many clients that
    failed together do not all retry at the same moment. ``rng`` makes it reproducible.
    """
    try:
        delay = min(base * factor ** (retry - 1), max_delay)
    except OverflowError:  # factor**retry beyond a float: the cap applies anyway
        delay = max_delay
    return delay / 2 + (rng or random).uniform(0, delay / 2)
