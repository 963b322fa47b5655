"""Inline actions (``Action.inline``) run on the scheduler thread and are steps like any other:
events, run-store rows, retries, conditions. Actions that may block stay on worker threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins
from wfe_core.model.workflow import StepResult, StepStatus
from wfe_core.store.runstore import RunStore
from wfe_core.testing import hermetic_plugins


def test_builtin_variable_actions_are_inline_and_blocking_ones_are_not():
    actions = load_plugins(autoload=False).actions
    assert actions["variable.set"].inline and actions["variable.get"].inline
    assert not actions["wait"].inline  # it sleeps: it must never hold up the scheduler


def test_an_inline_action_runs_on_the_scheduler_thread_and_a_plain_one_on_a_worker(tmp_path):
    threads: dict[str, threading.Thread] = {}

    def where(params, context):
        threads[context.step.id] = threading.current_thread()

    engine = WorkflowEngine(plugins=hermetic_plugins(), store=tmp_path / "runs.sqlite")
    engine.register_custom_action("here", where, side_effects=False, inline=True)
    engine.register_custom_action("there", where, side_effects=False)
    workflow = Workflow(
        id="w",
        steps=[WorkflowStep(id="a", action="here"), WorkflowStep(id="b", action="there", dependencies=["a"])],
    )
    stats = engine.run(workflow)  # the run loop runs on the calling thread
    assert stats.succeeded, stats.error
    assert threads["a"] is threading.current_thread()
    assert threads["b"] is not threading.current_thread()


def test_ctrl_c_in_an_inline_action_on_the_callers_thread_stops_the_run_not_the_step(tmp_path):
    # SIGINT lands in whatever the main thread runs; with inline actions that can be the
    # action. It must reach the caller as KeyboardInterrupt, not become a step failure.
    ran = []

    def interrupted(params, context):
        ran.append(context.step.id)
        raise KeyboardInterrupt

    engine = WorkflowEngine(plugins=hermetic_plugins(), store=tmp_path / "runs.sqlite")
    engine.register_custom_action("interrupted", interrupted, side_effects=False, inline=True)
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="a", action="interrupted", max_retries=3, retry_delay=0),
            WorkflowStep(id="b", action="interrupted", dependencies=["a"]),
        ],
    )
    with pytest.raises(KeyboardInterrupt):
        engine.run(workflow)
    assert ran == ["a"]  # not retried, nothing after it


def test_an_inline_action_is_retried_reported_and_recorded_like_any_step(tmp_path):
    tries = []

    def flaky(params, context):
        tries.append(context.attempt)
        if len(tries) < 3:
            return StepResult(success=False, error=f"not yet ({len(tries)})")
        return "done"

    path = tmp_path / "runs.sqlite"
    engine = WorkflowEngine(plugins=hermetic_plugins(), store=path)
    engine.register_custom_action("flaky", flaky, side_effects=False, inline=True)
    events = []
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="f", action="flaky", max_retries=2, retry_delay=0),
            WorkflowStep(id="g", action="variable.set", parameters={"name": "x", "value": 2}, dependencies=["f"]),
            WorkflowStep(id="h", action="variable.get", parameters={"name": "x"}, dependencies=["g"]),
        ],
    )
    stats = engine.run(workflow, listeners=(lambda e: events.append((e.kind, e.step_id)),))
    assert stats.succeeded, stats.error
    assert tries == [1, 2, 3]
    assert stats.steps["f"].attempts == 3 and stats.steps["h"].output == 2
    assert [k for k, s in events if s == "f"] == [
        "step.started",
        "step.retrying",
        "step.started",
        "step.retrying",
        "step.started",
        "step.succeeded",
    ]
    store = RunStore(path)
    try:
        rows = {s["step_id"]: s for s in store.run(stats.run_id)["steps"]}
    finally:
        store.close()
    assert [a["status"] for a in rows["f"]["attempt_log"]] == ["failed", "failed", "succeeded"]
    assert rows["f"]["output"] == "done" and rows["h"]["output"] == 2
    assert all(rows[s]["status"] == StepStatus.SUCCEEDED.value for s in "fgh")


def test_variable_steps_through_the_cli_retry_and_land_in_the_store(tmp_path):
    (tmp_path / "v.yaml").write_text(
        textwrap.dedent(
            """\
            id: v
            steps:
              - id: a
                action: variable.set
                parameters: {name: x, value: 1}
              - id: b
                action: variable.get
                parameters: {name: nope}
                dependencies: [a]
                max_retries: 2
                retry_delay: 0
                critical: false
              - id: c
                action: variable.get
                parameters: {name: x}
                dependencies: [a]
            """
        )
    )
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "WFE_DISABLE_PLUGIN_AUTOLOAD": "1"}

    def wfe(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wfe_core", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    run = wfe("run", "v.yaml")
    assert run.returncode == 0, run.stderr
    assert run.stdout.count(" b retrying attempt") == 2
    run_id = run.stdout.split()[2]  # "HH:MM:SS run <id> of v: ..."
    shown = wfe("runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    steps = {s["step_id"]: s for s in json.loads(shown.stdout)["steps"]}
    assert steps["a"]["status"] == "succeeded" and steps["c"]["output"] == 1
    assert steps["b"]["status"] == "failed"
    assert [a["status"] for a in steps["b"]["attempt_log"]] == ["failed"] * 3
    assert "variable 'nope' is not defined" in steps["b"]["error"]
