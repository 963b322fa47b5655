"""The wfe plugin (entry point ``dask``): the ``dask`` executor."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wfe_core.plugin import StepExecutor, Validator, hookimpl

__all__ = ["wfe_executors", "wfe_force_stop", "wfe_validators"]


def _factory(max_workers: int, options: Any) -> Any:
    from wfe_dask.executor import make_executor  # distributed is imported only when used

    return make_executor(max_workers, options)


@hookimpl
def wfe_executors() -> Iterable[StepExecutor]:
    return [
        StepExecutor(
            "dask",
            _factory,
            description="Run steps on a Dask cluster (--scheduler ADDRESS, or a local cluster of processes).",
        )
    ]


@hookimpl
def wfe_validators() -> Iterable[Validator]:
    from wfe_dask.checks import check_picklable  # pickle only: no distributed import

    return [
        Validator(
            "dask.picklable",
            check_picklable,
            description="With --executor dask: parameters and variables sent to workers must be picklable.",
        )
    ]


@hookimpl
def wfe_force_stop() -> None:
    import sys

    module = sys.modules.get("wfe_dask.executor")
    if module is not None:
        module.stop_everything()
