"""While steps are short, a pool thread that finished one takes the next prepared step
itself instead of sleeping until the run loop hands it over (wfe_core.run.lending); the
run's promises hold all the same: the bound on steps at once, the policy's order for
longer steps, no start after a failure of its own or after a cancel, timeouts.

The loop is slowed by a listener (listeners are called on the loop's thread), so what
a thread did without the loop shows: a step that started before the loop had heard
that the step before it succeeded was taken by a thread, not handed over by the loop.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from wfe_core import Workflow, WorkflowEngine, WorkflowStep
from wfe_core.model.workflow import StepStatus
from wfe_core.run.lending import Standby
from wfe_core.testing import hermetic_plugins


class Recorder:
    """The action (short, or ``sleep`` seconds) and a slow listener, with what each saw."""

    def __init__(self, sleep: float = 0.0, listen_for: float = 0.002):
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: dict[str, float] = {}  # step -> when its action began
        self.heard: dict[str, list[tuple[str, float]]] = {}  # step -> [(kind, when)]
        self.sleep = sleep
        self.listen_for = listen_for
        self.on_heard: Any = None  # called with the event, before the listener's pause
        self.after_pause: Any = None  # called with the event, after it
        self.cancel: Any = None  # what a step with parameters {cancel: true} calls
        self.reported = 0  # steps the run's events say are running
        self.most_reported = 0

    def action(self, params: dict[str, Any], context: Any) -> None:
        with self.lock:
            self.started[context.step.id] = time.monotonic()
            self.running += 1
            self.most = max(self.most, self.running)
        if params.get("cancel"):  # the run, from this pool thread
            self.cancel()
        if params.get("fail"):
            with self.lock:
                self.running -= 1
            raise RuntimeError("failed on purpose")
        if params.get("hang"):
            context.cancel_event.wait(10)
        elif self.sleep:
            time.sleep(self.sleep)
        with self.lock:
            self.running -= 1

    def listener(self, event: Any) -> None:
        if event.step_id is None:
            return
        self.heard.setdefault(event.step_id, []).append((event.kind, time.monotonic()))
        # What the run reports running: started and not yet ended.
        if event.kind == "step.started":
            self.reported += 1
            self.most_reported = max(self.most_reported, self.reported)
        elif event.kind in ("step.succeeded", "step.failed", "step.timed_out") or (
            event.kind == "step.cancelled" and event.step_id in self.started
        ):
            self.reported -= 1
        if event.kind in ("step.succeeded", "step.failed"):
            if self.on_heard is not None:
                self.on_heard(event)
            time.sleep(self.listen_for)  # the loop is busy: a thread must not wait for it
            if self.after_pause is not None:
                self.after_pause(event)

    def early_starts(self, order: list[str]) -> int:
        """Steps (in ``order``, the order they ran) that began before the loop heard the
        previous one succeed."""
        count = 0
        for before, after in zip(order, order[1:]):
            done = [t for kind, t in self.heard.get(before, []) if kind == "step.succeeded"]
            if after in self.started and done and self.started[after] < done[0]:
                count += 1
        return count


def _collect(events: list[tuple[str, str]]) -> Any:
    """A listener appending ``(kind, step id)`` of each step event to ``events``."""

    def listener(event: Any) -> None:
        if event.step_id:
            events.append((event.kind, event.step_id))

    return listener


def _engine(recorder: Recorder, workers: int = 1, slow: bool = False) -> WorkflowEngine:
    """An engine with the recorder's action as ``task`` (and, with ``slow``, a 20 ms ``slow``)."""
    engine = WorkflowEngine(max_concurrent_steps=workers, plugins=hermetic_plugins(), store=None)
    engine.register_custom_action("task", recorder.action, side_effects=False)
    if slow:
        engine.register_custom_action("slow", lambda params, context: time.sleep(0.02), side_effects=False)
    return engine


