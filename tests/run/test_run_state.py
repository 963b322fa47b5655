"""RunState transitions, driven by hand as the loop drives them: no threads, no clocks."""

from __future__ import annotations

from wfe_core.model.workflow import StepResult, WorkflowStep
from wfe_core.plan.graph import DependencyGraph
from wfe_core.plugin.capabilities import Action
from wfe_core.run.attempt import Attempt
from wfe_core.run.state import RunState, Stop, Write
from wfe_core.run.timers import TimerKind

ACTION = Action("noop", lambda params, context: None, side_effects=False)


def make_state(deps: dict[str, list[str]], steps: dict[str, dict] | None = None, **options) -> RunState:
    """A state for the DAG ``deps`` (step -> dependencies); ``steps`` gives step fields."""
    steps = steps or {}
    workflow_steps = [
        WorkflowStep(id=sid, action="noop", dependencies=parents, **steps.get(sid, {})) for sid, parents in deps.items()
    ]
    graph = DependencyGraph(deps)
    options.setdefault("uniform", lambda low, high: 0.0)
    return RunState(workflow_steps, graph.parents, graph.children, graph.order, **options)


def take_ready(state: RunState) -> list[str]:
    """What the policy would be handed (and the outbox emptied)."""
    ready = list(state.ready)
    state.ready.clear()
    return ready


def start(state: RunState, sid: str, now: float = 0.0) -> Attempt:
    number = state.records[sid].attempts + 1
    attempt = Attempt(sid, number, ACTION, None, None, state.steps[sid].timeout, submitted=now, wall_started=now)
    state.start(attempt, now)
    return attempt


def succeed(state: RunState, attempt: Attempt, output=None, now: float = 1.0, variables=None) -> None:
    attempt.started, attempt.ended = attempt.submitted, now
    attempt.result = StepResult(success=True, output=output, variables=variables or {})
    state.finish(attempt, now, now)


def fail(state: RunState, attempt: Attempt, error: str = "boom", now: float = 1.0) -> None:
    attempt.started, attempt.ended = attempt.submitted, now
    attempt.result = StepResult(success=False, error=error)
    state.finish(attempt, now, now)


def statuses(state: RunState) -> dict[str, str]:
    return {sid: record.status.value for sid, record in state.records.items()}


# -- readiness and release ---------------------------------------------------------------------
def test_roots_are_ready_at_the_beginning_and_children_wait_for_the_commit():
    state = make_state({"a": [], "b": ["a"], "c": ["a"]})
    state.begin(0.0)
    assert take_ready(state) == ["a"]
    succeed(state, start(state, "a"), output=1)
    # Succeeded, but not yet committed: nothing is released before the store has it.
    assert statuses(state)["a"] == "succeeded" and state.ready == [] and state.releasing == ["a"]
    state.release_committed(2.0)
    assert take_ready(state) == ["b", "c"] and state.releasing == []
    assert state.results["a"] == {"output": 1, "status": "succeeded", "error": None}


def test_a_child_is_released_once_whatever_order_its_parents_end_in():
    state = make_state({"a": [], "b": [], "c": ["a", "b"], "d": ["c"]})
    state.begin(0.0)
    assert take_ready(state) == ["a", "b"]
    a, b = start(state, "a"), start(state, "b")
    succeed(state, b)
    state.release_committed(1.0)
    assert take_ready(state) == []  # c still waits for a
    succeed(state, a)
    state.release_committed(1.0)
    state.release_committed(1.0)  # nothing left to release: no second "ready"
    assert take_ready(state) == ["c"]
    assert state.waiting["c"] == 0


def test_without_propagation_a_skipped_parent_releases_at_once_and_the_child_is_ready_once():
    # The bug of three release copies: the child was found ready twice and ran twice.
    state = make_state(
        {"a": [], "b": [], "c": ["a", "b"]},
        steps={"a": {"conditions": {"go": True}}},
        variables={"go": False},
        propagate_skips=False,
    )
    state.begin(0.0)
    assert statuses(state)["a"] == "skipped"
    assert take_ready(state) == ["b"]
    succeed(state, start(state, "b"))
    state.release_committed(1.0)
    assert take_ready(state) == ["c"]


def test_a_false_condition_skips_the_step_and_its_descendants():
    state = make_state(
        {"a": [], "b": ["a"], "c": ["b"], "x": []},
        steps={"a": {"conditions": {"env": "prod"}}},
        variables={"env": "dev"},
    )
    state.begin(0.0)
    assert take_ready(state) == ["x"]
    assert statuses(state) == {"a": "skipped", "b": "skipped", "c": "skipped", "x": "pending"}
    assert state.records["c"].reason == "upstream step 'a' was skipped"
    assert state.finished == 3


