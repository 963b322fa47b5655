"""When a step's outcome must be durable, and when it may ride along with a later commit.

A stored run commits a step's success before its children start when running the step
again after a crash could change something (side effects, a compensation of its own or
from a plugin, a rollback step) or when a child has side effects (it must start only once
everything before it is committed and heard). A side-effect-free step whose children are
side-effect-free too releases them at once; its outcome is committed with the next commit
(within ``IDLE_COMMIT``), always before any outcome of those children. These tests read
the real SQLite file through a second connection, as `wfe runs show` would.
"""

from __future__ import annotations

import random
import sqlite3
import time
import types

from wfe_core import StepResult, Workflow, WorkflowEngine, WorkflowStep, hookimpl, load_plugins
from wfe_core.plugin.capabilities import Action, RollbackHandler
from wfe_core.store import runstore


def _rows(path, run_id: str) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT step_id, status FROM steps WHERE run_id=?", (run_id,)))
    finally:
        db.close()


def _counting_commits(monkeypatch) -> list[int]:
    """Count the commits that wrote something (the real method runs)."""
    counted: list[int] = []
    commit = runstore.RunStore.commit

    def counting(self):
        if self.dirty:
            counted.append(1)
        commit(self)

    monkeypatch.setattr(runstore.RunStore, "commit", counting)
    return counted


def _chain(n: int, action: str = "variable.set", **extra) -> Workflow:
    return Workflow(
        id="chain",
        steps=[
            WorkflowStep(
                id=f"s{i}",
                action=action,
                parameters={"name": f"v{i}", "value": i} if action == "variable.set" else {},
                dependencies=[f"s{i - 1}"] if i else [],
                **extra,
            )
            for i in range(n)
        ],
    )


def test_a_chain_of_side_effect_free_steps_commits_in_groups_and_loses_nothing(tmp_path, monkeypatch):
    commits = _counting_commits(monkeypatch)
    path = tmp_path / "runs.sqlite"
    stats = WorkflowEngine(plugins=load_plugins(autoload=False), store=path).run(_chain(300))
    assert stats.succeeded
    # One commit per IDLE_COMMIT (20 ms) at most while the chain runs, not one per step.
    assert len(commits) < 100, len(commits)
    rows = _rows(path, stats.run_id)
    assert len(rows) == 300 and set(rows.values()) == {"succeeded"}
    db = sqlite3.connect(path)
    (variables,) = db.execute(
        "SELECT variables FROM steps WHERE run_id=? AND step_id='s299'", (stats.run_id,)
    ).fetchone()
    assert variables == '{"v299":299}'


def test_each_step_with_side_effects_is_durable_before_its_child_runs(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    seen: dict[str, str] = {}

    def probe(_params, ctx):  # reads the store from its own connection, as another process would
        for parent in ctx.step.dependencies:
            seen[ctx.step.id] = _rows(path, ctx.run_id)[parent]
        return StepResult(success=True)

    commits = _counting_commits(monkeypatch)
    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=path)
    engine.register_custom_action("probe", probe)  # side_effects=True, the default
    stats = engine.run(_chain(40, "probe"))
    assert stats.succeeded
    assert len(seen) == 39 and set(seen.values()) == {"succeeded"}, seen
    assert len(commits) >= 40


def test_a_side_effect_free_step_with_a_rollback_step_is_durable_before_its_child_runs(tmp_path):
    path = tmp_path / "runs.sqlite"
    seen: list[str] = []

    def probe(_params, ctx):
        seen.append(_rows(path, ctx.run_id)["parent"])
        return StepResult(success=True)

    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=path)
    engine.register_custom_action("probe", probe, side_effects=False)  # a reader: released early if the parent were
    workflow = Workflow(
        id="undo",
        steps=[
            WorkflowStep(
                id="parent",
                action="variable.set",
                parameters={"name": "x", "value": 1},
                rollback_action="variable.set",
                rollback_parameters={"name": "x", "value": 0},
            ),
            WorkflowStep(id="child", action="probe", dependencies=["parent"]),
        ],
    )
    assert engine.run(workflow).succeeded
    assert seen == ["succeeded"]


