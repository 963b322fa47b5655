"""The run's timers: one heap of retry delays and attempt deadlines.

The loop never polls: it sleeps until the earliest timer (or a finished attempt) and
pops what is due. Nothing here reads a clock; callers pass the times in.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from typing import Any

__all__ = ["TimerKind", "Timers"]


class TimerKind(enum.Enum):
    """What a timer is for."""

    #: A failed attempt's retry delay is over: the step may start again.
    RETRY = "retry"
    #: An attempt's timeout: unless it ended, it timed out.
    DEADLINE = "deadline"


class Timers:
    """A heap of ``(due, seq, kind, step_id, attempt)``; ``seq`` keeps equal times in push order."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerKind, str, Any]] = []
        self._seq = itertools.count()

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

    def drop(self, kind: TimerKind) -> None:
        """Forget every timer of ``kind`` (pending retries when the run stops)."""
        self._heap = [t for t in self._heap if t[2] is not kind]
        heapq.heapify(self._heap)
