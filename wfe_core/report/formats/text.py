"""``text``: the report for a terminal, plain lines."""

from __future__ import annotations

from typing import Any

from wfe_core.report.formats.units import seconds, timestamp
from wfe_core.report.nested import nested_steps

__all__ = ["render_text"]


def render_text(report: Any) -> str:
    run, a = report.run, report.analytics
    lines = [
        f"run {run.run_id}  workflow {run.workflow_id}  {run.status}"
        + ("  (in progress)" if run.in_progress else "")
        + (f"  resumed {run.resumed}x" if run.resumed else ""),
        f"started {timestamp(run.started_at)}  wall {seconds(a.wall_time)}  busy {seconds(a.busy_time)}  "
        f"efficiency {a.parallel_efficiency:.0%} of {a.workers} workers ({a.workers_source})",
    ]
    if run.variables:
        lines.append("variables: " + ", ".join(f"{k}={v}" for k, v in run.variables.items()))
    if run.error:
        lines.append(f"error: {run.error}")
    lines.append(f"verdict: {a.verdict}")
    lines.append(
        f"critical path ({seconds(a.critical_path_time)}, {a.critical_path_share:.0%} of wall): "
        + (" -> ".join(a.critical_path) or "-")
    )
    if a.waited:
        lines.append("waited for a worker: " + ", ".join(f"{s} {seconds(w)}" for s, w in a.waited[:5]))
    if a.waited_max_parallel:
        waits = a.waited_max_parallel[:5]
        lines.append("waited for max_parallel: " + ", ".join(f"{s} {seconds(w)}" for s, w in waits))
    if a.retries:
        lines.append("retries: " + ", ".join(f"{s} x{n} cost {seconds(c)}" for s, n, c in a.retries[:5]))
    lines.append("")
    nested = nested_steps(getattr(report, "children", ()))
    width = max([len(s.id) for s in run.steps] + [len(n.id) for ns in nested.values() for n in ns] + [4])
    lines.append(f"  {'STEP':<{width}}  {'STATUS':<15} ATT  {'SPAN':>8}  DETAIL")
    for s in run.steps:
        detail = (s.error or s.reason or "").splitlines()
        lines.append(
            f"  {s.id:<{width}}  {s.status:<15} {len(s.attempts):>3}  {seconds(a.spans.get(s.id)):>8}  "
            f"{detail[0] if detail else ''}".rstrip()
        )
        for n in nested.get(s.id, ()):  # a sub-workflow's steps: their time is inside this step's
            why = (n.step.error or n.step.reason or "").splitlines()
            lines.append(
                f"  {n.id:<{width}}  {n.step.status:<15} {len(n.step.attempts):>3}  {seconds(n.span):>8}  "
                f"{why[0] if why else ''}".rstrip()
            )
    if nested:
        lines.append("(a/b: step b of the sub-workflow run by step a; its time is part of a's, not counted twice)")
    return "\n".join(lines) + "\n"
