"""Validation for runs on Dask: what a step sends to a worker must be picklable.

A workflow from a file holds plain data, but one built in Python can hold anything (a
lambda, an open file, a lock). With ``--executor dask`` (``ValidationContext.executor``)
such a value is found before the run starts and named: the step and the parameter.
Actions that run on the driver (``runs_on_driver``) send nothing and are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wfe_core.plugin import Problem

__all__ = ["check_picklable", "not_picklable"]

#: The step fields that travel with an attempt (the step itself is part of its context).
_FIELDS = ("parameters", "rollback_parameters", "conditions")


def not_picklable(value: Any) -> str | None:
    """Why ``value`` cannot be pickled (``"TypeError: cannot pickle 'generator' object"``), or ``None``."""
    import pickle  # here: this module is imported by every run, pickling happens with --executor dask

    try:
        pickle.dumps(value)
    except Exception as exc:  # pickle raises TypeError, PicklingError, AttributeError ...
        return f"{type(exc).__name__}: {exc}"
    return None


def check_picklable(workflow: Any, context: Any) -> Iterator[Problem]:
    """With the ``dask`` executor: every value a step sends to a worker can be pickled."""
    if context.executor != "dask":
        return
    for name, value in {**(workflow.variables or {}), **(context.variables or {})}.items():
        why = not_picklable(value)
        if why:
            yield Problem(
                f"variable '{name}' cannot be sent to a Dask worker (not picklable: {why})", path=f"variables.{name}"
            )
    for index, step in enumerate(workflow.steps):
        action = context.actions.get(step.action)
        if action is not None and action.runs_on_driver:
            continue
        found = False
        for field in _FIELDS:
            values = getattr(step, field, None)
            if not isinstance(values, Mapping):
                continue
            for key, value in values.items():
                why = not_picklable(value)
                if why:
                    found = True
                    what = "parameter" if field == "parameters" else f"{field.replace('_', ' ')[:-1]}"
                    yield Problem(
                        f"step '{step.id}': {what} '{key}' cannot be sent to a Dask worker (not picklable: {why})",
                        path=f"steps[{index}].{field}.{key}",
                        step_id=step.id,
                    )
        if not found:
            why = not_picklable(step)
            if why:
                yield Problem(
                    f"step '{step.id}' cannot be sent to a Dask worker (not picklable: {why})",
                    path=f"steps[{index}]",
                    step_id=step.id,
                )