def _row(sid, output):
    return {
        "step_id": sid,
        "output": output,
        "attempts": 1,
        "duration": 0.1,
        "started_at": 1.0,
        "finished_at": 2.0,
        "variables": {sid: output},
        "memo": None,
    }


def test_a_resumed_run_releases_the_children_of_restored_steps_and_never_reruns_one():
    state = make_state({"a": [], "b": ["a"], "c": ["b"], "d": ["a", "c"], "r": []})
    state.restore([_row("a", 7), _row("b", 8)])
    state.begin(0.0)
    # b is released by a, but it succeeded before: it must not run again.
    assert take_ready(state) == ["r", "c"]
    assert state.variables == {"a": 7, "b": 8} and state.results["a"]["output"] == 7
    assert state.completed == [("a", 7, None), ("b", 8, None)]
    assert statuses(state)["b"] == "succeeded" and state.finished == 2


# -- failures ---------------------------------------------------------------------------------
def test_a_non_critical_failure_in_a_diamond_skips_exactly_its_descendants():
    #     a
    #    / \
    #   b   c      b fails (not critical): d and e (below b) are skipped; c, f go on.
    #    \ / \
    #     d   f
    #     |
    #     e
    state = make_state(
        {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"], "f": ["c"]}, steps={"b": {"critical": False}}
    )
    state.begin(0.0)
    succeed(state, start(state, take_ready(state)[0]))
    state.release_committed(1.0)
    assert take_ready(state) == ["b", "c"]
    b, c = start(state, "b"), start(state, "c")
    fail(state, b, "b broke")
    assert statuses(state) == {
        "a": "succeeded",
        "b": "failed",
        "c": "running",
        "d": "skipped",
        "e": "skipped",
        "f": "pending",
    }
    assert state.records["d"].reason == state.records["e"].reason == "upstream step 'b' failed"
    assert state.stopping is None and state.critical_failure is None
    succeed(state, c)
    state.release_committed(2.0)
    assert take_ready(state) == ["f"]
    succeed(state, start(state, "f"))
    state.release_committed(3.0)
    assert not state.busy and state.end(4.0) is None
    assert statuses(state)["f"] == "succeeded"


def test_a_critical_failure_drops_pending_retries_and_cancels_steps_never_started():
    state = make_state(
        {"a": [], "b": [], "c": [], "d": ["a"], "e": []},
        steps={"b": {"max_retries": 3, "critical": False}, "e": {"max_retries": 3}},
    )
    state.begin(0.0)
    assert take_ready(state) == ["a", "b", "c", "e"]
    a, b, e = start(state, "a"), start(state, "b"), start(state, "e")
    fail(state, b, "flaky")
    assert "b" in state.retrying and len(state.timers) == 4  # three deadlines, one retry
    fail(state, a, "broken")
    assert state.stopping is Stop.CRITICAL_FAILURE
    assert state.critical_failure == "critical step 'a' failed"
    assert state.retrying == {}
    assert statuses(state)["b"] == "cancelled"
    assert state.records["b"].reason == "retry not started: critical step 'a' failed"
    fail(state, e, "also broken")  # still running at the failure: no retry now, it ends at once
    assert statuses(state)["e"] == "failed" and state.retrying == {}
    assert not state.busy
    # c was ready but never started; d never became ready: both are cancelled at the end.
    why = state.end(5.0)
    assert why == "critical step 'a' failed"
    assert statuses(state) == {"a": "failed", "b": "cancelled", "c": "cancelled", "d": "cancelled", "e": "failed"}
    assert state.records["c"].reason == "not started: critical step 'a' failed"


def test_a_step_made_ready_after_a_critical_failure_is_cancelled_not_started():
    state = make_state({"a": [], "b": [], "c": ["b"]})
    state.begin(0.0)
    a, b = start(state, "a"), start(state, take_ready(state)[1])
    succeed(state, b)
    fail(state, a)
    state.release_committed(1.0)  # b's success commits after a's critical failure
    assert state.ready == []
    assert statuses(state)["c"] == "cancelled"
    assert state.records["c"].reason == "not started: critical step 'a' failed"


def test_retries_follow_backoff_with_equal_jitter_and_count_prior_attempts_of_a_resumed_run():
    # Attempts 1-3 were made by an earlier run: this run numbers on, with the whole budget.
    jitter = []
    state = make_state(
        {"a": []},
        steps={"a": {"max_retries": 2, "retry_delay": 4.0, "retry_backoff": 3.0, "retry_max_delay": 10.0}},
        prior_attempts={"a": 3},
        uniform=lambda low, high: jitter.append((low, high)) or high,
    )
    state.begin(0.0)
    take_ready(state)
    first = start(state, "a", now=100.0)
    assert first.number == 4
    fail(state, first, now=101.0)
    assert jitter == [(0, 2.0)]  # delay 4: half fixed, half random
    assert state.timers.next_due() == 105.0  # the deadline of attempt 4 is at 100 + 3600
    assert state.timers.pop_due(104.9) is None
    assert state.timers.pop_due(105.0)[:2] == (TimerKind.RETRY, "a")
    state.retry_due("a", 105.0)
    assert take_ready(state) == ["a"]
    second = start(state, "a", now=106.0)
    fail(state, second, now=107.0)
    assert jitter[1] == (0, 5.0)  # 4 * 3 = 12, capped at 10
    state.retry_due("a", 117.0)
    third = start(state, "a", now=117.0)
    assert third.number == 6
    fail(state, third, "still broken", now=118.0)
    assert statuses(state)["a"] == "failed" and state.records["a"].attempts == 6
    assert state.records["a"].error == "still broken" and not state.busy


def test_a_timed_out_attempt_is_retried_and_its_late_result_is_ignored():
    state = make_state({"a": [], "b": ["a"]}, steps={"a": {"timeout": 2.0, "max_retries": 1}})
    state.begin(0.0)
    take_ready(state)
    slow = start(state, "a")
    state.time_out(slow, 2.0, 2.0)
    assert state.records["a"].error == "timed out after 2s" and "a" in state.retrying
    succeed(state, slow, now=3.0)  # the abandoned attempt returns after all: too late
    assert statuses(state)["a"] == "running" and state.releasing == []
    state.retry_due("a", 4.0)
    take_ready(state)
    timed_out = start(state, "a", now=4.0)
    state.time_out(timed_out, 6.0, 6.0)
    assert statuses(state)["a"] == "timed_out"
    assert state.end(7.0) == "critical step 'a' failed"


def test_variables_returned_without_declaring_them_fail_the_step():
    state = make_state({"a": []})
    state.begin(0.0)
    take_ready(state)
    succeed(state, start(state, "a"), variables={"x": 1})
    assert statuses(state)["a"] == "failed"
    assert "returned variables but does not declare sets_variables=True" in state.records["a"].error
    assert state.variables == {}


# -- cancel -----------------------------------------------------------------------------------
def test_cancel_stops_dispatch_cancels_retries_and_what_runs_ends_cancelled():
    state = make_state({"a": [], "b": [], "c": [], "d": ["a"]}, steps={"b": {"max_retries": 1}})
    state.begin(0.0)
    take_ready(state)
    a, b = start(state, "a"), start(state, "b")
    fail(state, b)
    assert "b" in state.retrying
    assert state.cancel(5.0, 5.0) == [a]  # the loop sets the cancel flags of these
    assert state.stopping is Stop.CANCELLED and state.cancel_requested
    assert statuses(state)["b"] == "cancelled"
    assert state.records["b"].reason == "retry not started: run cancelled"
    succeed(state, a)  # it finished anyway: after a cancel nothing succeeds
    assert statuses(state)["a"] == "cancelled" and state.records["a"].reason == "run cancelled"
    assert state.releasing == [] and state.completed == []
    assert state.end(6.0) == "cancelled"
    assert statuses(state) == {"a": "cancelled", "b": "cancelled", "c": "cancelled", "d": "cancelled"}
    assert state.records["c"].reason == "not started: cancelled"


def test_a_critical_failure_that_follows_a_cancel_request_is_its_fallout_not_the_cause():
    state = make_state({"a": []})
    state.begin(0.0)
    take_ready(state)
    a = start(state, "a")
    state.cancel_requested = True  # seen by the loop, not acted on yet
    fail(state, a, "killed")
    assert state.critical_failure is None and state.stopping is Stop.CRITICAL_FAILURE


def test_abandoning_running_attempts_cancels_their_steps():
    state = make_state({"a": [], "b": []})
    state.begin(0.0)
    take_ready(state)
    a, b = start(state, "a"), start(state, "b")
    state.cancel(1.0, 1.0)
    assert state.abandon_running("gave up", 7.0) == [a, b]
    assert not state.busy and statuses(state) == {"a": "cancelled", "b": "cancelled"}
    assert state.records["a"].reason == "gave up"


# -- outboxes ---------------------------------------------------------------------------------
def test_writes_and_events_record_every_transition_in_order():
    state = make_state({"a": [], "b": ["a"]}, recording=True, emitting=True)
    state.begin(0.0)
    take_ready(state)
    a = start(state, "a")
    succeed(state, a, output="x")
    kinds = [w[0] for w in state.writes]
    assert kinds == [Write.STEP_STARTED, Write.ATTEMPT_FINISHED, Write.STEP_FINISHED]
    assert state.writes[2][4] == 1  # completion sequence, for rollback order
    assert [(kind, sid) for kind, sid, _ in state.events] == [
        ("step.started", "a"),
        ("step.succeeded", "a"),
        ("progress", None),
    ]
    assert state.events[2][2] == {"completion_percentage": 50.0, "finished": 1, "total": 2}


def test_nothing_is_recorded_for_a_run_without_store_or_listeners():
    state = make_state({"a": []})
    state.begin(0.0)
    take_ready(state)
    succeed(state, start(state, "a"))
    assert state.writes == [] and state.events == []


def test_a_run_that_ends_with_steps_never_started_and_no_reason_is_an_internal_error():
    state = make_state({"a": [], "b": []})
    state.begin(0.0)
    take_ready(state)  # a strategy that never starts them: a scheduling bug
    why = state.end(1.0)
    assert why == "internal error: the run ended with 2 steps never started (a, b)"
    assert state.stopping is Stop.INTERNAL_ERROR


# -- when expressions --------------------------------------------------------------------------
def test_a_false_when_skips_the_step_and_its_descendants_with_the_values_seen():
    state = make_state(
        {"a": [], "b": ["a"], "c": ["b"]},
        {"b": {"when": "steps.a.output.n > 1 and mode == 'x'"}},
        variables={"mode": "x"},
    )
    state.begin(0.0)
    assert take_ready(state) == ["a"]
    succeed(state, start(state, "a"), output={"n": 1})
    state.release_committed(1.0)
    assert take_ready(state) == []
    assert statuses(state) == {"a": "succeeded", "b": "skipped", "c": "skipped"}
    assert state.records["b"].reason == "when \"steps.a.output.n > 1 and mode == 'x'\" is false (steps.a.output.n=1)"


def test_a_true_when_makes_the_step_ready():
    state = make_state({"a": [], "b": ["a"]}, {"b": {"when": "steps.a.status == 'succeeded'"}})
    state.begin(0.0)
    assert take_ready(state) == ["a"]
    succeed(state, start(state, "a"))
    state.release_committed(1.0)
    assert take_ready(state) == ["b"]


def test_a_when_that_cannot_be_evaluated_fails_the_step_like_any_failure():
    state = make_state({"a": [], "b": ["a"], "c": ["a"]}, {"b": {"when": "missing == 1", "critical": False}})
    state.begin(0.0)
    assert take_ready(state) == ["a"]
    succeed(state, start(state, "a"))
    state.release_committed(1.0)
    assert take_ready(state) == ["c"]
    assert state.records["b"].status.value == "failed"
    assert state.records["b"].error == "when \"missing == 1\": name 'missing' is not defined"
    assert state.stopping is None  # not critical: the rest goes on


# -- triggers ----------------------------------------------------------------------------------
def test_always_runs_after_a_critical_failure_once_every_dependency_ended():
    # a fails (critical); b (on_success, waits for a) will never start; c runs on; d always.
    state = make_state({"a": [], "c": [], "b": ["a"], "d": ["b", "c"]}, {"d": {"trigger": "always"}})
    state.begin(0.0)
    assert take_ready(state) == ["a", "c"]
    a, c = start(state, "a"), start(state, "c")
    fail(state, a)
    assert state.stopping is Stop.CRITICAL_FAILURE
    assert state.records["b"].status.value == "cancelled"  # closed at once: d must not wait for end()
    assert take_ready(state) == []  # c still runs
    succeed(state, c, now=2.0)
    state.release_committed(2.0)
    assert state.take_after_stop(4, 2.0) == ["d"]
    succeed(state, start(state, "d"), now=3.0)
    assert state.records["d"].status.value == "succeeded"
    assert state.end(4.0) == "critical step 'a' failed"  # the original failure stays the reason


def test_on_failure_runs_only_when_a_dependency_failed_or_timed_out():
    state = make_state({"a": [], "b": ["a"]}, {"a": {"critical": False}, "b": {"trigger": "on_failure"}})
    state.begin(0.0)
    take_ready(state)
    fail(state, start(state, "a"))
    assert take_ready(state) == ["b"]

    state = make_state({"a": [], "b": ["a"]}, {"b": {"trigger": "on_failure"}})
    state.begin(0.0)
    take_ready(state)
    succeed(state, start(state, "a"))
    state.release_committed(1.0)
    assert take_ready(state) == []
    assert state.records["b"].status.value == "skipped"
    assert state.records["b"].reason == "trigger on_failure: no dependency failed or timed out"


def test_a_skip_does_not_propagate_into_an_always_step_but_counts_as_its_dependency_ending():
    state = make_state(
        {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]},
        {"a": {"critical": False}, "c": {"trigger": "always"}},
    )
    state.begin(0.0)
    take_ready(state)
    fail(state, start(state, "a"))
    assert statuses(state)["b"] == "skipped"
    assert take_ready(state) == ["c"]  # b's skip ended its wait
    succeed(state, start(state, "c"))
    state.release_committed(1.0)
    assert take_ready(state) == ["d"]


