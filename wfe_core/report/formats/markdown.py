"""``markdown``: a summary table and a Mermaid ``graph TD``, for PRs and ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from typing import Any

from wfe_core.plan.fanout import counted_note
from wfe_core.report.formats.units import seconds, timestamp
from wfe_core.report.graph import to_mermaid, view_of_report
from wfe_core.report.nested import NestedStep, nested_steps

__all__ = ["render_markdown"]

_ICONS = {
    "succeeded": "✅",
    "failed": "❌",
    "timed_out": "⏱️",
    "skipped": "⏭️",
    "cancelled": "🚫",
    "running": "🔄",
    "interrupted": "⚠️",
    "rolled_back": "↩️",
    "rollback_failed": "‼️",
    "pending": "⏳",
}


def _cell(text: Any) -> str:
    """A table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|") if text not in (None, "") else ""


def _nested_row(n: NestedStep) -> str:
    """A sub-workflow's step under its ``workflow.run`` step; a failed one shows the last
    line it printed."""
    s = n.step
    detail = _cell(s.error or s.reason)
    if s.status in ("failed", "timed_out") and n.output_tail:
        detail = (detail + " · " if detail else "") + "`" + _cell(n.output_tail[-1]).replace("`", "'") + "`"
    return (
        f"| | {'&nbsp;' * 2 * n.depth}↳ `{_cell(n.id)}` | {_ICONS.get(s.status, '')} {s.status} | "
        f"{len(s.attempts)} | {seconds(n.span)} | {detail} |"
    )


def render_markdown(report: Any) -> str:
    run, a = report.run, report.analytics
    on_path = set(a.critical_path)
    nested = nested_steps(getattr(report, "children", ()))
    out = [
        f"## {_ICONS.get(run.status, '')} `{run.workflow_id}` {run.status}".replace("  ", " "),
        "",
        f"Run `{run.run_id}` · started {timestamp(run.started_at)} · wall **{seconds(a.wall_time)}** · "
        f"busy {seconds(a.busy_time)} · efficiency **{a.parallel_efficiency:.0%}** of {a.workers} workers",
        "",
        f"> {a.verdict}",
        "",
        "| | step | status | attempts | duration | detail |",
        "|---|---|---|---:|---:|---|",
    ]
    for s in run.steps:
        mark = "🔥" if s.id in on_path else ""
        out.append(
            f"| {mark} | `{_cell(s.id)}` | {_ICONS.get(s.status, '')} {s.status} | {len(s.attempts)} | "
            f"{seconds(a.spans.get(s.id))} | {_cell(s.error or s.reason)} |"
        )
        out.extend(_nested_row(n) for n in nested.get(s.id, ()))
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
    counted, fanned_out = report.counted
    note = f" ({counted_note(fanned_out)})" if fanned_out else ""
    waits = ", ".join(f"`{_cell(s)}` {seconds(w)}" for s, w in a.waited_max_parallel[:5])
    out += [
        "",
        f"{len(counted)} steps{note}: {counts}. 🔥 = critical path "
        f"({seconds(a.critical_path_time)}, {a.critical_path_share:.0%} of wall time)."
        + (" ↳ = a sub-workflow's step; its time is part of the step that ran it." if nested else ""),
        *(["", f"Waited for max_parallel (a sibling instance to end): {waits}."] if waits else []),
        "",
        "```mermaid",
        to_mermaid(view_of_report(report)).rstrip("\n"),
        "```",
        "",
    ]
    return "\n".join(out)
