"""The strict cattrs converter, and its errors turned into one :class:`Problem` per field.

Strict means: unknown keys are refused (with a did-you-mean), and scalars are never
coerced — ``critical: "false"`` is an error, not ``True``; ``timeout: "30"`` is an error,
not ``30.0``.

:func:`wfe_core.load.convert.structure` builds values that already have their fields'
types without this module (importing cattrs and generating its structure functions
costs every start ~15 ms); whatever it cannot build quickly comes here, and what this
converter builds, or the error it words with every field's path, is the contract.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn

from wfe_core.load.convert import _NOT_DIRECT, _direct_structure_fn, _WrongType
from wfe_core.model.errors import InvalidWorkflowError, Problem, did_you_mean

__all__ = ["converter", "structure_strictly"]

converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)


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


def structure_strictly(data: Any, cls: Any, *, path: str = "") -> Any:
    """Structure ``data`` into ``cls`` through cattrs, or raise :class:`InvalidWorkflowError`
    listing every problem (each at its path below ``path``)."""
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, InvalidWorkflowError, _WrongType) as exc:
        raise InvalidWorkflowError(_problems(exc, path, cls)) from None
