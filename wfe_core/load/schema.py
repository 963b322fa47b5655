"""``wfe schema``: what each action accepts, from its parameter class, as JSON Schema; and
``wfe schema --workflow``: a schema for whole workflow files that editors use."""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from wfe_core.plugin.capabilities import Action

__all__ = ["action_schema", "schemas", "workflow_schema"]

_SCALARS = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): {"type": "null"},
}


def _type_schema(tp: Any) -> dict[str, Any]:
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(a) for a in args]}
    if origin in (list, tuple) or tp in (list, tuple):
        return {"type": "array", **({"items": _type_schema(args[0])} if args else {})}
    if origin is dict or tp is dict or origin is Mapping:
        return {"type": "object"}
    if attrs.has(tp):
        return _class_schema(tp)
    return {}  # Any: every JSON value


def _class_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required = []
    for field in attrs.fields(cls):
        prop = _type_schema(hints.get(field.name, Any))
        default = field.default
        if default is attrs.NOTHING:
            required.append(field.name)
        elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            pass
        elif isinstance(default, (str, int, float, bool, type(None), list, dict)):
            prop["default"] = default
        properties[field.name] = prop
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    if cls.__doc__:
        out["description"] = " ".join(cls.__doc__.split())
    return out


def action_schema(action: Action) -> dict[str, Any]:
    """The JSON Schema of ``action``'s parameters (any object when it takes free-form ones)."""
    schema = _class_schema(action.parameters) if action.parameters is not None else {"type": "object"}
    return {
        "title": action.name,
        "description": action.description,
        "side_effects": action.side_effects,
        "parameters": schema,
    }


def schemas(actions: Mapping[str, Action]) -> dict[str, Any]:
    """Every action's schema, by name."""
    return {name: action_schema(actions[name]) for name in sorted(actions)}


# --- Whole workflow files -------------------------------------------------------------


@functools.cache  # compiled on first use: most runs never need it
def _attribute() -> re.Pattern[str]:
    return re.compile(r"^(\s+)([A-Za-z_]\w*(?:\s*/\s*[A-Za-z_]\w*)*):\s+(.*)$")


_NOT_CHECKED = (
    "Checked by `wfe validate` but not by this schema: dependency cycles and dependencies on unknown "
    "steps, a step depending on itself, duplicate step ids, templates ({name}, {steps.<id>.output}) that "
    "name undefined variables or steps that are not upstream, and rules of an action that span several "
    "parameters or look inside a value (non-empty paths, known encodings, 'exactly one of'). Parameters "
    "holding {placeholders} are checked for their keys only: their types are known when the step runs."
)


def _attribute_docs(cls: type) -> dict[str, str]:
    """``{field: text}`` from the ``Attributes:`` section of ``cls``'s docstring."""
    out: dict[str, str] = {}
    doc = cls.__doc__ or ""
    if "Attributes:" not in doc:
        return out
    names: list[str] = []
    indent = None
    for line in doc.split("Attributes:", 1)[1].splitlines():
        match = _attribute().match(line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent = len(match.group(1))
            names = [n.strip() for n in match.group(2).split("/")]
            for name in names:
                out[name] = match.group(3).strip()
        elif line.strip() and names and indent is not None and len(line) - len(line.lstrip()) > indent:
            for name in names:
                out[name] += " " + line.strip()
    return out


def _with_docs(schema: dict[str, Any], cls: type) -> dict[str, Any]:
    for name, text in _attribute_docs(cls).items():
        if name in schema.get("properties", {}):
            schema["properties"][name].setdefault("description", text)
    return schema


def _parameters(action: Action) -> tuple[dict[str, Any], dict[str, Any]]:
    """The schema of literal parameters, and of parameters holding placeholders (keys only)."""
    cls = action.parameters
    assert cls is not None  # only actions with a parameter class have a parameter schema
    strict = _with_docs(_class_schema(cls), cls)
    strict.pop("description", None)  # replaced below: per-field text is on the fields
    loose: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: {k: v for k, v in prop.items() if k in ("description", "default")}
            for name, prop in strict["properties"].items()
        },
    }
    if "required" in strict:
        loose["required"] = strict["required"]
    for schema in (strict, loose):
        schema["description"] = action.description or action.name
        if "Attributes:" not in (cls.__doc__ or "") and cls.__doc__:
            schema["description"] += " " + " ".join(cls.__doc__.split())
    return strict, loose


def _default(field: Any) -> Any:
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()
    return list(default) if isinstance(default, tuple) else default


_SCALAR_VALUE = {"type": ["string", "number", "boolean"]}
#: for_each and matrix exclude each other; exclude needs a matrix; max_parallel a fan-out.
_FANOUT_RULES: list[dict[str, Any]] = [
    {"not": {"required": ["for_each", "matrix"]}},
    {"if": {"required": ["exclude"]}, "then": {"required": ["matrix"]}},
    {"if": {"required": ["max_parallel"]}, "then": {"anyOf": [{"required": ["for_each"]}, {"required": ["matrix"]}]}},
]