def _steps(n: int, **special: dict[str, Any]) -> list[WorkflowStep]:
    return [
        WorkflowStep(id=f"s{i:03}", action="task", parameters=special.get(f"s{i:03}", {}), timeout=30) for i in range(n)
    ]


def _ran_in_order(recorder: Recorder) -> list[str]:
    return sorted(recorder.started, key=recorder.started.__getitem__)


def test_a_thread_takes_the_next_short_step_itself_within_the_bound() -> None:
    recorder = Recorder()
    stats = _engine(recorder).run(Workflow(id="w", steps=_steps(60)), listeners=(recorder.listener,))
    assert stats.succeeded, stats.error
    assert recorder.most == 1 and recorder.most_reported == 1  # one worker: never two steps at once
    order = _ran_in_order(recorder)
    assert len(order) == 60
    # Handed over by the loop, a step starts only after the loop heard the one before
    # succeed (it delivers events before it dispatches): none would start early.
    assert recorder.early_starts(order) >= 20, recorder.early_starts(order)
    for sid, heard in recorder.heard.items():
        kinds = [kind for kind, _ in heard]
        assert kinds == ["step.started", "step.succeeded"], (sid, kinds)
        assert heard[0][1] <= heard[1][1]


def test_the_bound_holds_with_several_threads_taking_steps() -> None:
    recorder = Recorder(listen_for=0.0005)
    stats = _engine(recorder, workers=3).run(Workflow(id="w", steps=_steps(600)), listeners=(recorder.listener,))
    assert stats.succeeded, stats.error
    assert stats.completed_steps == 600
    # Run and reported: a step a thread took counts as running from then, so the loop
    # never starts another in the slot it keeps (the pool's threads alone would bound
    # what runs, not what the run says runs, nor when a timeout starts counting).
    assert recorder.most <= 3 and recorder.most_reported <= 3, (recorder.most, recorder.most_reported)
    assert all([kind for kind, _ in heard] == ["step.started", "step.succeeded"] for heard in recorder.heard.values())


def test_longer_steps_are_handed_over_by_the_loop_in_its_order() -> None:
    # 5 ms a step: past lending.SHORT, so the loop starts each one (the policy's order
    # is kept exactly: a step that becomes ready never waits behind prepared ones).
    recorder = Recorder(sleep=0.005)
    stats = _engine(recorder).run(Workflow(id="w", steps=_steps(20)), listeners=(recorder.listener,))
    assert stats.succeeded, stats.error
    order = _ran_in_order(recorder)
    assert order == sorted(order)  # the file's order: the policy's, for equal paths
    assert recorder.early_starts(order) == 0


def test_a_step_ready_after_a_longer_one_goes_before_prepared_ones() -> None:
    # One worker. `a` is short, so the loop prepares the fillers for the thread while
    # `crit` (20 ms, the longest path) runs. When `crit` ends, `c2` is ready and its
    # path is longer than any filler's: the loop, not the thread, chooses the next step.
    recorder = Recorder(listen_for=0.0)
    engine = _engine(recorder, slow=True)
    steps = [
        WorkflowStep(id="a", action="task"),
        WorkflowStep(id="crit", action="slow", dependencies=["a"]),
        WorkflowStep(id="c2", action="slow", dependencies=["crit"]),
        WorkflowStep(id="c3", action="task", dependencies=["c2"]),
        *(WorkflowStep(id=f"f{i:02}", action="task") for i in range(30)),
    ]
    events: list[tuple[str, str]] = []
    stats = engine.run(Workflow(id="w", steps=steps), listeners=(recorder.listener, _collect(events)))
    assert stats.succeeded, stats.error
    order = [sid for kind, sid in events if kind == "step.started"]
    assert order[:3] == ["a", "crit", "c2"], order  # (then c3 ties with the fillers: their rank)


