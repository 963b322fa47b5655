"""The ``adaptive`` strategy (plugin ``wfe.strategy.adaptive``), the default:
workers sized to the DAG's width, longest remaining path first."""

from __future__ import annotations

import heapq
from typing import Any

from wfe_core.plugin.capabilities import Strategy
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["AdaptivePolicy", "wfe_strategies"]


class AdaptivePolicy:
    """Longest remaining critical path first, with as many workers as the DAG can use.

    A chain gets one worker (it is sequential anyway); a wide DAG gets up to
    ``max_workers``. Starting the step with the longest chain of work behind it first
    keeps the makespan near max(critical path, total work / workers).
    """

    #: ``pop(running)`` depends on ``workers - running`` alone (see policy.py).
    slots_only = True

    def __init__(self, plan: Any, max_workers: int):
        self.workers = max(1, min(max_workers, plan.max_parallel))
        self._priority = plan.remaining
        self._rank = plan.rank
        self._heap: list[tuple[float, int, str]] = []

    def push(self, step_id: str) -> None:
        heapq.heappush(self._heap, (-self._priority[step_id], self._rank[step_id], step_id))

    def unpop(self, step_ids: list[str]) -> None:
        """Steps ``pop`` returned that did not start: in the heap again."""
        for step_id in step_ids:
            self.push(step_id)

    def pop(self, running: int) -> list[str]:
        slots = self.workers - running
        heap = self._heap
        out = []
        while slots > 0 and heap:
            out.append(heapq.heappop(heap)[2])
            slots -= 1
        return out


@hookimpl
def wfe_strategies() -> list[Strategy]:
    return [
        Strategy(
            "adaptive", AdaptivePolicy, "Workers sized to the DAG's width; longest remaining path first (default)."
        )
    ]