def _fanout_props() -> dict[str, Any]:
    """``for_each``, ``matrix``, ``exclude`` and ``max_parallel`` (see :mod:`wfe_core.plan.fanout`)."""
    return {
        "for_each": {
            "anyOf": [
                {"type": "array"},
                {"type": "string", "pattern": r"^\s*\{[A-Za-z_][\w-]*(\.([A-Za-z_][\w-]*|\d+))*\}\s*$"},
            ]
        },
        "matrix": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": r"^[A-Za-z_][\w-]*$"},
            "additionalProperties": {"type": "array", "minItems": 1, "items": _SCALAR_VALUE, "uniqueItems": True},
        },
        "exclude": {
            "type": "array",
            "items": {"type": "object", "minProperties": 1, "additionalProperties": _SCALAR_VALUE},
        },
        "max_parallel": {"type": "integer", "minimum": 1},
    }


def workflow_schema(actions: Mapping[str, Action]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for workflow files using ``actions``.

    Each step's ``parameters`` (and ``rollback_parameters``) are checked against its
    action's parameter class through ``if``/``then``; descriptions and defaults come from
    the model's and the parameter classes' docstrings, so editors show them on hover.
    """
    from wfe_core.model.workflow import Workflow, WorkflowStep

    names = sorted(actions)
    step_docs, flow_docs = _attribute_docs(WorkflowStep), _attribute_docs(Workflow)
    step_defaults = {
        f.name: _default(f)
        for f in attrs.fields(WorkflowStep)
        if f.default is not attrs.NOTHING and f.name not in ("name",)
    }
    ids = {"type": "string", "pattern": r"\S"}
    strings = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "uniqueItems": True}]}
    step_props: dict[str, Any] = {
        "id": ids,
        "action": {"enum": names},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "parameters": {"type": "object"},
        "dependencies": strings,
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "max_retries": {"type": "integer", "minimum": 0},
        "retry_delay": {"type": "number", "minimum": 0},
        "retry_backoff": {"type": "number", "minimum": 1},
        "retry_max_delay": {"type": "number", "minimum": 0},
        "critical": {"type": "boolean"},
        "parallel_group": {"type": ["string", "null"]},
        "conditions": {"type": "object"},
        "resources": {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "pattern": "\\S"}, "uniqueItems": True},
                {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
            ]
        },
        "trigger": {"enum": ["on_success", "on_failure", "always"]},
        "when": {"type": ["string", "null"], "pattern": "\\S"},
        **_fanout_props(),
        "rollback_action": {"enum": [*names, None]},
        "rollback_parameters": {"type": "object"},
    }
    for name, prop in step_props.items():
        prop["description"] = step_docs.get(name, "")
        if name in step_defaults and step_defaults[name] not in ({}, None):
            prop["default"] = step_defaults[name]
    step_props["dependencies"]["description"] += " That they exist and form no cycle is checked by `wfe validate`."
    step_props["matrix"]["description"] += " An exclude naming an unknown axis or value is found by `wfe validate`."
    step_props["parameters"]["description"] += (
        " Checked against the action's parameters; a value holding a {placeholder} is typed when the step runs."
    )
    defs: dict[str, Any] = {
        "literal": {
            "description": "A value with no {placeholder} anywhere in it.",
            "anyOf": [
                {"type": ["number", "boolean", "null"]},
                {"type": "string", "pattern": "^[^{}]*$"},
                {"type": "array", "items": {"$ref": "#/$defs/literal"}},
                {"type": "object", "additionalProperties": {"$ref": "#/$defs/literal"}},
            ],
        },
    }
    rules = []
    for name in names:
        action = actions[name]
        if action.parameters is None:
            continue
        strict, loose = _parameters(action)
        defs[f"{name}.parameters"], defs[f"{name}.templated"] = strict, loose
        check = {
            "if": {"$ref": "#/$defs/literal"},
            "then": {"$ref": f"#/$defs/{name}.parameters"},
            "else": {"$ref": f"#/$defs/{name}.templated"},
        }
        for field, params in (("action", "parameters"), ("rollback_action", "rollback_parameters")):
            then: dict[str, Any] = {"properties": {params: check}}
            if "required" in strict:
                then["required"] = [params]
            rules.append({"if": {"properties": {field: {"const": name}}, "required": [field]}, "then": then})
    defs["step"] = {
        "type": "object",
        "description": "One step of the workflow.",
        "required": ["id", "action"],
        "additionalProperties": False,
        "properties": step_props,
        "allOf": [*rules, *_FANOUT_RULES],
    }
    flow_props: dict[str, Any] = {
        "id": ids,
        "name": {"type": "string"},
        "description": {"type": "string"},
        "metadata": {"type": "object"},
        "variables": {"type": "object", "propertyNames": {"not": {"enum": ["steps", "secrets"]}}},
        "secrets": strings,
        "resources": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
    }
    for name, prop in flow_props.items():
        prop["description"] = flow_docs.get(name, "")
    # Only keywords that mean the same under draft-07 (no siblings of $ref, single-schema
    # "items"): the VS Code YAML extension validates with draft-07 semantics.
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://wfe.invalid/schema/workflow.json",
        "title": "wfe workflow file",
        "description": f"A wfe workflow (YAML, JSON or TOML), for the actions installed when it was generated "
        f"(`wfe schema --workflow`). {_NOT_CHECKED}",
        "type": "object",
        "required": ["id"],
        "additionalProperties": False,
        "properties": flow_props,
        "$defs": defs,
    }
