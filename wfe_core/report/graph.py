"""A workflow's DAG as a drawing: Mermaid, Graphviz ``dot`` and SVG.

One :class:`GraphView` — nodes with their level, outcome and marks, and edges — is built
either from a workflow before it runs (:func:`view_of_workflow`: the longest chain by
step count is marked) or from a run's report (:func:`view_of_report`: outcomes, and the
critical path by measured durations). Renderers never see where the view came from.
"""

from __future__ import annotations

import html
import json
from typing import Any

import attrs

from wfe_core.plan.graph import DependencyGraph

__all__ = ["GraphNode", "GraphView", "to_dot", "to_mermaid", "to_svg", "view_of_report", "view_of_workflow"]

#: Fill colour per outcome, shared by every drawing (and the HTML report's legend).
COLOURS = {
    "succeeded": "#2e9d57",
    "failed": "#d64541",
    "timed_out": "#e67e22",
    "skipped": "#9aa5b1",
    "cancelled": "#6c7a89",
    "running": "#3b82f6",
    "interrupted": "#8e44ad",
    "rolled_back": "#c0a000",
    "rollback_failed": "#8b0000",
    "pending": "#d0d7de",
}


@attrs.frozen
class GraphNode:
    """One step in a drawing.

    Attributes:
        id: the step id; label: what is shown; level: its depth in the DAG.
        status: its outcome (``pending`` before a run); action: its action.
        critical: a failure fails the run; conditional: it has ``conditions``.
        on_path: on the critical path; group: its parallel group.
        when: its ``when`` expression; trigger: its ``trigger`` (``on_success`` by default);
        resources: what it holds while it runs (``database``, ``gpu x2``).
    """

    id: str
    label: str
    level: int
    status: str = "pending"
    action: str = ""
    critical: bool = True
    conditional: bool = False
    on_path: bool = False
    group: str | None = None
    when: str | None = None
    trigger: str = "on_success"
    resources: tuple[str, ...] = ()

    @property
    def notes(self) -> list[str]:
        """What the drawings print under the label: ``when``, a trigger other than the
        default, the resources held."""
        notes = [f"when: {self.when}"] if self.when is not None else []
        if self.trigger != "on_success":
            notes.append(f"trigger: {self.trigger}")
        if self.resources:
            notes.append(f"uses: {', '.join(self.resources)}")
        return notes


@attrs.frozen
class GraphView:
    """Nodes (in topological order) and edges ``(dependency, dependent)`` of one DAG."""

    title: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str], ...]


def _levels(graph: DependencyGraph) -> dict[str, int]:
    return {sid: depth for depth, level in enumerate(graph.levels()) for sid in level}


def view_of_workflow(workflow: Any) -> GraphView:
    """The DAG of a workflow before it runs; the longest chain (by step count) is marked."""
    graph = DependencyGraph.from_workflow(workflow)
    path, _ = graph.critical_path({s.id: 1.0 for s in workflow.steps})
    on_path = set(path)
    level = _levels(graph)
    steps = {s.id: s for s in workflow.steps}
    nodes = tuple(
        GraphNode(
            id=sid,
            label=steps[sid].name or sid,
            level=level[sid],
            action=steps[sid].action,
            critical=steps[sid].critical,
            conditional=bool(steps[sid].conditions) or steps[sid].when is not None,
            on_path=sid in on_path,
            group=steps[sid].parallel_group,
            when=steps[sid].when,
            trigger=steps[sid].trigger,
            resources=_held(steps[sid].resources),
        )
        for sid in graph.order
    )
    edges = tuple((d, s.id) for s in workflow.steps for d in s.dependencies)
    return GraphView(workflow.id, nodes, edges)


def _held(resources: dict[str, int]) -> tuple[str, ...]:
    return tuple(name if count == 1 else f"{name} x{count}" for name, count in resources.items())


def view_of_report(report: Any) -> GraphView:
    """The DAG of a recorded run: outcomes, and its critical path by measured durations."""
    run = report.run
    graph = DependencyGraph({s.id: s.dependencies for s in run.steps})
    level = _levels(graph)
    steps = {s.id: s for s in run.steps}
    on_path = set(report.analytics.critical_path)
    nodes = tuple(
        GraphNode(
            id=sid,
            label=sid,
            level=level[sid],
            status=steps[sid].status,
            action=steps[sid].action,
            critical=steps[sid].critical,
            conditional=bool(steps[sid].conditions),
            on_path=sid in on_path,
            group=steps[sid].parallel_group,
        )
        for sid in graph.order
    )
    edges = tuple((d, s.id) for s in run.steps for d in s.dependencies)
    return GraphView(run.workflow_id, nodes, edges)


