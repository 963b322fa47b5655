"""The ``sequential`` strategy (plugin ``wfe.strategy.sequential``): one step at a time."""

from __future__ import annotations

from typing import Any

from wfe_core.plugin.builtins.strategies.policy import RankQueue
from wfe_core.plugin.capabilities import Strategy
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["SequentialPolicy", "wfe_strategies"]


class SequentialPolicy:
    """One step at a time, in topological (then file) order."""

    def __init__(self, plan: Any, max_workers: int):
        self.workers = 1
        self._ready = RankQueue(plan)

    def push(self, step_id: str) -> None:
        self._ready.push(step_id)

    def pop(self, running: int) -> list[str]:
        if running or not self._ready:
            return []
        return [self._ready.pop()]


@hookimpl
def wfe_strategies() -> list[Strategy]:
    return [Strategy("sequential", SequentialPolicy, "One step at a time in dependency order.")]
