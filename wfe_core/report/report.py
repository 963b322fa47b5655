"""A :class:`Report`: one run and its analytics, and its versioned plain-data shape.

Every format renders a ``Report``; JSON and YAML are :meth:`Report.to_dict` as is. The
shape (``"schema": "wfe.report/1"``; a new version only for incompatible changes, new
keys may appear within one version)::

    schema: "wfe.report/1"
    run:       run_id, workflow_id, workflow_name, status (succeeded | failed | cancelled |
               running | interrupted), strategy, source, started_at, finished_at (epoch
               seconds; null while running), wall_time, resumed, host, variables (secrets
               "***"), error, rollback, in_progress
    summary:   total, and a count per step status (an expanded fan-out step counts as its
               instances, not itself), fanned_out {step: instances} (when there are any)
    analytics: wall_time, busy_time, workers, workers_source, peak_concurrency,
               parallel_efficiency, critical_path {steps, time, share},
               bottlenecks {slowest [{step, time}], waited [{step, wait}],
               waited_max_parallel [{step, wait}],
               retries [{step, attempts, cost}]}, limiter, verdict
    steps:     in file order: id, action, status, critical, dependencies, parallel_group,
               conditions, started_at, finished_at, span, busy_time, wait (null when not
               derived), on_critical_path, error, reason,
               attempts [{number, status, started_at, finished_at, duration, error}];
               a ``workflow.run`` step also has ``sub_workflow``: its child run (run_id,
               workflow_id, status, wall_time, error, summary, its own analytics, and
               steps with nested ids ``deploy/build`` and ``output_tail``, recursively).
               The parent's analytics do not count a child's steps again: the step's
               span covers its child (see :mod:`wfe_core.report.nested`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from wfe_core.plan.fanout import counted_steps
from wfe_core.report.analytics import Analytics, analyze
from wfe_core.report.data import RunRecord
from wfe_core.report.nested import ChildRun, attach_children

__all__ = ["REPORT_SCHEMA", "Report", "build_report"]

REPORT_SCHEMA = "wfe.report/1"


@attrs.frozen
class Report:
    """What every report format renders.

    Attributes:
        run: the run as read from the store (:class:`~wfe_core.report.data.RunRecord`).
        analytics: its :class:`~wfe_core.report.analytics.Analytics`.
        children: the sub-workflow runs of its ``workflow.run`` steps, in step order.
    """

    run: RunRecord
    analytics: Analytics
    children: tuple[ChildRun, ...] = ()

    @property
    def counted(self) -> tuple[list[str], dict[str, int]]:
        """The steps the totals count and fan-out step -> its instances
        (:func:`~wfe_core.plan.fanout.counted_steps`: a fan-out step counts as its instances)."""
        return counted_steps([s.id for s in self.run.steps], {s.id for s in self.run.steps if s.fan_out})

    @property
    def counts(self) -> dict[str, int]:
        """Number of steps per status (see :attr:`counted`)."""
        ids = set(self.counted[0])
        return dict(Counter(s.status for s in self.run.steps if s.id in ids))

    def _summary(self) -> dict[str, Any]:
        counted, fanned_out = self.counted
        summary: dict[str, Any] = {"total": len(counted), **self.counts}
        if fanned_out:  # only in a run with fan-out steps
            summary["fanned_out"] = fanned_out
        return summary

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data, in the documented ``wfe.report/1`` shape."""
        run, a = self.run, self.analytics
        on_path = set(a.critical_path)
        data = {
            "schema": REPORT_SCHEMA,
            "run": {
                "run_id": run.run_id,
                "workflow_id": run.workflow_id,
                "workflow_name": run.workflow_name,
                "status": run.status,
                "strategy": run.strategy,
                "source": run.source,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "wall_time": a.wall_time,
                "resumed": run.resumed,
                "host": run.host,
                "variables": run.variables,
                "error": run.error,
                "rollback": run.rollback,
                "in_progress": run.in_progress,
            },
            "summary": self._summary(),
            "analytics": {
                "wall_time": a.wall_time,
                "busy_time": a.busy_time,
                "workers": a.workers,
                "workers_source": a.workers_source,
                "peak_concurrency": a.peak_concurrency,
                "parallel_efficiency": a.parallel_efficiency,
                "critical_path": {
                    "steps": list(a.critical_path),
                    "time": a.critical_path_time,
                    "share": a.critical_path_share,
                },
                "bottlenecks": {
                    "slowest": [{"step": s, "time": t} for s, t in a.slowest],
                    "waited": [{"step": s, "wait": w} for s, w in a.waited],
                    "waited_max_parallel": [{"step": s, "wait": w} for s, w in a.waited_max_parallel],
                    "retries": [{"step": s, "attempts": n, "cost": c} for s, n, c in a.retries],
                },
                "limiter": a.limiter,
                "verdict": a.verdict,
            },
            "steps": [
                {
                    "id": s.id,
                    "action": s.action,
                    "status": s.status,
                    "critical": s.critical,
                    "dependencies": list(s.dependencies),
                    "parallel_group": s.parallel_group,
                    "conditions": s.conditions,
                    "started_at": s.started_at,
                    "finished_at": s.finished_at,
                    "span": a.spans.get(s.id),
                    "busy_time": s.busy_time,
                    "wait": a.waits.get(s.id),
                    "on_critical_path": s.id in on_path,
                    "error": s.error,
                    "reason": s.reason,
                    "attempts": [t.as_dict() for t in s.attempts],
                }
                for s in run.steps
            ],
        }
        return attach_children(data, self.children)


def build_report(run: RunRecord, children: tuple[ChildRun, ...] = ()) -> Report:
    """The report of one run record (and of its sub-workflow runs, ``children``)."""
    return Report(run, analyze(run), children)
