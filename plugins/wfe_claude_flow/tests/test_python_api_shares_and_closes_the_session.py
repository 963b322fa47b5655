"""Through the Python API (WorkflowEngine in this process): parallel steps share one
session safely, and the server is gone when ``engine.run`` returns, success or failure."""

from __future__ import annotations

from cf_helpers import server_pids

import wfe_claude_flow.plugin
from wfe_core import RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.testing import hermetic_plugins

STEPS = 10


def _engine() -> WorkflowEngine:
    return WorkflowEngine(max_concurrent_steps=STEPS, plugins=hermetic_plugins(wfe_claude_flow.plugin), store=None)


def test_parallel_steps_in_process_share_one_server_and_it_stops_with_the_run(home):
    steps = [
        WorkflowStep(
            id=f"put{i}",
            action="claude_flow.memory_store",
            parameters={"key": f"k{i}", "value": {"i": i, "text": "x" * 1000}},
        )
        for i in range(STEPS)
    ]
    steps += [
        WorkflowStep(
            id=f"get{i}", action="claude_flow.memory_retrieve", parameters={"key": f"k{i}"}, dependencies=[f"put{i}"]
        )
        for i in range(STEPS)
    ]
    steps += [
        WorkflowStep(id=f"info{i}", action="claude_flow.call", parameters={"tool": "system_info"}) for i in range(STEPS)
    ]
    stats = _engine().run(Workflow(id="api", steps=steps), strategy="parallel")
    assert stats.status is RunStatus.SUCCEEDED, stats.error
    assert [stats.steps[f"get{i}"].output["value"]["i"] for i in range(STEPS)] == list(range(STEPS))
    assert len({stats.steps[f"info{i}"].output["pid"] for i in range(STEPS)}) == 1
    assert server_pids(home) == []  # engine.run has returned: the run's session is closed


def test_a_failed_run_closes_its_server_too(home):
    workflow = Workflow(
        id="apifail",
        steps=[
            WorkflowStep(id="ok", action="claude_flow.call", parameters={"tool": "system_info"}),
            WorkflowStep(id="bad", action="claude_flow.call", parameters={"tool": "no_such_tool"}, dependencies=["ok"]),
        ],
    )
    stats = _engine().run(workflow)
    assert stats.status is RunStatus.FAILED
    assert "has no tool 'no_such_tool'" in stats.steps["bad"].error
    assert server_pids(home) == []


def test_enable_claude_flow_coordinates_the_run(home, session):
    engine = WorkflowEngine(plugins=hermetic_plugins(wfe_claude_flow.plugin), store=None, enable_claude_flow=True)
    workflow = Workflow(
        id="flagged_api",
        steps=[
            WorkflowStep(id="a", action="claude_flow.memory_retrieve", parameters={"key": "nothing"}),
            WorkflowStep(id="b", action="claude_flow.memory_retrieve", parameters={"key": "nothing"}),
        ],
    )
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED, stats.error
    summary = session("memory_retrieve", key=f"run/{stats.run_id}", namespace="wfe:flagged_api")["value"]
    assert summary["status"] == "succeeded" and summary["total_steps"] == 2
    assert summary["topology"] == "mesh"  # width 2, depth 1: wide
    assert set(summary["agents"]) == {"claude_flow"}
