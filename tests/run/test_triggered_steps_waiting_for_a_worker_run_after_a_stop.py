"""A step with trigger ``always`` / ``on_failure`` that was ready but waiting for a
worker when the run stopped (a critical failure, a cancel) still runs: the strategy was
holding it, and a stop no longer asks the strategy for anything. One waiting for a
declared resource runs once and frees it; a fan-out's instances start in item order; a
stop with thousands queued starts each once."""

from __future__ import annotations

import threading
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


class _Calls:
    """A ``t`` action that keeps the order of its calls, by ``name``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.order: list[str] = []

    def act(self, params: dict[str, Any], context: Any) -> None:
        with self.lock:
            self.order.append(params["name"])
        time.sleep(params.get("seconds", 0))  # (then fails, if it does)
        _act({"fail": params.get("fail")}, context)


@pytest.mark.parametrize("strategy", ["adaptive", "parallel", "hybrid", "sequential"])
def test_an_always_step_waiting_for_a_resource_at_a_stop_runs_once_and_frees_it(strategy: str) -> None:
    # cleanup needs `db`, held by h1 and h2, when f fails: it waits (parked) through the
    # stop. It was handed back to the stop's ready steps as well as parked, started twice
    # (the second while the first ran), and the first's unit of `db` was never given
    # back: cleanup2, which needs all of `db`, then never started.
    calls = _Calls()
    engine = WorkflowEngine(max_concurrent_steps=4, plugins=hermetic_plugins(), store=None)
    engine.register_custom_action("t", calls.act, side_effects=False)
    steps = [
        WorkflowStep(id="h1", action="t", parameters={"name": "h1", "seconds": 0.3}, resources=["db"]),
        WorkflowStep(id="h2", action="t", parameters={"name": "h2", "seconds": 0.5}, resources=["db"]),
        WorkflowStep(id="f", action="t", parameters={"name": "f", "seconds": 0.15, "fail": True}),
        WorkflowStep(id="q", action="t", parameters={"name": "q", "seconds": 0.02}),
        WorkflowStep(
            id="cleanup",
            action="t",
            parameters={"name": "cleanup", "seconds": 0.3},
            dependencies=["q"],
            trigger="always",
            resources=["db"],
        ),
        WorkflowStep(
            id="cleanup2",
            action="t",
            parameters={"name": "cleanup2"},
            dependencies=["cleanup"],
            trigger="always",
            resources={"db": 2},
        ),
    ]
    stats = engine.run(Workflow(id="w", steps=steps, resources={"db": 2}), strategy=strategy)
    assert stats.error == "critical step 'f' failed"
    assert calls.order.count("cleanup") == 1, calls.order
    assert stats.steps["cleanup"].attempts == 1
    assert stats.steps["cleanup2"].status is StepStatus.SUCCEEDED, stats.steps["cleanup2"]


def test_instances_of_an_always_fan_out_start_in_item_order_after_a_stop() -> None:
    # One worker, the sequential strategy: the instances wait in the strategy when `bad`
    # fails, and start after the stop one by one, in item order (they were ordered by a
    # set's iteration: by the hash seed).
    calls = _Calls()
    engine = WorkflowEngine(max_concurrent_steps=1, plugins=hermetic_plugins(), store=None)
    engine.register_custom_action("t", calls.act, side_effects=False)
    items = list(range(20))
    steps = [
        WorkflowStep(id="bad", action="t", parameters={"name": "bad", "seconds": 0.05, "fail": True}),
        WorkflowStep(id="cl", action="t", parameters={"name": "cl{item}"}, for_each=items, trigger="always"),
    ]
    stats = engine.run(Workflow(id="w", steps=steps), strategy="sequential")
    assert stats.error == "critical step 'bad' failed"
    assert [name for name in calls.order if name.startswith("cl")] == [f"cl{i}" for i in items]


def test_a_stop_with_thousands_of_always_steps_queued_starts_each_once() -> None:
    # (take_after_stop looks at each ready step once: it rebuilt the whole list for each
    # step it started, 22 s for 6,000 steps on one worker; bench-free, this checks each
    # starts exactly once and in plan order.)
    calls = _Calls()
    engine = WorkflowEngine(max_concurrent_steps=1, plugins=hermetic_plugins(), store=None)
    engine.register_custom_action("t", calls.act, side_effects=False)
    steps = [WorkflowStep(id="bad", action="t", parameters={"name": "bad", "fail": True})]
    steps += [
        WorkflowStep(id=f"c{i:04d}", action="t", parameters={"name": f"c{i:04d}"}, trigger="always")
        for i in range(3000)
    ]
    stats = engine.run(Workflow(id="w", steps=steps), strategy="sequential")
    assert stats.error == "critical step 'bad' failed"
    assert calls.order == ["bad", *(f"c{i:04d}" for i in range(3000))]


def test_instances_of_an_always_fan_out_keep_item_order_when_one_ends_with_the_stop() -> None:
    # max_parallel 2, two workers: cl0 ends in the same batch as the failure that stops
    # the run, releasing cl2 straight to the stop's ready steps; cl1, held by the
    # strategy, went behind it.
    order: list[str] = []
    lock = threading.Lock()
    for _ in range(10):
        order.clear()
        together = threading.Barrier(2)

        def act(params: dict[str, Any], context: Any, together: threading.Barrier = together) -> None:
            name = params["name"]
            with lock:
                order.append(name)
            if name in ("bad", "cl0"):
                together.wait(5)  # both end at once: one batch of completions, likely
                if name == "bad":
                    raise RuntimeError("failed on purpose")
            else:
                time.sleep(0.01)

        engine = WorkflowEngine(max_concurrent_steps=2, plugins=hermetic_plugins(), store=None)
        engine.register_custom_action("t", act, side_effects=False)
        steps = [
            WorkflowStep(id="bad", action="t", parameters={"name": "bad"}),
            WorkflowStep(
                id="cl",
                action="t",
                parameters={"name": "cl{item}"},
                for_each=list(range(6)),
                max_parallel=2,
                trigger="always",
            ),
        ]
        stats = engine.run(Workflow(id="w", steps=steps), strategy="parallel")
        assert stats.error == "critical step 'bad' failed"
        assert [name for name in order if name.startswith("cl")] == [f"cl{i}" for i in range(6)]
