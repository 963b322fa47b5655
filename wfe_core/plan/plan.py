"""A :class:`Plan`: a workflow with its graph and what schedulers need, computed once."""

from __future__ import annotations

from typing import Any

import attrs

from wfe_core.model.workflow import Workflow
from wfe_core.plan.graph import DependencyGraph

__all__ = ["Plan"]


@attrs.frozen
class Plan:
    """Everything about a workflow's shape that a run needs, in O(V + E).

    Attributes:
        workflow: the workflow.
        graph: its dependency graph.
        rank: step id -> position in topological order (the tie-breaker everywhere).
        remaining: step id -> longest chain of work from the step to the end, counting
            each step's ``durations`` estimate (1 when unknown).
        levels: steps grouped by depth.
        width: the largest level (steps of equal depth can always run together).
        max_parallel: an upper bound on how many steps can ever run at once: a set of
            steps that can run together meets a chain in at most one step, so it is at
            most ``len(steps) - longest chain + 1`` (1 for a chain).
    """

    workflow: Workflow
    graph: DependencyGraph
    rank: dict[str, int]
    remaining: dict[str, float]
    levels: list[list[str]]
    width: int
    max_parallel: int

    @classmethod
    def build(cls, workflow: Workflow, *, source: str | None = None, durations: dict[str, float] | None = None) -> Plan:
        graph = DependencyGraph.from_workflow(workflow, source=source)
        levels = graph.levels()
        return cls(
            workflow=workflow,
            graph=graph,
            rank={s: i for i, s in enumerate(graph.order)},
            remaining=graph.remaining_path(durations),
            levels=levels,
            width=max((len(level) for level in levels), default=0),
            max_parallel=len(graph.nodes) - len(levels) + 1,
        )

    def describe(self) -> dict[str, Any]:
        """The plan as plain data: order, levels and parallel groups."""
        groups: dict[str, list[str]] = {}
        for step in self.workflow.steps:
            if step.parallel_group:
                groups.setdefault(step.parallel_group, []).append(step.id)
        return {"order": list(self.graph.order), "levels": self.levels, "parallel_groups": groups}
