"""``wfe graph``: a ``workflow.run`` step's child workflow drawn as a nested cluster.

A sub-workflow whose ``path`` is literal (no ``{placeholder}``), or a template whose
parameters are literal, is known before the run: its DAG is drawn inside a Mermaid
``subgraph`` / a Graphviz ``cluster`` / its own SVG section in the HTML page, titled by
the step that runs it, with its steps named as ``wfe runs show`` names them
(``deploy/build``), recursively. A child known only at run time (a templated path) is
not drawn: its step keeps its ``(runs …)`` label.

The renderers of :mod:`wfe_core.report.graph` are left as they are: these functions add
to what they produced (Mermaid and dot read declarations in any order).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import attrs

from wfe_core.report.graph import COLOURS, GraphView, _dot_id, _mermaid_text, to_svg, view_of_workflow

__all__ = ["NestedView", "nested_dot", "nested_html", "nested_mermaid", "nested_views"]

_DEEPEST = 16  # validation refuses deeper nesting; this only bounds the drawing


@attrs.frozen
class NestedView:
    """The DAG of the child workflow of one ``workflow.run`` step.

    Attributes:
        step: the nested id of the step that runs it (``deploy``, ``deploy/inner``).
        target: what it runs (``child.yaml``, ``template 'name'``).
        view: the child's DAG, node ids nested (``deploy/build``), labels its own.
        children: the child's own sub-workflows.
    """

    step: str
    target: str
    view: GraphView
    children: tuple[NestedView, ...] = ()


def nested_views(
    workflow: Any, source: str | None, plugins: Any = None, prefix: str = "", depth: int = 0
) -> tuple[NestedView, ...]:
    """The child DAGs of ``workflow``'s ``workflow.run`` steps known before the run."""
    from wfe_core.load.templating import has_placeholders
    from wfe_core.model.errors import WfeError

    if depth >= _DEEPEST:
        return ()
    base = Path(source).resolve().parent if source and Path(source).is_file() else Path.cwd()
    out = []
    for step in workflow.steps:
        params = step.parameters if isinstance(step.parameters, dict) else {}
        if step.action != "workflow.run":
            continue
        path, template = params.get("path"), params.get("template")
        try:
            if isinstance(path, str) and not has_placeholders(path):
                from wfe_core.load.loader import WorkflowLoader

                child_source: str | None = str(base / path)
                child = WorkflowLoader().load_from_file(base / path)
                target = path
            elif isinstance(template, str) and plugins is not None and not _templated(params.get("variables")):
                from wfe_core.load.catalog import TemplateCatalog

                child = TemplateCatalog(plugins).load(template, dict(params.get("variables") or {}))
                child_source, target = None, f"template '{template}'"
            else:
                continue  # known when it runs
        except (WfeError, OSError):
            continue  # validation reports it; the step is drawn without its child
        name = prefix + step.id
        view = _renamed(view_of_workflow(child), name + "/")
        out.append(NestedView(name, target, view, nested_views(child, child_source, plugins, name + "/", depth + 1)))
    return tuple(out)


def _templated(value: Any) -> bool:
    """Whether a template's parameters hold a ``{placeholder}`` (known only at run time)."""
    from wfe_core.load.templating import has_placeholders

    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return isinstance(value, str) and has_placeholders(value)


def _renamed(view: GraphView, prefix: str) -> GraphView:
    nodes = tuple(attrs.evolve(n, id=prefix + n.id, group=None) for n in view.nodes)
    edges = tuple((prefix + a, prefix + b) for a, b in view.edges)
    return attrs.evolve(view, nodes=nodes, edges=edges)


def _title(nested: NestedView) -> str:
    return f"{nested.step} runs {nested.target}"


