"""RunState transitions of fan-out steps (for_each / matrix), driven by hand as the loop
drives them: no threads, no clocks."""

from __future__ import annotations

from wfe_core.load.templating import Unknown
from wfe_core.model.workflow import StepResult, WorkflowStep
from wfe_core.plan.fanout import expand
from wfe_core.plan.graph import DependencyGraph
from wfe_core.plugin.capabilities import Action
from wfe_core.run.attempt import Attempt
from wfe_core.run.state import RunState, Write

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
    ready = list(state.ready)
    state.ready.clear()
    return ready


def start(state: RunState, sid: str, now: float = 0.0) -> Attempt:
    number = state.records[sid].attempts + 1
    attempt = Attempt(sid, number, ACTION, None, None, state.steps[sid].timeout, submitted=now, wall_started=now)
    state.start(attempt, now)
    return attempt


def succeed(state: RunState, attempt: Attempt, output=None, now: float = 1.0) -> None:
    attempt.started, attempt.ended = attempt.submitted, now
    attempt.result = StepResult(success=True, output=output)
    state.finish(attempt, now, now)


def fail(state: RunState, attempt: Attempt, error: str = "boom", now: float = 1.0) -> None:
    attempt.started, attempt.ended = attempt.submitted, now
    attempt.result = StepResult(success=False, error=error)
    state.finish(attempt, now, now)


def statuses(state: RunState) -> dict[str, str]:
    return {sid: record.status.value for sid, record in state.records.items()}


def drain(state) -> list[str]:
    """Ready steps as the loop hands them to a policy and takes them back."""
    keys = [state.policy_key(sid) for sid in take_ready(state)]
    return [sid for sid in (state.claim(k) for k in keys) if sid is not None]


def test_a_static_list_expands_into_instances_released_max_parallel_at_a_time():
    state = make_state({"build": []}, steps={"build": {"for_each": ["a", "b", "c"], "max_parallel": 2}})
    state.begin(0.0)
    assert drain(state) == ["build[0]", "build[1]"]
    assert statuses(state)["build"] == "running" and statuses(state)["build[2]"] == "pending"
    assert state.scopes["build[1]"] == {"item": "b", "item_index": 1}
    first, second = start(state, "build[0]"), start(state, "build[1]")
    succeed(state, second, output="B")
    assert drain(state) == ["build[2]"]  # a slot freed: the next one, never more than 2 at once
    succeed(state, first, output="A")
    assert drain(state) == [] and statuses(state)["build"] == "running"
    succeed(state, start(state, "build[2]"), output="C")
    # The step ends with its last instance: outputs in item order, not completion order.
    assert statuses(state)["build"] == "succeeded"
    assert state.results["build"] == {"output": ["A", "B", "C"], "status": "succeeded", "error": None}
    assert [c[0] for c in state.completed] == ["build[1]", "build[0]", "build[2]"]  # what rollback undoes


def test_instances_go_to_the_policy_as_their_step_and_dependents_wait_for_all_of_them():
    state = make_state({"list": [], "each": ["list"], "after": ["each"]}, steps={"each": {"for_each": "{items}"}})
    state.variables["items"] = [1, 2]
    state.begin(0.0)
    assert take_ready(state) == ["list"]
    succeed(state, start(state, "list"))
    state.release_committed(1.0)
    ready = take_ready(state)
    assert ready == ["each[0]", "each[1]"]
    assert [state.policy_key(s) for s in ready] == ["each", "each"]  # what strategies see
    assert state.claim("each") == "each[0]" and state.claim("each") == "each[1]" and state.claim("each") is None
    succeed(state, start(state, "each[0]"), output=10)
    state.release_committed(1.0)
    assert take_ready(state) == []  # after waits for every instance
    succeed(state, start(state, "each[1]"), output=20)
    state.release_committed(1.0)
    assert take_ready(state) == ["after"]
    assert state.results["each"]["output"] == [10, 20]


def test_a_list_from_an_upstream_output_is_read_when_the_step_becomes_ready():
    state = make_state(
        {"list": [], "each": ["list"]}, steps={"each": {"for_each": "{steps.list.output.files}"}}, recording=True
    )
    state.begin(0.0)
    take_ready(state)
    succeed(state, start(state, "list"), output={"files": ["x.txt", "y.txt"]})
    state.writes.clear()
    state.release_committed(1.0)
    assert take_ready(state) == ["each[0]", "each[1]"]
    assert state.scopes["each[1]"] == {"item": "y.txt", "item_index": 1}
    # The store learns of the instances (with their item digests) before they start.
    kind, step, added = state.writes[0]
    assert kind is Write.STEPS_ADDED and step.id == "each" and [i for i, *_ in added] == ["each[0]", "each[1]"]


