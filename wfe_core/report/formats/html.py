"""``html``: one self-contained page (inline CSS, JS and SVG; no network, works from ``file://``).

Sections: the run header (variables with secrets masked), the analytics and verdict, a
Gantt timeline with one bar per attempt (colour by outcome; hover for timing and error),
the DAG with nodes coloured by outcome and the critical path highlighted, and the table
of steps (sortable, filterable).

Size and speed grow linearly with steps + attempts + dependencies. Up to
:data:`DETAIL_LIMIT` steps everything is drawn in full; above it the DAG becomes a
per-level summary (counts by outcome) because a drawing of thousands of nodes is not
readable anyway; the Gantt and the table stay complete. Off-screen sections are left
to the browser to render lazily (``content-visibility: auto``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from wfe_core.plan.fanout import counted_note
from wfe_core.report.formats.units import seconds, timestamp
from wfe_core.report.graph import COLOURS, to_svg, view_of_report
from wfe_core.report.nested import NestedStep, nested_steps

__all__ = ["DETAIL_LIMIT", "render_html"]

#: Above this many steps the DAG is summarised per level instead of drawn node by node.
DETAIL_LIMIT = 2000

_ROW, _LABEL_W, _CHART_W = 16, 220, 1000

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;border-bottom:1px solid #d0d7de;background:#f6f8fa}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
main{padding:0 24px 40px} section{content-visibility:auto;contain-intrinsic-size:auto 600px}
.status{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600}
.meta span{margin-right:16px;color:#57606a}
.verdict{font-size:15px;padding:8px 12px;border-left:4px solid #0969da;background:#ddf4ff}
table{border-collapse:collapse}
td,th{padding:3px 8px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
th{cursor:pointer;user-select:none;background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow:auto;max-height:80vh;border:1px solid #d0d7de}
svg text{font-size:11px;font-family:inherit} .gantt .label{fill:#1f2328} .gantt .cp-label{font-weight:700}
.gantt .bar{stroke:#0003} .gantt .bar:hover,.dag .node:hover rect{stroke:#000;stroke-width:2}
.dag .edge{fill:none;stroke:#8c959f;stroke-width:1.2} .dag .edge.cp{stroke:#111;stroke-width:3}
.dag .node.cp rect{stroke:#111;stroke-width:3} .dag .node.noncritical rect{stroke-dasharray:4 3;stroke:#444}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
#detail{position:sticky;bottom:0;background:#fffbe6;border-top:1px solid #d4a72c;padding:6px 24px;min-height:1.4em;
  white-space:pre-wrap}
.err{color:#b42318;white-space:pre-wrap} .cp-mark{color:#b42318;font-weight:700}
tr.nested td{background:#fafbfc;color:#424a53} .tail{color:#57606a;white-space:pre-wrap;font-family:monospace}
"""

# Progressive enhancement only: the page is complete without it.
_JS = """
(function(){
  var detail=document.getElementById('detail');
  function show(e){var t=e.target.closest('[data-info]');if(t){detail.textContent=t.getAttribute('data-info');}}
  document.querySelectorAll('svg.gantt,svg.dag').forEach(function(s){s.addEventListener('click',show);});
  var table=document.getElementById('steps'),body=table.tBodies[0],filter=document.getElementById('filter');
  filter.addEventListener('input',function(){var q=filter.value.toLowerCase();
    Array.prototype.forEach.call(body.rows,function(r){r.hidden=q&&r.textContent.toLowerCase().indexOf(q)<0;});});
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){th.addEventListener('click',function(){
    var rows=Array.prototype.slice.call(body.rows),num=th.classList.contains('num'),dir=th.dataset.dir==='1'?-1:1;
    th.dataset.dir=dir===1?'1':'0';
    rows.sort(function(a,b){var x=a.cells[i].dataset.v||a.cells[i].textContent,
        y=b.cells[i].dataset.v||b.cells[i].textContent;
      return (num?(parseFloat(x)||0)-(parseFloat(y)||0):x.localeCompare(y))*dir;});
    rows.forEach(function(r){body.appendChild(r);});});});
})();
"""


def _colour(status: str) -> str:
    return COLOURS.get(status, "#ffffff")


