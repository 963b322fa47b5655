"""Structuring plain data into attrs classes, strictly: :func:`structure`.

Strict means: unknown keys are refused (with a did-you-mean), and scalars are never
coerced — ``critical: "false"`` is an error, not ``True``; ``timeout: "30"`` is an error,
not ``30.0``.

Two ways lead there. Data whose every value already has its field's type (a step of a
plain file, most parameters) is built directly (:func:`_direct_structure_fn`); anything
else goes through the strict cattrs converter of :mod:`wfe_core.load.strict`, whose
result, or error with every field's path, is the contract. That module is imported only
then: cattrs and the structure functions it generates cost every start ~15 ms, and a
plain ``wfe run`` never needs them. ``converter`` (the cattrs converter) is still
importable from here.
"""

from __future__ import annotations

import threading
import types
import typing
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import cattrs

__all__ = ["converter", "describe", "structure"]


class _WrongType(TypeError):
    def __init__(self, expected: str, value: Any):
        super().__init__(f"expected {expected}, got {describe(value)}")


def describe(value: Any) -> str:
    """``string 'abc'``, ``integer 5``, ``a list`` … for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


# How a field's value is taken as it is, in :func:`_direct_structure_fn`.
_STR, _BOOL, _INT, _FLOAT, _ANY, _DICT, _SEQ, _CLASSES = range(8)
_OPTIONAL = 8  # added to one of the above: ``None`` is fine too
_SIMPLE = {str: _STR, bool: _BOOL, int: _INT, float: _FLOAT, Any: _ANY}
#: Item types of a list or tuple field taken as they are (``float`` is not: cattrs makes
#: floats of whole numbers, item by item).
_SEQ_ITEMS = (str, int, Any)
_NOT_DIRECT = object()
#: Integers past this are too big for a float (OverflowError); the full path reports them.
_FLOAT_INTS = 2**1023


def _is_sequence(tp: Any) -> bool:
    """``list[X]``, ``tuple[X]`` or ``tuple[X, ...]``: what the converter's sequence hook takes."""
    args = typing.get_args(tp)
    return typing.get_origin(tp) in (tuple, list) and (len(args) == 1 or (len(args) == 2 and args[1] is ...))


def _is_dict(tp: Any) -> bool:
    return tp is dict or typing.get_origin(tp) is dict


