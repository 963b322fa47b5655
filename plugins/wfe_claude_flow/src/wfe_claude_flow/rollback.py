"""Compensation for the actions that change claude-flow state.

- ``memory_store``: before each attempt the key's current value is read (the memo); the
  compensation writes it back, or deletes the key when the step created it.
- ``swarm_init``: ``swarm_shutdown`` of the swarm the step started.
- ``agent_spawn``: ``agent_terminate`` of the agent the step registered.
"""

from __future__ import annotations

from typing import Any

from wfe_core.plugin import ActionError, RollbackHandler

from .actions import default_namespace

__all__ = ["ROLLBACK_HANDLERS"]


def _call(context: Any, tool: str, arguments: dict[str, Any]) -> Any:
    from .client import deadline_for, for_context  # on first use: every run imports this module

    return for_context(context).call(tool, arguments, deadline_for(context), lambda: context.cancelled)


def _namespace(params: Any, context: Any) -> str:
    return params.namespace or default_namespace(context.workflow_id)


def remember_previous_value(params: Any, context: Any) -> dict[str, Any]:
    """The memo of ``memory_store``: whether the key existed and its value then."""
    namespace = _namespace(params, context)
    found = _call(context, "memory_retrieve", {"key": params.key, "namespace": namespace})
    found = found if isinstance(found, dict) else {}
    return {"namespace": namespace, "key": params.key, "existed": bool(found.get("found")), "value": found.get("value")}


def restore_previous_value(params: Any, context: Any, memo: Any, output: Any) -> None:
    """Put the previous value back, or delete the key the step created."""
    if not isinstance(memo, dict) or "existed" not in memo:
        raise ActionError(f"no previous value of '{params.key}' was recorded; cannot restore it")
    if memo["existed"]:
        _call(context, "memory_store", {"key": memo["key"], "value": memo["value"], "namespace": memo["namespace"]})
    else:
        _call(context, "memory_delete", {"key": memo["key"], "namespace": memo["namespace"]})


def shut_swarm_down(params: Any, context: Any, memo: Any, output: Any) -> None:
    """Shut down the swarm ``swarm_init`` started."""
    swarm_id = output.get("swarmId") if isinstance(output, dict) else None
    if not swarm_id:
        raise ActionError("the step's output has no swarmId; nothing to shut down")
    _call(context, "swarm_shutdown", {"swarmId": swarm_id, "graceful": True})


def terminate_agent(params: Any, context: Any, memo: Any, output: Any) -> None:
    """Terminate the agent ``agent_spawn`` registered."""
    agent_id = output.get("agentId") if isinstance(output, dict) else None
    if not agent_id:
        raise ActionError("the step's output has no agentId; nothing to terminate")
    _call(context, "agent_terminate", {"agentId": agent_id})


ROLLBACK_HANDLERS = {
    "claude_flow.memory_store": RollbackHandler(
        "claude_flow.memory_store", restore_previous_value, prepare=remember_previous_value
    ),
    "claude_flow.swarm_init": RollbackHandler("claude_flow.swarm_init", shut_swarm_down),
    "claude_flow.agent_spawn": RollbackHandler("claude_flow.agent_spawn", terminate_agent),
}