def test_an_always_step_still_runs_and_keeps_its_result_after_a_first_cancel():
    state = make_state({"a": [], "b": ["a"], "c": ["a"]}, {"c": {"trigger": "always"}})
    state.begin(0.0)
    take_ready(state)
    a = start(state, "a")
    assert state.cancel(1.0, 1.0) == [a]
    assert statuses(state)["b"] == "cancelled"
    succeed(state, a, now=2.0)  # it returned after the cancel: cancelled, not succeeded
    assert statuses(state)["a"] == "cancelled"
    assert state.take_after_stop(1, 2.0) == ["c"]
    succeed(state, start(state, "c"), now=3.0)
    assert statuses(state)["c"] == "succeeded"
    state.end(4.0)
    assert all(record.status.finished for record in state.records.values())


def test_a_step_offered_to_pool_threads_is_not_closed_by_a_cancel_and_ends_once():
    # Offered (wfe_core.run.lending): a pool thread may be starting it as the cancel
    # lands; the loop reads that it did only afterwards. A triggered step makes the
    # cancel close at once every step that will not start: never this one.
    state = make_state({"a": [], "b": [], "c": ["a"]}, {"c": {"trigger": "always"}})
    state.begin(0.0)
    assert take_ready(state) == ["a", "b"]
    a = start(state, "a")
    state.offered.add("b")
    assert state.cancel(1.0, 1.0) == [a]
    assert statuses(state)["b"] == "pending"
    b = start(state, "b")  # the thread's notice, read after the cancel
    assert not state.offered
    succeed(state, b, now=2.0)
    assert statuses(state)["b"] == "cancelled" and state.records["b"].reason == "run cancelled"
    finished = state.finished
    succeed(state, a, now=2.0)
    assert state.finished == finished + 1


