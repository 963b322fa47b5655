"""One strict cattrs converter, and its errors turned into one :class:`Problem` per field.

Strict means: unknown keys are refused (with a did-you-mean), and scalars are never
coerced — ``critical: "false"`` is an error, not ``True``; ``timeout: "30"`` is an error,
not ``30.0``.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn

from wfe_core.model.errors import InvalidWorkflowError, Problem, did_you_mean

__all__ = ["converter", "describe", "structure"]

converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)


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


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise _WrongType("a string", value)
    return value


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise _WrongType("true or false", value)
    return value


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _WrongType("a whole number", value)
    return value


def _strict_float(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _WrongType("a number", value)
    return float(value)


def _any(value: Any, _: type) -> Any:
    return value


def _is_sequence(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) in (tuple, list) and (len(args) == 1 or (len(args) == 2 and args[1] is ...))


def _sequence(value: Any, tp: Any) -> Any:
    item_type = typing.get_args(tp)[0]
    # A lone string is one item where a list of strings is expected
    # (``dependencies: build``), as GitHub Actions' ``needs:`` allows.
    if isinstance(value, str) and item_type is str:
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _WrongType("a list", value)
    items = []
    errors = []
    for index, item in enumerate(value):
        try:
            items.append(converter.structure(item, item_type))
        except Exception as exc:
            exc.__notes__ = [
                *getattr(exc, "__notes__", []),
                cattrs.errors.IterableValidationNote(f"index {index}", index, item_type),
            ]
            errors.append(exc)
    if errors:
        raise IterableValidationError("invalid items", errors, tp)
    return typing.get_origin(tp)(items)


def _attrs_factory(cls: type) -> Any:
    base: Any = make_dict_structure_fn(cls, converter)
    fast = _direct_structure_fn(cls)

    def hook(value: Any, _: type) -> Any:
        if not isinstance(value, dict):
            raise _WrongType("a mapping", value)
        if fast is not None:
            made = fast(value)
            if made is not _NOT_DIRECT:
                return made
        for key in value:
            if not isinstance(key, str):
                raise _WrongType("string keys", key)
        return base(value, cls)

    return hook


# How a field's value is taken as it is, in :func:`_direct_structure_fn`.
_STR, _BOOL, _INT, _FLOAT, _ANY, _DICT, _STRS = range(7)
_OPTIONAL = 8  # added to one of the above: ``None`` is fine too
_SIMPLE = {str: _STR, bool: _BOOL, int: _INT, float: _FLOAT, Any: _ANY}
_NOT_DIRECT = object()
#: Integers past this are too big for a float (OverflowError); the full path reports them.
_FLOAT_INTS = 2**1023


def _kind(tp: Any) -> int | None:
    """The :func:`_direct_structure_fn` kind of a field of type ``tp``, or None if it has none."""
    if tp in _SIMPLE:
        return _SIMPLE[tp]
    if _is_dict(tp):
        return _DICT
    if _is_sequence(tp) and typing.get_origin(tp) is tuple and typing.get_args(tp)[0] is str:
        return _STRS
    if _is_optional_scalar(tp):
        inner = next(a for a in typing.get_args(tp) if a is not type(None))
        if inner in (str, int, float):
            return _SIMPLE[inner] + _OPTIONAL
    return None


def _direct_structure_fn(cls: type) -> Any:
    """A quick way to build ``cls`` from a mapping whose every value already has its
    field's type (the common case: a step of a big file is built ~3x faster than through
    cattrs' generated function), or None when a field's type has no quick form.

    The function returns ``_NOT_DIRECT`` for anything else (an unknown key, a value of
    another type, a missing field, a constructor that raises): the caller then goes
    through cattrs, whose result (or error, with every field's path) is the contract.
    What it builds is what cattrs builds: the same values, floats for whole numbers,
    tuples for lists, mappings copied.
    """
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a forward reference that does not resolve: cattrs says so
        return None
    kinds: dict[str, int] = {}
    for field in attrs.fields(cls):
        kind = _kind(hints.get(field.name))
        if kind is None or not field.init or field.alias != field.name:
            return None
        kinds[field.name] = kind

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
            elif kind is _STRS:
                if kind_of is str:
                    item = (item,)  # one item where a list is expected, as cattrs does
                elif kind_of is not list or not all(type(v) is str for v in item):
                    return _NOT_DIRECT
                else:
                    item = tuple(item)
            given[key] = item
        try:
            return cls(**given)
        except Exception:  # cattrs builds it again and words the error with its path
            return _NOT_DIRECT

    return direct


def _is_dict(tp: Any) -> bool:
    return tp is dict or typing.get_origin(tp) is dict


def _dict(value: Any, tp: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise _WrongType("a mapping", value)
    return dict(value)


def _is_optional_scalar(tp: Any) -> bool:
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    args = typing.get_args(tp)
    return len(args) == 2 and type(None) in args


def _optional(value: Any, tp: Any) -> Any:
    if value is None:
        return None
    inner = next(a for a in typing.get_args(tp) if a is not type(None))
    return converter.structure(value, inner)


converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(float, _strict_float)
converter.register_structure_hook(Any, _any)
converter.register_structure_hook_func(_is_sequence, _sequence)
converter.register_structure_hook_factory(attrs.has, _attrs_factory)
converter.register_structure_hook_func(_is_dict, _dict)
converter.register_structure_hook_func(_is_optional_scalar, _optional)


def _join(path: str, part: str) -> str:
    if part.startswith("["):
        return path + part
    return f"{path}.{part}" if path else part


def _problems(exc: BaseException, path: str, cls: Any) -> list[Problem]:
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        out: list[Problem] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            part = f"[{note.index}]" if isinstance(note, IterableValidationNote) else note.name
            sub_cls = note.type if isinstance(note.type, type) else None
            out.extend(_problems(sub, _join(path, part), sub_cls))
        for sub in without:
            out.extend(_problems(sub, path, getattr(exc, "cl", cls)))
        return out
    if isinstance(exc, ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        return [
            Problem(f"unknown key '{key}'{did_you_mean(key, known)}", path=_join(path, key))
            for key in sorted(exc.extra_fields)
        ]
    if isinstance(exc, KeyError):
        return [Problem("is required but missing", path=path)]
    if isinstance(exc, InvalidWorkflowError):
        return [attrs.evolve(p, path=_join(path, p.path) if p.path else path) for p in exc.problems]
    if isinstance(exc, _WrongType):
        return [Problem(str(exc), path=path)]
    if isinstance(exc, AttributeError) and "items" in str(exc):
        return [Problem("expected a mapping", path=path)]
    if isinstance(exc, (TypeError, ValueError)) and "positional argument" not in str(exc):
        return [Problem(f"invalid value: {exc}", path=path)]
    return [Problem(f"invalid value ({type(exc).__name__}: {exc})", path=path)]


def structure(data: Any, cls: type, *, path: str = "") -> Any:
    """Structure ``data`` into ``cls`` or raise :class:`InvalidWorkflowError` listing every problem."""
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, InvalidWorkflowError, _WrongType) as exc:
        raise InvalidWorkflowError(_problems(exc, path, cls)) from None