def _header(report: Any) -> str:
    run, a = report.run, report.analytics
    variables = "".join(
        f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in run.variables.items()
    )
    return (
        f"<header><h1>{escape(run.workflow_name or run.workflow_id)} "
        f'<span class="status" id="run-status" style="background:{_colour(run.status)}">'
        f"{escape(run.status)}</span></h1>"
        f'<div class="meta"><span>run <code>{escape(run.run_id)}</code></span>'
        f"<span>workflow <code>{escape(run.workflow_id)}</code></span>"
        f"<span>started {timestamp(run.started_at)}</span><span>wall {seconds(a.wall_time)}</span>"
        f"<span>strategy {escape(run.strategy or '-')}</span>"
        f"<span>on {escape(run.host or '?')} (pid {run.pid})</span>"
        f"<span>from {escape(run.source or '-')}</span>"
        + (f"<span>resumed {run.resumed}×</span>" if run.resumed else "")
        + ("<span><b>in progress</b></span>" if run.in_progress else "")
        + "</div>"
        + (f'<p class="err">error: {escape(run.error)}</p>' if run.error else "")
        + (
            f"<details><summary>variables ({len(run.variables)})</summary><table>{variables}</table></details>"
            if run.variables
            else ""
        )
        + "</header>"
    )


def _analytics(report: Any) -> str:
    a = report.analytics
    items = [
        f"<li>busy {seconds(a.busy_time)} in actions; parallel efficiency <b>{a.parallel_efficiency:.0%}</b> "
        f"of {a.workers} workers ({escape(a.workers_source)}; peak concurrency {a.peak_concurrency})</li>",
        f'<li>critical path <span class="cp-mark">{seconds(a.critical_path_time)}</span> '
        f"({a.critical_path_share:.0%} of wall): {escape(' → '.join(a.critical_path) or '-')}</li>",
    ]
    if a.slowest:
        items.append(
            "<li>slowest on the critical path: "
            + ", ".join(f"{escape(s)} {seconds(t)}" for s, t in a.slowest[:5])
            + "</li>"
        )
    if a.waited:
        items.append(
            "<li>waited for a free worker: " + ", ".join(f"{escape(s)} {seconds(w)}" for s, w in a.waited[:5]) + "</li>"
        )
    if a.waited_max_parallel:
        waits = ", ".join(f"{escape(s)} {seconds(w)}" for s, w in a.waited_max_parallel[:5])
        items.append(f"<li>waited for max_parallel (a sibling instance to end): {waits}</li>")
    if a.retries:
        items.append(
            "<li>retries that cost time: "
            + ", ".join(f"{escape(s)} ×{n} {seconds(c)}" for s, n, c in a.retries[:5])
            + "</li>"
        )
    return (
        f'<section id="analytics"><h2>Analytics</h2><p class="verdict" id="verdict">{escape(a.verdict)}</p>'
        f"<ul>{''.join(items)}</ul></section>"
    )


def _legend() -> str:
    return (
        '<p class="legend">'
        + "".join(f'<span><i style="background:{c}"></i>{s}</span>' for s, c in COLOURS.items())
        + "</p>"
    )


