"""Edge cases of the run loop: a step released by a skip at start runs once, nothing starts after a cancel, a cancel after a critical failure still rolls back, `steps.<id>.error` of succeeded and restored steps, and secrets that repr-escape.

Real engine, real threads, real SQLite store (``$WFE_STORE`` points into ``tmp_path``).
"""

from __future__ import annotations

import threading
import time

import pytest

from wfe_core import RunStatus, StepStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.model.errors import ActionError
from wfe_core.testing import hermetic_plugins


def _fail(params, context):
    raise ActionError("boom")


class Calls:
    """A ``mark`` action that records (step id, attempt) of every call."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: list[tuple[str, int]] = []

    def mark(self, params, context):
        with self.lock:
            self.calls.append((context.step.id, context.attempt))
        return context.step.id


@pytest.mark.parametrize("strategy", ["sequential", "parallel", "hybrid", "adaptive"])
def test_a_step_released_by_a_skip_at_start_runs_once(strategy):
    # propagate_skips=False: a's false condition releases b while the scheduler is still
    # looking for the steps that are ready at start; b was queued twice and ran twice.
    calls = Calls()
    engine = WorkflowEngine(plugins=hermetic_plugins(), propagate_skips=False)
    engine.register_custom_action("mark", calls.mark)
    workflow = Workflow(
        id="w",
        variables={"env": "dev"},
        steps=[
            WorkflowStep(id="a", action="mark", conditions={"env": "prod"}),
            WorkflowStep(id="b", action="mark", dependencies=["a"]),
        ],
    )
    stats = engine.run(workflow, strategy=strategy)
    assert stats.status is RunStatus.SUCCEEDED
    assert calls.calls == [("b", 1)]
    assert stats.steps["b"].attempts == 1


def test_no_step_starts_after_the_run_was_cancelled():
    # A cancel that lands between the loop's check and the release of a finished step's
    # children (here: from a listener, deterministically) still started the children.
    calls = Calls()
    engine = WorkflowEngine(plugins=hermetic_plugins())
    engine.register_custom_action("mark", calls.mark)

    def cancel_after_a(event):
        if event.kind == "step.succeeded" and event.step_id == "a":
            engine.cancel_workflow(event.run_id)

    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="a", action="mark"),
            WorkflowStep(id="b", action="mark", dependencies=["a"]),
        ],
    )
    stats = engine.run(workflow, listeners=(cancel_after_a,))
    assert stats.status is RunStatus.CANCELLED
    assert calls.calls == [("a", 1)]
    assert stats.steps["b"].status is StepStatus.CANCELLED
    assert stats.steps["b"].reason == "not started: cancelled"


def test_a_run_cancelled_before_its_first_dispatch_starts_nothing():
    calls = Calls()
    engine = WorkflowEngine(plugins=hermetic_plugins())
    engine.register_custom_action("mark", calls.mark)

    def cancel_at_start(event):
        if event.kind == "run.started":
            engine.cancel_workflow(event.run_id)

    stats = engine.run(Workflow(id="w", steps=[WorkflowStep(id="a", action="mark")]), listeners=(cancel_at_start,))
    assert stats.status is RunStatus.CANCELLED
    assert calls.calls == []


def test_a_cancel_after_a_critical_failure_still_rolls_back():
    # d fails (critical) while b still runs; the user then cancels instead of waiting.
    # The cancel replaced the failure, so a (succeeded) was never compensated.
    undone: list[str] = []
    engine = WorkflowEngine(plugins=hermetic_plugins(), default_strategy="parallel")
    engine.register_custom_action("work", lambda p, ctx: ctx.sleep(p["seconds"]) and ctx.step.id)
    engine.register_custom_action("undo", lambda p, ctx: undone.append(p["step"]))
    engine.register_custom_action("fail", _fail)

    def cancel_after_failure(event):
        if event.kind == "step.failed" and event.step_id == "d":
            threading.Timer(0.1, engine.cancel_workflow, (event.run_id,)).start()

    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(
                id="a",
                action="work",
                parameters={"seconds": 0},
                rollback_action="undo",
                rollback_parameters={"step": "a"},
            ),
            WorkflowStep(
                id="b",
                action="work",
                parameters={"seconds": 5},
                dependencies=["a"],
                rollback_action="undo",
                rollback_parameters={"step": "b"},
            ),
            WorkflowStep(id="d", action="fail", dependencies=["a"]),
        ],
    )
    started = time.monotonic()
    stats = engine.run(workflow, listeners=(cancel_after_failure,))
    assert time.monotonic() - started < 4  # the cancel did stop b early
    assert undone == ["a"]
    assert stats.rollback == "complete"
    assert stats.steps["a"].status is StepStatus.ROLLED_BACK
    assert stats.status is RunStatus.FAILED
    assert stats.error == "critical step 'd' failed"


def test_steps_error_of_a_succeeded_upstream_step_renders_as_null():
    # Validation accepts {steps.<id>.error} (a step has output, status and error), but a
    # succeeded step's entry had no 'error' key: the run failed with "has no key 'error'".
    engine = WorkflowEngine(plugins=hermetic_plugins())
    engine.register_custom_action("echo", lambda p, ctx: p)
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="a", action="echo", parameters={"x": 1}),
            WorkflowStep(
                id="b",
                action="echo",
                dependencies=["a"],
                parameters={"error": "{steps.a.error}", "text": "a said: {steps.a.error}"},
            ),
        ],
    )
    assert engine.validate_workflow(workflow).is_valid
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED, stats.steps["b"].error
    assert stats.steps["b"].output == {"error": None, "text": "a said: "}


def test_steps_error_of_a_step_restored_by_resume_renders_as_null():
    healed = threading.Event()

    def flaky(params, context):
        if not healed.is_set():
            raise ActionError("not yet")
        return params

    def engine_():
        engine = WorkflowEngine(plugins=hermetic_plugins())
        engine.register_custom_action("echo", lambda p, ctx: p)
        engine.register_custom_action("flaky", flaky)
        return engine

    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="a", action="echo", parameters={"x": 1}),
            WorkflowStep(id="b", action="flaky", dependencies=["a"], parameters={"error": "{steps.a.error}"}),
        ],
    )
    first = engine_().run(workflow)
    assert first.status is RunStatus.FAILED
    healed.set()
    second = engine_().resume(first.run_id)
    assert second.status is RunStatus.SUCCEEDED, second.steps["b"].error
    assert second.steps["b"].output == {"error": None}


def test_rollback_of_a_stored_run_does_not_leak_secrets(monkeypatch):
    secret = "s3cr3t-token-value"
    monkeypatch.setenv("REVIEW_TOKEN", secret)

    def undo(params, context):
        raise ActionError(f"the server refused token {params['token']}")

    engine = WorkflowEngine(plugins=hermetic_plugins(), enable_rollback=False)
    engine.register_custom_action("ok", lambda p, ctx: "done")
    engine.register_custom_action("undo", undo)
    engine.register_custom_action("fail", _fail)
    workflow = Workflow(
        id="w",
        secrets=["REVIEW_TOKEN"],
        steps=[
            WorkflowStep(
                id="a", action="ok", rollback_action="undo", rollback_parameters={"token": "{secrets.REVIEW_TOKEN}"}
            ),
            WorkflowStep(id="b", action="fail", dependencies=["a"]),
        ],
    )
    stats = engine.run(workflow)
    assert stats.status is RunStatus.FAILED
    events = []
    outcome = engine.rollback(stats.run_id, listeners=(events.append,))
    assert outcome == {"a": "rollback_failed: the server refused token ***"}
    assert [e.data for e in events] == [{"error": "rollback failed: the server refused token ***"}]
    assert secret not in repr(events) and secret not in repr(outcome)


def test_dry_run_events_do_not_leak_a_secret_that_repr_escapes(monkeypatch):
    # The "would run ... with {params!r}" reason was masked after repr(): a backslash in
    # the secret is doubled by repr, so the masking no longer found it.
    secret = "pa\\ss-word"
    monkeypatch.setenv("REVIEW_PASSWORD", secret)
    engine = WorkflowEngine(plugins=hermetic_plugins())
    engine.register_custom_action("login", lambda p, ctx: "ok")
    workflow = Workflow(
        id="w",
        secrets=["REVIEW_PASSWORD"],
        steps=[
            WorkflowStep(id="a", action="login", parameters={"password": "{secrets.REVIEW_PASSWORD}"}),
        ],
    )
    events = []
    engine.run(workflow, "dry_run", listeners=(events.append,))
    reasons = [e.data["reason"] for e in events if e.kind == "step.skipped"]
    assert reasons == ["dry run: would run login with {'password': '***'}"]
    assert repr(secret)[1:-1] not in repr(events)
