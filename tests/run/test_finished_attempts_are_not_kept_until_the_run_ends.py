"""A finished attempt's deadline timer does not keep it (its context, its parents'
outputs) alive until the run ends: stale deadline entries are dropped in batches.

A real run of 700 steps on worker threads; weak references to each step's context.
"""

from __future__ import annotations

import gc
import weakref

from wfe_core import Workflow, WorkflowEngine, WorkflowStep
from wfe_core.run.timers import TimerKind, Timers

STEPS = 700


def test_a_long_run_frees_the_contexts_of_finished_steps():
    seen: list[weakref.ref] = []
    alive_at_end: list[int] = []

    def record(params, context):
        seen.append(weakref.ref(context))
        if context.step.id == f"s{STEPS - 1}":
            gc.collect()
            alive_at_end.append(sum(ref() is not None for ref in seen))
        return "x" * 10

    engine = WorkflowEngine(store=None)
    engine.register_custom_action("record", record, side_effects=False)
    steps = [WorkflowStep(id=f"s{i}", action="record", dependencies=(f"s{i - 1}",) if i else ()) for i in range(STEPS)]
    stats = engine.run(Workflow(id="long", steps=steps))
    assert stats.succeeded
    # Kept by their deadline entries they would all be alive (700); at most the stale
    # entries tolerated before a sweep (256) and the one running are.
    assert alive_at_end and alive_at_end[0] <= 300


def test_stale_entries_are_swept_and_live_ones_kept_in_order():
    live_ids = {"keep1", "keep2"}
    timers = Timers(live=lambda kind, sid, attempt: kind is TimerKind.RETRY or sid in live_ids)
    timers.push(5.0, TimerKind.DEADLINE, "keep2")
    timers.push(1.0, TimerKind.RETRY, "retry")
    for i in range(600):
        timers.push(2.0 + i, TimerKind.DEADLINE, f"gone{i}")
    timers.push(3.0, TimerKind.DEADLINE, "keep1")
    for _ in range(600):
        timers.stale()
    assert len(timers) < 400
    due = []
    while (timer := timers.pop_due(10_000.0)) is not None:
        due.append(timer[1])
    assert [d for d in due if not d.startswith("gone")] == ["retry", "keep1", "keep2"]


def test_without_a_live_test_nothing_is_dropped():
    timers = Timers()
    for i in range(600):
        timers.push(float(i), TimerKind.DEADLINE, f"s{i}")
        timers.stale()
    assert len(timers) == 600