def test_steps_prepared_for_threads_that_stop_taking_them_are_started_by_the_loop() -> None:
    # One worker: `s0` is short, so while `long` (20 ms) runs the loop prepares x1-x3.
    # After `long` the thread takes nothing (the loop chooses after a longer step), and
    # nothing else is ready: the loop must start them itself, or the run never ends.
    recorder = Recorder(listen_for=0.0)
    engine = _engine(recorder, slow=True)
    steps = [
        WorkflowStep(id="s0", action="task"),
        WorkflowStep(id="long", action="slow"),
        *(WorkflowStep(id=f"x{i}", action="task") for i in range(1, 4)),
    ]
    ended: list[Any] = []
    runner = threading.Thread(target=lambda: ended.append(engine.run(Workflow(id="w", steps=steps))), daemon=True)
    runner.start()
    runner.join(10)
    assert ended, "the run did not end: prepared steps were left for threads that stopped taking them"
    assert ended[0].succeeded, ended[0].error
    assert sorted(recorder.started) == ["s0", "x1", "x2", "x3"]  # (`long` is not the recorder's)


def test_a_thread_whose_step_failed_takes_no_next_step() -> None:
    # s030 fails (critical): the run stops. Its thread must not start s031 on its own
    # while the loop has not yet heard of the failure.
    recorder = Recorder()
    steps = _steps(60, s030={"fail": True})
    stats = _engine(recorder).run(Workflow(id="w", steps=steps), listeners=(recorder.listener,))
    assert not stats.succeeded
    order = _ran_in_order(recorder)
    assert order[-1] == "s030", order[-5:]
    assert recorder.early_starts(order) >= 5  # (threads did take steps before the failure)
    statuses = {sid: result.status for sid, result in stats.steps.items()}
    assert all(statuses[f"s{i:03}"] is StepStatus.SUCCEEDED for i in range(30))
    assert statuses["s030"] is StepStatus.FAILED
    assert all(statuses[f"s{i:03}"] is StepStatus.CANCELLED for i in range(31, 60))


def _late_starts_after_a_failure(workers: int, steps: int, strategy: str = "adaptive") -> list[str]:
    """Run ``steps`` short steps on ``workers`` threads, the 151st failing (critical):
    the steps reported started after its failure."""
    events: list[tuple[str, str]] = []
    engine = WorkflowEngine(max_concurrent_steps=workers, plugins=hermetic_plugins(), store=None)

    def task(params: dict[str, Any], context: Any) -> None:
        if params.get("fail"):
            raise RuntimeError("failed on purpose")

    engine.register_custom_action("task", task, side_effects=False)
    workflow = Workflow(
        id="w", steps=[WorkflowStep(id=f"s{i:04}", action="task", parameters={"fail": i == 150}) for i in range(steps)]
    )
    stats = engine.run(workflow, listeners=(_collect(events),), strategy=strategy)
    assert not stats.succeeded
    after = events[events.index(("step.failed", "s0150")) :]
    return [sid for kind, sid in after if kind == "step.started"]


def test_a_critical_failure_on_one_thread_stops_the_others_taking_steps() -> None:
    # Four threads; s0150 fails. The others must not go on taking prepared steps until
    # the loop reads the failure: at most one each may have taken one as it landed.
    for _ in range(5):
        late = _late_starts_after_a_failure(workers=4, steps=400)
        assert len(late) <= 3, late


def test_a_critical_timeout_stops_the_other_threads_taking_steps() -> None:
    # `t` times out (critical) beside 1,000 short steps on three other threads. Handling
    # a timeout replaces the stuck thread, which lets the others run before the stop is
    # known: they must not take prepared steps meanwhile.
    workers = 4
    for _ in range(15):
        events: list[tuple[str, str]] = []
        engine = WorkflowEngine(max_concurrent_steps=workers, plugins=hermetic_plugins(), store=None)
        engine.register_custom_action("task", lambda params, context: None, side_effects=False)
        engine.register_custom_action("hang", lambda params, context: context.cancel_event.wait(5), side_effects=False)
        steps = [
            WorkflowStep(id="t", action="hang", timeout=0.01),
            *(WorkflowStep(id=f"s{i:04}", action="task") for i in range(1000)),
        ]
        stats = engine.run(Workflow(id="w", steps=steps), listeners=(_collect(events),), strategy="parallel")
        assert stats.steps["t"].status is StepStatus.TIMED_OUT
        after = events[events.index(("step.timed_out", "t")) :]
        late = [sid for kind, sid in after if kind == "step.started"]
        assert len(late) <= workers - 1, late


