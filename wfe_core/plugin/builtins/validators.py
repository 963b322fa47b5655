"""Structural validation: actions exist, parameters fit, the graph is a DAG, templates
refer only to what will exist when the step runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from wfe_core.load.convert import structure
from wfe_core.model.errors import InvalidWorkflowError, Problem, did_you_mean
from wfe_core.plan.graph import DependencyGraph
from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.plugin.capabilities import Validator
from wfe_core.load.templating import has_placeholders, placeholders

STEP_FIELDS = ("output", "status", "error")


def _unknown_action(name: str, context: Any) -> str:
    return (f"unknown action '{name}'{did_you_mean(name, context.actions)}"
            f"{context.plugins.provider_hint(name)}")


def check_actions(workflow: Any, context: Any) -> Iterator[Problem]:
    """Every action and rollback action exists; literal parameters fit the action."""
    for i, step in enumerate(workflow.steps):
        where = f"steps[{i}]"
        for field, params in (("action", step.parameters), ("rollback_action", step.rollback_parameters)):
            name = getattr(step, field)
            if name is None:
                continue
            action = context.actions.get(name)
            if action is None:
                yield Problem(f"step '{step.id}': {_unknown_action(name, context)}",
                              path=f"{where}.{field}", step_id=step.id)
                continue
            if action.parameters is None:
                continue
            pfield = "parameters" if field == "action" else "rollback_parameters"
            yield from _check_parameters(step.id, action.parameters, params, f"{where}.{pfield}")


def _check_parameters(step_id: str, cls: type, params: dict, path: str) -> Iterator[Problem]:
    if has_placeholders(params):
        # Types are known only after rendering; check the keys now, values at run time.
        known = {f.name for f in attrs.fields(cls)}
        for key in params:
            if key not in known:
                yield Problem(f"step '{step_id}': unknown key '{key}'{did_you_mean(key, known)}",
                              path=f"{path}.{key}", step_id=step_id)
        for f in attrs.fields(cls):
            if f.default is attrs.NOTHING and f.name not in params:
                yield Problem(f"step '{step_id}': parameter '{f.name}' is required but missing",
                              path=path, step_id=step_id)
        return
    try:
        structure(params, cls, path=path)
    except InvalidWorkflowError as exc:
        for p in exc.problems:
            yield attrs.evolve(p, message=f"step '{step_id}': {p.message}", step_id=step_id)


def check_graph(workflow: Any, context: Any) -> Iterator[Problem]:
    """Dependencies exist and form no cycle; templates refer to upstream steps and
    to variables that will be defined."""
    try:
        graph = DependencyGraph.from_workflow(workflow)
    except InvalidWorkflowError as exc:
        yield from exc.problems
        return
    for reserved, what in (("steps", "step outputs"), ("secrets", "secrets")):
        if reserved in workflow.variables or reserved in context.variables:
            yield Problem(f"'{reserved}' is reserved for {what} and cannot be a variable name", path="variables")
    templated = [(i, s) for i, s in enumerate(workflow.steps)
                 if has_placeholders(s.parameters) or has_placeholders(s.rollback_parameters)]
    if not templated:
        return
    index = {sid: n for n, sid in enumerate(graph.order)}
    ancestors: dict[str, int] = {}  # bit n set = graph.order[n] is an ancestor
    for sid in graph.order:
        mask = 0
        for parent in graph.parents[sid]:
            mask |= ancestors[parent] | (1 << index[parent])
        ancestors[sid] = mask
    static = set(workflow.variables) | set(context.variables)
    setters: dict[str, int] = {}
    dynamic = 0
    for step in workflow.steps:
        name = step.parameters.get("name") if step.action == "variable.set" else None
        if isinstance(name, str) and not has_placeholders(name):
            setters[name] = setters.get(name, 0) | (1 << index[step.id])
        else:
            action = context.actions.get(step.action)
            if action is None or action.sets_variables:
                dynamic |= 1 << index[step.id]
    for i, step in templated:
        upstream = ancestors[step.id]
        for field, params in (("parameters", step.parameters), ("rollback_parameters", step.rollback_parameters)):
            noun = "parameter" if field == "parameters" else "rollback parameter"
            for key, value in params.items():  # name the parameter, as run-time errors do
                for ph in placeholders(value):
                    problem = _check_placeholder(ph, step, field, graph, index, upstream, static, setters, dynamic,
                                                 workflow.secrets)
                    if problem:
                        yield Problem(f"step '{step.id}': {noun} '{key}': {problem}",
                                      path=f"steps[{i}].{field}.{key}", step_id=step.id)


def _check_placeholder(ph, step, field, graph, index, upstream, static, setters, dynamic,
                       secrets=()) -> str | None:
    first = ph.parts[0]
    if first == "secrets":
        name = ph.parts[1] if len(ph.parts) > 1 else ""
        if name not in secrets:
            declared = ", ".join(secrets) or "none"
            return (f"'{{{ph.text}}}' names no declared secret{did_you_mean(name, secrets)}; "
                    f"declared secrets: {declared}")
        return None
    if first == "steps":
        if len(ph.parts) < 3:
            return f"'{{{ph.text}}}' must name a step and a field, e.g. {{steps.<id>.output}}"
        target, attr = ph.parts[1], ph.parts[2]
        if target not in index:
            return f"'{{{ph.text}}}' refers to unknown step '{target}'{did_you_mean(target, index)}"
        own = field == "rollback_parameters" and target == step.id
        if not own and not upstream >> index[target] & 1:
            return (f"'{{{ph.text}}}' refers to step '{target}', which is not upstream of '{step.id}' "
                    f"(add it to dependencies, or the value would depend on timing)")
        if attr not in STEP_FIELDS:
            return f"'{{{ph.text}}}': a step has {', '.join(STEP_FIELDS)}, not '{attr}'{did_you_mean(attr, STEP_FIELDS)}"
        return None
    if first in static:
        return None
    mask = setters.get(first, 0)
    if mask & upstream:
        return None
    if dynamic & upstream:
        return None  # an upstream action may define it; checked when the step runs
    if mask:
        who = ", ".join(f"'{graph.order[n]}'" for n in range(mask.bit_length()) if mask >> n & 1)
        return (f"variable '{first}' is set by step {who}, which is not upstream of '{step.id}' "
                f"(add it to dependencies)")
    defined = sorted(static | {name for name, m in setters.items() if m & upstream})
    return (f"undefined name '{first}'{did_you_mean(first, defined)}; "
            f"defined variables: {', '.join(defined) or 'none'}")


@hookimpl
def wfe_validators():
    return [
        Validator("wfe.actions", check_actions, "Actions exist and literal parameters fit them."),
        Validator("wfe.graph", check_graph, "Dependencies form a DAG; templates refer to upstream steps."),
    ]