def _gantt(report: Any) -> str:
    run, a = report.run, report.analytics
    t0 = run.started_at or 0.0
    # The store's clock and the run's own differ by milliseconds: fit whichever is longer.
    span = max(a.wall_time, run.ended_at - t0)
    scale = _CHART_W / span if span > 0 else 0.0
    on_path = set(a.critical_path)
    started = sorted(
        (s for s in run.steps if s.attempts), key=lambda s: (s.attempts[0].started_at or float("inf"), s.id)
    )
    height = _ROW * len(started) + 24
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{_LABEL_W + _CHART_W + 10}" '
        f'height="{height}" role="img" aria-label="timeline of attempts">'
    ]
    for tick in range(11):
        x = _LABEL_W + tick * _CHART_W / 10
        anchor = ' text-anchor="end"' if tick == 10 else ""
        out.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 14}" stroke="#eaeef2"/>'
            f'<text x="{x + 2:.1f}" y="{height - 2}" fill="#57606a"{anchor}>{seconds(span * tick / 10)}</text>'
        )
    for row, s in enumerate(started):
        y = row * _ROW
        name = escape(s.id if len(s.id) <= 32 else s.id[:31] + "…")
        cls = "label cp-label" if s.id in on_path else "label"
        out.append(f'<text class="{cls}" x="2" y="{y + 12}">{name}</text>')
        for t in s.attempts:
            start = t.started_at or t0
            end = t.finished_at or run.ended_at
            x = _LABEL_W + (start - t0) * scale
            w = max(1.0, (end - start) * scale)
            info = f"{s.id} · attempt {t.number} · {t.status} · +{seconds(start - t0)} for {seconds(end - start)}" + (
                f" · {t.error}" if t.error else ""
            )
            out.append(
                f'<rect class="bar" data-step="{escape(s.id)}" data-attempt="{t.number}" '
                f'data-status="{escape(t.status)}" data-info="{escape(info)}" x="{x:.1f}" y="{y + 2}" '
                f'width="{w:.1f}" height="{_ROW - 4}" fill="{_colour(t.status)}">'
                f"<title>{escape(info)}</title></rect>"
            )
    out.append("</svg>")
    return (
        f'<section id="timeline"><h2>Timeline</h2>{_legend()}<div class="scroll">{"".join(out)}</div>'
        "<p>One bar per attempt; bold rows are on the critical path. Hover or click a bar for details.</p>"
        "</section>"
    )


def _dag(report: Any) -> str:
    run = report.run
    if len(run.steps) <= DETAIL_LIMIT:
        body = to_svg(view_of_report(report))
        note = "Thick borders and edges: the critical path. Dashed: non-critical steps. ? marks a conditional step."
    else:
        view = view_of_report(report)
        levels: dict[int, dict[str, int]] = {}
        for node in view.nodes:
            counts = levels.setdefault(node.level, {})
            counts[node.status] = counts.get(node.status, 0) + 1
        rows = "".join(
            f"<tr><td>{depth}</td><td>{sum(c.values())}</td><td>"
            + ", ".join(f"{n} {escape(s)}" for s, n in sorted(c.items()))
            + "</td></tr>"
            for depth, c in sorted(levels.items())
        )
        body = (
            f"<table><thead><tr><th>level</th><th>steps</th><th>outcomes</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        note = (
            f"{len(run.steps)} steps: more than {DETAIL_LIMIT}, so the graph is summarised per level. "
            "`wfe graph FILE --format dot` draws it whole."
        )
    return f'<section id="dag"><h2>Dependency graph</h2><div class="scroll">{body}</div><p>{note}</p></section>'


def _count(report: Any) -> str:
    """``6 steps (build counts as its 4 instances)``: the totals' rule for fan-out steps."""
    counted, fanned_out = report.counted
    return f"{len(counted)} steps" + (f" ({escape(counted_note(fanned_out))})" if fanned_out else "")


def _table(report: Any) -> str:
    run, a = report.run, report.analytics
    on_path = set(a.critical_path)
    nested = nested_steps(getattr(report, "children", ()))
    rows = []
    for s in run.steps:
        span = a.spans.get(s.id)
        wait = a.waits.get(s.id)
        detail = s.error or s.reason or ""
        rows.append(
            f'<tr data-step="{escape(s.id)}"><td>{"🔥" if s.id in on_path else ""}</td><td>{escape(s.id)}</td>'
            f"<td>{escape(s.action)}</td>"
            f'<td><span class="status" style="background:{_colour(s.status)}">{escape(s.status)}</span></td>'
            f'<td class="num">{len(s.attempts)}</td>'
            f'<td class="num" data-v="{span or 0:.6f}">{seconds(span)}</td>'
            f'<td class="num" data-v="{s.busy_time:.6f}">{seconds(s.busy_time)}</td>'
            f'<td class="num" data-v="{wait or 0:.6f}">{seconds(wait)}</td>'
            f'<td class="err">{escape(detail)}</td></tr>'
        )
        rows.extend(_nested_row(n) for n in nested.get(s.id, ()))
    head = (
        "<tr><th>cp</th><th>step</th><th>action</th><th>status</th><th class=num>attempts</th>"
        "<th class=num>duration</th><th class=num>busy</th><th class=num>wait</th><th>error / reason</th></tr>"
    )
    return (
        f'<section id="table"><h2>Steps</h2><p><input id="filter" type="search" placeholder="filter steps"> '
        f"{_count(report)}; click a column to sort. 🔥 = critical path."
        + (
            " ↳ rows: steps of a sub-workflow, under the step that ran it (their time is part of that step's)."
            if nested
            else ""
        )
        + "</p>"
        f'<div class="scroll"><table id="steps"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
        "</div></section>"
    )


