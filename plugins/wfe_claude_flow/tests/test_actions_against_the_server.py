"""What each claude_flow.* action does on the real v3 server, through `wfe run`."""

from __future__ import annotations

import json

from cf_helpers import run_show

SWARM = """
id: team
steps:
  - id: swarm
    action: claude_flow.swarm_init
    parameters: {topology: hierarchical, max_agents: 4, strategy: specialized}
  - id: coder
    action: claude_flow.agent_spawn
    parameters: {type: coder, name: builder, capabilities: [python, tests]}
    dependencies: [swarm]
  - id: plan
    action: claude_flow.task_orchestrate
    parameters: {task: "write the release notes", strategy: sequential, priority: high, dependencies: [t-1]}
    dependencies: [coder]
"""


def test_swarm_agent_and_task_orchestrate_map_onto_v3_tools(wfe, write, home, session):
    done = wfe("run", write("team.yaml", SWARM))
    assert done.returncode == 0, done.stdout + done.stderr
    steps = run_show(wfe)["by_id"]
    swarm_id = steps["swarm"]["output"]["swarmId"]
    assert steps["swarm"]["output"]["topology"] == "hierarchical"
    agent_id = steps["coder"]["output"]["agentId"]
    # agent_spawn joined the swarm this run started (no swarm_id given).
    assert session("swarm_status", swarmId=swarm_id)["agentCount"] == 1
    plan = steps["plan"]["output"]
    assert plan["mapping"] == "task_create+coordination_orchestrate"
    assert plan["executed"] is False and "does not execute it" in plan["note"]
    assert plan["agents"] == [agent_id]
    assert plan["task"]["assignedTo"] == [agent_id]
    assert plan["task"]["priority"] == "high" and plan["task"]["tags"] == ["depends-on:t-1"]
    assert plan["orchestration"]["strategy"] == "sequential"
    task = session("task_status", taskId=plan["taskId"])
    assert task["taskId"] == plan["taskId"]


def test_a_failure_the_server_reports_fails_the_step_with_its_message(wfe, write, home):
    done = wfe(
        "run",
        write(
            "f.yaml",
            """
id: fails
steps:
  - id: stop
    action: claude_flow.call
    parameters: {tool: agent_terminate, arguments: {agentId: agent-that-does-not-exist}}
""",
        ),
    )
    assert done.returncode == 1
    error = run_show(wfe)["by_id"]["stop"]["error"]
    assert error == "claude-flow agent_terminate failed: Agent not found", error


def test_call_refuses_a_tool_the_server_does_not_list(wfe, write, home):
    done = wfe(
        "run",
        write(
            "u.yaml",
            """
id: unknown
steps:
  - id: old
    action: claude_flow.call
    parameters: {tool: task_orchestrat}
""",
        ),
    )
    assert done.returncode == 1
    error = run_show(wfe)["by_id"]["old"]["error"]
    assert "has no tool 'task_orchestrat'" in error and "(did you mean 'task_orchestrate'?)" not in error
    assert "did you mean" in error, error


def test_dry_run_reads_memory_but_stores_nothing(wfe, write, home, session):
    session("memory_store", key="seen", value="yes", namespace="wfe:dry")
    done = wfe(
        "run",
        write(
            "d.yaml",
            """
id: dry
steps:
  - id: read
    action: claude_flow.memory_retrieve
    parameters: {key: seen}
  - id: write
    action: claude_flow.memory_store
    parameters: {key: written, value: 1}
""",
        ),
        "--dry-run",
        "--reporter",
        "json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    write_step = [e for e in events if e.get("step_id") == "write" and e["kind"] == "step.skipped"]
    assert write_step and "dry run: would run claude_flow.memory_store" in write_step[0]["reason"]
    assert [e for e in events if e.get("step_id") == "read" and e["kind"] == "step.succeeded"]
    assert session("memory_retrieve", key="written", namespace="wfe:dry")["found"] is False


def test_wfe_plugins_lists_the_actions_under_wfe_claude_flow(wfe):
    done = wfe("plugins", "--json")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "wfe-claude-flow" in text
    for name in ("swarm_init", "agent_spawn", "task_orchestrate", "memory_store", "memory_retrieve", "call"):
        assert f"claude_flow.{name}" in text
    schema = wfe("schema", "claude_flow.swarm_init")
    assert schema.returncode == 0 and "max_agents" in schema.stdout


def test_an_mcp_error_answer_fails_the_step_but_keeps_the_session(wfe, write, home):
    # v3's memory_list answers a namespace with '/' with a JSON-RPC error: the server is
    # fine, so the step fails with its message and the next step uses the same server.
    done = wfe(
        "run",
        write(
            "e.yaml",
            """
id: mcperr
steps:
  - {id: before, action: claude_flow.call, parameters: {tool: system_info}}
  - id: bad
    action: claude_flow.call
    parameters: {tool: memory_list, arguments: {namespace: a/b}}
    critical: false
    dependencies: [before]
  - {id: after, action: claude_flow.call, parameters: {tool: system_info}, dependencies: [before]}
""",
        ),
        "--strategy",
        "sequential",
    )  # before, bad, after: in file order
    assert done.returncode == 0, done.stdout + done.stderr
    steps = run_show(wfe)["by_id"]
    error = steps["bad"]["error"]
    assert error.startswith("claude-flow tool memory_list failed:") and "invalid characters" in error, error
    assert "server stderr" not in error
    assert steps["after"]["output"]["pid"] == steps["before"]["output"]["pid"]
