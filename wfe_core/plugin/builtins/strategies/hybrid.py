"""The ``hybrid`` strategy (plugin ``wfe.strategy.hybrid``): steps of one
``parallel_group`` together, units in dependency order."""

from __future__ import annotations

import heapq
from typing import Any

from wfe_core.plugin.capabilities import Strategy
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["HybridPolicy", "wfe_strategies"]


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
        # Not a RankQueue: entries of steps taken through their group go stale and are
        # skipped here, which needs the raw heap.
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
def wfe_strategies() -> list[Strategy]:
    return [Strategy("hybrid", HybridPolicy, "Steps of one parallel_group together; groups in dependency order.")]
