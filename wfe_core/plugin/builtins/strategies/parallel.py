"""The ``parallel`` strategy (plugin ``wfe.strategy.parallel``): every ready step at once."""

from __future__ import annotations

from collections import deque
from typing import Any

from wfe_core.plugin.capabilities import Strategy
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["ParallelPolicy", "wfe_strategies"]


class ParallelPolicy:
    """Every ready step, first ready first started, up to the worker limit."""

    #: ``pop(running)`` depends on ``workers - running`` alone (see policy.py).
    slots_only = True

    def __init__(self, plan: Any, max_workers: int):
        self.workers = max_workers
        self._ready: deque[str] = deque()

    def push(self, step_id: str) -> None:
        self._ready.append(step_id)

    def unpop(self, step_ids: list[str]) -> None:
        """Steps ``pop`` returned that did not start: first again, in their order."""
        self._ready.extendleft(reversed(step_ids))

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


@hookimpl
def wfe_strategies() -> list[Strategy]:
    return [Strategy("parallel", ParallelPolicy, "Every ready step at once, up to max_concurrent_steps.")]
