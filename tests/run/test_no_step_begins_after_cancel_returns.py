"""Once ``cancel_workflow()`` has returned, no step's action begins, except the steps that
run after a cancel by design (``trigger: always`` / ``on_failure``); a step handed to a
pool thread that had not begun it ends cancelled, "not started" (a retry: "retry not
started"), never failed; a sub-workflow's steps, at any depth, no more begin after the
parent's cancel returned than the parent's own.

Real engine, real threads, real SQLite store (``$WFE_STORE`` points into ``tmp_path``).
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from wfe_core import RunStatus, StepStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.model.errors import ActionError
from wfe_core.plugin import Action, RollbackHandler, hookimpl
from wfe_core.run import loop
from wfe_core.run.attempt import HALTED, Halt
from wfe_core.store.runstore import RunStore
from wfe_core.testing import hermetic_plugins

RUNS = 20


class Cancelling:
    """``mark`` records when each step's action began; ``stop`` cancels the run from a
    pool thread, as a step of it, and records when ``cancel_workflow()`` returned."""

    def __init__(self) -> None:
        self.engine = WorkflowEngine(plugins=hermetic_plugins())
        self.began: dict[str, float] = {}
        self.returned: list[float] = []
        self.lock = threading.Lock()
        self.engine.register_custom_action("mark", self.mark)
        self.engine.register_custom_action("stop", self.stop)

    def mark(self, params, context):
        began = time.monotonic()
        with self.lock:
            self.began[context.step.id] = began

    def stop(self, params, context):
        self.engine.cancel_workflow(context.run_id)
        self.returned.append(time.monotonic())

    def late(self) -> list[str]:
        """The steps whose action began after the cancel returned."""
        (returned,) = self.returned
        return sorted(sid for sid, began in self.began.items() if began > returned)


def _workflow(trigger: str = "on_success") -> Workflow:
    # Short independent steps keep every thread busy and the pool's queue full when the
    # cancel lands (with lending, threads take prepared steps without the scheduler).
    steps = [WorkflowStep(id=f"s{i:02d}", action="mark", trigger=trigger) for i in range(60)]
    steps.insert(20, WorkflowStep(id="stop", action="stop"))
    return Workflow(id="w", steps=steps)


# (hybrid and sequential, without parallel groups, run one step at a time: when `stop`
# cancels, nothing else is handed to a thread, so nothing could begin late.)
@pytest.mark.parametrize("strategy", ["parallel", "adaptive"])
def test_no_action_begins_after_cancel_workflow_returned(strategy, tmp_path, monkeypatch):
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    for _ in range(RUNS):
        probe = Cancelling()
        stats = probe.engine.run(_workflow(), strategy=strategy, max_workers=4)
        assert stats.status is RunStatus.CANCELLED
        assert probe.late() == []
        for sid, record in stats.steps.items():
            if sid in probe.began or sid == "stop":
                continue
            assert record.status is StepStatus.CANCELLED, (sid, record)
            assert record.reason == "not started: cancelled", (sid, record)


def test_a_step_handed_to_a_thread_that_had_not_begun_it_ends_cancelled_not_started(tmp_path, monkeypatch):
    # The attempt the thread did not begin is recorded with why, in the run's store.
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    halted: list[str] = []
    for _ in range(RUNS):
        probe = Cancelling()
        stats = probe.engine.run(_workflow(), strategy="parallel", max_workers=4)
        store = RunStore(tmp_path / "runs.sqlite")
        try:
            stored = {row["step_id"]: row for row in store.run(stats.run_id)["steps"]}
        finally:
            store.close()
        for sid, record in stats.steps.items():
            if record.attempts and sid not in probe.began and sid != "stop":
                halted.append(sid)
                assert record.status is StepStatus.CANCELLED
                assert record.reason == "not started: cancelled"
                assert stored[sid]["status"] == "cancelled"
                assert stored[sid]["attempt_log"][-1]["error"] == HALTED
    assert halted, "no run handed a step to a thread before the cancel: the test proved nothing"


def test_steps_that_run_after_a_cancel_still_begin_after_it_returned(tmp_path, monkeypatch):
    # trigger: always steps are cleanup: a cancel does not stop them, queued or not.
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    late = 0
    for _ in range(RUNS):
        probe = Cancelling()
        stats = probe.engine.run(_workflow(trigger="always"), strategy="parallel", max_workers=4)
        assert stats.status is RunStatus.CANCELLED
        assert set(probe.began) == {sid for sid in stats.steps if sid != "stop"}
        late += len(probe.late())
    assert late, "no trigger: always step began after a cancel: the test proved nothing"


class _SlowHalt(Halt):
    """A Halt whose raising lingers: the gap between the cancel's two flags, widened."""

    __slots__ = ()

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if value is True:
            time.sleep(0.05)


def test_a_step_stopped_before_it_began_never_reads_as_a_failure(tmp_path, monkeypatch):
    # A halted attempt read before the scheduler applied the cancel (the gap between the
    # cancel's flags, widened) was a critical failure: the run failed, not cancelled.
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.setattr(loop, "Halt", _SlowHalt)
    for _ in range(5):
        probe = Cancelling()
        stats = probe.engine.run(_workflow(), strategy="parallel", max_workers=4)
        assert stats.status is RunStatus.CANCELLED, stats.error
        assert not [sid for sid, r in stats.steps.items() if r.status is StepStatus.FAILED]


