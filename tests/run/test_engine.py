"""WorkflowEngine end to end: the seed's API, retries, timeouts, failures, conditions,
dry-run, variables, cancellation and progress. Real threads and real time, no mocks."""

from __future__ import annotations

import asyncio
import threading
import time
from importlib import metadata

import pytest

from wfe_core import (
    ActionError,
    RunStatus,
    StepContext,
    StepResult,
    StepStatus,
    WfeError,
    Workflow,
    WorkflowEngine,
    WorkflowStep,
)


def step(sid: str, action: str = "wait", *deps: str, **fields) -> WorkflowStep:
    fields.setdefault("parameters", {"seconds": 0.0} if action == "wait" else {})
    return WorkflowStep(id=sid, action=action, dependencies=deps, **fields)


def statuses(stats) -> dict[str, str]:
    return {sid: record.status.value for sid, record in stats.steps.items()}


def fail(parameters, context):
    raise ActionError(f"{context.step.id} broke")


class Started:
    """A side-effect-free action recording which steps started."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []

    def __call__(self, parameters, context):
        with self.lock:
            self.ids.append(context.step.id)
        time.sleep(parameters.get("sleep", 0.0))
        return context.step.id


# --- the seed's Python API -----------------------------------------------------------------


def test_execute_workflow_with_asyncio_run(plugins):
    workflow = Workflow(
        id="seed",
        variables={"greeting": "hello"},
        steps=[
            step("a", "wait", parameters={"seconds": 0.05}),
            step("b", "wait", parameters={"seconds": 0.05}),
            step("c", "variable.set", "a", "b", parameters={"name": "said", "value": "{greeting} world"}),
        ],
    )
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    async def run_workflow():
        engine = WorkflowEngine(plugins=plugins)
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        stats = await engine.execute_workflow(workflow)
        stop.set()
        await task
        engine.cleanup()
        return engine, stats

    engine, stats = asyncio.run(run_workflow())
    assert f"Completed {stats.completed_steps}/{stats.total_steps} steps" == "Completed 3/3 steps"
    assert stats.status is RunStatus.SUCCEEDED and stats.succeeded
    assert stats.error is None
    assert stats.total_execution_time >= 0.05
    assert 0.0 < stats.parallel_efficiency <= 1.0
    assert stats.variables == {"greeting": "hello", "said": "hello world"}
    assert ticks > 3, "the event loop was blocked while the workflow ran"
    # cleanup() forgot the run in memory; the run store still knows how it ended.
    assert engine.get_workflow_status(stats.run_id)["status"] == "succeeded"


def test_execute_workflow_takes_the_seed_arguments_in_order(engine):
    workflow = Workflow(id="args", variables={"x": 1}, steps=[step("get", "variable.get", parameters={"name": "x"})])
    stats = asyncio.run(engine.execute_workflow(workflow, "normal", "sequential", {"x": 2}, {"who": "me"}))
    assert stats.strategy == "sequential"
    assert stats.steps["get"].output == 2
    assert stats.metadata == {"who": "me"}
    assert not stats.dry_run


def test_custom_action_with_the_seed_signature(engine):
    seen: list[tuple] = []

    def custom_action(parameters, context):
        seen.append((parameters, type(context), context.step.id, context.attempt, dict(context.variables)))
        return StepResult(success=True, output="Custom result")

    engine.register_custom_action("custom.action", custom_action)
    workflow = Workflow(
        id="c",
        variables={"who": "me"},
        steps=[
            step("custom", "custom.action", parameters={"greet": "hi {who}", "n": 3}),
        ],
    )
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.steps["custom"].output == "Custom result"
    assert seen == [({"greet": "hi me", "n": 3}, StepContext, "custom", 1, {"who": "me"})]


def test_custom_action_results(engine):
    engine.register_custom_action("plain", lambda p, c: {"answer": 42})
    engine.register_custom_action("refuses", lambda p, c: StepResult(success=False, error="not today"))
    engine.register_custom_action("silent", lambda p, c: StepResult(success=False))
    engine.register_custom_action("raises", lambda p, c: int("x"))
    engine.register_custom_action("clean", fail)
    workflow = Workflow(
        id="r",
        steps=[
            step("plain", "plain"),
            *(step(name, name, critical=False) for name in ("refuses", "silent", "raises", "clean")),
        ],
    )
    stats = engine.run(workflow, strategy="sequential")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.steps["plain"].output == {"answer": 42}
    assert {sid: r.error for sid, r in stats.steps.items() if sid != "plain"} == {
        "refuses": "not today",
        "silent": "the action reported failure without an error message",
        "raises": "ValueError: invalid literal for int() with base 10: 'x'",
        "clean": "clean broke",
    }
    assert stats.failed_steps == 4 and stats.completed_steps == 1


def test_custom_action_may_set_variables(engine):
    engine.register_custom_action(
        "login", lambda p, c: StepResult(success=True, output="ok", variables={"token": "t0k"}), sets_variables=True
    )
    workflow = Workflow(
        id="v",
        steps=[
            step("login", "login"),
            step("use", "variable.set", "login", parameters={"name": "header", "value": "Bearer {token}"}),
        ],
    )
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.variables == {"token": "t0k", "header": "Bearer t0k"}


def test_register_custom_action_refuses_a_plugin_action_unless_replace(engine):
    version = metadata.version("wfe-core")
    with pytest.raises(WfeError) as info:
        engine.register_custom_action("variable.set", lambda p, c: None)
    assert str(info.value) == (
        f"action 'variable.set' is already provided by plugin 'wfe.variables' (wfe-core {version}); "
        "pass replace=True to override it"
    )
    with pytest.raises(WfeError, match="^a custom action needs a non-empty name$"):
        engine.register_custom_action("", lambda p, c: None)

    engine.register_custom_action("wait", lambda p, c: "replaced", replace=True, side_effects=False)
    stats = engine.run(Workflow(id="w", steps=[step("w", "wait", parameters={"seconds": 30})]))
    assert stats.steps["w"].output == "replaced"
    assert stats.total_execution_time < 5


def test_unknown_strategy_and_mode_are_refused(engine):
    workflow = Workflow(id="w", steps=[step("a")])
    with pytest.raises(WfeError) as info:
        engine.run(workflow, strategy="paralel")
    assert (
        str(info.value)
        == "unknown strategy 'paralel' (did you mean 'parallel'?); known: adaptive, hybrid, parallel, sequential"
    )
    with pytest.raises(WfeError) as info:
        engine.run(workflow, execution_mode="dry")
    assert str(info.value) == "unknown execution_mode 'dry'; use one of: normal, dry_run"
    with pytest.raises(WfeError) as info:
        WorkflowEngine(max_concurrent_steps=0)
    assert str(info.value) == "max_concurrent_steps must be a whole number >= 1, got 0"


# --- retries ---------------------------------------------------------------------------------


def test_retries_happen_the_configured_number_of_times_with_growing_delays(engine):
    failures = 3
    times: list[float] = []

    def flaky(parameters, context):
        times.append(time.monotonic())
        if len(times) <= failures:
            raise RuntimeError(f"failure {len(times)}")
        return "ok"

    engine.register_custom_action("flaky", flaky, side_effects=False)
    events = []
    workflow = Workflow(
        id="retry",
        steps=[
            step("f", "flaky", max_retries=failures, retry_delay=0.05, retry_backoff=2),
        ],
    )
    stats = engine.run(workflow, listeners=(events.append,))

    assert stats.status is RunStatus.SUCCEEDED
    record = stats.steps["f"]
    assert record.status is StepStatus.SUCCEEDED and record.output == "ok" and record.error is None
    assert record.attempts == failures + 1 == len(times)
    retrying = [e for e in events if e.kind == "step.retrying"]
    assert [(e.step_id, e.data["attempt"], e.data["error"]) for e in retrying] == [
        ("f", 1, "RuntimeError: failure 1"),
        ("f", 2, "RuntimeError: failure 2"),
        ("f", 3, "RuntimeError: failure 3"),
    ]
    # Equal jitter: the k-th delay lies in [d/2, d] with d = retry_delay * backoff**(k-1),
    # so with backoff 2 planned delays never shrink.
    planned = [e.data["delay"] for e in retrying]
    for k, delay in enumerate(planned):
        full = 0.05 * 2**k
        assert full / 2 <= delay <= full
    assert planned == sorted(planned)
    gaps = [b - a for a, b in zip(times, times[1:])]
    for k, (gap, delay) in enumerate(zip(gaps, planned)):
        assert gap >= delay >= 0.05 * 2**k / 2  # a retry never starts early
        assert gap < 0.05 * 2**k + 0.5
    for before, after in zip(gaps, gaps[1:]):
        assert after >= before - 0.02  # non-decreasing, give or take thread wake-up noise


def test_retry_delay_is_capped_by_retry_max_delay(engine):
    engine.register_custom_action("fail", fail, side_effects=False)
    events = []
    workflow = Workflow(
        id="cap",
        steps=[
            step("f", "fail", max_retries=3, retry_delay=0.02, retry_backoff=10, retry_max_delay=0.04, critical=False),
        ],
    )
    engine.run(workflow, listeners=(events.append,))
    delays = [e.data["delay"] for e in events if e.kind == "step.retrying"]
    assert len(delays) == 3
    assert 0.01 <= delays[0] <= 0.02
    assert all(0.02 <= d <= 0.04 for d in delays[1:])


def test_exhausted_retries_fail_with_the_last_error(engine):
    calls = []

    def always(parameters, context):
        calls.append(context.attempt)
        raise ActionError(f"attempt {context.attempt} failed")

    engine.register_custom_action("always", always, side_effects=False)
    events = []
    workflow = Workflow(
        id="x",
        steps=[
            step("f", "always", max_retries=2, retry_delay=0.01),
            step("after", "wait", "f"),
        ],
    )
    stats = engine.run(workflow, listeners=(events.append,))
    assert calls == [1, 2, 3]
    record = stats.steps["f"]
    assert record.status is StepStatus.FAILED
    assert record.attempts == 3
    assert record.error == "attempt 3 failed"
    assert stats.status is RunStatus.FAILED
    assert stats.error == "critical step 'f' failed"
    kinds = [(e.kind, e.step_id) for e in events if e.step_id == "f"]
    assert kinds.count(("step.retrying", "f")) == 2
    assert kinds[-1] == ("step.failed", "f")
    failed = next(e for e in events if e.kind == "step.failed")
    assert failed.data["error"] == "attempt 3 failed" and failed.data["attempts"] == 3


# --- timeouts --------------------------------------------------------------------------------


def test_a_timeout_stops_a_wait_at_the_limit(engine):
    started = time.monotonic()
    stats = engine.run(Workflow(id="t", steps=[step("w", "wait", parameters={"seconds": 5}, timeout=0.3)]))
    elapsed = time.monotonic() - started
    assert elapsed < 1.5
    record = stats.steps["w"]
    assert record.status is StepStatus.TIMED_OUT
    assert record.error == "timed out after 0.3s"
    assert stats.status is RunStatus.FAILED
    assert stats.error == "critical step 'w' failed"
    assert stats.failed_steps == 1


def test_a_timeout_is_per_attempt(engine):
    events = []
    started = time.monotonic()
    workflow = Workflow(
        id="t",
        steps=[
            step("w", "wait", parameters={"seconds": 5}, timeout=0.2, max_retries=1, retry_delay=0.01),
        ],
    )
    stats = engine.run(workflow, listeners=(events.append,))
    assert time.monotonic() - started < 1.5
    assert stats.steps["w"].status is StepStatus.TIMED_OUT
    assert stats.steps["w"].attempts == 2
    assert [e.data["status"] for e in events if e.kind == "step.retrying"] == ["timed_out"]


def test_a_non_cooperative_action_is_abandoned_at_its_timeout(engine):
    release = threading.Event()
    returned = threading.Event()

    def stubborn(parameters, context):
        release.wait(3)  # never looks at context.cancel_event, like time.sleep(3)
        returned.set()
        return "late result"

    engine.register_custom_action("stubborn", stubborn, side_effects=False)
    workflow = Workflow(id="t", steps=[step("s", "stubborn", timeout=0.3), step("after", "wait", "s")])
    try:
        started = time.monotonic()
        stats = engine.run(workflow)
        elapsed = time.monotonic() - started
        assert not returned.is_set(), "the run waited for the action instead of abandoning it"
    finally:
        release.set()
    assert 0.3 <= elapsed < 1.5
    assert stats.status is RunStatus.FAILED
    assert stats.steps["s"].status is StepStatus.TIMED_OUT
    assert stats.steps["s"].error == "timed out after 0.3s"
    assert stats.steps["after"].status is StepStatus.CANCELLED
    assert returned.wait(2)
    time.sleep(0.05)
    # The late result is discarded.
    assert stats.steps["s"].status is StepStatus.TIMED_OUT
    assert stats.steps["s"].output is None


def test_an_abandoned_action_does_not_hold_up_the_next_step(engine):
    release = threading.Event()
    engine.register_custom_action("stubborn", lambda p, c: release.wait(2), side_effects=False)
    workflow = Workflow(id="t", steps=[step("s", "stubborn", timeout=0.3, critical=False), step("other", "wait")])
    try:
        started = time.monotonic()
        stats = engine.run(workflow, strategy="sequential")
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert statuses(stats) == {"s": "timed_out", "other": "succeeded"}
    assert elapsed < 1.5


def test_a_cooperative_action_sees_its_cancel_event(engine):
    saw = []
    finished = threading.Event()

    def polite(parameters, context):
        saw.append(context.cancel_event.wait(5))
        saw.append(context.cancelled)
        finished.set()
        return "stopped early"

    engine.register_custom_action("polite", polite, side_effects=False)
    started = time.monotonic()
    stats = engine.run(Workflow(id="t", steps=[step("p", "polite", timeout=0.3, critical=False)]))
    assert time.monotonic() - started < 1.5
    assert finished.wait(2)
    assert saw == [True, True]
    assert stats.steps["p"].status is StepStatus.TIMED_OUT
    assert stats.steps["p"].output is None
    assert stats.status is RunStatus.SUCCEEDED  # not critical


# --- failures --------------------------------------------------------------------------------


def test_a_critical_failure_stops_dispatch_and_cancels_what_is_left(engine):
    started = Started()
    engine.register_custom_action("rec", started, side_effects=False)
    engine.register_custom_action("fail", fail, side_effects=False)
    workflow = Workflow(
        id="crit",
        steps=[
            step("x", "fail"),
            step("slow", "rec", parameters={"sleep": 0.3}),
            step("dep", "rec", "x"),
            step("later", "rec", "slow"),
        ],
    )
    stats = engine.run(workflow, strategy="parallel")
    assert started.ids == ["slow"]  # running steps end; nothing new starts
    assert statuses(stats) == {"x": "failed", "slow": "succeeded", "dep": "cancelled", "later": "cancelled"}
    assert stats.steps["x"].error == "x broke"
    assert stats.steps["later"].reason == "not started: critical step 'x' failed"
    assert stats.steps["dep"].reason == "not started: critical step 'x' failed"
    assert stats.status is RunStatus.FAILED
    assert stats.error == "critical step 'x' failed"
    assert (stats.completed_steps, stats.failed_steps, stats.cancelled_steps) == (1, 1, 2)


def test_a_critical_failure_under_sequential_starts_nothing_more(engine):
    started = Started()
    engine.register_custom_action("rec", started, side_effects=False)
    engine.register_custom_action("fail", fail, side_effects=False)
    workflow = Workflow(
        id="crit", steps=[step("first", "rec"), step("x", "fail")] + [step(f"s{i}", "rec", "first") for i in range(4)]
    )
    stats = engine.run(workflow, strategy="sequential")
    assert started.ids == ["first"]
    assert statuses(stats)["x"] == "failed"
    assert stats.status is RunStatus.FAILED
    assert stats.cancelled_steps == 4
    assert all(stats.steps[f"s{i}"].reason == "not started: critical step 'x' failed" for i in range(4))


def test_a_critical_failure_drops_pending_retries_at_once(engine):
    # Regression: the run stayed alive until another step's retry timer fired, only to
    # cancel that retry then.
    engine.register_custom_action("fail", fail, side_effects=False)
    workflow = Workflow(
        id="crit",
        steps=[
            step("flaky", "fail", max_retries=1, retry_delay=3, critical=False),
            step("x", "wait", parameters={"seconds": 0.1}),
            step("crit", "fail", "x"),
        ],
    )
    started = time.monotonic()
    stats = engine.run(workflow, strategy="parallel")
    assert time.monotonic() - started < 1.0
    assert stats.status is RunStatus.FAILED
    assert stats.steps["flaky"].status is StepStatus.CANCELLED
    assert stats.steps["flaky"].reason == "retry not started: critical step 'crit' failed"


def test_a_non_critical_failure_skips_exactly_its_descendants(engine):
    engine.register_custom_action("fail", fail, side_effects=False)
    workflow = Workflow(
        id="nc",
        steps=[
            step("x", "fail", critical=False),
            step("child", "wait", "x"),
            step("grandchild", "wait", "child", "other"),
            step("other", "wait"),
            step("sibling", "wait", "other"),
            step("far", "wait", "sibling"),
        ],
    )
    stats = engine.run(workflow, strategy="parallel")
    assert statuses(stats) == {
        "x": "failed",
        "child": "skipped",
        "grandchild": "skipped",
        "other": "succeeded",
        "sibling": "succeeded",
        "far": "succeeded",
    }
    assert stats.steps["child"].reason == "upstream step 'x' failed"
    assert stats.steps["grandchild"].reason == "upstream step 'x' failed"
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.error is None
    assert (stats.completed_steps, stats.failed_steps, stats.skipped_steps) == (3, 1, 2)


# --- conditions ------------------------------------------------------------------------------


def test_false_conditions_skip_the_step_and_its_dependents(engine):
    workflow = Workflow(
        id="cond",
        variables={"env": "prod", "deploy": "true", "dry": "false"},
        steps=[
            step("dev_only", "wait", conditions={"env": "dev"}),
            step("after_dev", "wait", "dev_only"),
            step("one_of", "wait", conditions={"env": ["dev", "prod"]}),
            step("not_one_of", "wait", conditions={"env": ["dev", "test"]}),
            step("yaml_true", "wait", conditions={"deploy": True}),
            step("yaml_false", "wait", conditions={"deploy": False}),
            step("false_matches", "wait", conditions={"dry": False}),
            step("undefined", "wait", conditions={"missing": True}),
            step("set_go", "variable.set", parameters={"name": "go", "value": 1}),
            step("upstream_var", "wait", "set_go", conditions={"go": 1}),
        ],
    )
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED
    reasons = {sid: r.reason for sid, r in stats.steps.items() if r.status is StepStatus.SKIPPED}
    assert reasons == {
        "dev_only": "condition on 'env': 'prod' is not 'dev'",
        "after_dev": "upstream step 'dev_only' was skipped",
        "not_one_of": "condition on 'env': 'prod' is not ['dev', 'test']",
        "yaml_false": "condition on 'deploy': 'true' is not False",
        "undefined": "condition on 'missing': variable is not defined",
    }
    ran = {sid for sid, r in stats.steps.items() if r.status is StepStatus.SUCCEEDED}
    assert ran == {"one_of", "yaml_true", "false_matches", "set_go", "upstream_var"}


def test_run_variables_decide_conditions(engine):
    workflow = Workflow(
        id="cond", variables={"env": "prod"}, steps=[step("dev_only", "wait", conditions={"env": "dev"})]
    )
    assert engine.run(workflow, variables={"env": "dev"}).steps["dev_only"].status is StepStatus.SUCCEEDED
    assert engine.run(workflow).steps["dev_only"].status is StepStatus.SKIPPED


# --- dry run ---------------------------------------------------------------------------------


def test_dry_run_performs_no_side_effect(engine, tmp_path):
    target = tmp_path / "created.txt"
    created = []

    def create(parameters, context):
        created.append(parameters["path"])
        with open(parameters["path"], "w") as f:
            f.write("side effect")
        return parameters["path"]

    engine.register_custom_action("create", create)  # side effects unless told otherwise
    read = Started()
    engine.register_custom_action("read", read, side_effects=False)
    workflow = Workflow(
        id="dry",
        variables={"dir": str(tmp_path)},
        steps=[
            step("name", "variable.set", parameters={"name": "file", "value": "created.txt"}),
            step("make", "create", "name", parameters={"path": "{dir}/{file}"}),
            step("again", "create", "make", parameters={"path": "{steps.make.output}"}),
            step("check", "read", "again"),
        ],
    )
    stats = engine.run(workflow, execution_mode="dry_run")

    assert not target.exists()
    assert created == []
    assert stats.dry_run
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.variables["file"] == "created.txt"  # side-effect-free actions still run
    # "check" changes nothing, but it comes after steps that did not run: what it would
    # read may not exist, so it is reported, not run.
    assert statuses(stats) == {"name": "succeeded", "make": "skipped", "again": "skipped", "check": "skipped"}
    assert stats.steps["make"].reason == f"dry run: would run create with {{'path': '{target}'}}"
    assert stats.steps["again"].reason == "dry run: would run create with {'path': '<steps.make.output>'}"
    assert stats.steps["check"].reason == "dry run: would run read with {}"
    assert read.ids == []

    # The same workflow for real does create the file.
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED
    assert target.read_text() == "side effect"


def test_dry_run_reports_every_step_of_a_side_effecting_chain(engine):
    # Regression: a step closed as "would run" released its children into the policy
    # after the scheduler had stopped asking it, so they ended "not started: run ended".
    engine.register_custom_action("effect", lambda p, c: pytest.fail("called in a dry run"))
    workflow = Workflow(id="chain", steps=[step("a", "effect"), step("b", "effect", "a"), step("c", "effect", "b")])
    for strategy in ("sequential", "parallel", "hybrid", "adaptive"):
        stats = engine.run(workflow, execution_mode="dry_run", strategy=strategy)
        assert statuses(stats) == {"a": "skipped", "b": "skipped", "c": "skipped"}, strategy
        assert all(r.reason == "dry run: would run effect with {}" for r in stats.steps.values())
        assert stats.plan == {"order": ["a", "b", "c"], "levels": [["a"], ["b"], ["c"]], "parallel_groups": {}}


# --- variables under concurrency ---------------------------------------------------------------


def test_a_thousand_parallel_sets_lose_nothing(plugins):
    engine = WorkflowEngine(max_concurrent_steps=10, plugins=plugins)
    workflow = Workflow(
        id="many", steps=[step(f"s{i}", "variable.set", parameters={"name": f"v{i}", "value": i}) for i in range(1000)]
    )
    stats = engine.run(workflow, strategy="parallel")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.completed_steps == 1000
    assert stats.variables == {f"v{i}": i for i in range(1000)}


def test_concurrent_sets_of_one_name_end_with_one_of_the_values(engine):
    workflow = Workflow(
        id="same",
        steps=[step(f"s{i}", "variable.set", parameters={"name": "x", "value": f"value {i}"}) for i in range(100)],
    )
    stats = engine.run(workflow, strategy="parallel")
    assert stats.status is RunStatus.SUCCEEDED
    assert set(stats.variables) == {"x"}
    assert stats.variables["x"] in {f"value {i}" for i in range(100)}


# --- cancellation and status -------------------------------------------------------------------


def wait_until(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_cancel_workflow_from_another_thread(engine):
    contexts: dict[str, StepContext] = {}

    def hold(parameters, context):
        contexts[context.step.id] = context
        context.cancel_event.wait(5)
        return "stopped"

    engine.register_custom_action("hold", hold, side_effects=False)
    workflow = Workflow(id="cw", steps=[step("a", "hold"), step("b", "hold"), step("c", "hold", "a")])
    result = {}
    runner = threading.Thread(
        target=lambda: result.update(stats=engine.run(workflow, strategy="parallel", run_id="r1"))
    )
    runner.start()
    try:
        wait_until(lambda: len(contexts) == 2)
        by_run = engine.get_workflow_status("r1")
        assert by_run == {
            "run_id": "r1",
            "workflow_id": "cw",
            "status": "running",
            "steps": {"a": "running", "b": "running", "c": "pending"},
        }
        assert engine.get_workflow_status("cw") == by_run
        started = time.monotonic()
        assert engine.cancel_workflow("cw") is True
        runner.join(5)
    finally:
        for context in contexts.values():
            context.cancel_event.set()
    assert not runner.is_alive()
    assert time.monotonic() - started < 2
    stats = result["stats"]
    assert stats.status is RunStatus.CANCELLED
    assert stats.error == "cancelled"
    assert stats.cancelled_steps == 3
    assert {sid: r.reason for sid, r in stats.steps.items()} == {
        "a": "run cancelled",
        "b": "run cancelled",
        "c": "not started: cancelled",
    }
    assert all(c.cancel_event.is_set() for c in contexts.values())
    done = {
        "run_id": "r1",
        "workflow_id": "cw",
        "status": "cancelled",
        "steps": {"a": "cancelled", "b": "cancelled", "c": "cancelled"},
        "error": "cancelled",
    }
    assert engine.get_workflow_status("r1") == done
    assert engine.get_workflow_status("cw") == done
    assert engine.get_workflow_status("unknown") is None
    assert engine.cancel_workflow("cw") is False


def test_cancel_during_a_retry_delay(engine):
    engine.register_custom_action("fail", fail, side_effects=False)
    result = {}
    workflow = Workflow(id="cr", steps=[step("f", "fail", max_retries=1, retry_delay=10)])
    runner = threading.Thread(target=lambda: result.update(stats=engine.run(workflow, run_id="r2")))
    started = time.monotonic()
    runner.start()
    wait_until(lambda: (engine.get_workflow_status("r2") or {}).get("steps", {}).get("f") == "running")
    time.sleep(0.05)
    engine.cancel_workflow("r2")
    runner.join(5)
    # Regression: the loop then slept until the failed attempt's stale deadline (300 s).
    assert time.monotonic() - started < 3
    stats = result["stats"]
    assert stats.status is RunStatus.CANCELLED
    assert stats.steps["f"].status is StepStatus.CANCELLED
    assert stats.steps["f"].reason == "retry not started: run cancelled"


def test_status_of_finished_runs_by_run_id_and_by_workflow_id(engine):
    first = engine.run(Workflow(id="wf", steps=[step("a")]), run_id="one")
    engine.register_custom_action("fail", fail, side_effects=False)
    second = engine.run(Workflow(id="wf", steps=[step("a", "fail")]), run_id="two")
    assert first.succeeded and not second.succeeded
    assert engine.get_workflow_status("one") == {
        "run_id": "one",
        "workflow_id": "wf",
        "status": "succeeded",
        "steps": {"a": "succeeded"},
        "error": None,
    }
    assert engine.get_workflow_status("wf") == {  # the latest run of the workflow
        "run_id": "two",
        "workflow_id": "wf",
        "status": "failed",
        "steps": {"a": "failed"},
        "error": "critical step 'a' failed",
    }
    engine.cleanup()  # forgets runs in memory; the run store still answers, by run and by workflow
    assert engine.get_workflow_status("one")["status"] == "succeeded"
    assert engine.get_workflow_status("wf")["run_id"] == "two"
    assert engine.get_workflow_status("nothing-like-it") is None


def test_cleanup_cancels_what_still_runs(engine):
    def hold(parameters, context):
        context.cancel_event.wait(5)

    engine.register_custom_action("hold", hold, side_effects=False)
    result = {}
    runner = threading.Thread(
        target=lambda: result.update(stats=engine.run(Workflow(id="h", steps=[step("h", "hold")])))
    )
    runner.start()
    wait_until(lambda: (engine.get_workflow_status("h") or {}).get("steps", {}).get("h") == "running")
    engine.cleanup()
    runner.join(5)
    assert result["stats"].status is RunStatus.CANCELLED


# --- progress ----------------------------------------------------------------------------------


def test_progress_observers_reach_100_percent(engine):
    updates = []
    engine.progress_tracker.add_observer(lambda workflow_id, data: updates.append((workflow_id, data)))
    stats = engine.run(Workflow(id="p", steps=[step(f"s{i}") for i in range(4)]))
    assert stats.status is RunStatus.SUCCEEDED
    percentages = [data["completion_percentage"] for _, data in updates]
    assert percentages == [25.0, 50.0, 75.0, 100.0]
    assert {wid for wid, _ in updates} == {"p"}
    last = updates[-1][1]
    assert (last["finished"], last["total"], last["run_id"], last["eta"]) == (4, 4, stats.run_id, 0.0)


@pytest.mark.parametrize("critical", [False, True])
def test_progress_reaches_100_percent_when_steps_are_skipped_or_cancelled(engine, critical):
    # Regression: steps skipped below a failure, or cancelled at the end, sent no progress.
    engine.register_custom_action("fail", fail, side_effects=False)
    updates = []
    engine.progress_tracker.add_observer(lambda workflow_id, data: updates.append(data["completion_percentage"]))
    workflow = Workflow(
        id="p", steps=[step("x", "fail", critical=critical), step("a", "wait", "x"), step("b", "wait", "a")]
    )
    engine.run(workflow)
    assert updates[-1] == 100.0
    assert updates == sorted(updates)
