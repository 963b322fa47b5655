"""The ``claude_flow.*`` actions: each maps its snake_case parameters onto a v3 tool call.

Outputs are the tool's JSON result as a mapping (``{steps.swarm.output.swarmId}``). A
result with ``success: false``, an ``error`` or MCP ``isError`` fails the step with the
server's message (see :func:`~wfe_claude_flow.server.parse_result`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from wfe_core.plugin import ActionError

from .params import (
    AgentSpawnParams,
    CallParams,
    MemoryRetrieveParams,
    MemoryStoreParams,
    SwarmInitParams,
    TaskOrchestrateParams,
)

if TYPE_CHECKING:
    from .client import RunClient

__all__ = [
    "agent_spawn",
    "call",
    "default_namespace",
    "memory_retrieve",
    "memory_store",
    "swarm_init",
    "task_orchestrate",
]

#: What ``task_orchestrate`` reports about claude-flow v3 (its tool says so itself).
V3_ORCHESTRATION_NOTE = (
    "claude-flow v3 has no task_orchestrate tool: wfe created the task (task_create, "
    "assigned to this run's agents) and called coordination_orchestrate, which records "
    "the orchestration request but does not execute it"
)


def default_namespace(workflow_id: str) -> str:
    """The namespace a workflow's memory lives in unless a step names another: ``wfe:<id>``.

    Not ``wfe/<id>``: claude-flow v3 stores under any namespace but its ``memory_list``
    and ``memory_search`` refuse one with characters other than letters, digits and
    ``_ - . :``; such characters in the workflow id become ``_``.
    """
    return "wfe:" + re.sub(r"[^A-Za-z0-9_.:-]", "_", workflow_id)


def _call(context: Any, tool: str, arguments: dict[str, Any]) -> tuple[RunClient, Any]:
    # The client (and its server configuration) is imported on the first call, not with
    # this module: the plugin's actions are registered in every run, used in few.
    from .client import deadline_for, for_context

    client = for_context(context)
    return client, client.call(tool, arguments, deadline_for(context), lambda: context.cancelled)


def _mapping(tool: str, result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise ActionError(f"claude-flow {tool} answered {str(result)[:200]!r}, not a JSON object")
    return result


def swarm_init(params: SwarmInitParams, context: Any) -> dict[str, Any]:
    """Initialize a swarm; it becomes the run's swarm (later ``agent_spawn`` joins it)."""
    client, result = _call(
        context,
        "swarm_init",
        {"topology": params.topology, "maxAgents": params.max_agents, "strategy": params.strategy},
    )
    result = _mapping("swarm_init", result)
    if result.get("swarmId"):
        client.swarm_id = result["swarmId"]
    return result


def agent_spawn(params: AgentSpawnParams, context: Any) -> dict[str, Any]:
    """Register an agent in the run's swarm (or ``swarm_id``)."""
    from .client import for_context

    client = for_context(context)
    config: dict[str, Any] = {}
    if params.name is not None:
        config["name"] = params.name
    if params.capabilities:
        config["capabilities"] = list(params.capabilities)
    arguments = {"agentType": params.type, "swarmId": params.swarm_id or client.swarm_id, "config": config or None}
    _, result = _call(context, "agent_spawn", arguments)
    result = _mapping("agent_spawn", result)
    if result.get("agentId"):
        client.agents[result["agentId"]] = params.type
    return result


def task_orchestrate(params: TaskOrchestrateParams, context: Any) -> dict[str, Any]:
    """Orchestrate a task: 2.x's ``task_orchestrate`` when listed, else v3's two-step mapping."""
    from .client import deadline_for, for_context

    client = for_context(context)
    deadline = deadline_for(context)
    tools = client.tools(deadline, lambda: context.cancelled)
    if "task_orchestrate" in tools:  # claude-flow 2.x
        _, result = _call(
            context,
            "task_orchestrate",
            {
                "task": params.task,
                "strategy": params.strategy,
                "priority": params.priority,
                "dependencies": params.dependencies or None,
            },
        )
        return {**_mapping("task_orchestrate", result), "mapping": "task_orchestrate"}
    missing = [t for t in ("task_create", "coordination_orchestrate") if t not in tools]
    if missing:
        raise ActionError(
            f"claude-flow server has neither task_orchestrate nor {' and '.join(missing)}; cannot orchestrate a task"
        )
    agents = list(client.agents)
    _, task = _call(
        context,
        "task_create",
        {
            "type": "feature",
            "description": params.task,
            "priority": params.priority,
            "assignTo": agents or None,
            "tags": [f"depends-on:{d}" for d in params.dependencies] or None,
        },
    )
    task = _mapping("task_create", task)
    _, orchestration = _call(
        context,
        "coordination_orchestrate",
        {
            "task": params.task,
            "agents": agents or None,
            "strategy": params.strategy,
        },
    )
    return {
        "taskId": task.get("taskId"),
        "task": task,
        "orchestration": orchestration,
        "agents": agents,
        "mapping": "task_create+coordination_orchestrate",
        "executed": False,
        "note": V3_ORCHESTRATION_NOTE,
    }


def memory_store(params: MemoryStoreParams, context: Any) -> dict[str, Any]:
    """Store ``value`` under ``key`` (upsert) in ``namespace`` (default ``wfe:<workflow id>``)."""
    _, result = _call(
        context,
        "memory_store",
        {
            "key": params.key,
            "value": params.value,
            "namespace": params.namespace or default_namespace(context.workflow_id),
            "ttl": params.ttl,
        },
    )
    return _mapping("memory_store", result)


def memory_retrieve(params: MemoryRetrieveParams, context: Any) -> dict[str, Any]:
    """Read ``key`` back: the output has ``value`` and ``found`` (false when absent)."""
    _, result = _call(
        context,
        "memory_retrieve",
        {
            "key": params.key,
            "namespace": params.namespace or default_namespace(context.workflow_id),
        },
    )
    return _mapping("memory_retrieve", result)


def call(params: CallParams, context: Any) -> Any:
    """Call any tool the server lists; an unknown name is refused with a did-you-mean."""
    _, result = _call(context, params.tool, dict(params.arguments))
    return result
