"""Structural validation (plugin ``wfe.structure``): every action exists, literal
parameters fit their action, dependencies exist and form a DAG.

This plugin is *essential*: the scheduler relies on what it checks (a step naming an
action that does not exist would otherwise reach the run loop), so it cannot be blocked
(see :data:`wfe_core.plugin.registry.ESSENTIAL_PLUGINS`). Template references are checked
by the separate, replaceable plugin ``wfe.templates``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import attrs

from wfe_core.load.convert import structure
from wfe_core.load.templating import has_placeholders
from wfe_core.model.errors import InvalidWorkflowError, Problem, did_you_mean
from wfe_core.plan.expressions import ExpressionError
from wfe_core.plan.expressions import parse as parse_expression
from wfe_core.plan.fanout import FANOUT_NAMES, is_fanout
from wfe_core.plan.graph import DependencyGraph
from wfe_core.plan.graph import graph_of as shared_graph_of
from wfe_core.plugin.capabilities import Validator
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["check_actions", "check_dependencies", "check_when", "wfe_validators"]


def _unknown_action(name: str, context: Any) -> str:
    return f"unknown action '{name}'{did_you_mean(name, context.actions)}{context.plugins.provider_hint(name)}"


def check_actions(workflow: Any, context: Any) -> Iterator[Problem]:
    """Every action and rollback action exists; literal parameters fit the action."""
    found: dict[Any, Any] = {}  # name -> action (or None): big workflows use a few actions many times
    for i, step in enumerate(workflow.steps):
        for field, params in (("action", step.parameters), ("rollback_action", step.rollback_parameters)):
            name = getattr(step, field)
            if name is None:
                continue
            try:
                action = found[name]
            except KeyError:
                action = found[name] = context.actions.get(name)
            if action is None:
                yield Problem(
                    f"step '{step.id}': {_unknown_action(name, context)}", path=f"steps[{i}].{field}", step_id=step.id
                )
                continue
            if action.parameters is None:
                continue
            pfield = "parameters" if field == "action" else "rollback_parameters"
            yield from _check_parameters(step.id, action.parameters, params, f"steps[{i}].{pfield}")


@functools.cache  # per parameter class, not per step
def _fields_of(cls: type) -> tuple[dict[str, None], tuple[str, ...]]:
    """The field names of ``cls`` (a dict: ordered, quick to search) and those required."""
    fields = attrs.fields(cls)
    return dict.fromkeys(f.name for f in fields), tuple(f.name for f in fields if f.default is attrs.NOTHING)


def _check_parameters(step_id: str, cls: type, params: dict[str, Any], path: str) -> Iterator[Problem]:
    if has_placeholders(params):
        # Types are known only after rendering; check the keys now, values at run time.
        known, required = _fields_of(cls)
        for key in params:
            if key not in known:
                yield Problem(
                    f"step '{step_id}': unknown key '{key}'{did_you_mean(key, known)}",
                    path=f"{path}.{key}",
                    step_id=step_id,
                )
        for name in required:
            if name not in params:
                yield Problem(
                    f"step '{step_id}': parameter '{name}' is required but missing", path=path, step_id=step_id
                )
        return
    try:
        structure(params, cls, path=path)
    except InvalidWorkflowError as exc:
        for p in exc.problems:
            yield attrs.evolve(p, message=f"step '{step_id}': {p.message}", step_id=step_id)


def graph_of(workflow: Any) -> DependencyGraph:
    """The dependency graph of ``workflow``, built once for the validators that need it
    and for the plan of its run (:func:`wfe_core.plan.graph.graph_of`)."""
    return shared_graph_of(workflow)


def check_dependencies(workflow: Any, context: Any) -> Iterator[Problem]:
    """Dependencies exist and form no cycle; ``steps`` and ``secrets`` are not variable names."""
    try:
        graph_of(workflow)
    except InvalidWorkflowError as exc:
        yield from exc.problems
        return
    for reserved, what in (("steps", "step outputs"), ("secrets", "secrets")):
        if reserved in workflow.variables or reserved in context.variables:
            yield Problem(f"'{reserved}' is reserved for {what} and cannot be a variable name", path="variables")


def check_when(workflow: Any, context: Any) -> Iterator[Problem]:
    """``when`` expressions refer to existing, upstream steps and to defined variables."""
    guarded = [(i, s) for i, s in enumerate(workflow.steps) if s.when is not None]
    if not guarded:
        return
    try:
        graph = graph_of(workflow)
    except InvalidWorkflowError:
        return  # wfe.graph reports it
    static = set(workflow.variables) | set(context.variables)
    # A variable may also come from an action that sets variables; only an action that
    # cannot is a sure sign of a typo, so undefined variables are checked at run time
    # unless no step of the workflow sets variables at all.
    setters = any(
        (context.actions.get(s.action) is None or context.actions[s.action].sets_variables) for s in workflow.steps
    )
    for i, step in guarded:
        try:
            expression = parse_expression(step.when)
        except ExpressionError:
            continue  # the model reports it, with a caret
        upstream = graph.ancestors(step.id)
        where = f"steps[{i}].when"
        for target in expression.steps:
            if target not in graph.nodes:
                known = [s.id for s in workflow.steps]
                yield Problem(
                    f"step '{step.id}': when refers to unknown step '{target}'{did_you_mean(target, known)}",
                    path=where,
                    step_id=step.id,
                )
            elif target not in upstream:
                yield Problem(
                    f"step '{step.id}': when refers to step '{target}', which is not upstream of '{step.id}' "
                    f"(add it to dependencies)",
                    path=where,
                    step_id=step.id,
                )
        fanned = set(FANOUT_NAMES) - static if is_fanout(step) else set()
        for name in sorted(set(expression.variables) & fanned):
            yield Problem(
                f"step '{step.id}': when: '{name}' is not defined there: a when is decided once for the whole "
                "step, before it fans out (filter the list upstream instead)",
                path=where,
                step_id=step.id,
            )
        if not setters:
            for name in expression.variables:
                if name not in static and name not in fanned:
                    yield Problem(
                        f"step '{step.id}': when: undefined name '{name}'{did_you_mean(name, static)}; "
                        f"defined variables: {', '.join(sorted(static)) or 'none'}",
                        path=where,
                        step_id=step.id,
                    )


@hookimpl
def wfe_validators() -> list[Validator]:
    return [
        Validator("wfe.when", check_when, "when expressions refer to upstream steps and defined variables."),
        Validator("wfe.actions", check_actions, "Actions exist and literal parameters fit them."),
        Validator("wfe.graph", check_dependencies, "Dependencies exist and form a DAG."),
    ]
