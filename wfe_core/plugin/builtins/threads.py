"""The built-in ``threads`` executor (plugin ``wfe.executor.threads``): the default.

Its factory returns ``None``, which tells the run loop to use its own thread pool (or an
executor from the older ``wfe_make_executor`` hook): attempts run in the ``wfe`` process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wfe_core.plugin.capabilities import StepExecutor
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["wfe_executors"]


def _threads(max_workers: int, options: Mapping[str, Any]) -> None:
    """No executor object: the run loop's own pool of ``max_workers`` threads."""
    return None


@hookimpl
def wfe_executors() -> Iterable[StepExecutor]:
    return [StepExecutor("threads", _threads, description="Run steps on threads of the wfe process (default).")]