def test_no_step_of_a_sub_workflow_begins_after_the_parents_cancel_returned(tmp_path, monkeypatch):
    # The child (and its own child) run in nested engines with loops of their own; the
    # parent's cancel reached them only once its loop had cancelled the workflow.run
    # step, and their steps kept beginning until then.
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.chdir(tmp_path)  # (where the parent's relative path resolves)
    steps = "".join(f"  - id: c{i:04d}\n    action: mark\n" for i in range(3000))
    (tmp_path / "grandchild.yaml").write_text(f"id: grandchild\nsteps:\n{steps}")
    (tmp_path / "child.yaml").write_text(
        "id: child\nsteps:\n  - id: inner\n    action: workflow.run\n    parameters: {path: grandchild.yaml}\n"
    )
    parent = Workflow(
        id="parent", steps=[WorkflowStep(id="sub", action="workflow.run", parameters={"path": "child.yaml"})]
    )
    for _ in range(5):
        probe = Cancelling()
        run_id = uuid.uuid4().hex

        def cancel_amid_the_grandchilds_steps(probe=probe, run_id=run_id):
            while len(probe.began) < 300:
                time.sleep(0.001)
            probe.engine.cancel_workflow(run_id)
            probe.returned.append(time.monotonic())

        canceller = threading.Thread(target=cancel_amid_the_grandchilds_steps)
        canceller.start()
        stats = probe.engine.run(parent, strategy="parallel", max_workers=2, run_id=run_id)
        canceller.join()
        assert stats.status is RunStatus.CANCELLED
        assert stats.steps["sub"].status is StepStatus.CANCELLED
        assert len(probe.began) < 3000
        assert probe.late() == []


def test_a_retry_stopped_before_it_began_reads_as_a_retry_not_started(tmp_path, monkeypatch):
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    halted = 0
    for _ in range(RUNS):
        probe = Cancelling()

        def fails_at_first(params, context):
            if context.attempt == 1:
                raise ActionError("first attempt fails")

        probe.engine.register_custom_action("flaky", fails_at_first)
        # Every first attempt fails at once and its retry is queued behind the others.
        steps = [WorkflowStep(id=f"s{i:02d}", action="flaky", max_retries=2, retry_delay=0) for i in range(60)]
        steps.append(WorkflowStep(id="stop", action="stop"))
        stats = probe.engine.run(Workflow(id="w", steps=steps), strategy="parallel", max_workers=4)
        assert stats.status is RunStatus.CANCELLED
        for record in stats.steps.values():
            if record.attempts == 2 and record.status is StepStatus.CANCELLED and record.reason != "run cancelled":
                halted += 1
                assert record.reason == "retry not started: run cancelled", record
    assert halted, "no retry was handed to a thread before the cancel: the test proved nothing"


def test_a_cleanup_sub_workflow_runs_whole_after_a_cancel(tmp_path, monkeypatch):
    # A trigger: always workflow.run step starts after the cancel, or is running at it:
    # its child's steps are cleanup too, and begin.
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.chdir(tmp_path)
    steps = "".join(f"  - id: c{i}\n    action: mark\n" for i in range(20))
    (tmp_path / "cleanup.yaml").write_text(f"id: cleanup\nsteps:\n{steps}")
    parent = Workflow(
        id="parent",
        steps=[
            WorkflowStep(id="stop", action="stop"),
            WorkflowStep(
                id="cleanup",
                action="workflow.run",
                parameters={"path": "cleanup.yaml"},
                dependencies=["stop"],
                trigger="always",
            ),
        ],
    )
    probe = Cancelling()
    stats = probe.engine.run(parent, strategy="parallel", max_workers=2)
    assert stats.status is RunStatus.CANCELLED
    assert stats.steps["cleanup"].status is StepStatus.SUCCEEDED, stats.steps["cleanup"]
    assert sorted(probe.began) == sorted(f"c{i}" for i in range(20))


class _SlowCapture:
    """``slow.capture``: its rollback handler's ``prepare`` (what a rollback needs,
    captured before the action: wfe-file reads the file's bytes) is slow, and a cancel
    lands while it runs; the action records whether it began."""

    def __init__(self) -> None:
        self.capturing = threading.Event()
        self.release = threading.Event()
        self.began: list[str] = []

    @hookimpl
    def wfe_actions(self):
        handler = RollbackHandler("slow.capture", lambda params, context, memo, output: None, self.prepare)
        return [Action("slow.capture", self.act, rollback=handler)]

    def prepare(self, params, context):
        self.capturing.set()
        self.release.wait(10)
        return {"captured": True}

    def act(self, params, context):
        self.began.append(context.step.id)


def test_no_action_begins_after_a_cancel_that_landed_while_its_rollback_memo_was_captured(tmp_path, monkeypatch):
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))  # (a store: memos are captured)
    plugin = _SlowCapture()
    engine = WorkflowEngine(plugins=hermetic_plugins(slow_capture=plugin))
    run_id = uuid.uuid4().hex

    def cancel_while_capturing():
        plugin.capturing.wait(10)
        engine.cancel_workflow(run_id)
        plugin.release.set()

    canceller = threading.Thread(target=cancel_while_capturing)
    canceller.start()
    stats = engine.run(Workflow(id="w", steps=[WorkflowStep(id="s", action="slow.capture")]), run_id=run_id)
    canceller.join()
    assert stats.status is RunStatus.CANCELLED
    assert plugin.began == []
    assert stats.steps["s"].status is StepStatus.CANCELLED
    assert stats.steps["s"].reason == "not started: cancelled"