def test_whenever_listeners_hear_an_event_every_stored_success_has_stored_successful_parents(tmp_path):
    # Outcomes reach the store in the order they happened: a child's success is never
    # committed before its parent's, whichever of the two was allowed to wait.
    path = tmp_path / "runs.sqlite"
    broken: list[str] = []

    def noop(_params, _ctx):
        return StepResult(success=True)

    for seed in range(4):
        rng = random.Random(seed)
        steps = []
        for i in range(40):
            parents = rng.sample([s.id for s in steps], min(len(steps), rng.randint(0, 3)))
            if rng.random() < 0.5:
                steps.append(WorkflowStep(id=f"s{i}", action="free", dependencies=parents))
            else:
                steps.append(WorkflowStep(id=f"s{i}", action="effect", dependencies=parents))
        deps = {s.id: s.dependencies for s in steps}

        class Checker:
            def __init__(self, deps):
                self.deps = deps

            @hookimpl
            def wfe_event(self, event):
                if not event.kind.startswith("step."):
                    return
                rows = _rows(path, event.run_id)
                for sid, status in rows.items():
                    if status == "succeeded":
                        broken.extend(f"{sid} before {p}" for p in self.deps[sid] if rows.get(p) != "succeeded")

        engine = WorkflowEngine(
            max_concurrent_steps=4, plugins=load_plugins(autoload=False, extra={"checker": Checker(deps)}), store=path
        )
        engine.register_custom_action("free", noop, side_effects=False)
        engine.register_custom_action("effect", noop)
        assert engine.run(Workflow(id=f"dag{seed}", steps=steps)).succeeded
        assert set(_rows(path, engine.runs(1)[0]["run_id"]).values()) == {"succeeded"}
    assert not broken, broken[:5]


def test_a_side_effect_free_step_compensated_by_a_plugins_rollback_handler_is_durable_before_its_child(tmp_path):
    # The rule: an action with a compensation keeps "committed before children start".
    # A compensation can come from another plugin's wfe_rollback_handlers, which is what
    # plugins.rollback_for (and rollback) use; _repeatable looks at action.rollback only.
    path = tmp_path / "runs.sqlite"
    seen: list[str] = []

    def reserve(_params, _ctx):
        return StepResult(success=True, output="reserved")

    def release(_params, _ctx, _memo, _output):
        return None

    def probe(_params, ctx):
        seen.append(_rows(path, ctx.run_id)["parent"])
        return StepResult(success=True)

    @hookimpl
    def wfe_actions():
        return [Action("quota.reserve", reserve, side_effects=False)]

    @hookimpl
    def wfe_rollback_handlers():
        return [RollbackHandler("quota.reserve", release)]

    owner = types.SimpleNamespace(__name__="owner", wfe_actions=wfe_actions)
    undo = types.SimpleNamespace(__name__="undo", wfe_rollback_handlers=wfe_rollback_handlers)
    plugins = load_plugins(autoload=False, extra={"owner": owner, "undo": undo})
    assert plugins.rollback_for("quota.reserve") is not None
    engine = WorkflowEngine(plugins=plugins, store=path)
    engine.register_custom_action("probe", probe, side_effects=False)  # a reader: released early if the parent were
    workflow = Workflow(
        id="handler",
        steps=[
            WorkflowStep(id="parent", action="quota.reserve"),
            WorkflowStep(id="child", action="probe", dependencies=["parent"]),
        ],
    )
    assert engine.run(workflow).succeeded
    assert seen == ["succeeded"]