def test_a_failure_handed_back_late_still_stops_the_others_taking(monkeypatch: Any) -> None:
    # The failing thread is switched out between saying it is handing back a failure and
    # queueing it (a 2 ms sleep stands in for the switch): the loop, reading other
    # completions meanwhile, must not let the others take until it has read the failure.
    take = Standby.take

    def slow_to_hand_back(self: Standby, finished: Any) -> Any:
        taken = take(self, finished)
        if finished.result is not None and not finished.result.success:
            time.sleep(0.002)
        return taken

    monkeypatch.setattr(Standby, "take", slow_to_hand_back)
    for _ in range(5):
        late = _late_starts_after_a_failure(workers=4, steps=1000, strategy="parallel")
        assert len(late) <= 3, late


def test_a_step_failing_to_prepare_stops_the_offering_and_each_step_ends_once() -> None:
    # `parallel`, 1,000 short steps; r300's template fails only when it is rendered (a
    # critical failure while the loop prepares steps for threads), and a step with
    # trigger "always" makes the stop close every step that will not start at once.
    ends = {"step.succeeded", "step.failed", "step.cancelled", "step.skipped", "step.timed_out"}
    for _ in range(5):
        events: list[tuple[str, str]] = []
        engine = WorkflowEngine(max_concurrent_steps=4, plugins=hermetic_plugins(), store=None)
        engine.register_custom_action("task", lambda params, context: None, side_effects=False)
        steps = [
            WorkflowStep(id=f"r{i:03}", action="task", parameters={"v": "{cfg.missing}"} if i == 300 else {})
            for i in range(1000)
        ]
        steps.append(WorkflowStep(id="cleanup", action="task", trigger="always", dependencies=["r999"]))
        stats = engine.run(
            Workflow(id="w", steps=steps),
            listeners=(_collect(events),),
            variables={"cfg": {"k": 1}},
            strategy="parallel",
        )
        assert stats.steps["r300"].status is StepStatus.FAILED, stats.steps["r300"]
        kinds: dict[str, list[str]] = {}
        for kind, sid in events:
            kinds.setdefault(sid, []).append(kind)
        twice = {sid: k for sid, k in kinds.items() if sum(kind in ends for kind in k) != 1}
        assert not twice, sorted(twice.items())[:3]
        # `parallel` takes steps first ready first: none after r300 started. (Steps
        # before it may read as started after its failure: threads took them while the
        # loop prepared r300, and it reads that they did after.)
        started = [sid for kind, sid in events if kind == "step.started"]
        assert not [sid for sid in started if sid != "cleanup" and sid > "r300"], started[-10:]


def test_a_sub_workflows_events_come_after_its_step_started() -> None:
    # A `workflow.run` step a thread took: the loop reads that it started, then the
    # child's events it forwards; "started" is delivered first.
    child = Path(tempfile.mkdtemp()) / "child.yaml"
    child.write_text(
        "id: child\nsteps:\n"
        + "".join(f"  - id: w{i}\n    action: wait\n    parameters: {{seconds: 0}}\n" for i in range(3))
    )
    recorder = Recorder(listen_for=0.001)
    engine = _engine(recorder, workers=2)
    steps = [
        WorkflowStep(id=f"s{i:03}", action="workflow.run", parameters={"path": str(child)})
        if i % 25 == 10
        else WorkflowStep(id=f"s{i:03}", action="task")
        for i in range(200)
    ]
    order: list[tuple[str, str]] = []
    stats = engine.run(
        Workflow(id="w", steps=steps),
        listeners=(recorder.listener, _collect(order)),
    )
    assert stats.succeeded, stats.error
    first: dict[str, tuple[int, str]] = {}
    for index, (kind, sid) in enumerate(order):
        first.setdefault(sid, (index, kind))
    for sid, (index, _kind) in first.items():
        if "/" in sid:
            parent = first[sid.split("/")[0]]
            assert parent[1] == "step.started" and parent[0] < index, (sid, parent, index)


