"""``wfe schema``: what each action accepts, from its parameter class, as JSON Schema."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from wfe_core.plugin.capabilities import Action

__all__ = ["action_schema", "schemas"]

_SCALARS = {str: {"type": "string"}, bool: {"type": "boolean"}, int: {"type": "integer"},
            float: {"type": "number"}, type(None): {"type": "null"}}


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
    return {"title": action.name, "description": action.description, "side_effects": action.side_effects,
            "parameters": schema}


def schemas(actions: Mapping[str, Action]) -> dict[str, Any]:
    """Every action's schema, by name."""
    return {name: action_schema(actions[name]) for name in sorted(actions)}
