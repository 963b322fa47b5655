"""The run's timers: one heap of retry delays and attempt deadlines.

The loop never polls: it sleeps until the earliest timer (or a finished attempt) and
pops what is due. Nothing here reads a clock; callers pass the times in.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Mapping
from typing import Any

__all__ = ["TimerKind", "Timers"]


class TimerKind(enum.Enum):
    """What a timer is for."""

    #: A failed attempt's retry delay is over: the step may start again.
    RETRY = "retry"
    #: An attempt's timeout: unless it ended, it timed out.
    DEADLINE = "deadline"


#: Stale entries tolerated before :meth:`Timers.push` drops them (and at least half the heap).
_STALE_MIN = 256


class Timers:
    """A heap of ``(due, seq, kind, step_id, attempt)``; ``seq`` keeps equal times in push order.

    ``running``, when given, is the run's step id -> attempt in flight: a deadline entry
    matters only while its attempt is there. An attempt that ended keeps its entry (and
    itself) in the heap until it is due, an hour by default, unless entries counted in
    :attr:`stale` are swept out.

    Attributes:
        stale: deadline entries known not to matter any more (the state adds one per
            attempt that ended before its deadline; a plain counter, not a call per step).
    """

    __slots__ = ("_heap", "_running", "_seq", "stale")

    def __init__(self, running: Mapping[str, Any] | None = None) -> None:
        self._heap: list[tuple[float, int, TimerKind, str, Any]] = []
        self._seq = itertools.count()
        self._running = running
        self.stale = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, kind: TimerKind, step_id: str, attempt: Any = None) -> None:
        """Fire ``kind`` for ``step_id`` (and ``attempt``, for a deadline) at time ``due``."""
        if self.stale >= _STALE_MIN and 2 * self.stale >= len(self._heap):
            self._sweep()
        heapq.heappush(self._heap, (due, next(self._seq), kind, step_id, attempt))

    def _sweep(self) -> None:
        """Drop deadline entries of attempts no longer running: O(1) amortised (at least
        half the heap goes), and a long run does not keep every finished attempt (its
        context, its parents' outputs) alive until the run ends."""
        self.stale = 0
        running = self._running
        if running is None:
            return
        deadline = TimerKind.DEADLINE
        self._heap = [t for t in self._heap if t[2] is not deadline or running.get(t[3]) is t[4]]
        heapq.heapify(self._heap)

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

    def drop(self, kind: TimerKind) -> None:
        """Forget every timer of ``kind`` (pending retries when the run stops)."""
        self._heap = [t for t in self._heap if t[2] is not kind]
        heapq.heapify(self._heap)
