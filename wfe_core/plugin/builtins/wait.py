"""The ``wait`` action (plugin ``wfe.wait``): sleep, waking early on cancellation or timeout."""

from __future__ import annotations

from typing import Any

import attrs

from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.plugin.capabilities import Action
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["WaitParams", "wait", "wfe_actions"]


def _non_negative(instance: Any, attribute: Any, value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


@attrs.frozen
class WaitParams:
    """seconds: how long to wait (wakes early if the step is cancelled or times out)."""

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    seconds: float = attrs.field(validator=_non_negative)


def wait(params: WaitParams, context: Any) -> float:
    """Sleep ``params.seconds``; the output is the number of seconds."""
    if context.dry_run:  # a dry run shows the plan; waiting would only make it slow
        return params.seconds
    if not context.sleep(params.seconds):
        context.check_cancelled()
    return params.seconds


@hookimpl
def wfe_actions() -> list[Action]:
    return [Action("wait", wait, WaitParams, side_effects=False, description="Wait a number of seconds.")]
