"""Template references (plugin ``wfe.templates``): every ``{name}`` and
``{steps.<id>.output}`` in a step's parameters refers to something that will exist when
the step runs — a variable defined upstream (or in the workflow, or given at run time),
a declared secret, an upstream step's ``output``/``status``/``error``.

Replaceable and blockable: without it an undefined name is still an error, but only
when the step is about to run, and a reference to a step that is not upstream is no
longer refused before the run (it would then depend on timing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wfe_core.load.templating import Placeholder, has_placeholders, placeholder_texts, placeholders
from wfe_core.model.errors import InvalidWorkflowError, Problem, did_you_mean
from wfe_core.plan.fanout import FANOUT_NAMES, is_fanout
from wfe_core.plugin.capabilities import Validator
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["STEP_FIELDS", "check_template_references", "wfe_validators"]

#: What ``{steps.<id>.FIELD}`` may name.
STEP_FIELDS = ("output", "status", "error")


def check_template_references(workflow: Any, context: Any) -> Iterator[Problem]:
    """Templates refer to upstream steps, declared secrets and variables that will be defined."""
    # Most workflows have no template at all: decide that before building the graph.
    templated = [
        (i, s)
        for i, s in enumerate(workflow.steps)
        if has_placeholders(s.parameters) or has_placeholders(s.rollback_parameters) or isinstance(s.for_each, str)
    ]
    if not templated:
        return
    static = set(workflow.variables) | set(context.variables)
    # A placeholder naming a workflow or run variable is fine wherever it is; only the
    # others need the graph, the ancestor sets and who sets what (built once, on demand:
    # most big workflows template only their variables).
    scope: dict[str, Any] = {}
    for i, step in templated:
        for field, key, value in _templated_values(step):
            if type(value) is str:  # the usual value: look at names before building placeholders
                if "{" not in value:
                    continue
                found: Any = [
                    Placeholder(path, bool(raw))
                    for path, raw in placeholder_texts(value)
                    if (head := path.partition(".")[0]) not in static or head in ("steps", "secrets")
                ]
            else:
                found = placeholders(value)
            for ph in found:
                if ph.parts[0] in static and ph.parts[0] not in ("steps", "secrets"):
                    continue
                if not scope:
                    scope.update(_scope(workflow, context))
                if scope.get("graph") is None:
                    return  # wfe.graph reports it; without a DAG there is no "upstream" to check against
                problem = _check_placeholder(
                    ph,
                    step,
                    field,
                    scope["graph"],
                    scope["index"],
                    scope["ancestors"][step.id],
                    static,
                    scope["setters"],
                    scope["dynamic"],
                    workflow.secrets,
                )
                if problem is None:
                    continue
                if key is None:  # the list to fan out over
                    yield Problem(f"step '{step.id}': {field}: {problem}", path=f"steps[{i}].{field}", step_id=step.id)
                else:
                    noun = "parameter" if field == "parameters" else "rollback parameter"
                    yield Problem(
                        f"step '{step.id}': {noun} '{key}': {problem}",
                        path=f"steps[{i}].{field}.{key}",
                        step_id=step.id,
                    )


def _templated_values(step: Any) -> Iterator[tuple[str, str | None, Any]]:
    """(field, parameter name or None, value) of every value of ``step`` that may hold
    placeholders: a ``for_each`` placeholder list (no ``{item}`` there yet), then the
    parameters and rollback parameters, each named as run-time errors name them."""
    if isinstance(step.for_each, str):
        yield "for_each", None, step.for_each
    for field, params in (("parameters", step.parameters), ("rollback_parameters", step.rollback_parameters)):
        for key, value in params.items():
            yield field, key, value


def _scope(workflow: Any, context: Any) -> dict[str, Any]:
    """The graph, each step's ancestors (bit n: ``graph.order[n]``), the steps setting each
    variable and those that may set any; ``{"graph": None}`` when the steps form no DAG."""
    from wfe_core.plugin.builtins.structure import graph_of

    try:
        graph = graph_of(workflow)
    except InvalidWorkflowError:
        return {"graph": None}
    index = {sid: n for n, sid in enumerate(graph.order)}
    ancestors: dict[str, int] = {}  # bit n set = graph.order[n] is an ancestor
    for sid in graph.order:
        mask = 0
        for parent in graph.parents[sid]:
            mask |= ancestors[parent] | (1 << index[parent])
        ancestors[sid] = mask
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
    return {"graph": graph, "index": index, "ancestors": ancestors, "setters": setters, "dynamic": dynamic}


def _check_placeholder(
    ph: Any,
    step: Any,
    field: str,
    graph: Any,
    index: Any,
    upstream: Any,
    static: Any,
    setters: Any,
    dynamic: Any,
    secrets: Any = (),
) -> str | None:
    first = ph.parts[0]
    if first in FANOUT_NAMES and field != "for_each" and is_fanout(step):
        return _check_fanout_name(ph, step)
    if first == "secrets":
        name = ph.parts[1] if len(ph.parts) > 1 else ""
        if name not in secrets:
            declared = ", ".join(secrets) or "none"
            return (
                f"'{{{ph.text}}}' names no declared secret{did_you_mean(name, secrets)}; declared secrets: {declared}"
            )
        return None
    if first == "steps":
        if len(ph.parts) < 3:
            return f"'{{{ph.text}}}' must name a step and a field, e.g. {{steps.<id>.output}}"
        target, attr = ph.parts[1], ph.parts[2]
        if target not in index:
            return f"'{{{ph.text}}}' refers to unknown step '{target}'{did_you_mean(target, index)}"
        own = field == "rollback_parameters" and target == step.id
        if not own and not upstream >> index[target] & 1:
            return (
                f"'{{{ph.text}}}' refers to step '{target}', which is not upstream of '{step.id}' "
                f"(add it to dependencies, or the value would depend on timing)"
            )
        if attr not in STEP_FIELDS:
            return (
                f"'{{{ph.text}}}': a step has {', '.join(STEP_FIELDS)}, not '{attr}'{did_you_mean(attr, STEP_FIELDS)}"
            )
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
        return f"variable '{first}' is set by step {who}, which is not upstream of '{step.id}' (add it to dependencies)"
    defined = sorted(static | {name for name, m in setters.items() if m & upstream})
    hint = ""
    if first in FANOUT_NAMES:
        hint = f" ('{first}' is defined only in a step with {'matrix' if first == 'matrix' else 'for_each'})"
    return (
        f"undefined name '{first}'{did_you_mean(first, defined)}{hint}; "
        f"defined variables: {', '.join(defined) or 'none'}"
    )


def _check_fanout_name(ph: Any, step: Any) -> str | None:
    """``{item}`` / ``{item_index}`` in a ``for_each`` step, ``{matrix.<axis>}`` in a matrix step."""
    first = ph.parts[0]
    if step.matrix is not None:
        axes = list(step.matrix) if isinstance(step.matrix, dict) else []
        if first != "matrix":
            return (
                f"undefined name '{first}': a matrix step has {{matrix.<axis>}} "
                f"(axes: {', '.join(axes)}), not {{{first}}}"
            )
        if len(ph.parts) < 2:
            return None  # the whole mapping
        if ph.parts[1] not in axes:
            axis = ph.parts[1]
            return f"'{{{ph.text}}}': unknown matrix axis '{axis}'{did_you_mean(axis, axes)}; axes: {', '.join(axes)}"
        if len(ph.parts) > 2:
            return f"'{{{ph.text}}}': a matrix value has no '{ph.parts[2]}'"
        return None
    if first == "matrix":
        return "undefined name 'matrix': a for_each step has {item} and {item_index}, not {matrix.<axis>}"
    if first == "item_index" and len(ph.parts) > 1:
        return f"'{{{ph.text}}}': item_index is a number, it has no '{ph.parts[1]}'"
    return None  # {item.key}: checked when the instance runs (the item is known then)


@hookimpl
def wfe_validators() -> list[Validator]:
    return [
        Validator(
            "wfe.templates",
            check_template_references,
            "Templates refer to upstream steps, declared secrets and defined variables.",
        )
    ]
