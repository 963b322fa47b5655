"""What a strategy builds and the scheduler drives: a *policy* for one run.

A :class:`~wfe_core.plugin.capabilities.Strategy`'s factory is called as
``factory(plan, max_workers)`` and returns an object with:

- ``workers``: how many steps may run at once (the pool size it needs);
- ``push(step_id)``: a step's dependencies are done (or it is to be retried); it may start;
- ``pop(running)``: given how many steps run now, the steps to start now (removed from
  the policy). Called after every change, so it must be cheap;
- ``slots_only`` (optional, default false): true when ``pop(running)`` returns at most
  ``workers - running`` steps and depends on that number alone, never on which steps
  run. The run loop may then call ``pop`` with any integer for ``running`` (below the
  real count, even negative, to keep a few short steps prepared for pool threads to
  take as they free up, :mod:`wfe_core.run.lending`; at or above ``workers``: nothing
  is wanted), and gives back what it popped and did not start with ``unpop(step_ids)``
  (required with ``slots_only``): the policy holds them again as if ``pop`` had not
  returned them, in their order. Steps popped may also never start (the run stopped).
  A policy that keeps groups or an order between running steps (``hybrid``,
  ``sequential``) leaves ``slots_only`` false; a subclass of ``parallel``'s or
  ``adaptive``'s policy inherits ``slots_only = True`` and must keep its promise.

A policy sees the :class:`~wfe_core.plan.plan.Plan` it was built for (its graph,
workflow, ``rank`` = position in topological-then-file order, ``remaining`` = longest
path from a step to the end, weighed by learned durations where ready steps can compete
(see :meth:`~wfe_core.plan.plan.Plan.build`), ``max_parallel`` = the DAG's width) and
nothing else.
"""

from __future__ import annotations

import heapq
from typing import Any, Protocol

__all__ = ["Policy", "RankQueue"]


class Policy(Protocol):
    """The protocol above, for type checkers and for authors of strategy plugins."""

    workers: int

    def push(self, step_id: str) -> None: ...

    def pop(self, running: int) -> list[str]: ...

    # Optional: ``slots_only: bool`` and, with it, ``unpop(step_ids: list[str]) -> None``.


class RankQueue:
    """Ready steps in the plan's order (topological, then file order): lowest rank first.

    ``sequential`` and ``hybrid`` both start steps in this order; it is kept here once.
    """

    __slots__ = ("_heap", "_rank")

    def __init__(self, plan: Any):
        self._rank: dict[str, int] = plan.rank
        self._heap: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, step_id: str) -> None:
        """Add a ready step."""
        heapq.heappush(self._heap, (self._rank[step_id], step_id))

    def pop(self) -> str:
        """Remove and return the ready step of lowest rank (the queue must not be empty)."""
        return heapq.heappop(self._heap)[1]
