"""Sub-workflow runs in a report: a ``workflow.run`` step's child steps, nested under it.

A sub-workflow (``action: workflow.run``) is a run of its own in the store, with the id
``<parent run id>/<step id>`` (:mod:`wfe_core.run.subflow`). A report of the parent
reads those child runs (and theirs, recursively) and lists their steps under the step
that ran them, with nested ids: ``deploy/build``, ``deploy/inner/leaf``.

How children count in the analytics (documented in the report's JSON too):

- The parent's analytics (wall time, busy time, parallel efficiency, critical path,
  slowest steps, waits, retries) are over the parent's **own** steps only. The
  ``workflow.run`` step's span and busy time already cover its whole child run, so the
  child's steps are **listed, not counted again**: counting them too would count the
  same seconds twice, and the child ran in a pool of its own.
- Each child run has analytics of its own (over its own steps, ids nested), given with
  it: its critical path, parallel efficiency and slowest steps.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import attrs

from wfe_core.model.secrets import mask_sealed
from wfe_core.report.analytics import Analytics, analyze
from wfe_core.report.data import RunRecord, StepRecord, read_run
from wfe_core.run.output import output_tail
from wfe_core.store.runstore import StoreError

__all__ = [
    "ChildRun",
    "NestedStep",
    "attach_children",
    "child_dict",
    "nested_steps",
    "read_children",
    "with_nested_steps",
]

#: The deepest nesting a report follows (sub-workflows stop at 16 levels anyway).
MAX_DEPTH = 16


@attrs.frozen
class ChildRun:
    """The sub-workflow run of one step of a reported run.

    Attributes:
        step: the nested id of the step that ran it (``deploy``, ``deploy/inner``).
        run: the child run as read from the store (its step ids are its own: ``build``).
        analytics: the child run's own analytics.
        tails: child step id -> the tail of what it printed (``stream| line``).
        children: the child's own sub-workflow runs.
    """

    step: str
    run: RunRecord
    analytics: Analytics
    tails: dict[str, list[str]] = attrs.field(factory=dict)
    children: tuple[ChildRun, ...] = ()


@attrs.frozen
class NestedStep:
    """One step of a sub-workflow, as a report lists it.

    Attributes:
        id: nested id (``deploy/build``).
        parent: the nested id of the ``workflow.run`` step it ran under (``deploy``).
        depth: 1 for a child's step, 2 for a grandchild's, …
        step: the step's record (its own id inside the child run).
        span: its span in its own run (first start to last end), if it ran.
        on_critical_path: whether it is on its own run's critical path.
        output_tail: the tail of what it printed.
        run_id, workflow_id: the child run it belongs to, and that run's workflow.
    """

    id: str
    parent: str
    depth: int
    step: StepRecord
    span: float | None
    on_critical_path: bool
    output_tail: tuple[str, ...]
    run_id: str
    workflow_id: str


def read_children(db: sqlite3.Connection, run: RunRecord, prefix: str = "", depth: int = 0) -> tuple[ChildRun, ...]:
    """The sub-workflow runs of ``run``'s steps, in the order of those steps, recursively."""
    if depth >= MAX_DEPTH:
        return ()
    base = run.run_id + "/"
    try:
        rows = db.execute(
            "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? AND instr(substr(run_id, ?), '/') = 0",
            (len(base), base, len(base) + 1),
        ).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read run store: {exc}") from None
    by_step = {row[0][len(base) :]: row[0] for row in rows}
    out = []
    for step in run.steps:
        child_id = by_step.get(step.id)
        if child_id is None:
            continue
        child = read_run(db, child_id)
        nested = prefix + step.id
        out.append(
            ChildRun(
                nested,
                child,
                analyze(child),
                _tails(db, child_id),
                read_children(db, child, nested + "/", depth + 1),
            )
        )
    return tuple(out)


def _tails(db: sqlite3.Connection, run_id: str) -> dict[str, list[str]]:
    """Child step id -> the tail of its recorded output, secrets masked."""
    try:
        rows = db.execute("SELECT step_id, output FROM steps WHERE run_id=?", (run_id,)).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read run store: {exc}") from None
    tails = {}
    for step_id, text in rows:
        if not text:
            continue
        try:
            output = json.loads(text)
        except ValueError:
            continue
        lines = output_tail(mask_sealed(output))
        if lines:
            tails[step_id] = lines
    return tails