def _nested_gantt(report: Any) -> str:
    """The attempts of sub-workflows' steps, on the same time axis as the run's timeline,
    grouped under the step that ran them ("" when the run ran none)."""
    nested = nested_steps(getattr(report, "children", ()))
    rows = [n for s in report.run.steps for n in nested.get(s.id, ())]
    if not rows:
        return ""
    run, a = report.run, report.analytics
    t0 = run.started_at or 0.0
    span = max(a.wall_time, run.ended_at - t0)
    scale = _CHART_W / span if span > 0 else 0.0
    height = _ROW * len(rows) + 4
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt nested" width="{_LABEL_W + _CHART_W + 10}" '
        f'height="{height}" role="img" aria-label="timeline of sub-workflow attempts">'
    ]
    for row, n in enumerate(rows):
        y = row * _ROW
        name = n.id if len(n.id) <= 32 else "…" + n.id[-31:]
        out.append(f'<text class="label" x="{2 + 8 * (n.depth - 1)}" y="{y + 12}">{escape(name)}</text>')
        for t in n.step.attempts:
            start = t.started_at or t0
            end = t.finished_at or run.ended_at
            info = f"{n.id} · attempt {t.number} · {t.status} · +{seconds(start - t0)} for {seconds(end - start)}" + (
                f" · {t.error}" if t.error else ""
            )
            out.append(
                f'<rect class="bar" data-step="{escape(n.id)}" data-attempt="{t.number}" '
                f'data-status="{escape(t.status)}" data-info="{escape(info)}" '
                f'x="{_LABEL_W + (start - t0) * scale:.1f}" y="{y + 2}" width="{max(1.0, (end - start) * scale):.1f}" '
                f'height="{_ROW - 4}" fill="{_colour(t.status)}"><title>{escape(info)}</title></rect>'
            )
    out.append("</svg>")
    return (
        f'<section id="sub-timeline"><h2>Sub-workflow steps</h2><div class="scroll">{"".join(out)}</div>'
        "<p>One bar per attempt of a sub-workflow's step, on the run's time axis. They run inside the "
        "step that ran them: its bar above spans them.</p></section>"
    )


def _nested_row(n: NestedStep) -> str:
    """A sub-workflow's step, under the ``workflow.run`` step that ran it (indented).

    Its durations are its own; the parent step's already include them (not counted twice).
    """
    s = n.step
    detail = s.error or s.reason or ""
    tail = "\n".join(n.output_tail)
    return (
        f'<tr class="nested" data-step="{escape(n.id)}" data-parent="{escape(n.parent)}" data-depth="{n.depth}">'
        f'<td></td><td style="padding-left:{8 + 18 * n.depth}px">↳ {escape(n.id)}</td>'
        f"<td>{escape(s.action)}</td>"
        f'<td><span class="status" style="background:{_colour(s.status)}">{escape(s.status)}</span></td>'
        f'<td class="num">{len(s.attempts)}</td>'
        f'<td class="num" data-v="{n.span or 0:.6f}">{seconds(n.span)}</td>'
        f'<td class="num" data-v="{s.busy_time:.6f}">{seconds(s.busy_time)}</td>'
        '<td class="num" data-v="0">-</td>'
        f'<td><span class="err">{escape(detail)}</span>'
        + (f'<div class="tail">{escape(tail)}</div>' if tail else "")
        + "</td></tr>"
    )


def render_html(report: Any) -> str:
    run = report.run
    title = escape(f"{run.workflow_id} {run.status} · wfe report {run.run_id[:12]}")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No request may leave the page: a strict policy makes that a browser guarantee.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<style>{_CSS}</style></head><body>"
        + _header(report)
        + "<main>"
        + _analytics(report)
        + _gantt(report)
        + _nested_gantt(report)
        + _dag(report)
        + _table(report)
        + "</main>"
        + '<div id="detail">click a bar or a node for details</div>'
        + f"<script>{_JS}</script></body></html>\n"
    )
