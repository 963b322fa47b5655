"""The four built-in strategies: sequential, parallel, hybrid and adaptive.

A strategy's factory builds a *policy* for one run. The scheduler drives it:

- ``policy.workers``: how many steps may run at once (the pool size it needs);
- ``policy.push(step_id)``: a step's dependencies are done; it may start;
- ``policy.pop(running)``: given how many steps run now, the steps to start now
  (removed from the policy). Called after every change; must be cheap.

Policies see the :class:`~wfe_core.engine.Plan` (graph, workflow, step order) they
were built for and nothing else.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.plugin.capabilities import Strategy

__all__ = ["AdaptivePolicy", "HybridPolicy", "ParallelPolicy", "SequentialPolicy"]


class SequentialPolicy:
    """One step at a time, in topological (then file) order."""

    def __init__(self, plan: Any, max_workers: int):
        self.workers = 1
        self._rank = plan.rank
        self._heap: list[tuple[int, str]] = []

    def push(self, step_id: str) -> None:
        heapq.heappush(self._heap, (self._rank[step_id], step_id))

    def pop(self, running: int) -> list[str]:
        if running or not self._heap:
            return []
        return [heapq.heappop(self._heap)[1]]


class ParallelPolicy:
    """Every ready step, first ready first started, up to the worker limit."""

    def __init__(self, plan: Any, max_workers: int):
        self.workers = max_workers
        self._ready: deque[str] = deque()

    def push(self, step_id: str) -> None:
        self._ready.append(step_id)

    def pop(self, running: int) -> list[str]:
        slots = self.workers - running
        ready = self._ready
        if slots <= 0 or not ready:
            return []
        if slots >= len(ready):
            out = list(ready)
            ready.clear()
            return out
        return [ready.popleft() for _ in range(slots)]


class AdaptivePolicy:
    """Longest remaining critical path first, with as many workers as the DAG can use.

    A chain gets one worker (it is sequential anyway); a wide DAG gets up to
    ``max_workers``. Starting the step with the longest chain of work behind it first
    keeps the makespan near max(critical path, total work / workers).
    """

    def __init__(self, plan: Any, max_workers: int):
        self.workers = max(1, min(max_workers, plan.max_parallel))
        self._priority = plan.remaining
        self._rank = plan.rank
        self._heap: list[tuple[float, int, str]] = []

    def push(self, step_id: str) -> None:
        heapq.heappush(self._heap, (-self._priority[step_id], self._rank[step_id], step_id))

    def pop(self, running: int) -> list[str]:
        slots = self.workers - running
        heap = self._heap
        out = []
        while slots > 0 and heap:
            out.append(heapq.heappop(heap)[2])
            slots -= 1
        return out


class HybridPolicy:
    """Sequential between units, parallel inside a ``parallel_group``.

    A unit is one step without a group, or every ready step of one group. The next unit
    starts when the current one has finished; while a group runs, its members that
    become ready join it.
    """

    def __init__(self, plan: Any, max_workers: int):
        self.workers = max_workers
        self._rank = plan.rank
        self._group = {s.id: s.parallel_group for s in plan.workflow.steps}
        self._heap: list[tuple[int, str]] = []
        self._by_group: dict[str, list[str]] = {}
        self._taken: set[str] = set()
        self._active: str | None = None

    def push(self, step_id: str) -> None:
        # A retry pushes a step again: it must be startable again (a stale heap entry of
        # its first push is skipped once it has been taken anew).
        self._taken.discard(step_id)
        heapq.heappush(self._heap, (self._rank[step_id], step_id))
        group = self._group[step_id]
        if group is not None:
            self._by_group.setdefault(group, []).append(step_id)

    def _take_group(self, group: str, slots: int) -> list[str]:
        members = self._by_group.get(group, [])
        # Lowest rank first: pop() takes a group through its member with the lowest rank,
        # whose heap entry is gone; leaving it behind (fewer slots than ready members)
        # would strand it: nothing would ever start it.
        out = sorted((m for m in members if m not in self._taken), key=self._rank.__getitem__)[:slots]
        self._taken.update(out)
        self._by_group[group] = [m for m in members if m not in self._taken]
        return out

    def pop(self, running: int) -> list[str]:
        slots = self.workers - running
        if slots <= 0:
            return []
        if running:
            return self._take_group(self._active, slots) if self._active is not None else []
        self._active = None
        while self._heap:
            _, step_id = heapq.heappop(self._heap)
            if step_id in self._taken:
                continue
            group = self._group[step_id]
            if group is None:
                return [step_id]
            self._active = group
            return self._take_group(group, slots)
        return []


@hookimpl
def wfe_strategies():
    return [
        Strategy("sequential", SequentialPolicy, "One step at a time in dependency order."),
        Strategy("parallel", ParallelPolicy, "Every ready step at once, up to max_concurrent_steps."),
        Strategy("hybrid", HybridPolicy, "Steps of one parallel_group together; groups in dependency order."),
        Strategy("adaptive", AdaptivePolicy,
                 "Workers sized to the DAG's width; longest remaining path first (default)."),
    ]