def nested_steps(children: tuple[ChildRun, ...]) -> dict[str, list[NestedStep]]:
    """Top-level step id -> every nested step under it, depth first (a grandchild's steps
    right after the child step that ran them): what a format lists after that step."""
    out: dict[str, list[NestedStep]] = {}
    for child in children:
        top = child.step.split("/", 1)[0]
        out.setdefault(top, []).extend(_flatten(child, child.step.count("/") + 1))
    return out


def _flatten(child: ChildRun, depth: int) -> list[NestedStep]:
    rows = []
    inner = {c.step.rsplit("/", 1)[-1]: c for c in child.children}
    on_path = set(child.analytics.critical_path)
    for s in child.run.steps:
        rows.append(
            NestedStep(
                id=f"{child.step}/{s.id}",
                parent=child.step,
                depth=depth,
                step=s,
                span=child.analytics.spans.get(s.id),
                on_critical_path=s.id in on_path,
                output_tail=tuple(child.tails.get(s.id, ())),
                run_id=child.run.run_id,
                workflow_id=child.run.workflow_id,
            )
        )
        if s.id in inner:
            rows.extend(_flatten(inner[s.id], depth + 1))
    return rows


def child_dict(child: ChildRun) -> dict[str, Any]:
    """A child run in the report's JSON (under its step's ``sub_workflow`` key)."""
    run, a = child.run, child.analytics
    inner = {c.step.rsplit("/", 1)[-1]: c for c in child.children}
    on_path = set(a.critical_path)
    steps = []
    for s in run.steps:
        step: dict[str, Any] = {
            "id": f"{child.step}/{s.id}",
            "action": s.action,
            "status": s.status,
            "dependencies": [f"{child.step}/{d}" for d in s.dependencies],
            "started_at": s.started_at,
            "finished_at": s.finished_at,
            "span": a.spans.get(s.id),
            "busy_time": s.busy_time,
            "on_critical_path": s.id in on_path,
            "error": s.error,
            "reason": s.reason,
            "output_tail": child.tails.get(s.id, []),
            "attempts": [t.as_dict() for t in s.attempts],
        }
        if s.id in inner:
            step["sub_workflow"] = child_dict(inner[s.id])
        steps.append(step)
    counts: dict[str, int] = {}
    for s in run.steps:
        counts[s.status] = counts.get(s.status, 0) + 1
    return {
        "run_id": run.run_id,
        "workflow_id": run.workflow_id,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "wall_time": a.wall_time,
        "error": run.error,
        "summary": {"total": len(run.steps), **counts},
        # The child's own analytics; the parent's do not count these steps again.
        "analytics": {
            "busy_time": a.busy_time,
            "parallel_efficiency": a.parallel_efficiency,
            "critical_path": {
                "steps": [f"{child.step}/{s}" for s in a.critical_path],
                "time": a.critical_path_time,
            },
            "slowest": [{"step": f"{child.step}/{s}", "time": t} for s, t in a.slowest],
        },
        "steps": steps,
    }


def attach_children(data: dict[str, Any], children: tuple[ChildRun, ...]) -> dict[str, Any]:
    """Add each child run to its step in a report's JSON (``steps[i].sub_workflow``)."""
    if not children:
        return data
    by_step = {c.step: c for c in children}
    for step in data["steps"]:
        if step["id"] in by_step:
            step["sub_workflow"] = child_dict(by_step[step["id"]])
    data["analytics"]["sub_workflows"] = (
        "a workflow.run step's span and busy time cover its child run: the child's steps are "
        "listed under it (steps[].sub_workflow), with analytics of their own, not counted here again"
    )
    return data


def with_nested_steps(run: RunRecord, children: tuple[ChildRun, ...]) -> RunRecord:
    """``run`` with its sub-workflows' steps (nested ids, dependencies renamed alike) right
    after the step that ran them: for per-step histories (``wfe stats``). Analytics of
    the result would count the children's time twice: use it for per-step figures only."""
    if not children:
        return run
    nested = nested_steps(children)
    steps: list[StepRecord] = []
    for s in run.steps:
        steps.append(s)
        for n in nested.get(s.id, ()):
            prefix = n.parent + "/"
            steps.append(attrs.evolve(n.step, id=n.id, dependencies=tuple(prefix + d for d in n.step.dependencies)))
    return attrs.evolve(run, steps=tuple(steps))
