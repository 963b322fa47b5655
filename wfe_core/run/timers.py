"""The run's timers: one heap of retry delays and attempt deadlines.

The loop never polls: it sleeps until the earliest timer (or a finished attempt) and
pops what is due. Nothing here reads a clock; callers pass the times in.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["TimerKind", "Timers"]


class TimerKind(enum.Enum):
    """What a timer is for."""

    #: A failed attempt's retry delay is over: the step may start again.
    RETRY = "retry"
    #: An attempt's timeout: unless it ended, it timed out.
    DEADLINE = "deadline"


#: Stale entries tolerated before :meth:`Timers.stale` drops them (and at least half the heap).
_STALE_MIN = 256


class Timers:
    """A heap of ``(due, seq, kind, step_id, attempt)``; ``seq`` keeps equal times in push order.

    ``live(kind, step_id, attempt)``, when given, says whether an entry still matters:
    an attempt that ended keeps its deadline entry (and the attempt) in the heap until
    it is due, an hour by default, unless :meth:`stale` drops such entries.
    """

    __slots__ = ("_heap", "_live", "_seq", "_stale")

    def __init__(self, live: Callable[[TimerKind, str, Any], bool] | None = None) -> None:
        self._heap: list[tuple[float, int, TimerKind, str, Any]] = []
        self._seq = itertools.count()
        self._live = live
        self._stale = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, kind: TimerKind, step_id: str, attempt: Any = None) -> None:
        """Fire ``kind`` for ``step_id`` (and ``attempt``, for a deadline) at time ``due``."""
        heapq.heappush(self._heap, (due, next(self._seq), kind, step_id, attempt))

    def next_due(self) -> float | None:
        """When the earliest timer fires, or ``None`` when there is none."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> tuple[TimerKind, str, Any] | None:
        """The earliest timer due at ``now`` (removed), or ``None``."""
        heap = self._heap
        if not heap or heap[0][0] > now:
            return None
        _, _, kind, step_id, attempt = heapq.heappop(heap)
        return kind, step_id, attempt

    def stale(self) -> None:
        """One entry stopped mattering (an attempt ended before its deadline). Once they
        are many and at least half the heap, the ones ``live`` rejects are dropped:
        O(1) amortised, and a long run does not keep every finished attempt (its
        context, its parents' outputs) alive until the run ends."""
        self._stale += 1
        heap = self._heap
        if self._live is None or self._stale < _STALE_MIN or 2 * self._stale < len(heap):
            return
        live = self._live
        self._heap = [t for t in heap if live(t[2], t[3], t[4])]
        heapq.heapify(self._heap)
        self._stale = 0

    def drop(self, kind: TimerKind) -> None:
        """Forget every timer of ``kind`` (pending retries when the run stops)."""
        self._heap = [t for t in self._heap if t[2] is not kind]
        heapq.heapify(self._heap)
