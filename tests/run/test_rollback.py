"""Compensation after a critical failure: reverse completion order, failures recorded, off switch.

Everything here runs through the real engine and a real run store (``$WFE_STORE`` points
into ``tmp_path``). Compensations record what they undo in a list, so the order is the
order in which they really ran.
"""

from __future__ import annotations

import threading
import time

import pytest

from wfe_core import RunStatus, StepStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.model.errors import ActionError
from wfe_core.plugin.capabilities import Action, RollbackHandler
from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.store.runstore import RunStore
from wfe_core.testing import hermetic_plugins

#: How long the slower of b / c works, so that it surely completes after the other one.
SLOW = 0.3


class Tracker:
    """A plugin with ``track.work`` (sleeps, then succeeds) and a rollback handler for it.

    ``prepare`` captures the step id as the memo; ``compensate`` appends it to
    ``undone`` (or raises for the steps in ``broken``).
    """

    def __init__(self, broken: tuple[str, ...] = ()):
        self.lock = threading.Lock()
        self.done: list[str] = []
        self.undone: list[str] = []
        self.prepared: list[str] = []
        self.broken = set(broken)

    def work(self, params: dict, context) -> dict:
        context.sleep(params.get("seconds", 0))
        with self.lock:
            self.done.append(context.step.id)
        return {"step": context.step.id}

    def prepare(self, params: dict, context) -> dict:
        with self.lock:
            self.prepared.append(context.step.id)
        return {"memo_of": context.step.id}

    def compensate(self, params: dict, context, memo, output) -> None:
        # The memo prepare captured and the step's output both reach compensation.
        assert memo == {"memo_of": context.step.id}, memo
        assert output == {"step": context.step.id}, output
        if context.step.id in self.broken:
            raise ActionError(f"cannot undo {context.step.id}: the remote end said no")
        with self.lock:
            self.undone.append(context.step.id)

    @hookimpl
    def wfe_actions(self):
        return [
            Action(
                "track.work",
                self.work,
                side_effects=True,
                rollback=RollbackHandler("track.work", self.compensate, self.prepare),
            )
        ]


def fail(params: dict, context) -> None:
    raise ActionError("d broke")


def diamond(action: str, slow: str, *, undo: str | None = None) -> Workflow:
    """a -> b, a -> c, (b, c) -> d; d fails and is critical. ``slow`` (b or c) completes last."""

    def step(sid: str, deps: tuple[str, ...] = ()) -> WorkflowStep:
        extra = (
            {"rollback_action": undo, "rollback_parameters": {"step": sid, "output": f"{{steps.{sid}.output}}"}}
            if undo
            else {}
        )
        return WorkflowStep(
            id=sid, action=action, dependencies=deps, parameters={"seconds": SLOW if sid == slow else 0.0}, **extra
        )

    return Workflow(
        id="diamond",
        steps=[
            step("a"),
            step("b", ("a",)),
            step("c", ("a",)),
            WorkflowStep(id="d", action="fail", dependencies=("b", "c"), critical=True),
        ],
    )


DEPENDS = {"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b", "c"}}


def assert_reverse_completion_order(undone: list[str], completed: list[str]) -> None:
    assert undone == list(reversed(completed))
    for i, sid in enumerate(undone):  # a step is undone before anything it depends on
        assert not DEPENDS[sid] & set(undone[:i]), (sid, undone)


