"""The four strategies, proven with real threads and real time.

A recording custom action notes when each step really started and ended
(``time.monotonic()`` inside the action), so the assertions are about what ran when,
not about what the scheduler says it did.
"""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe_core import RunStatus, StepStatus, Workflow, WorkflowEngine, WorkflowStep, load_plugins

STRATEGIES = ["sequential", "parallel", "hybrid", "adaptive"]


class Recorder:
    """A side-effect-free action that sleeps ``parameters['sleep']`` and records its interval.

    ``intervals`` holds each step's last (successful) attempt, ``attempts`` every attempt.
    With ``fail_first: true`` the first attempt fails after sleeping.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intervals: dict[str, tuple[float, float]] = {}
        self.attempts: list[tuple[str, float, float]] = []
        self.running = 0
        self.max_running = 0

    def __call__(self, parameters, context):
        start = time.monotonic()
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(parameters.get("sleep", 0.0))
        with self.lock:
            self.running -= 1
            end = time.monotonic()
            self.attempts.append((context.step.id, start, end))
            if parameters.get("fail_first") and context.attempt == 1:
                raise RuntimeError("the first attempt fails")
            self.intervals[context.step.id] = (start, end)
        return context.step.id

    def register(self, engine: WorkflowEngine) -> Recorder:
        engine.register_custom_action("rec", self, side_effects=False)
        return self


def rec(sid: str, *deps: str, sleep: float = 0.0, group: str | None = None) -> WorkflowStep:
    return WorkflowStep(id=sid, action="rec", parameters={"sleep": sleep}, dependencies=deps, parallel_group=group)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def wait_steps(n: int, seconds: float) -> Workflow:
    return Workflow(
        id="waits", steps=[WorkflowStep(id=f"w{i}", action="wait", parameters={"seconds": seconds}) for i in range(n)]
    )


# --- parallel really overlaps, sequential never does -----------------------------------


@pytest.mark.parametrize("strategy", ["parallel", "adaptive"])
def test_four_waits_overlap(engine, strategy):
    started = time.monotonic()
    stats = engine.run(wait_steps(4, 0.3), strategy=strategy)
    elapsed = time.monotonic() - started
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.completed_steps == 4
    assert elapsed < 0.9, f"four 0.3 s waits took {elapsed:.2f}s under {strategy}: they did not overlap"


def test_sequential_waits_do_not_overlap(engine):
    started = time.monotonic()
    stats = engine.run(wait_steps(3, 0.1), strategy="sequential")
    assert stats.status is RunStatus.SUCCEEDED
    assert time.monotonic() - started >= 0.3


def test_sequential_never_overlaps(engine):
    recorder = Recorder().register(engine)
    workflow = Workflow(id="seq", steps=[rec(f"s{i}", sleep=0.03) for i in range(6)])
    stats = engine.run(workflow, strategy="sequential")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.workers == 1
    assert recorder.max_running == 1
    spans = sorted(recorder.intervals.values())
    assert len(spans) == 6
    for before, after in zip(spans, spans[1:]):
        assert before[1] <= after[0]


def test_parallel_concurrency_is_above_one_and_bounded(plugins):
    engine = WorkflowEngine(max_concurrent_steps=3, plugins=plugins)
    recorder = Recorder().register(engine)
    workflow = Workflow(id="par", steps=[rec(f"s{i}", sleep=0.1) for i in range(9)])
    stats = engine.run(workflow, strategy="parallel")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.workers == 3
    assert 1 < recorder.max_running <= 3
    # Never more than three intervals cover one instant.
    for sid, (start, _) in recorder.intervals.items():
        covering = [o for o, span in recorder.intervals.items() if span[0] <= start < span[1]]
        assert len(covering) <= 3, (sid, covering)


def test_parallel_honours_max_workers_override(engine):
    recorder = Recorder().register(engine)
    workflow = Workflow(id="par", steps=[rec(f"s{i}", sleep=0.05) for i in range(6)])
    stats = engine.run(workflow, strategy="parallel", max_workers=2)
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.workers == 2
    assert 1 < recorder.max_running <= 2


# --- adaptive sizing -----------------------------------------------------------------------


def diamond_of_width(width: int) -> Workflow:
    """root -> width middle steps -> two tails: the widest level has ``width`` steps."""
    steps = [rec("root")]
    steps += [rec(f"m{i}", "root") for i in range(width)]
    steps += [rec("t0", *(f"m{i}" for i in range(width))), rec("t1", "m0")]
    return Workflow(id=f"width{width}", steps=steps)


# Adaptive sizes its pool to min(limit, steps - longest chain + 1), an upper bound on how
# many steps can ever run together (diamond_of_width(w) has w + 3 steps in 3 levels).
@pytest.mark.parametrize(("max_steps", "width", "expected"), [(10, 5, 6), (3, 5, 3), (4, 4, 4), (2, 1, 2)])
def test_adaptive_workers_are_min_of_limit_and_parallel_bound(plugins, max_steps, width, expected):
    engine = WorkflowEngine(max_concurrent_steps=max_steps, plugins=plugins)
    recorder = Recorder().register(engine)
    stats = engine.run(diamond_of_width(width), strategy="adaptive")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.workers == expected
    assert recorder.max_running <= expected


def test_adaptive_never_has_fewer_workers_than_steps_that_can_run_together(plugins):
    # Four steps (n0, n2, n5, n6) can run at once, though no depth level holds four.
    workflow = Workflow(
        id="skew",
        steps=[rec("n0"), rec("n1"), rec("n3"), rec("n2", "n1"), rec("n6", "n1"), rec("n5", "n3"), rec("n4", "n2")],
    )
    engine = WorkflowEngine(max_concurrent_steps=10, plugins=plugins)
    Recorder().register(engine)
    stats = engine.run(workflow, strategy="adaptive")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.workers >= 4


def test_adaptive_runs_a_chain_on_one_worker(engine):
    recorder = Recorder().register(engine)
    chain = Workflow(
        id="chain",
        steps=[rec("a", sleep=0.01), rec("b", "a", sleep=0.01), rec("c", "b", sleep=0.01), rec("d", "c", sleep=0.01)],
    )
    stats = engine.run(chain, strategy="adaptive")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.workers == 1
    assert stats.strategy == "adaptive"
    assert recorder.max_running == 1


def test_adaptive_starts_the_longest_remaining_path_first(plugins):
    # One worker's worth of width would be wasted on "short" if it started first: the
    # long chain behind "head" must start first.
    engine = WorkflowEngine(max_concurrent_steps=1, plugins=plugins)
    recorder = Recorder().register(engine)
    workflow = Workflow(id="cp", steps=[rec("short"), rec("head"), rec("x", "head"), rec("y", "x")])
    stats = engine.run(workflow, strategy="adaptive")
    assert stats.status is RunStatus.SUCCEEDED
    order = sorted(recorder.intervals, key=lambda s: recorder.intervals[s][0])
    assert order[0] == "head"


def test_default_strategy_is_adaptive(engine):
    stats = engine.run(wait_steps(2, 0.0))
    assert stats.strategy == "adaptive"
    assert stats.workers == 2


# --- hybrid ---------------------------------------------------------------------------------


def test_hybrid_runs_a_group_together_and_units_one_after_another(engine):
    recorder = Recorder().register(engine)
    workflow = Workflow(
        id="hy",
        steps=[
            rec("g1", sleep=0.15, group="G"),
            rec("g2", sleep=0.15, group="G"),
            rec("g3", sleep=0.15, group="G"),
            rec("solo", sleep=0.05),
            rec("h1", "solo", sleep=0.1, group="H"),
            rec("h2", "solo", sleep=0.1, group="H"),
        ],
    )
    stats = engine.run(workflow, strategy="hybrid")
    assert stats.status is RunStatus.SUCCEEDED
    spans = recorder.intervals
    # Members of one group overlap.
    assert overlap(spans["g1"], spans["g2"]) and overlap(spans["g2"], spans["g3"])
    assert overlap(spans["h1"], spans["h2"])
    # Different units never do.
    group = {s.id: s.parallel_group for s in workflow.steps}
    for a in spans:
        for b in spans:
            if a < b and overlap(spans[a], spans[b]):
                assert group[a] is not None and group[a] == group[b], (a, b)


def test_hybrid_retries_a_step_of_a_parallel_group(engine):
    # Regression: the policy remembered a grouped step as taken, so its retry was never
    # started and the step ended "cancelled: not started: run ended" in a succeeded run.
    calls = []

    def flaky(parameters, context):
        calls.append(context.attempt)
        if context.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    engine.register_custom_action("flaky", flaky, side_effects=False)
    workflow = Workflow(
        id="hyr",
        steps=[
            WorkflowStep(id="a", action="flaky", parallel_group="G", max_retries=2, retry_delay=0.01),
            WorkflowStep(id="b", action="wait", parameters={"seconds": 0.01}, parallel_group="G"),
        ],
    )
    stats = engine.run(workflow, strategy="hybrid")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.steps["a"].status is StepStatus.SUCCEEDED
    assert stats.steps["a"].attempts == 2
    assert calls == [1, 2]


def test_hybrid_with_fewer_workers_than_ready_group_members_starts_them_all(plugins):
    # Regression: with one worker, the retry of "x" came back while "z" (same group,
    # higher rank) waited; the policy popped x's heap entry but took z, so x was never
    # started again and the run "succeeded" with x "not started: run ended".
    engine = WorkflowEngine(max_concurrent_steps=1, plugins=plugins)
    recorder = Recorder().register(engine)
    workflow = Workflow(
        id="hyw",
        steps=[
            WorkflowStep(
                id="x",
                action="rec",
                parameters={"fail_first": True},
                parallel_group="G",
                max_retries=1,
                retry_delay=0.02,
            ),
            rec("y", sleep=0.2, group="G"),
            rec("z", group="G"),
        ],
    )
    stats = engine.run(workflow, strategy="hybrid")
    assert {sid: r.status.value for sid, r in stats.steps.items()} == {
        "x": "succeeded",
        "y": "succeeded",
        "z": "succeeded",
    }
    assert [sid for sid, _, _ in sorted(recorder.attempts, key=lambda a: a[1])] == ["x", "y", "x", "z"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_retries(engine, strategy):
    attempts = []

    def flaky(parameters, context):
        attempts.append(context.attempt)
        if context.attempt < 3:
            raise RuntimeError(f"attempt {context.attempt} fails")
        return context.attempt

    engine.register_custom_action("flaky", flaky, side_effects=False)
    workflow = Workflow(
        id="retry",
        steps=[
            WorkflowStep(id="f", action="flaky", max_retries=2, retry_delay=0.01, parallel_group="G"),
            WorkflowStep(id="g", action="wait", parameters={"seconds": 0.0}, parallel_group="G"),
            WorkflowStep(id="after", action="wait", parameters={"seconds": 0.0}, dependencies=["f"]),
        ],
    )
    stats = engine.run(workflow, strategy=strategy)
    assert stats.status is RunStatus.SUCCEEDED, stats.steps
    assert stats.steps["f"].output == 3
    assert attempts == [1, 2, 3]
    assert stats.completed_steps == 3


# --- property: dependency order under every strategy ----------------------------------------


@st.composite
def random_dags(draw):
    """Up to 30 steps: (id, dependencies, parallel_group, fails its first attempt)."""
    n = draw(st.integers(min_value=1, max_value=30))
    groups = [None, None, "G1", "G2", "G3"]
    steps = []
    for i in range(n):
        deps = draw(st.lists(st.integers(min_value=0, max_value=i - 1), max_size=min(i, 4), unique=True)) if i else []
        group = draw(st.sampled_from(groups))
        flaky = draw(st.integers(min_value=0, max_value=9)) == 0
        steps.append((f"s{i}", tuple(f"s{d}" for d in deps), group, flaky))
    order = draw(st.permutations(range(n)))  # file order carries no meaning
    return [steps[i] for i in order]


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag=random_dags(), workers=st.integers(min_value=1, max_value=5))
def test_dependency_order_holds_on_random_dags(strategy, dag, workers):
    engine = WorkflowEngine(max_concurrent_steps=workers, plugins=load_plugins(autoload=False))
    recorder = Recorder().register(engine)
    workflow = Workflow(
        id="dag",
        steps=[
            WorkflowStep(
                id=sid,
                action="rec",
                parameters={"sleep": 0.002, "fail_first": flaky},
                dependencies=deps,
                parallel_group=group,
                max_retries=1 if flaky else 0,
                retry_delay=0.001,
            )
            for sid, deps, group, flaky in dag
        ],
    )
    stats = engine.run(workflow, strategy=strategy)

    assert stats.status is RunStatus.SUCCEEDED, {s: (r.status, r.reason, r.error) for s, r in stats.steps.items()}
    assert stats.completed_steps == len(dag)
    spans = recorder.intervals
    assert set(spans) == {sid for sid, *_ in dag}
    for sid, deps, _, flaky in dag:
        assert stats.steps[sid].attempts == (2 if flaky else 1)
        for dep in deps:
            assert spans[dep][1] <= spans[sid][0], f"{sid} started before its dependency {dep} ended"
    assert recorder.max_running <= stats.workers
    if strategy == "sequential":
        assert recorder.max_running == 1
    if strategy in ("sequential", "hybrid"):
        group = {sid: g for sid, _, g, _ in dag}
        for a, a0, a1 in recorder.attempts:
            for b, b0, b1 in recorder.attempts:
                if a < b and overlap((a0, a1), (b0, b1)):
                    # Only members of one parallel_group may run together; an ungrouped
                    # step is a unit of its own and overlaps nothing.
                    assert strategy == "hybrid" and group[a] is not None and group[a] == group[b], (a, b)