def test_triggered_steps_beyond_the_free_workers_wait_and_other_ready_steps_are_cancelled():
    state = make_state(
        {"a": [], "x": [], "c1": ["a"], "c2": ["a"]}, {"c1": {"trigger": "always"}, "c2": {"trigger": "always"}}
    )
    state.begin(0.0)
    assert take_ready(state) == ["a", "x"]
    state.ready.append("x")  # as if the loop had not handed x to the policy yet
    fail(state, start(state, "a"))
    assert state.take_after_stop(1, 1.0) == ["c1"]
    assert statuses(state)["x"] == "cancelled"
    assert state.ready == ["c2"]


# -- resources ---------------------------------------------------------------------------------
def test_a_step_needing_a_held_resource_is_parked_and_returns_when_the_holder_ends():
    state = make_state(
        {"a": [], "b": [], "c": []},
        {"a": {"resources": ["db"]}, "b": {"resources": {"db": 1}}},
        resources={"db": 1},
    )
    state.begin(0.0)
    assert take_ready(state) == ["a", "b", "c"]
    assert state.admit("a")
    a = start(state, "a")
    assert state.held == {"db": 1}
    assert not state.admit("b")  # parked: it holds no worker, c may start
    assert state.admit("c")
    start(state, "c")
    assert state.parked == ["b"]
    fail(state, a)  # any end frees the resource
    assert state.held == {"db": 0}
    assert take_ready(state) == ["b"] and state.parked == []
    assert state.admit("b")


def test_a_timed_out_holder_frees_its_resource_too():
    state = make_state({"a": [], "b": []}, {s: {"resources": {"db": 2}} for s in "ab"}, resources={"db": 3})
    state.begin(0.0)
    take_ready(state)
    assert state.admit("a")
    a = start(state, "a")
    assert not state.admit("b")
    state.time_out(a, 5.0, 5.0)
    assert state.held == {"db": 0} and take_ready(state) == ["b"]
