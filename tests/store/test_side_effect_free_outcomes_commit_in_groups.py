"""When a step's outcome must be durable, and when it may ride along with a later commit.

A stored run commits a step's success before its children start when running the step
again after a crash could change something (side effects, its own compensation, a
rollback step). A step whose action declares no side effects releases its children at
once; its outcome is committed with the next commit (within ``IDLE_COMMIT``), always
before any outcome of those children. These tests read the real SQLite file through a
second connection, as `wfe runs show` would.
"""

from __future__ import annotations

import random
import sqlite3

from wfe_core import StepResult, Workflow, WorkflowEngine, WorkflowStep, hookimpl, load_plugins
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
    engine.register_custom_action("probe", probe)
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
