"""The ``validate.condition`` action (plugin ``wfe.condition``): fail the step unless a
value passes a test."""

from __future__ import annotations

import re
from typing import Any

import attrs

from wfe_core.model.errors import ActionError
from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.plugin.capabilities import Action
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["ConditionParams", "validate_condition", "wfe_actions"]

_MISSING = object()


@attrs.frozen
class ConditionParams:
    """Checks ``value`` (usually a template such as ``"{steps.fetch.output.status_code}"``).

    Give exactly one test: ``equals``, ``not_equals``, ``one_of`` (a list), ``matches``
    (a regular expression searched in ``str(value)``) or ``truthy: true``. ``message``
    replaces the default failure text.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    value: Any
    equals: Any = _MISSING
    not_equals: Any = _MISSING
    one_of: list[Any] | None = None
    matches: str | None = None
    truthy: bool | None = None
    message: str | None = None

    def __attrs_post_init__(self) -> None:
        given = [n for n in ("equals", "not_equals") if getattr(self, n) is not _MISSING]
        given += [n for n in ("one_of", "matches", "truthy") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of equals, not_equals, one_of, matches, truthy"
                + (f" (got {', '.join(given)})" if given else "")
            )


def validate_condition(params: ConditionParams, context: Any) -> bool:
    """True when the test passes; else an :class:`ActionError` saying why."""
    v = params.value
    if params.equals is not _MISSING:
        ok, text = v == params.equals, f"{v!r} does not equal {params.equals!r}"
    elif params.not_equals is not _MISSING:
        ok, text = v != params.not_equals, f"{v!r} equals {params.not_equals!r}"
    elif params.one_of is not None:
        ok, text = v in params.one_of, f"{v!r} is not one of {params.one_of!r}"
    elif params.matches is not None:
        ok, text = re.search(params.matches, str(v)) is not None, f"{v!r} does not match /{params.matches}/"
    else:
        ok, text = bool(v) == params.truthy, f"{v!r} is not {'truthy' if params.truthy else 'falsy'}"
    if not ok:
        raise ActionError(params.message or f"condition failed: {text}")
    return True


@hookimpl
def wfe_actions() -> list[Action]:
    return [
        Action(
            "validate.condition",
            validate_condition,
            ConditionParams,
            side_effects=False,
            description="Fail the step unless a value passes a test.",
        )
    ]