def _is_optional_scalar(tp: Any) -> bool:
    """``X | None`` (the converter's optional hook takes it: None, or an X)."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    args = typing.get_args(tp)
    return len(args) == 2 and type(None) in args


def _kind(tp: Any) -> tuple[int, Any] | None:
    """The :func:`_direct_structure_fn` kind of a field of type ``tp`` and what a sequence
    kind needs (its container and item type, or the items' own quick function), or None."""
    if tp in _SIMPLE:
        return _SIMPLE[tp], None
    if _is_dict(tp):
        return _DICT, None
    if _is_sequence(tp):
        origin, item = typing.get_origin(tp), typing.get_args(tp)[0]
        if item in _SEQ_ITEMS:
            return _SEQ, (origin, item)
        if isinstance(item, type) and attrs.has(item):
            items = _direct_for(item)
            return None if items is None else (_CLASSES, (origin, items))
        return None
    if _is_optional_scalar(tp):
        inner = _kind(next(a for a in typing.get_args(tp) if a is not type(None)))
        if inner is not None and inner[0] != _CLASSES:
            return inner[0] + _OPTIONAL, inner[1]
    return None


#: Each class's quick function (or None), made on first use.
_made: dict[type, Any] = {}
#: Per thread, the classes whose quick function is being made: a class holding a list of
#: itself has none (and another thread making the same class meanwhile is no cycle).
_making = threading.local()
_UNSET = object()


def _direct_for(cls: type) -> Any:
    """:func:`_direct_structure_fn` of ``cls``, made once per class."""
    made = _made.get(cls, _UNSET)
    if made is not _UNSET:
        return made
    making: set[type] = _making.__dict__.setdefault("classes", set())
    if cls in making:
        return None  # a cycle: not remembered, the outer call decides for the class
    making.add(cls)
    try:
        made = _direct_structure_fn(cls)
    finally:
        making.discard(cls)
    _made[cls] = made
    return made


def _direct_structure_fn(cls: type) -> Any:
    """A quick way to build ``cls`` from a mapping whose every value already has its
    field's type (the common case: a step of a big file is built ~3x faster than through
    cattrs' generated function), or None when a field's type has no quick form.

    The function returns ``_NOT_DIRECT`` for anything else (an unknown key, a value of
    another type, a missing field, a constructor that raises): the caller then goes
    through cattrs, whose result (or error, with every field's path) is the contract.
    What it builds is what cattrs builds: the same values, floats for whole numbers,
    lists and tuples of the field's container type, mappings copied; a list of attrs
    instances (a workflow's steps) is built item by item the same way.
    """
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a forward reference that does not resolve: cattrs says so
        return None
    kinds: dict[str, int] = {}
    extra: dict[str, Any] = {}  # per sequence field: (container, item type or the items' quick function)
    for field in attrs.fields(cls):
        found = _kind(hints.get(field.name))
        if found is None or not field.init or field.alias != field.name:
            return None
        kinds[field.name], extra[field.name] = found

    def direct(value: dict[Any, Any]) -> Any:
        given: dict[str, Any] = {}
        for key, item in value.items():
            kind = kinds.get(key)
            if kind is None:  # unknown (or not a string): cattrs words it
                return _NOT_DIRECT
            if kind >= _OPTIONAL:
                if item is None:
                    given[key] = None
                    continue
                kind -= _OPTIONAL
            kind_of = type(item)
            if kind is _STR or kind is _BOOL or kind is _INT:
                if kind_of is not (str if kind is _STR else bool if kind is _BOOL else int):
                    return _NOT_DIRECT
            elif kind is _FLOAT:
                if kind_of is int:
                    if not -_FLOAT_INTS <= item <= _FLOAT_INTS:
                        return _NOT_DIRECT  # float() would overflow: cattrs says where
                    item = float(item)
                elif kind_of is not float:
                    return _NOT_DIRECT
            elif kind is _DICT:
                if kind_of is not dict:
                    return _NOT_DIRECT
                item = dict(item)
            elif kind is _SEQ:
                origin, item_type = extra[key]
                if kind_of is str and item_type is str:
                    item = origin((item,))  # one item where a list is expected, as cattrs does
                elif kind_of is not list or not (item_type is Any or all(type(v) is item_type for v in item)):
                    return _NOT_DIRECT
                else:
                    item = origin(item)
            elif kind is _CLASSES:
                if kind_of is not list:
                    return _NOT_DIRECT
                origin, build = extra[key]
                made = []
                for one in item:
                    if type(one) is not dict:
                        return _NOT_DIRECT
                    built = build(one)
                    if built is _NOT_DIRECT:
                        return _NOT_DIRECT
                    made.append(built)
                item = origin(made)
            given[key] = item
        try:
            return cls(**given)
        except Exception:  # cattrs builds it again and words the error with its path
            return _NOT_DIRECT

    return direct


def structure(data: Any, cls: Any, *, path: str = "") -> Any:
    """Structure ``data`` into ``cls`` or raise :class:`InvalidWorkflowError` listing every problem.

    Raises:
        InvalidWorkflowError: a problem per bad field, each with its path below ``path``.
    """
    if type(data) is dict and isinstance(cls, type) and attrs.has(cls):
        direct = _direct_for(cls)
        if direct is not None:
            made = direct(data)
            if made is not _NOT_DIRECT:
                return made
    from wfe_core.load.strict import structure_strictly

    return structure_strictly(data, cls, path=path)


def __getattr__(name: str) -> Any:
    if name == "converter":  # the cattrs converter: imported on first use
        from wfe_core.load.strict import converter

        return converter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    converter: cattrs.Converter
