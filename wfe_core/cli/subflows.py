"""What ``wfe run --dry-run`` prints about sub-workflows: each child's plan, nested."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfe_core.load.templating import has_placeholders
from wfe_core.model.errors import InvalidWorkflowError
from wfe_core.plan.plan import Plan

__all__ = ["labelled", "nested_plans"]

_DEEPEST = 16  # validation refuses deeper nesting; this only bounds the printing


def nested_plans(workflow: Any, source: str | None, indent: str = "  ", prefix: str = "", depth: int = 0) -> list[str]:
    """Lines describing the plan of every sub-workflow with a literal ``path`` (recursively);
    steps are named as ``wfe runs show`` names them (``deploy/build``)."""
    if depth >= _DEEPEST:
        return []
    base = Path(source).resolve().parent if source and Path(source).is_file() else Path.cwd()
    lines = []
    for step in workflow.steps:
        params = step.parameters if isinstance(step.parameters, dict) else {}
        path = params.get("path")
        if step.action != "workflow.run":
            continue
        if not isinstance(path, str) or has_placeholders(path):
            what = params.get("template") or path
            lines.append(f"{indent}step {prefix}{step.id} runs {what!r}: its plan is known when it runs")
            continue
        from wfe_core.load.loader import WorkflowLoader

        target = base / path
        try:
            child = WorkflowLoader().load_from_file(target)
        except InvalidWorkflowError:
            continue  # validation reported it
        levels = Plan.build(child, source=str(target)).describe()["levels"]
        name = f"{prefix}{step.id}"
        lines.append(f"{indent}step {name} runs {path}: {len(child.steps)} steps in {len(levels)} levels")
        for number, level in enumerate(levels):
            lines.append(f"{indent}  level {number}: {', '.join(f'{name}/{sid}' for sid in level)}")
        lines.extend(nested_plans(child, str(target), indent + "  ", name + "/", depth + 1))
    return lines


def labelled(view: Any, workflow: Any) -> Any:
    """``view`` (a :class:`~wfe_core.report.graph.GraphView`) with each ``workflow.run`` step
    labelled by what it runs: ``deploy (runs deploy.yaml)``."""
    import attrs

    runs = {}
    for step in workflow.steps:
        params = step.parameters if isinstance(step.parameters, dict) else {}
        target = params.get("path") or params.get("template")
        if step.action == "workflow.run" and isinstance(target, str):
            runs[step.id] = target
    if not runs:
        return view
    nodes = tuple(attrs.evolve(n, label=f"{n.label} (runs {runs[n.id]})") if n.id in runs else n for n in view.nodes)
    return attrs.evolve(view, nodes=nodes)
