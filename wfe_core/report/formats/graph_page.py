"""``wfe graph FILE --format html``: the workflow's DAG as one self-contained page."""

from __future__ import annotations

from html import escape
from typing import Any

from wfe_core.report.graph import GraphView, to_svg

__all__ = ["render_graph_page"]

_CSS = """body{font:14px system-ui,Helvetica,Arial,sans-serif;margin:24px;color:#1f2328}
svg text{font-size:11px} .dag .edge{fill:none;stroke:#8c959f;stroke-width:1.2} .dag .edge.cp{stroke:#111;stroke-width:3}
.dag .node.cp rect{stroke:#111;stroke-width:3} .dag .node.noncritical rect{stroke-dasharray:4 3;stroke:#444}
.scroll{overflow:auto;border:1px solid #d0d7de}"""


def render_graph_page(view: GraphView, workflow: Any, nested: str = "") -> str:
    """The page; ``nested``: the sections of its sub-workflows' DAGs (HTML), after its own."""
    levels: dict[int, list[str]] = {}
    for node in view.nodes:
        levels.setdefault(node.level, []).append(node.id)
    groups: dict[str, list[str]] = {}
    for node in view.nodes:
        if node.group:
            groups.setdefault(node.group, []).append(node.id)
    items = "".join(f"<li>level {d}: {escape(', '.join(ids))}</li>" for d, ids in sorted(levels.items()))
    items += "".join(f"<li>parallel group {escape(g)}: {escape(', '.join(ids))}</li>" for g, ids in groups.items())
    # when / trigger / resources: in the drawing only as tooltips, so listed here in words.
    items += "".join(
        f'<li class="step-notes" data-step="{escape(n.id)}">{escape(n.id)}: {escape("; ".join(n.notes))}</li>'
        for n in view.nodes
        if n.notes
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(workflow.id)} · wfe graph</title>"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<style>{_CSS}</style></head><body><h1>{escape(workflow.name or workflow.id)}</h1>"
        f"<p>{len(view.nodes)} steps in {len(levels)} levels. Bold: the longest chain of steps. "
        "Dashed: non-critical. ? marks a conditional step.</p>"
        f'<div class="scroll">{to_svg(view)}</div><ul>{items}</ul>{nested}</body></html>\n'
    )
