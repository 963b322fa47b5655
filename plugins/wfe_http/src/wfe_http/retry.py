"""When to retry a request and how long to wait first.

Rules (also in the README):

- A connection that could not be made (refused, DNS failure, connect timeout) is
  retried for every method: the server never saw the request.
- ``429 Too Many Requests`` and ``503 Service Unavailable`` are retried for every method:
  the server says it did not do the work.
- Other 5xx (500, 502, 504 …) and a connection dropped mid-request are retried only for
  idempotent methods (GET, HEAD, PUT, DELETE); a POST or PATCH may have taken effect.
- A response that timed out is never retried: a server that hangs once usually hangs
  again, and the step's time is better spent failing clearly.

The wait doubles per retry from ``retry_delay`` with "equal jitter" (a random value in
the upper half of the delay) — the core's :func:`~wfe_core.plugin.backoff_delay`, as
the scheduler spaces a step's retries — and a ``Retry-After`` header (seconds or an
HTTP date) replaces it. Every wait is capped at :data:`MAX_WAIT` seconds.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import time

from wfe_core.plugin import backoff_delay as core_backoff_delay

__all__ = ["IDEMPOTENT_METHODS", "MAX_WAIT", "backoff_delay", "retry_after_seconds", "status_is_retryable"]

#: The longest wait between two attempts, whatever the server asks for.
MAX_WAIT = 60.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def status_is_retryable(method: str, status: int) -> bool:
    """Whether a response with ``status`` to ``method`` is worth another attempt."""
    if status in (429, 503):
        return True
    return 500 <= status <= 599 and method in IDEMPOTENT_METHODS


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks us to wait, capped at :data:`MAX_WAIT`.

    Accepts delta-seconds (``"120"``) and an HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``);
    a date in the past is 0. Returns ``None`` when the header is absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    # isascii too: headers arrive decoded as latin-1, where isdigit() accepts "²", which float() refuses.
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_WAIT)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a date without a zone is taken as such
        when = when.replace(tzinfo=datetime.UTC)
    now = time.time() if now is None else now
    return min(max(when.timestamp() - now, 0.0), MAX_WAIT)


def backoff_delay(retry: int, base: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry).

    ``base * 2**(retry-1)``, capped at :data:`MAX_WAIT`, then jittered into its upper
    half so that many clients failing together do not retry together.
    """
    return core_backoff_delay(retry, base, factor=2.0, max_delay=MAX_WAIT, rng=rng)