def test_a_cancel_stops_threads_taking_steps() -> None:
    # s020 cancels the run from its pool thread, with steps prepared for it to take
    # (a loop not slowed keeps some ready): the thread must not take the next one.
    recorder = Recorder(listen_for=0.0)
    engine = _engine(recorder)
    recorder.cancel = lambda: engine.cancel_workflow("w")
    steps = _steps(200, s020={"cancel": True})
    stats = engine.run(Workflow(id="w", steps=steps), listeners=(recorder.listener,))
    assert stats.status.value == "cancelled", stats.status
    assert sorted(recorder.started) == [f"s{i:03}" for i in range(21)]
    assert stats.completed_steps + stats.cancelled_steps == 200


def test_steps_threads_took_as_a_cancel_landed_end_once() -> None:
    # A step with trigger "always" makes a cancel close at once every step that will
    # not start. The loop, not slowed but once, keeps steps prepared; while it is held
    # up in the listener for s020 the thread takes some, and then the run is cancelled.
    # Each step ends once: run, or cancelled as not started. (The narrower moment, a
    # step taken just before the cancel and read after it: test_run_state.py's
    # test_a_step_offered_to_pool_threads_is_not_closed_by_a_cancel_and_ends_once.)
    recorder = Recorder(listen_for=0.0)
    engine = _engine(recorder)

    def pause_then_cancel(event: Any) -> None:
        if event.step_id == "s020":
            time.sleep(0.005)
            engine.cancel_workflow("w")

    recorder.after_pause = pause_then_cancel
    steps = [*_steps(200), WorkflowStep(id="cleanup", action="task", trigger="always", dependencies=["s199"])]
    stats = engine.run(Workflow(id="w", steps=steps), listeners=(recorder.listener,))
    assert stats.status.value == "cancelled", stats.status
    assert len(recorder.started) > 22, sorted(recorder.started)  # (taken during the pause)
    ends = ("step.succeeded", "step.cancelled", "step.failed", "step.skipped")
    for sid in [f"s{i:03}" for i in range(200)]:
        kinds = [kind for kind, _ in recorder.heard.get(sid, [])]
        assert sum(kind in ends for kind in kinds) == 1, (sid, kinds)
        if sid in recorder.started:
            assert kinds[0] == "step.started", (sid, kinds)
        else:
            assert kinds == ["step.cancelled"] and stats.steps[sid].status is StepStatus.CANCELLED, (sid, kinds)
    assert stats.completed_steps + stats.cancelled_steps + stats.skipped_steps == 201
    assert not stats.error or "internal error" not in stats.error, stats.error


def test_a_step_a_thread_took_times_out_from_when_it_started() -> None:
    recorder = Recorder()
    steps = _steps(30, s025={"hang": True})
    steps[25] = WorkflowStep(id="s025", action="task", parameters={"hang": True}, timeout=0.3)
    started = time.monotonic()
    stats = _engine(recorder).run(Workflow(id="w", steps=steps), listeners=(recorder.listener,))
    took = time.monotonic() - started
    order = _ran_in_order(recorder)
    # It was taken by the thread, not handed over (so its deadline came with the notice).
    done = [t for kind, t in recorder.heard["s024"] if kind == "step.succeeded"]
    assert order.index("s025") == 25 and recorder.started["s025"] < done[0]
    assert stats.steps["s025"].status is StepStatus.TIMED_OUT
    assert took < 5, took  # the action waits 10 s for its cancel: the timeout gave it