def _mermaid_text(text: str) -> str:
    """Mermaid's entity codes for what would end a quoted label or read as HTML."""
    for char, code in (("#", "#35;"), ("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def to_mermaid(view: GraphView) -> str:
    """A Mermaid ``graph TD``: outcome classes, a thick border on the critical path,
    ``?`` on conditional steps, dashed borders on non-critical ones, groups as subgraphs."""
    ids = {n.id: f"n{i}" for i, n in enumerate(view.nodes)}
    lines = ["graph TD"]
    groups: dict[str, list[GraphNode]] = {}
    for node in view.nodes:
        if node.group:
            groups.setdefault(node.group, []).append(node)

    def declare(node: GraphNode) -> str:
        mark = ("? " if node.conditional else "") + node.label
        text = "<br/>".join(_mermaid_text(line) for line in [mark, *node.notes])
        return f'{ids[node.id]}["{text}"]:::{node.status}'

    for node in view.nodes:
        if not node.group:
            lines.append("  " + declare(node))
    for i, (group, members) in enumerate(groups.items()):
        lines.append(f'  subgraph g{i}["{_mermaid_text(group)}"]')
        lines.extend("    " + declare(node) for node in members)
        lines.append("  end")
    lines.extend(f"  {ids[a]} --> {ids[b]}" for a, b in view.edges)
    for status in sorted({n.status for n in view.nodes}):
        lines.append(f"  classDef {status} fill:{COLOURS.get(status, '#ffffff')},color:#000")
    for n in view.nodes:
        look = ["stroke:#111", "stroke-width:4px"] if n.on_path else []
        look += [] if n.critical else ["stroke-dasharray:5 5"]
        if look:
            lines.append(f"  style {ids[n.id]} {','.join(look)}")
    return "\n".join(lines) + "\n"


def _dot_id(text: str) -> str:
    return json.dumps(text)  # a double-quoted string with \" and \\ escapes, as dot reads it


def to_dot(view: GraphView) -> str:
    """Graphviz ``digraph``: one ``rank=same`` row per level, parallel groups as clusters,
    the critical path bold, conditional steps as diamonds, non-critical dashed."""
    lines = [
        f"digraph {_dot_id(view.title)} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    by_group: dict[str, list[GraphNode]] = {}
    for node in view.nodes:
        if node.group:
            by_group.setdefault(node.group, []).append(node)

    def declare(node: GraphNode) -> str:
        style = ["filled"] + (["dashed"] if not node.critical else ["rounded"]) + (["bold"] if node.on_path else [])
        attrs_ = {
            "label": "\n".join([("? " if node.conditional else "") + node.label, *node.notes]),
            "fillcolor": COLOURS.get(node.status, "#fff"),
            "style": ",".join(style),
            "tooltip": "; ".join([f"{node.action} ({node.status})", *node.notes]),
        }
        if node.conditional:
            attrs_["shape"] = "diamond"
        if node.on_path:
            attrs_["penwidth"] = "3"
        body = ", ".join(f"{k}={_dot_id(v)}" for k, v in attrs_.items())
        return f"{_dot_id(node.id)} [{body}];"

    for node in view.nodes:
        if not node.group:
            lines.append("  " + declare(node))

    def ranks(members: list[GraphNode], indent: str) -> None:
        levels: dict[int, list[str]] = {}
        for node in members:
            levels.setdefault(node.level, []).append(node.id)
        for depth, ids in sorted(levels.items()):
            lines.append(f"{indent}{{ rank=same; {' '.join(_dot_id(m) for m in ids)} }}  // level {depth}")

    for i, (group, members) in enumerate(by_group.items()):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_dot_id('parallel group ' + group)}; style=dashed;")
        lines.extend("    " + declare(node) for node in members)
        # A rank=same row outside its cluster would pull a member out: rows stay inside.
        ranks(members, "    ")
        lines.append("  }")
    ranks([n for n in view.nodes if not n.group], "  ")
    on_path = {n.id for n in view.nodes if n.on_path}
    for a, b in view.edges:
        extra = " [penwidth=3]" if a in on_path and b in on_path else ""
        lines.append(f"  {_dot_id(a)} -> {_dot_id(b)}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"


#: Geometry of the SVG drawing (pixels).
NODE_W, NODE_H, GAP_X, GAP_Y = 150, 28, 40, 14


def to_svg(view: GraphView) -> str:
    """An SVG of the DAG laid out by level (left to right); one ``<g class="node">`` per step
    with ``data-step``, ``data-status`` and ``data-critical-path`` for the critical path."""
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for node in view.nodes:
        row = rows.get(node.level, 0)
        rows[node.level] = row + 1
        pos[node.id] = (10 + node.level * (NODE_W + GAP_X), 10 + row * (NODE_H + GAP_Y))
    width = 20 + (max(rows, default=0) + 1) * (NODE_W + GAP_X)
    height = 20 + max(rows.values(), default=0) * (NODE_H + GAP_Y)
    on_path = {n.id for n in view.nodes if n.on_path}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="dependency graph">'
    ]
    for a, b in view.edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        cls = "edge cp" if a in on_path and b in on_path else "edge"
        ends = f'data-from="{html.escape(a)}" data-to="{html.escape(b)}"'
        out.append(
            f'<path class="{cls}" {ends} d="M{x1 + NODE_W},{y1 + NODE_H // 2} C{x1 + NODE_W + GAP_X // 2},'
            f'{y1 + NODE_H // 2} {x2 - GAP_X // 2},{y2 + NODE_H // 2} {x2},{y2 + NODE_H // 2}"/>'
        )
    for node in view.nodes:
        x, y = pos[node.id]
        esc = html.escape(node.label)
        label = esc if len(node.label) <= 20 else html.escape(node.label[:19]) + "…"
        classes = "node" + (" cp" if node.on_path else "") + ("" if node.critical else " noncritical")
        mark = ' data-critical-path="1"' if node.on_path else ""
        if node.when is not None:
            mark += f' data-when="{html.escape(node.when)}"'
        if node.trigger != "on_success":
            mark += f' data-trigger="{node.trigger}"'
        if node.resources:
            mark += f' data-resources="{html.escape(", ".join(node.resources))}"'
        title = " · ".join([esc, html.escape(node.action), node.status, *(html.escape(n) for n in node.notes)])
        out.append(
            f'<g class="{classes}" data-step="{html.escape(node.id)}" data-status="{node.status}"{mark}>'
            f"<title>{title}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="5" '
            f'fill="{COLOURS.get(node.status, "#fff")}"/>'
            f'<text x="{x + 6}" y="{y + 18}">{"? " if node.conditional else ""}{label}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)
