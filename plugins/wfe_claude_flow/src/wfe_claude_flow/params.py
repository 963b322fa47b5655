"""The parameters of the ``claude_flow.*`` actions (snake_case; the server's are camelCase).

The core structures each step's parameters into these classes when the workflow is
loaded and validated (unknown keys refused with a did-you-mean, no coercion); the checks
in ``__attrs_post_init__`` add what types cannot say, as problems with their path.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from wfe_core.plugin import InvalidWorkflowError, Problem, did_you_mean

__all__ = [
    "ORCHESTRATION_STRATEGIES",
    "PRIORITIES",
    "SWARM_STRATEGIES",
    "TOPOLOGIES",
    "AgentSpawnParams",
    "CallParams",
    "MemoryRetrieveParams",
    "MemoryStoreParams",
    "SwarmInitParams",
    "TaskOrchestrateParams",
]

#: Topologies ``swarm_init`` accepts (claude-flow v3's list).
TOPOLOGIES = ("hierarchical", "mesh", "ring", "star", "hierarchical-mesh", "hybrid", "adaptive")
SWARM_STRATEGIES = ("balanced", "specialized", "adaptive")
ORCHESTRATION_STRATEGIES = ("parallel", "sequential", "pipeline", "broadcast")
PRIORITIES = ("low", "normal", "high", "critical")


def _one_of(value: str, allowed: tuple[str, ...], path: str, what: str) -> list[Problem]:
    if value in allowed:
        return []
    return [
        Problem(f"unknown {what} '{value}'{did_you_mean(value, allowed)}; allowed: {', '.join(allowed)}", path=path)
    ]


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise InvalidWorkflowError(problems)


def _blank(value: str, path: str) -> list[Problem]:
    return [Problem("must not be empty", path=path)] if not value.strip() else []


@attrs.frozen
class SwarmInitParams:
    """``claude_flow.swarm_init``: start a swarm; the run's later agents join it.

    Attributes:
        topology: hierarchical, mesh, ring, star (or v3's hierarchical-mesh, hybrid, adaptive).
        max_agents: 1-100 (default 8); claude-flow v3 caps it at 50 (the output says what it used).
        strategy: balanced (default), specialized or adaptive.
    """

    topology: str = "hierarchical"
    max_agents: int = 8
    strategy: str = "balanced"

    def __attrs_post_init__(self) -> None:
        problems = _one_of(self.topology, TOPOLOGIES, "topology", "topology")
        problems += _one_of(self.strategy, SWARM_STRATEGIES, "strategy", "strategy")
        if not 1 <= self.max_agents <= 100:
            problems.append(Problem(f"must be between 1 and 100, got {self.max_agents}", path="max_agents"))
        _raise(problems)


@attrs.frozen
class AgentSpawnParams:
    """``claude_flow.agent_spawn``: register an agent (v3 runs no LLM for it).

    Attributes:
        type: the agent type, e.g. coder, researcher, tester, reviewer.
        name: a name for people, kept in the agent's config.
        capabilities: what it can do, kept in the agent's config.
        swarm_id: the swarm to join; default: the swarm this run initialized, else the
            server's most recent swarm.
    """

    type: str
    name: str | None = None
    capabilities: list[str] = attrs.field(factory=list)
    swarm_id: str | None = None

    def __attrs_post_init__(self) -> None:
        _raise(_blank(self.type, "type"))


@attrs.frozen
class TaskOrchestrateParams:
    """``claude_flow.task_orchestrate``: hand a task to the run's agents.

    Attributes:
        task: what to do.
        strategy: parallel (default), sequential, pipeline or broadcast.
        priority: low, normal (default), high or critical.
        dependencies: ids of tasks this one depends on (kept as ``depends-on:<id>`` tags in v3).
    """

    task: str
    strategy: str = "parallel"
    priority: str = "normal"
    dependencies: list[str] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        problems = _blank(self.task, "task")
        problems += _one_of(self.strategy, ORCHESTRATION_STRATEGIES, "strategy", "strategy")
        problems += _one_of(self.priority, PRIORITIES, "priority", "priority")
        _raise(problems)


@attrs.frozen
class MemoryStoreParams:
    """``claude_flow.memory_store``: store a JSON value under a key.

    Attributes:
        key: the key, unique within its namespace.
        value: any JSON value.
        namespace: default ``wfe:<workflow id>``.
        ttl: seconds until the entry expires (default: never).
    """

    key: str
    value: Any
    namespace: str | None = None
    ttl: float | None = None

    def __attrs_post_init__(self) -> None:
        problems = _blank(self.key, "key")
        if self.namespace is not None:
            problems += _blank(self.namespace, "namespace")
        if self.ttl is not None and (isinstance(self.ttl, bool) or not (self.ttl > 0 and math.isfinite(self.ttl))):
            problems.append(Problem(f"must be a positive number of seconds, got {self.ttl:g}", path="ttl"))
        _raise(problems)


@attrs.frozen
class MemoryRetrieveParams:
    """``claude_flow.memory_retrieve``: read a key back (``found: false`` when absent).

    Attributes:
        key: the key.
        namespace: default ``wfe:<workflow id>``.
    """

    key: str
    namespace: str | None = None

    def __attrs_post_init__(self) -> None:
        problems = _blank(self.key, "key")
        if self.namespace is not None:
            problems += _blank(self.namespace, "namespace")
        _raise(problems)


@attrs.frozen
class CallParams:
    """``claude_flow.call``: call any tool the server lists, with its own (camelCase) arguments.

    Attributes:
        tool: the tool's name, e.g. ``swarm_status``.
        arguments: its arguments, passed as given.
    """

    tool: str
    arguments: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        _raise(_blank(self.tool, "tool"))
