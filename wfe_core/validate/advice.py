"""Advice that is not a problem: ``WorkflowValidator().suggest_improvements(workflow)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfe_core.model.errors import InvalidWorkflowError
from wfe_core.model.workflow import Workflow
from wfe_core.plan.graph import DependencyGraph
from wfe_core.plugin.capabilities import Action

__all__ = ["suggestions"]


def suggestions(workflow: Workflow, actions: Mapping[str, Action], rollback_for: Any) -> list[str]:
    """Plain-language suggestions, most useful first; empty when there is nothing to say."""
    try:
        graph = DependencyGraph.from_workflow(workflow)
    except InvalidWorkflowError:
        return []  # validation reports the graph's problems
    out: list[str] = []
    for step in workflow.steps:
        action = actions.get(step.action)
        if action is None:
            continue
        if action.side_effects and step.rollback_action is None and rollback_for(step.action) is None:
            out.append(
                f"step '{step.id}' ({step.action}) changes things outside the run but nothing can undo "
                "it: give it a rollback_action so a later critical failure can compensate it"
            )
    for step in workflow.steps:
        dependents = graph.children[step.id]
        if not step.critical and dependents:
            names = ", ".join(f"'{d}'" for d in dependents)
            one = len(dependents) == 1
            out.append(
                f"step '{step.id}' is not critical, yet {names} {'depends' if one else 'depend'} on it: "
                f"if it fails, {'that step is' if one else 'they are'} skipped while the run still succeeds"
            )
    levels = graph.levels()
    if len(workflow.steps) > 2 and len(levels) == len(workflow.steps):
        out.append(
            f"the {len(workflow.steps)} steps form one chain: check that every dependency is real; "
            "independent steps run in parallel"
        )
    groups: dict[str, list[str]] = {}
    for step in workflow.steps:
        if step.parallel_group:
            groups.setdefault(step.parallel_group, []).append(step.id)
    for group, members in groups.items():
        inside = [m for m in members if any(p in members for p in graph.parents[m])]
        if inside:
            out.append(
                f"parallel group '{group}' has members that depend on each other ({', '.join(inside)}): "
                "they cannot run together"
            )
    return out
