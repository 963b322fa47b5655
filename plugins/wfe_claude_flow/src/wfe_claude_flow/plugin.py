"""The wfe plugin module (entry point ``claude_flow = "wfe_claude_flow.plugin"``).

Importing it is cheap, and it is imported by every run (it listens to run events): the
actions, the MCP client and the SDK are imported only when a workflow uses a claude-flow
action or a run is coordinated.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from wfe_core.plugin import Action, Event, Validator, hookimpl

from .switch import coordinated

__all__ = [
    "EVENT_KINDS",
    "wfe_actions",
    "wfe_event",
    "wfe_event_kinds",
    "wfe_force_stop",
    "wfe_step_durations",
    "wfe_validators",
]


def _action(
    name: str, func: Callable[[Any, Any], Any], params: type, description: str, side_effects: bool = True
) -> Action:
    from .rollback import ROLLBACK_HANDLERS

    full = f"claude_flow.{name}"
    return Action(
        full, func, params, side_effects=side_effects, rollback=ROLLBACK_HANDLERS.get(full), description=description
    )


@hookimpl
def wfe_actions() -> list[Action]:
    from . import actions
    from .params import (
        AgentSpawnParams,
        CallParams,
        MemoryRetrieveParams,
        MemoryStoreParams,
        SwarmInitParams,
        TaskOrchestrateParams,
    )

    return [
        _action(
            "swarm_init",
            actions.swarm_init,
            SwarmInitParams,
            "Initialize a claude-flow swarm (topology, max_agents, strategy); rollback shuts it down.",
        ),
        _action(
            "agent_spawn",
            actions.agent_spawn,
            AgentSpawnParams,
            "Register a claude-flow agent in the run's swarm; rollback terminates it.",
        ),
        _action(
            "task_orchestrate",
            actions.task_orchestrate,
            TaskOrchestrateParams,
            "Create a task for the run's agents and request its orchestration (v3: recorded, not executed).",
        ),
        _action(
            "memory_store",
            actions.memory_store,
            MemoryStoreParams,
            "Store a JSON value in claude-flow memory; rollback restores the previous value.",
        ),
        _action(
            "memory_retrieve",
            actions.memory_retrieve,
            MemoryRetrieveParams,
            "Read a value back from claude-flow memory (runs in dry runs).",
            side_effects=False,
        ),
        _action("call", actions.call, CallParams, "Call any tool the claude-flow MCP server lists."),
    ]


@hookimpl
def wfe_validators() -> list[Validator]:
    from .checks import check_memory_secrets

    return [
        Validator(
            "claude_flow.memory-secrets",
            check_memory_secrets,
            description="Flags secrets and credential-looking values stored in claude-flow memory.",
            actions=("claude_flow.memory_store", "claude_flow.call"),
        )
    ]


#: The kinds run coordination reads (:func:`.coordination.handle_event`): the run's start
#: and end, a step's start (its action family's agent) and each way a step finishes.
#: Not ``progress``, retries, waits or rollbacks: a run need not build those for us.
EVENT_KINDS = (
    "run.started",
    "run.finished",
    "step.started",
    "step.succeeded",
    "step.failed",
    "step.timed_out",
    "step.cancelled",
    "step.skipped",
)


@hookimpl(optionalhook=True)  # an older wfe-core has no such hook: it sends every kind
def wfe_event_kinds() -> tuple[str, ...]:
    return EVENT_KINDS


@hookimpl
def wfe_event(event: Event) -> None:
    # Every run's events come here: until a coordinated run starts, answer without
    # importing the coordination (and with it the actions and the MCP client).
    module = sys.modules.get("wfe_claude_flow.coordination")
    if module is None:
        if event.kind != "run.started" or not coordinated(event.data):
            return
        from . import coordination as module
    module.handle_event(event)


@hookimpl(optionalhook=True)  # an older wfe-core has no such hook: ignored there
def wfe_step_durations(
    workflow: Any, run_id: str, run_info: Mapping[str, Any], fingerprints: Mapping[str, str]
) -> dict[str, float] | None:
    # Only coordinated runs: the lookup starts the run's server, which they start anyway.
    if not coordinated(run_info):
        return None
    from .learning import step_durations

    return step_durations(workflow, run_id, fingerprints)


@hookimpl
def wfe_force_stop() -> None:
    # A second Ctrl-C: the process exits right after this; no server may outlive it.
    server = sys.modules.get("wfe_claude_flow.server")  # not imported: no server started
    if server is not None:
        server.kill_all()
