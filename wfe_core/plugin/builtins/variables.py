"""``variable.set`` and ``variable.get``.

``variable.set`` does not write shared state from a pool thread: it returns the update
in :attr:`StepResult.variables` and the scheduler applies it, so parallel sets never
lose one another.
"""

from __future__ import annotations

from typing import Any

import attrs

from wfe_core.model.errors import ActionError
from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.model.workflow import StepResult
from wfe_core.plugin.capabilities import Action
from wfe_core.plugin.hookspecs import hookimpl


@attrs.frozen
class SetParams:
    """name: the variable to set; value: its new value (any YAML value)."""

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    name: str
    value: Any


@attrs.frozen
class GetParams:
    """name: the variable to read; its value becomes the step's output."""

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    name: str


def variable_set(params: SetParams, context: Any) -> StepResult:
    return StepResult(success=True, output=params.value, variables={params.name: params.value})


def variable_get(params: GetParams, context: Any) -> Any:
    if params.name not in context.variables:
        defined = ", ".join(sorted(context.variables)) or "none"
        raise ActionError(f"variable '{params.name}' is not defined (defined: {defined})")
    return context.variables[params.name]


@hookimpl
def wfe_actions() -> list[Action]:
    return [
        Action(
            "variable.set",
            variable_set,
            SetParams,
            side_effects=False,
            sets_variables=True,
            runs_on_driver=True,
            inline=True,  # a dict update: a worker thread would cost more than the action
            description="Set a run variable; the value is also the step's output.",
        ),
        Action(
            "variable.get",
            variable_get,
            GetParams,
            side_effects=False,
            runs_on_driver=True,
            inline=True,  # a dict update: a worker thread would cost more than the action
            description="Read a run variable into the step's output.",
        ),
    ]