def test_a_workflow_run_step_is_durable_before_its_child(tmp_path):
    # workflow.run declares side_effects=False but compensates itself: not released early.
    path = tmp_path / "runs.sqlite"
    (tmp_path / "sub.yaml").write_text(
        "id: sub\nsteps:\n  - id: one\n    action: variable.set\n    parameters: {name: y, value: 1}\n"
    )
    seen: list[str] = []

    def probe(_params, ctx):
        seen.append(_rows(path, ctx.run_id)["sub"])
        return StepResult(success=True)

    engine = WorkflowEngine(plugins=load_plugins(), store=path)
    engine.register_custom_action("probe", probe, side_effects=False)  # a reader: released early if the parent were
    workflow = Workflow(
        id="outer",
        steps=[
            WorkflowStep(id="sub", action="workflow.run", parameters={"path": str(tmp_path / "sub.yaml")}),
            WorkflowStep(id="child", action="probe", dependencies=["sub"]),
        ],
    )
    assert engine.run(workflow).succeeded
    assert seen == ["succeeded"]


def test_a_busy_chain_of_side_effect_free_steps_still_commits_within_idle_commit(tmp_path):
    # 30 side-effect-free steps of ~10 ms each, inline (on the loop's own thread): the
    # loop never waits for a completion, so only _flush's IDLE_COMMIT clause commits. By
    # the time the last step runs (~290 ms after the first ended) the first one's
    # success must be in the store.
    path = tmp_path / "runs.sqlite"
    seen: dict[str, str] = {}

    def free(_params, ctx):
        if ctx.step.id == "s29":
            seen.update(_rows(path, ctx.run_id))
        time.sleep(0.01)
        return StepResult(success=True)

    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=path)
    engine.register_custom_action("free", free, side_effects=False, inline=True)
    workflow = Workflow(
        id="busy",
        steps=[WorkflowStep(id=f"s{i}", action="free", dependencies=[f"s{i - 1}"] if i else []) for i in range(30)],
    )
    assert engine.run(workflow).succeeded
    assert seen["s0"] == "succeeded", seen
    assert sum(status == "succeeded" for status in seen.values()) >= 20, seen


def test_a_listener_that_cancels_on_a_side_effect_free_steps_success_stops_its_child_with_side_effects(tmp_path):
    # A step with side effects starts only once listeners heard everything before it:
    # a listener that cancels on the success of a side-effect-free parent still stops it.
    calls: list[str] = []

    def free(_params, ctx):
        calls.append(ctx.step.id)
        return StepResult(success=True)

    def mark(_params, ctx):
        calls.append(ctx.step.id)
        return StepResult(success=True)

    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=tmp_path / "runs.sqlite")
    engine.register_custom_action("free", free, side_effects=False)
    engine.register_custom_action("mark", mark)

    def cancel_after_a(event):
        if event.kind == "step.succeeded" and event.step_id == "a":
            engine.cancel_workflow(event.run_id)

    workflow = Workflow(
        id="gate",
        steps=[
            WorkflowStep(id="a", action="free"),
            WorkflowStep(id="b", action="mark", dependencies=["a"]),
        ],
    )
    stats = engine.run(workflow, listeners=(cancel_after_a,))
    assert calls == ["a"]
    assert stats.steps["b"].reason == "not started: cancelled"


def test_a_side_effect_free_step_is_durable_before_its_child_with_side_effects_runs(tmp_path):
    path = tmp_path / "runs.sqlite"
    seen: list[dict[str, str]] = []

    def probe(_params, ctx):
        seen.append(_rows(path, ctx.run_id))
        return StepResult(success=True)

    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=path)
    engine.register_custom_action("probe", probe)  # side_effects=True
    chain = _chain(20)
    steps = [*chain.steps, WorkflowStep(id="effect", action="probe", dependencies=["s19"])]
    assert engine.run(Workflow(id="mixed", steps=steps)).succeeded
    (rows,) = seen
    assert {sid: status for sid, status in rows.items() if sid != "effect"} == {f"s{i}": "succeeded" for i in range(20)}
