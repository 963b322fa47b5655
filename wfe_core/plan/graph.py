"""The dependency graph: order, levels, cycles and the critical path, all in O(V + E)."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from wfe_core.model.errors import CycleError, InvalidWorkflowError, Problem, did_you_mean

__all__ = ["DependencyGraph", "graph_of"]


class DependencyGraph:
    """The DAG of a workflow's steps.

    Build it with :meth:`from_workflow` or from a mapping ``{step_id: [dependency, ...]}``.
    Construction checks the graph: every unknown dependency is reported (with a
    did-you-mean) and a cycle raises :class:`CycleError` naming the whole cycle.

    Attributes:
        nodes: step ids in their given order.
        parents: step id -> the ids it depends on.
        children: step id -> the ids that depend on it.
        order: a topological order (ties keep the given order).
    """

    def __init__(self, dependencies: Mapping[str, Iterable[str]], *, source: str | None = None):
        self.nodes: list[str] = list(dependencies)
        self.parents: dict[str, tuple[str, ...]] = {
            n: d if type(d) is tuple else tuple(d) for n, d in dependencies.items()
        }
        self.children: dict[str, list[str]] = {n: [] for n in self.nodes}
        children = self.children
        try:
            for node, deps in self.parents.items():
                for dep in deps:
                    children[dep].append(node)
        except KeyError:  # an unknown dependency: say which, every one of them
            self._refuse_unknown(source)
        self.order = self._toposort(source)

    def _refuse_unknown(self, source: str | None) -> NoReturn:
        problems = []
        known = self.parents.keys()
        for index, (node, deps) in enumerate(self.parents.items()):
            for dep in deps:
                if dep not in known:
                    problems.append(
                        Problem(
                            f"step '{node}' depends on unknown step '{dep}'{did_you_mean(dep, known)}",
                            path=f"steps[{index}].dependencies",
                            source=source,
                            step_id=node,
                        )
                    )
        raise InvalidWorkflowError(problems)

    @classmethod
    def from_workflow(cls, workflow: Any, *, source: str | None = None) -> DependencyGraph:
        return cls({s.id: s.dependencies for s in workflow.steps}, source=source)

    def _toposort(self, source: str | None) -> list[str]:
        indegree = {n: len(p) for n, p in self.parents.items()}
        order = [n for n, d in indegree.items() if d == 0]
        children = self.children
        for node in order:  # a queue: the list grows while it is read
            for child in children[node]:
                left = indegree[child] - 1
                indegree[child] = left
                if not left:
                    order.append(child)
        if len(order) != len(self.nodes):
            raise CycleError(self._find_cycle({n for n, d in indegree.items() if d > 0}), source=source)
        return order

    def _find_cycle(self, remaining: set[str]) -> list[str]:
        """One cycle among ``remaining`` (every node there lies on or behind a cycle)."""
        # Walk parents from any remaining node; every remaining node has a remaining
        # parent, so the walk must revisit a node, and the revisited stretch is a cycle.
        start = next(n for n in self.nodes if n in remaining)
        seen: dict[str, int] = {}
        path: list[str] = []
        node = start
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = next(p for p in self.parents[node] if p in remaining)
        cycle = path[seen[node] :]
        # Parents walk backwards; report in dependency order: a -> b means b depends on a.
        cycle.reverse()
        # Start from the step that comes first in the file, so the message is stable.
        position = {n: i for i, n in enumerate(self.nodes)}
        first = min(range(len(cycle)), key=lambda i: position[cycle[i]])
        cycle = cycle[first:] + cycle[:first]
        return [*cycle, cycle[0]]

    def levels(self) -> list[list[str]]:
        """Steps grouped by depth: every step's dependencies lie in earlier levels."""
        depth: dict[str, int] = {}
        out: list[list[str]] = []
        parents = self.parents
        of = depth.__getitem__  # (map over a bound C method: no comprehension frame per step)
        for node in self.order:
            above = parents[node]
            d = 1 + max(map(of, above)) if above else 0
            depth[node] = d
            if d == len(out):
                out.append([])
            out[d].append(node)
        return out

    def ancestors(self, node: str) -> set[str]:
        """Every step ``node`` depends on, directly or not."""
        seen: set[str] = set()
        stack = list(self.parents[node])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.parents[current])
        return seen

    def descendants(self, node: str) -> set[str]:
        """Every step that depends on ``node``, directly or not."""
        seen: set[str] = set()
        stack = list(self.children[node])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.children[current])
        return seen

    def remaining_path(self, durations: Mapping[str, float] | None = None) -> dict[str, float]:
        """For each step, the longest duration from its start to the end of the DAG.

        A step's value is its own duration plus the largest value among its children —
        the priority "longest critical path first" schedules by. Missing durations count 1.
        """
        durations = durations or {}
        out: dict[str, float] = {}
        children = self.children
        of, own = out.__getitem__, durations.get
        for node in reversed(self.order):
            below = children[node]
            out[node] = own(node, 1.0) + (max(map(of, below)) if below else 0.0)
        return out

    def critical_path(self, durations: Mapping[str, float]) -> tuple[list[str], float]:
        """The longest chain of steps by total duration, and that duration."""
        if not self.nodes:
            return [], 0.0
        best: dict[str, float] = {}
        via: dict[str, str | None] = {}
        of = best.__getitem__  # (a bound C method as the key: no lambda frame per parent)
        for node in self.order:
            parent = max(self.parents[node], key=of, default=None)
            best[node] = durations.get(node, 0.0) + (best[parent] if parent is not None else 0.0)
            via[node] = parent
        end = max(self.order, key=of)
        path = []
        at: str | None = end
        while at is not None:
            path.append(at)
            at = via[at]
        path.reverse()
        return path, best[end]

    def is_chain(self) -> bool:
        """Whether no two steps could ever run at the same time."""
        return all(len(level) == 1 for level in self.levels())


_last_graph: tuple[Any, DependencyGraph] | None = None  # (weak reference to a workflow, its graph)


def graph_of(workflow: Any, *, source: str | None = None) -> DependencyGraph:
    """The dependency graph of ``workflow``, built once: validation builds it, and the
    plan of the same workflow object's run takes it from here (a 10,000-step workflow
    built it two or three times per run).

    A workflow is frozen, so the graph of the same object never changes, and nothing
    changes a graph once built (a run adds fan-out instances to copies of its maps).
    The last one is kept, weakly: a new workflow at a reused address is not mistaken
    for it. Raises :class:`InvalidWorkflowError` as :meth:`DependencyGraph.from_workflow`
    does, with ``source`` in its problems; a graph that fails is not kept.
    """
    global _last_graph
    last = _last_graph
    if last is not None and last[0]() is workflow:
        return last[1]
    graph = DependencyGraph.from_workflow(workflow, source=source)
    try:
        _last_graph = (weakref.ref(workflow), graph)
    except TypeError:  # not weakly referenceable: not kept
        pass
    return graph
