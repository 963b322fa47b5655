"""Running one attempt away from the driver, for executor plugins (e.g. wfe-dask).

A remote worker receives plain data (action name, structured parameters, a
:class:`RemoteContext`), resolves the action from the plugins installed *where it runs*,
and returns ``(StepResult, memo)``. Nothing here holds a lock, a logger or a thread, so
it pickles.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import attrs

from wfe_core.model.context import CancelToken, StepContext
from wfe_core.model.workflow import StepResult

__all__ = ["RemoteContext", "remote_context", "run_remote_attempt"]


@attrs.frozen
class RemoteContext:
    """The picklable part of a :class:`StepContext` (no resources, lock or logger)."""

    run_id: str
    workflow_id: str
    step: Any
    attempt: int
    variables: dict[str, Any]
    outputs: dict[str, Any]
    workdir: str
    dry_run: bool


def remote_context(context: StepContext) -> RemoteContext:
    """What of ``context`` travels to a remote worker."""
    return RemoteContext(
        run_id=context.run_id,
        workflow_id=context.workflow_id,
        step=context.step,
        attempt=context.attempt,
        variables=dict(context.variables),
        outputs=dict(context.outputs),
        workdir=str(context.workdir),
        dry_run=context.dry_run,
    )


@functools.cache
def _plugins(extra: tuple[str, ...] = ()) -> Any:
    # Loaded once per worker process: the same registry `wfe` builds, from this host's
    # plugins, plus plugin modules named by the driver (not installed as distributions).
    import importlib

    from wfe_core.plugin.registry import load_plugins

    return load_plugins(extra={name: importlib.import_module(name) for name in extra})


_RESOURCES: dict[str, dict[str, Any]] = {}


def run_remote_attempt(
    action_name: str,
    parameters: Any,
    remote: RemoteContext,
    *,
    prepare: bool = False,
    cancel: CancelToken | None = None,
    extra_plugins: tuple[str, ...] = (),
) -> tuple[StepResult, Any]:
    """Run ``action_name`` once with this process's plugins; never raises.

    :param prepare: run the action's rollback ``prepare`` first (its memo is returned).
    :param cancel: the token the caller sets when the attempt must stop.
    :param extra_plugins: importable plugin module names to register besides the
        installed plugins (e.g. a project's own actions).
    :return: the attempt's result and the rollback memo (or ``None``).
    """
    from wfe_core.run.attempt import Attempt, run_attempt

    try:
        plugins = _plugins(tuple(extra_plugins))
    except Exception as exc:
        return StepResult(
            success=False, error=f"this worker cannot load its plugins: {type(exc).__name__}: {exc}"
        ), None
    action = plugins.actions.get(action_name)
    if action is None:
        return StepResult(success=False, error=f"action '{action_name}' is not installed on this worker"), None
    handler = plugins.rollback_for(action_name) if prepare else None
    context = StepContext(
        run_id=remote.run_id,
        workflow_id=remote.workflow_id,
        step=remote.step,
        attempt=remote.attempt,
        variables=remote.variables,
        outputs=remote.outputs,
        workdir=Path(remote.workdir),
        dry_run=remote.dry_run,
        cancel_event=cancel or CancelToken(),
        resources=_RESOURCES.setdefault(remote.run_id, {}),
        log=logging.getLogger(f"wfe.step.{remote.step.id}"),
    )
    attempt = Attempt(
        step_id=remote.step.id,
        number=remote.attempt,
        action=action,
        parameters=parameters,
        context=context,
        timeout=0.0,
        prepare=handler.prepare if handler is not None else None,
    )
    run_attempt(attempt)
    assert attempt.result is not None
    return attempt.result, attempt.memo