def test_an_empty_list_succeeds_at_once_with_an_empty_output():
    state = make_state({"each": [], "after": ["each"]}, steps={"each": {"for_each": []}})
    state.begin(0.0)
    assert statuses(state)["each"] == "succeeded" and state.results["each"]["output"] == []
    state.release_committed(0.0)
    assert take_ready(state) == ["after"]


def test_a_list_that_is_not_a_list_fails_the_step_naming_what_it_got():
    state = make_state({"each": [], "other": []}, steps={"each": {"for_each": "{config}", "critical": False}})
    state.variables["config"] = {"a": 1}
    state.begin(0.0)
    assert statuses(state)["each"] == "failed"
    assert state.records["each"].error == "step 'each': for_each \"{config}\" must give a list, got dict {'a': 1}"
    assert take_ready(state) == ["other"]  # not critical: the rest goes on


def test_an_undefined_list_fails_the_step_with_the_name():
    state = make_state({"each": []}, steps={"each": {"for_each": "{nope}"}})
    state.begin(0.0)
    assert statuses(state)["each"] == "failed"
    assert "undefined name 'nope'" in state.records["each"].error


def test_a_failing_instance_of_a_critical_step_stops_the_run_and_cancels_instances_not_started():
    state = make_state(
        {"build": [], "after": ["build"]}, steps={"build": {"for_each": [1, 2, 3, 4], "max_parallel": 2}}
    )
    state.begin(0.0)
    assert drain(state) == ["build[0]", "build[1]"]
    first, second = start(state, "build[0]"), start(state, "build[1]")
    fail(state, first, "exit 1")
    assert state.critical_failure == "critical step 'build[0]' failed"
    # Not started: cancelled now. The running one finishes, then the step ends failed.
    assert statuses(state)["build[2]"] == "cancelled" and statuses(state)["build[3]"] == "cancelled"
    assert statuses(state)["build"] == "running"
    succeed(state, second)
    assert statuses(state)["build"] == "failed"
    assert state.records["build"].error == "instance build[0] failed: exit 1"
    assert state.end(2.0) == "critical step 'build[0]' failed"
    assert statuses(state)["after"] == "cancelled"


def test_a_failing_instance_of_a_non_critical_step_lets_the_others_run_then_skips_dependents():
    state = make_state(
        {"build": [], "after": ["build"], "other": []},
        steps={"build": {"for_each": ["a", "b"], "critical": False}},
    )
    state.begin(0.0)
    assert drain(state) == ["build[0]", "build[1]", "other"]
    first, second = start(state, "build[0]"), start(state, "build[1]")
    fail(state, first)
    assert statuses(state)["build[1]"] == "running" and state.stopping is None
    succeed(state, second)
    assert statuses(state)["build"] == "failed" and statuses(state)["after"] == "skipped"
    assert state.records["after"].reason == "upstream step 'build' failed"


def test_each_instance_has_its_own_retries():
    state = make_state({"build": []}, steps={"build": {"for_each": ["a", "b"], "max_retries": 1}})
    state.begin(0.0)
    drain(state)
    first, second = start(state, "build[0]"), start(state, "build[1]")
    fail(state, first)
    assert "build[0]" in state.retrying and state.stopping is None
    state.retry_due("build[0]", 2.0)
    assert drain(state) == ["build[0]"]
    succeed(state, start(state, "build[0]"), output=1)
    succeed(state, second, output=2)
    assert state.records["build[0]"].attempts == 2 and state.results["build"]["output"] == [1, 2]


def test_a_matrix_runs_the_product_without_the_excluded_combinations():
    state = make_state(
        {"m": []},
        steps={
            "m": {"matrix": {"os": ["linux", "mac"], "py": ["3.11", "3.12"]}, "exclude": [{"os": "mac", "py": "3.11"}]}
        },
    )
    state.begin(0.0)
    assert drain(state) == ["m[os=linux,py=3.11]", "m[os=linux,py=3.12]", "m[os=mac,py=3.12]"]
    assert state.scopes["m[os=mac,py=3.12]"] == {"matrix": {"os": "mac", "py": "3.12"}}


