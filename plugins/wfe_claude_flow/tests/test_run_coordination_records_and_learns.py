"""Run coordination (`wfe run --claude-flow`, `WorkflowEngine(enable_claude_flow=True)`):
a swarm shaped like the DAG, agents per action family, step outcomes and a run summary in
claude-flow memory, and durations learned from earlier runs."""

from __future__ import annotations

from cf_helpers import run_show

WIDE = """
id: coord
steps:
  - id: setup
    action: variable.set
    parameters: {name: x, value: 1}
  - id: a
    action: wait
    parameters: {seconds: 0.2}
    dependencies: [setup]
  - id: b
    action: wait
    parameters: {seconds: 0.4}
    dependencies: [setup]
  - id: c
    action: claude_flow.memory_retrieve
    parameters: {key: nothing}
    dependencies: [setup]
"""


def test_a_coordinated_run_is_recorded_in_claude_flow_memory(wfe, write, home, session):
    done = wfe("run", write("wide.yaml", WIDE), "--max-workers", "3", "--claude-flow")
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = run_show(wfe)["run_id"]
    summary = session("memory_retrieve", key=f"run/{run_id}", namespace="wfe:coord")["value"]
    assert summary["status"] == "succeeded" and summary["total_steps"] == 4
    assert summary["topology"] == "mesh"  # 3 workers for 4 steps: wide, not deep
    assert summary["coordination_errors"] == []
    # One agent per action family: variable -> analyst, wait -> analyst, claude_flow -> coordinator.
    assert set(summary["agents"]) == {"variable", "wait", "claude_flow"}
    agent = session("agent_status", agentId=summary["agents"]["claude_flow"])
    assert agent["agentType"] == "coordinator"
    # The run's swarm was shut down at its end.
    assert session("swarm_status", swarmId=summary["swarm_id"])["status"] == "terminated"
    step_b = session("memory_retrieve", key="step/b", namespace="wfe:coord")["value"]
    assert step_b["status"] == "succeeded" and step_b["run_id"] == run_id
    assert step_b["duration"] >= 0.4 and step_b["attempts"] == 1
    assert summary["learned_from_earlier_runs"] is False


def test_a_second_run_reads_the_first_runs_durations_back(wfe, write, home, session):
    path = write("wide.yaml", WIDE)
    first = wfe("run", path, "--claude-flow")
    assert first.returncode == 0, first.stdout + first.stderr
    durations = session("memory_retrieve", key="durations", namespace="wfe:coord")["value"]
    assert set(durations) == {"setup", "a", "b", "c"} and durations["b"] >= 0.4
    second = wfe("run", path, "--claude-flow")
    assert second.returncode == 0, second.stdout + second.stderr
    run_id = run_show(wfe)["run_id"]
    summary = session("memory_retrieve", key=f"run/{run_id}", namespace="wfe:coord")["value"]
    assert summary["learned_from_earlier_runs"] is True
    assert summary["steps"]["b"]["expected_duration"] == durations["b"]


def test_the_environment_switch_coordinates_every_run(wfe, write, home, session):
    done = wfe("run", write("wide.yaml", WIDE), env={"WFE_CLAUDE_FLOW_COORDINATE": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = run_show(wfe)["run_id"]
    summary = session("memory_retrieve", key=f"run/{run_id}", namespace="wfe:coord")["value"]
    assert summary["status"] == "succeeded"


def test_without_the_switch_nothing_is_recorded(wfe, write, home, session):
    done = wfe("run", write("wide.yaml", WIDE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert session("memory_retrieve", key="durations", namespace="wfe:coord")["found"] is False


def test_a_deep_workflow_gets_a_hierarchical_swarm(wfe, write, home, session):
    chain = "id: deep\nsteps:\n" + "".join(
        f"  - {{id: s{i}, action: variable.set, parameters: {{name: v{i}, value: {i}}}"
        + (f", dependencies: [s{i - 1}]" if i else "")
        + "}\n"
        for i in range(4)
    )
    done = wfe("run", write("deep.yaml", chain), "--claude-flow")
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = run_show(wfe)["run_id"]
    summary = session("memory_retrieve", key=f"run/{run_id}", namespace="wfe:deep")["value"]
    assert summary["topology"] == "hierarchical"


def test_the_engine_flag_in_run_started_switches_coordination_on(home, session):
    """What ``enable_claude_flow=True`` is to send (``claude_flow: true``, the DAG's width and
    depth) drives the plugin's ``wfe_event`` hook; here the events are fed to it directly."""
    import wfe_claude_flow.plugin as plugin
    from wfe_core.plugin import Event

    def send(kind: str, step_id: str | None = None, **data):
        plugin.wfe_event(event=Event(kind, "run-flag", "flagged", step_id, data))

    send("run.started", claude_flow=True, workers=8, total_steps=6, width=2, depth=3, dry_run=False)
    send("step.started", "s1", attempt=1, action="http.get")
    send("step.succeeded", "s1", attempts=1, duration=0.25, error=None, reason=None)
    send("run.finished", status="succeeded", error=None, rollback=None, completed_steps=1, total_steps=6, duration=1.0)
    summary = session("memory_retrieve", key="run/run-flag", namespace="wfe:flagged")["value"]
    assert summary["topology"] == "hierarchical"  # width 2 < depth 3: deep
    assert session("agent_status", agentId=summary["agents"]["http"])["agentType"] == "researcher"
    assert summary["steps"]["s1"]["duration"] == 0.25
    # claude_flow: false wins over nothing else: no run is coordinated.
    send("run.started", claude_flow=False, workers=1, total_steps=1, dry_run=False)
    send("run.finished", status="succeeded")
    assert session("memory_retrieve", key="run/run-flag-2", namespace="wfe:flagged")["found"] is False


def test_a_coordination_failure_never_fails_the_run(wfe, write, home):
    broken = "node -e \"console.error('cf-down'); process.exit(4)\""
    done = wfe(
        "run",
        write("plain.yaml", "id: plain\nsteps:\n  - {id: a, action: wait, parameters: {seconds: 0}}\n"),
        "--claude-flow",
        env={"WFE_CLAUDE_FLOW_COMMAND": broken},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "claude-flow coordination of run" in done.stderr and "cf-down" in done.stderr, done.stderr
    # One message (the start failed), not one per event that followed.
    assert done.stderr.count("claude-flow coordination of run") == 1, done.stderr
    assert "no coordination for the rest of this run" in done.stderr
    assert "Traceback" not in done.stderr
