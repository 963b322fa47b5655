"""A step with trigger ``always`` / ``on_failure`` that was ready but waiting for a
worker when the run stopped (a critical failure, a cancel) still runs: the strategy was
holding it, and a stop no longer asks the strategy for anything."""

from __future__ import annotations

import time
from typing import Any

import pytest

from wfe_core import Workflow, WorkflowEngine, WorkflowStep
from wfe_core.model.workflow import StepStatus
from wfe_core.testing import hermetic_plugins


def _act(params: dict[str, Any], context: Any) -> None:
    if params.get("fail"):
        raise RuntimeError("failed on purpose")
    time.sleep(params.get("seconds", 0))


@pytest.mark.parametrize("strategy", ["adaptive", "parallel", "hybrid", "sequential"])
def test_an_always_step_queued_behind_a_critical_failure_still_runs(strategy: str) -> None:
    # One worker: `x` runs while `bad` and `cleanup` wait in the strategy; `bad` fails.
    engine = WorkflowEngine(max_concurrent_steps=1, plugins=hermetic_plugins(), store=None)
    engine.register_custom_action("t", _act, side_effects=False)
    steps = [
        WorkflowStep(id="x", action="t", parameters={"seconds": 0.05}),
        WorkflowStep(id="bad", action="t", parameters={"fail": True}),
        WorkflowStep(id="cleanup", action="t", trigger="always"),
        WorkflowStep(id="later", action="t"),
    ]
    stats = engine.run(Workflow(id="w", steps=steps), strategy=strategy)
    assert not stats.succeeded
    status = {sid: record.status for sid, record in stats.steps.items()}
    assert status == {
        "x": StepStatus.SUCCEEDED,
        "bad": StepStatus.FAILED,
        "cleanup": StepStatus.SUCCEEDED,
        "later": StepStatus.CANCELLED,
    }, status


def test_an_always_step_queued_when_the_run_is_cancelled_still_runs() -> None:
    engine = WorkflowEngine(max_concurrent_steps=1, plugins=hermetic_plugins(), store=None)

    def cancel(params: dict[str, Any], context: Any) -> None:
        engine.cancel_workflow("w")

    engine.register_custom_action("t", _act, side_effects=False)
    engine.register_custom_action("cancel", cancel, side_effects=False)
    steps = [
        WorkflowStep(id="stop", action="cancel"),
        WorkflowStep(id="cleanup", action="t", trigger="always"),
        WorkflowStep(id="later", action="t"),
    ]
    stats = engine.run(Workflow(id="w", steps=steps))
    assert stats.status.value == "cancelled"
    assert stats.steps["cleanup"].status is StepStatus.SUCCEEDED, stats.steps["cleanup"]
    assert stats.steps["later"].status is StepStatus.CANCELLED