@pytest.mark.parametrize("slow", ["b", "c"])
def test_diamond_is_compensated_in_reverse_completion_order_by_rollback_actions(tmp_path, slow):
    undone: list[tuple[str, object]] = []
    done: list[str] = []

    def work(params: dict, context) -> dict:
        context.sleep(params["seconds"])
        done.append(context.step.id)
        return {"step": context.step.id}

    def undo(params: dict, context) -> None:
        # rollback_parameters are templated; {steps.<id>.output} includes the step itself.
        undone.append((params["step"], params["output"]))

    engine = WorkflowEngine(plugins=hermetic_plugins(), workdir=tmp_path, default_strategy="parallel")
    engine.register_custom_action("work", work)
    engine.register_custom_action("undo", undo)
    engine.register_custom_action("fail", fail)
    stats = engine.run(diamond("work", slow, undo="undo"))

    assert stats.status is RunStatus.FAILED and stats.error == "critical step 'd' failed"
    other = "c" if slow == "b" else "b"
    assert done == ["a", other, slow]
    assert [sid for sid, _ in undone] == [slow, other, "a"]
    assert all(output == {"step": sid} for sid, output in undone)
    assert_reverse_completion_order([sid for sid, _ in undone], done)
    assert stats.rollback == "complete"
    assert {sid: r.status for sid, r in stats.steps.items()} == {
        "a": StepStatus.ROLLED_BACK,
        "b": StepStatus.ROLLED_BACK,
        "c": StepStatus.ROLLED_BACK,
        "d": StepStatus.FAILED,
    }
    stored = RunStore().run(stats.run_id)
    assert stored["status"] == "failed" and stored["rollback"] == "complete"
    assert {s["step_id"]: s["status"] for s in stored["steps"]} == {
        "a": "rolled_back",
        "b": "rolled_back",
        "c": "rolled_back",
        "d": "failed",
    }


@pytest.mark.parametrize("slow", ["b", "c"])
def test_diamond_is_compensated_in_reverse_completion_order_by_handlers(tmp_path, slow):
    tracker = Tracker()
    events = []
    engine = WorkflowEngine(plugins=hermetic_plugins(tracker=tracker), workdir=tmp_path, default_strategy="parallel")
    engine.register_custom_action("fail", fail)
    stats = engine.run(diamond("track.work", slow), listeners=(events.append,))

    other = "c" if slow == "b" else "b"
    assert tracker.done == ["a", other, slow]
    assert sorted(tracker.prepared) == ["a", "b", "c"]  # prepare ran before each attempt
    assert tracker.undone == [slow, other, "a"]
    assert_reverse_completion_order(tracker.undone, tracker.done)
    assert stats.status is RunStatus.FAILED and stats.rollback == "complete"
    assert [e.step_id for e in events if e.kind == "step.rolled_back"] == [slow, other, "a"]
    # The run's end is announced after the last compensation.
    kinds = [e.kind for e in events]
    assert kinds.index("run.finished") > max(i for i, k in enumerate(kinds) if k == "step.rolled_back")


def test_a_failing_compensation_is_recorded_and_the_others_still_run(tmp_path):
    tracker = Tracker(broken=("b",))
    events = []
    engine = WorkflowEngine(plugins=hermetic_plugins(tracker=tracker), workdir=tmp_path, default_strategy="parallel")
    engine.register_custom_action("fail", fail)
    stats = engine.run(diamond("track.work", "b"), listeners=(events.append,))

    # b completed last, so it is undone first; its failure stops neither c nor a.
    assert tracker.undone == ["c", "a"]
    assert stats.status is RunStatus.FAILED
    assert stats.error == "critical step 'd' failed"  # the run's error stays the failure itself
    assert stats.rollback == "partial"
    b = stats.steps["b"]
    assert b.status is StepStatus.ROLLBACK_FAILED
    assert b.error == "rollback failed: cannot undo b: the remote end said no"
    assert stats.steps["c"].status is StepStatus.ROLLED_BACK and stats.steps["a"].status is StepStatus.ROLLED_BACK
    assert [(e.kind, e.step_id) for e in events if e.kind.startswith("step.roll")] == [
        ("step.rollback_failed", "b"),
        ("step.rolled_back", "c"),
        ("step.rolled_back", "a"),
    ]
    failed_event = next(e for e in events if e.kind == "step.rollback_failed")
    assert failed_event.data["error"] == b.error

    # The store says the same, in a fresh connection (what `wfe runs show` reads).
    stored = RunStore().run(stats.run_id)
    assert stored["status"] == "failed" and stored["rollback"] == "partial"
    steps = {s["step_id"]: s for s in stored["steps"]}
    assert steps["b"]["status"] == "rollback_failed"
    assert steps["b"]["error"] == "rollback failed: cannot undo b: the remote end said no"
    assert steps["c"]["status"] == steps["a"]["status"] == "rolled_back"
    assert steps["d"]["status"] == "failed" and steps["d"]["error"] == "d broke"
    assert [r["rollback"] for r in engine.runs()] == ["partial"]


