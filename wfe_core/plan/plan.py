"""A :class:`Plan`: a workflow with its graph and what schedulers need, computed once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.model.workflow import Workflow
from wfe_core.plan.fanout import UNBOUNDED, describe_source, fanout_width, is_fanout, static_instances
from wfe_core.plan.graph import DependencyGraph, graph_of

__all__ = ["Plan"]


@attrs.frozen
class Plan:
    """Everything about a workflow's shape that a run needs, in O(V + E).

    Attributes:
        workflow: the workflow.
        graph: its dependency graph.
        rank: step id -> position in topological order (the tie-breaker everywhere).
        remaining: step id -> longest chain of work from the step to the end, counting
            each step's ``durations`` estimate (1 when unknown; every step counts 1 when
            ``learn`` was not asked: see :meth:`build`).
        levels: steps grouped by depth.
        width: the largest level (steps of equal depth can always run together).
        max_parallel: an upper bound on how many steps can ever run at once: a set of
            steps that can run together meets a chain in at most one step, so it is at
            most ``len(steps) - longest chain + 1`` (1 for a chain), plus what fan-out
            steps add (their instances run together, up to ``max_parallel``).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    workflow: Workflow
    graph: DependencyGraph
    rank: dict[str, int]
    remaining: dict[str, float]
    levels: list[list[str]]
    width: int
    max_parallel: int

    @classmethod
    def build(
        cls,
        workflow: Workflow,
        *,
        source: str | None = None,
        durations: dict[str, float] | None = None,
        learn: Callable[[], dict[str, float]] | None = None,
        workers: int = 0,
    ) -> Plan:
        """The plan of ``workflow``; ``remaining`` weighs each step by ``durations``.

        ``learn``, instead, gives durations (learned from earlier runs: reading them costs
        a read of the run store) and is asked only when they can change the order steps
        start in: when more steps may be ready at once than ``workers`` (``max_parallel``)
        or steps declare resources (one waiting for a resource lets another start first).
        Otherwise every ready step starts at once, in any order, and paths count steps.
        """
        graph = graph_of(workflow, source=source)  # validation's, when it built one
        levels = graph.levels()
        # Instances of a fan-out step run together (up to max_parallel): 0 without any.
        widths = [fanout_width(s) - 1 for s in workflow.steps if is_fanout(s)]
        fanned = sum(widths)
        known = sum(w for w in widths if w < UNBOUNDED - 1)  # a run-time list's size is not known
        max_parallel = len(graph.nodes) - len(levels) + 1 + fanned
        if learn is not None and (max_parallel > workers or workflow.resources):
            durations = learn()
        return cls(
            workflow=workflow,
            graph=graph,
            rank={s: i for i, s in enumerate(graph.order)},
            remaining=graph.remaining_path(durations),
            levels=levels,
            width=max((len(level) for level in levels), default=0) + known,
            max_parallel=max_parallel,
        )

    def describe(self) -> dict[str, Any]:
        """The plan as plain data: order, levels, parallel groups and, when a step fans
        out, ``fanout``: step id -> its instance ids, or what it expands over at run time."""
        groups: dict[str, list[str]] = {}
        fanout: dict[str, list[str] | str] = {}
        for step in self.workflow.steps:
            if step.parallel_group:
                groups.setdefault(step.parallel_group, []).append(step.id)
            if is_fanout(step):
                found = static_instances(step)
                fanout[step.id] = (
                    [i.id for i in found] if found is not None else f"expands at run time over {describe_source(step)}"
                )
        out: dict[str, Any] = {"order": list(self.graph.order), "levels": self.levels, "parallel_groups": groups}
        if fanout:
            out["fanout"] = fanout
        return out
