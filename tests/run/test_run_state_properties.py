"""Random DAGs and random outcomes driven through RunState alone (no threads, no clocks).

Whatever happens (successes, failures, crashes, timeouts, retries, commits in any
order, a cancel at any moment), every step ends in exactly one finished status and
no step starts before each parent's success is committed.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wfe_core.model.workflow import StepResult, StepStatus, WorkflowStep
from wfe_core.plan.graph import DependencyGraph
from wfe_core.plugin.capabilities import Action
from wfe_core.run.attempt import Attempt
from wfe_core.run.state import RunState, Stop
from wfe_core.run.stats import run_status

ACTION = Action("noop", lambda params, context: None, side_effects=False)


@st.composite
def workflows(draw):
    n = draw(st.integers(1, 9))
    steps = []
    for i in range(n):
        earlier = [f"s{j}" for j in range(i)]
        parents = sorted(draw(st.sets(st.sampled_from(earlier), max_size=3))) if earlier else []
        conditions = {"go": True} if draw(st.integers(0, 5)) == 0 else {}
        steps.append(
            WorkflowStep(
                id=f"s{i}",
                action="noop",
                dependencies=parents,
                conditions=conditions,
                critical=draw(st.booleans()),
                max_retries=draw(st.integers(0, 2)),
            )
        )
    return steps


@settings(max_examples=200, deadline=None)
@given(steps=workflows(), data=st.data(), propagate=st.booleans())
def test_every_step_ends_finished_and_none_starts_before_its_parents_succeeded(steps, data, propagate):
    graph = DependencyGraph({s.id: s.dependencies for s in steps})
    state = RunState(
        steps,
        graph.parents,
        graph.children,
        graph.order,
        variables={"go": False},
        propagate_skips=propagate,
        recording=True,
        emitting=True,
        uniform=lambda low, high: low,
    )
    state.begin(0.0)
    policy: list[str] = []
    t = 0.0
    while True:
        for sid in state.ready:
            assert sid not in policy, f"{sid} was made ready twice"
            policy.append(sid)
        state.ready.clear()
        options = []
        if policy and state.stopping is None:
            options.append("start")
        if state.running:
            options.append("finish")
        if state.retrying:
            options.append("retry")
        if state.releasing:
            options.append("commit")
        if not state.cancel_requested and data.draw(st.integers(0, 15)) == 0:
            options.append("cancel")
        if not options:
            break
        choice = data.draw(st.sampled_from(options))
        t += 1.0
        if choice == "start":
            sid = policy.pop(data.draw(st.integers(0, len(policy) - 1)))
            record = state.records[sid]
            assert sid not in state.running and not record.status.finished
            for parent in graph.parents[sid]:
                status = state.records[parent].status
                released_by_skip = status is StepStatus.SKIPPED and not propagate
                assert (status is StepStatus.SUCCEEDED and parent not in state.releasing) or released_by_skip, (
                    f"{sid} started while its parent {parent} is {status.value}"
                )
            attempt = Attempt(sid, record.attempts + 1, ACTION, None, None, 10.0, submitted=t, wall_started=t)
            state.start(attempt, t)
        elif choice == "finish":
            attempt = state.running[data.draw(st.sampled_from(sorted(state.running)))]
            outcome = data.draw(st.sampled_from(["ok", "fail", "crash", "timeout"]))
            attempt.started, attempt.ended = attempt.submitted, t
            if outcome == "timeout":
                state.time_out(attempt, t, t)
                continue
            if outcome != "crash":
                attempt.result = StepResult(success=outcome == "ok", error=None if outcome == "ok" else "boom")
            state.finish(attempt, t, t, crash="RuntimeError: gone" if outcome == "crash" else None)
        elif choice == "retry":
            state.retry_due(data.draw(st.sampled_from(sorted(state.retrying))), t)
        elif choice == "commit":
            state.release_committed(t)
        else:
            state.cancel(t, t)

    why = state.end(t + 1)
    records = state.records
    assert all(r.status.finished for r in records.values()), {s: r.status for s, r in records.items()}
    assert state.finished == len(records)
    assert not state.busy and state.releasing == []
    for step in steps:
        assert records[step.id].attempts <= step.max_retries + 1
    succeeded = {sid for sid, r in records.items() if r.status is StepStatus.SUCCEEDED}
    assert succeeded == {sid for sid, _, _ in state.completed}
    # Every step finished once: one STEP_FINISHED write each.
    finished_writes = [w[1].step_id for w in state.writes if w[0].value == "step_finished"]
    assert sorted(finished_writes) == sorted(records)
    status = run_status(state, why)
    if status.value == "succeeded":
        # A non-critical failure does not fail the run; anything else that did not succeed does.
        by_id = {s.id: s for s in steps}
        assert all(
            r.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)
            or (r.status in (StepStatus.FAILED, StepStatus.TIMED_OUT) and not by_id[sid].critical)
            for sid, r in records.items()
        )
        assert state.stopping is None
    if state.critical_failure is not None:
        assert status.value == "failed" and state.stopping in (Stop.CRITICAL_FAILURE, Stop.CANCELLED)