def test_a_cancel_cancels_instances_not_started_and_ends_the_step_when_the_running_ones_end():
    state = make_state({"build": []}, steps={"build": {"for_each": [1, 2, 3], "max_parallel": 1}})
    state.begin(0.0)
    drain(state)
    running = start(state, "build[0]")
    assert state.cancel(1.0, 1.0) == [running]
    assert statuses(state)["build[1]"] == "cancelled" and statuses(state)["build"] == "running"
    succeed(state, running)  # after a cancel nothing succeeds
    assert statuses(state)["build[0]"] == "cancelled" and statuses(state)["build"] == "cancelled"


def _row(sid, output, fingerprint):
    return {
        "step_id": sid,
        "output": output,
        "attempts": 1,
        "duration": 0.1,
        "started_at": 1.0,
        "finished_at": 2.0,
        "variables": {},
        "memo": None,
        "fingerprint": fingerprint,
    }


def test_a_resumed_run_keeps_instances_that_succeeded_with_the_same_item_and_reruns_the_rest():
    steps = {"build": {"for_each": ["a", "b", "c"]}}
    probe = make_state({"build": []}, steps=steps)
    digests = {i.id: i.digest for i in expand(probe.steps["build"], {}, {})}
    state = make_state({"build": []}, steps=steps, prior_attempts={"build[2]": 1})
    state.restore(
        [
            _row("build[0]", "A", f"fp:{digests['build[0]']}"),
            _row("build[1]", "stale", "fp:0123456789ab"),  # its item changed since
        ]
    )
    state.begin(0.0)
    assert drain(state) == ["build[1]", "build[2]"]
    assert statuses(state)["build[0]"] == "succeeded" and state.records["build[2]"].attempts == 1
    succeed(state, start(state, "build[1]"), output="B")
    succeed(state, start(state, "build[2]"), output="C")
    assert state.results["build"]["output"] == ["A", "B", "C"]
    assert [c[0] for c in state.completed] == ["build[0]", "build[1]", "build[2]"]


def test_a_dry_run_reports_a_list_it_cannot_know_as_expanding_at_run_time():
    state = make_state(
        {"list": [], "each": ["list"]}, steps={"each": {"for_each": "{steps.list.output}"}}, dry_run=True
    )
    state.begin(0.0)
    take_ready(state)
    state.would_run("list", 1, "dry run: would run noop", 0.0)
    state.release_committed(0.0)
    assert statuses(state)["each"] == "skipped"
    assert state.records["each"].reason == "dry run: expands at run time over {steps.list.output}"
    assert isinstance(state.results["each"]["output"], Unknown)


def test_a_fanout_step_with_trigger_always_runs_its_instances_after_a_critical_failure():
    state = make_state({"boom": [], "clean": ["boom"]}, steps={"clean": {"for_each": ["x", "y"], "trigger": "always"}})
    state.begin(0.0)
    assert take_ready(state) == ["boom"]
    fail(state, start(state, "boom"))
    # Dispatch stopped; the cleanup fans out all the same and its instances may start.
    assert state.take_after_stop(5, 1.0) == ["clean[0]", "clean[1]"]
    succeed(state, start(state, "clean[0]"), output=0)
    succeed(state, start(state, "clean[1]"), output=1)
    assert statuses(state)["clean"] == "succeeded" and state.results["clean"]["output"] == [0, 1]
    assert state.end(2.0) == "critical step 'boom' failed"


def test_instances_holding_a_resource_are_parked_and_come_back_when_a_holder_ends():
    state = make_state({"g": []}, steps={"g": {"for_each": [1, 2], "resources": ["db"]}}, resources={"db": 1})
    state.begin(0.0)
    first, second = drain(state)
    assert state.admit(first)
    running = start(state, first)
    assert not state.admit(second) and state.parked == [second]  # parked: holds no worker
    succeed(state, running)
    assert drain(state) == [second] and state.admit(second)


def test_ids_that_clash_with_instance_names_are_refused():
    import pytest

    from wfe_core.model.errors import InvalidWorkflowError
    from wfe_core.model.workflow import Workflow

    with pytest.raises(InvalidWorkflowError, match=r"step id 'b\[0\]' is the name of an instance of fan-out step 'b'"):
        Workflow(
            id="w",
            steps=[
                WorkflowStep(id="b", action="noop", for_each=[1]),
                WorkflowStep(id="b[0]", action="noop"),
            ],
        )
