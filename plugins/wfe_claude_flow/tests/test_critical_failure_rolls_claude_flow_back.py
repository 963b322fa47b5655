"""A critical failure compensates claude-flow steps: memory restored or deleted, swarm shut
down, agent terminated; and the server is gone when `wfe run` exits."""

from __future__ import annotations

from cf_helpers import fresh_values, run_show, server_pids

FAILING = """
id: undo
steps:
  - id: swarm
    action: claude_flow.swarm_init
    parameters: {topology: star, max_agents: 2}
  - id: agent
    action: claude_flow.agent_spawn
    parameters: {type: tester}
    dependencies: [swarm]
  - id: overwrite
    action: claude_flow.memory_store
    parameters: {key: existing, value: new}
  - id: create
    action: claude_flow.memory_store
    parameters: {key: created, value: 1}
  - id: bad
    action: claude_flow.call
    parameters: {tool: memory_retreive, arguments: {key: existing}}
    dependencies: [agent, overwrite, create]
"""


def test_rollback_restores_memory_and_stops_swarm_and_agent(wfe, write, home, session):
    session("memory_store", key="existing", value="old", namespace="wfe:undo")
    done = wfe("run", write("undo.yaml", FAILING))
    assert done.returncode == 1, done.stdout + done.stderr
    assert server_pids(home) == []  # checked right as `wfe run` exits
    run = run_show(wfe)
    steps = run["by_id"]
    assert "has no tool 'memory_retreive' (did you mean 'memory_retrieve'?)" in steps["bad"]["error"]
    assert {steps[s]["status"] for s in ("swarm", "agent", "overwrite", "create")} == {"rolled_back"}, steps
    assert fresh_values(home, "wfe:undo", "existing", "created") == {"existing": "old", "created": None}
    agent_id = steps["agent"]["output"]["agentId"]
    swarm_id = steps["swarm"]["output"]["swarmId"]
    agent = session("agent_status", agentId=agent_id)
    swarm = session("swarm_status", swarmId=swarm_id)
    assert agent["status"] == "terminated", agent
    assert swarm["status"] == "terminated", swarm