def test_enable_rollback_false_compensates_nothing(tmp_path):
    tracker = Tracker()
    engine = WorkflowEngine(
        plugins=hermetic_plugins(tracker=tracker), workdir=tmp_path, default_strategy="parallel", enable_rollback=False
    )
    engine.register_custom_action("fail", fail)
    stats = engine.run(diamond("track.work", "c"))

    assert stats.status is RunStatus.FAILED
    assert tracker.undone == []
    assert stats.rollback is None
    assert {sid: r.status.value for sid, r in stats.steps.items()} == {
        "a": "succeeded",
        "b": "succeeded",
        "c": "succeeded",
        "d": "failed",
    }
    stored = RunStore().run(stats.run_id)
    assert stored["rollback"] is None
    assert {s["step_id"]: s["status"] for s in stored["steps"]} == {
        "a": "succeeded",
        "b": "succeeded",
        "c": "succeeded",
        "d": "failed",
    }


def test_a_run_without_rollback_can_be_rolled_back_later_from_the_store(tmp_path):
    # What `wfe rollback RUN_ID` does, through the Python API: a fresh engine (a new
    # process, in effect) compensates the stored run, in reverse completion order, with
    # the memos prepare captured while the run ran.
    first = Tracker()
    engine = WorkflowEngine(
        plugins=hermetic_plugins(tracker=first), workdir=tmp_path, default_strategy="parallel", enable_rollback=False
    )
    engine.register_custom_action("fail", fail)
    stats = engine.run(diamond("track.work", "b"))
    assert stats.status is RunStatus.FAILED and first.undone == []

    later = Tracker()
    fresh = WorkflowEngine(plugins=hermetic_plugins(tracker=later), workdir=tmp_path)
    fresh.register_custom_action("fail", fail)
    outcome = fresh.rollback(stats.run_id)

    assert later.undone == ["b", "c", "a"]
    assert outcome == {"b": "rolled_back", "c": "rolled_back", "a": "rolled_back"}
    stored = RunStore().run(stats.run_id)
    assert stored["rollback"] == "complete"
    assert {s["step_id"]: s["status"] for s in stored["steps"]} == {
        "a": "rolled_back",
        "b": "rolled_back",
        "c": "rolled_back",
        "d": "failed",
    }
    # Rolled-back steps are not succeeded any more: a second rollback has nothing to do.
    assert fresh.rollback(stats.run_id) == {}
    assert later.undone == ["b", "c", "a"]


def test_compensation_waits_for_steps_still_running_when_the_failure_happened(tmp_path):
    # d fails while b still works: b completes after the failure and is undone first.
    undone: list[str] = []
    engine = WorkflowEngine(plugins=hermetic_plugins(), workdir=tmp_path, default_strategy="parallel")
    engine.register_custom_action("work", lambda p, ctx: ctx.sleep(p["seconds"]) and ctx.step.id)
    engine.register_custom_action("undo", lambda p, ctx: undone.append(p["step"]))
    engine.register_custom_action("fail", fail)
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(
                id="a",
                action="work",
                parameters={"seconds": 0.0},
                rollback_action="undo",
                rollback_parameters={"step": "a"},
            ),
            WorkflowStep(
                id="b",
                action="work",
                parameters={"seconds": SLOW},
                dependencies=["a"],
                rollback_action="undo",
                rollback_parameters={"step": "b"},
            ),
            WorkflowStep(id="d", action="fail", dependencies=["a"]),
        ],
    )
    started = time.monotonic()
    stats = engine.run(workflow)
    assert time.monotonic() - started >= SLOW
    assert stats.steps["b"].status is StepStatus.ROLLED_BACK
    assert undone == ["b", "a"]