def nested_mermaid(text: str, view: GraphView, nested: tuple[NestedView, ...]) -> str:
    """``text`` (``to_mermaid(view)``) with each child DAG as a ``subgraph`` linked from its
    step by a dotted arrow."""
    if not nested:
        return text
    ids = {n.id: f"n{i}" for i, n in enumerate(view.nodes)}  # as to_mermaid numbers them
    lines: list[str] = []
    statuses: set[str] = set()
    counter = [0]

    def block(item: NestedView, indent: str) -> None:
        key = f"s{counter[0]}"
        counter[0] += 1
        for i, node in enumerate(item.view.nodes):
            ids[node.id] = f"{key}n{i}"
        lines.append(f'{indent}subgraph {key}["{_mermaid_text(_title(item))}"]')
        for node in item.view.nodes:
            statuses.add(node.status)
            label = "<br/>".join(
                _mermaid_text(x) for x in [("? " if node.conditional else "") + node.label, *node.notes]
            )
            lines.append(f'{indent}  {ids[node.id]}["{label}"]:::{node.status}')
        for child in item.children:
            block(child, indent + "  ")
        lines.append(f"{indent}end")
        lines.extend(f"{indent}{ids[a]} --> {ids[b]}" for a, b in item.view.edges)
        if item.step in ids:
            lines.append(f"{indent}{ids[item.step]} -.-> {key}")
        lines.extend(f"{indent}style {ids[n.id]} stroke-dasharray:5 5" for n in item.view.nodes if not n.critical)

    for item in nested:
        block(item, "  ")
    known = {n.status for n in view.nodes}
    lines.extend(
        f"  classDef {status} fill:{COLOURS.get(status, '#ffffff')},color:#000" for status in sorted(statuses - known)
    )
    return text + "\n".join(lines) + "\n"


def nested_dot(text: str, nested: tuple[NestedView, ...]) -> str:
    """``text`` (``to_dot(view)``) with each child DAG as a ``cluster`` and a dotted edge
    from its step to the cluster."""
    if not nested:
        return text
    lines = ["  compound=true;"]
    counter = [0]

    def block(item: NestedView, indent: str) -> None:
        key = f"cluster_sub_{counter[0]}"
        counter[0] += 1
        lines.append(f"{indent}subgraph {_dot_id(key)} {{")
        lines.append(f'{indent}  label={_dot_id(_title(item))}; style="rounded,dashed"; color="#57606a";')
        for node in item.view.nodes:
            style = "filled," + ("dashed" if not node.critical else "rounded")
            label = "\n".join([("? " if node.conditional else "") + node.label, *node.notes])
            lines.append(
                f"{indent}  {_dot_id(node.id)} [label={_dot_id(label)}, "
                f"fillcolor={_dot_id(COLOURS.get(node.status, '#fff'))}, style={_dot_id(style)}"
                + (', shape="diamond"' if node.conditional else "")
                + "];"
            )
        for child in item.children:
            block(child, indent + "  ")
        lines.extend(f"{indent}  {_dot_id(a)} -> {_dot_id(b)};" for a, b in item.view.edges)
        lines.append(f"{indent}}}")
        if item.view.nodes:
            first = item.view.nodes[0].id
            lines.append(f"{indent}{_dot_id(item.step)} -> {_dot_id(first)} [style=dotted, lhead={_dot_id(key)}];")

    for item in nested:
        block(item, "  ")
    head, _, _ = text.rstrip("\n").rpartition("}")
    return head + "\n".join(lines) + "\n}\n"


def nested_html(nested: tuple[NestedView, ...]) -> str:
    """One section per child DAG (SVG), for ``wfe graph --format html``."""
    out = []
    for item in nested:
        out.append(
            f'<section class="sub-workflow" data-step="{html.escape(item.step)}">'
            f"<h2>{html.escape(_title(item))}</h2>"
            f"<p>{len(item.view.nodes)} steps, run as one step of its parent.</p>"
            f'<div class="scroll">{to_svg(item.view)}</div>{nested_html(item.children)}</section>'
        )
    return "".join(out)
