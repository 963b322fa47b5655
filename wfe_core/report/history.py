"""Across runs of one workflow: per step p50/p95, failure rate, flakiness, trend.

- **duration** of a step in a run: its span (first attempt start to last attempt end),
  counted for runs where the step ran to an end (succeeded, failed or timed out).
- **failure rate**: runs where the step ended failed or timed out, over runs where it ran.
- **flaky**: runs where the step succeeded after more than one attempt.
- **trend**: the latest run's duration over the median of the runs before it
  (1.0 = as usual; ``None`` with no earlier run).

This is the data an ETA can learn from: a step's median is its expected duration.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import attrs

from wfe_core.report.analytics import analyze
from wfe_core.report.data import RunRecord

__all__ = ["StepHistory", "WorkflowHistory", "percentile", "summarize"]

_ENDED = ("succeeded", "failed", "timed_out")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by linear interpolation (``values`` not empty)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@attrs.frozen
class StepHistory:
    """One step over the runs read. Durations in seconds; see the module docstring."""

    step: str
    runs: int
    p50: float | None
    p95: float | None
    failure_rate: float
    flaky_runs: int
    latest: float | None
    trend: float | None


@attrs.frozen
class WorkflowHistory:
    """One workflow over its last runs.

    Attributes:
        workflow_id: the workflow.
        run_ids: the runs read, oldest first.
        statuses: run status -> count.
        wall_p50 / wall_p95: run wall times.
        steps: per step, in the latest run's file order.
    """

    workflow_id: str
    run_ids: tuple[str, ...]
    statuses: dict[str, int]
    wall_p50: float | None
    wall_p95: float | None
    steps: tuple[StepHistory, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``"schema": "wfe.stats/1"``)."""
        return {"schema": "wfe.stats/1", **attrs.asdict(self, recurse=True)}


def summarize(workflow_id: str, runs: Sequence[RunRecord]) -> WorkflowHistory:
    """The history of ``runs`` (oldest first) of one workflow."""
    order: dict[str, None] = {}
    for run in reversed(runs):
        for step in run.steps:
            order.setdefault(step.id, None)
    walls: list[float] = []
    statuses: dict[str, int] = {}
    per_step: dict[str, list[tuple[float, str, int]]] = {sid: [] for sid in order}
    for run in runs:
        statuses[run.status] = statuses.get(run.status, 0) + 1
        a = analyze(run)
        if run.finished_at is not None:
            walls.append(a.wall_time)
        for step in run.steps:
            if step.status in _ENDED and step.id in a.spans:
                per_step[step.id].append((a.spans[step.id], step.status, len(step.attempts)))
    out = []
    for sid, seen in per_step.items():
        durations = [d for d, _, _ in seen]
        before = durations[:-1]
        latest = durations[-1] if durations else None
        median = statistics.median(before) if before else None
        out.append(
            StepHistory(
                step=sid,
                runs=len(seen),
                p50=percentile(durations, 0.5) if durations else None,
                p95=percentile(durations, 0.95) if durations else None,
                failure_rate=sum(st != "succeeded" for _, st, _ in seen) / len(seen) if seen else 0.0,
                flaky_runs=sum(st == "succeeded" and n > 1 for _, st, n in seen),
                latest=latest,
                trend=(latest / median) if latest is not None and median else None,
            )
        )
    return WorkflowHistory(
        workflow_id=workflow_id,
        run_ids=tuple(r.run_id for r in runs),
        statuses=statuses,
        wall_p50=percentile(walls, 0.5) if walls else None,
        wall_p95=percentile(walls, 0.95) if walls else None,
        steps=tuple(out),
    )
