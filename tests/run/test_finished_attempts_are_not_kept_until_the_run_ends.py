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


def test_stale_deadlines_are_swept_and_live_timers_kept_in_order():
    running = {"keep1": "attempt1", "keep2": "attempt2"}
    timers = Timers(running)
    timers.push(5.0, TimerKind.DEADLINE, "keep2", "attempt2")
    timers.push(1.0, TimerKind.RETRY, "retry")
    timers.push(4.0, TimerKind.DEADLINE, "keep1", "an attempt that ended")  # its step runs again
    for i in range(600):
        timers.push(2.0 + i, TimerKind.DEADLINE, f"gone{i}", "ended")
        timers.stale += 1
    timers.push(3.0, TimerKind.DEADLINE, "keep1", "attempt1")
    assert len(timers) < 400
    due = []
    while (timer := timers.pop_due(10_000.0)) is not None:
        due.append((timer[1], timer[2]))
    assert [d for d in due if not d[0].startswith("gone")] == [
        ("retry", None),
        ("keep1", "attempt1"),
        ("keep2", "attempt2"),
    ]


def test_without_the_running_map_nothing_is_dropped():
    timers = Timers()
    for i in range(600):
        timers.push(float(i), TimerKind.DEADLINE, f"s{i}")
        timers.stale += 1
    assert len(timers) == 600
