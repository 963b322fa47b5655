"""Compensation: undoing completed steps after a critical failure.

Steps are compensated one at a time in reverse completion order, so a step is undone
before anything it depends on. A step's own ``rollback_action`` (with templated
``rollback_parameters``, where ``{steps.<id>.output}`` includes the step itself) wins;
otherwise the action's rollback handler gets the memo its ``prepare`` captured. A failed
compensation is recorded and the rest still run.
"""

from __future__ import annotations

import threading
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from wfe_core.load.convert import structure
from wfe_core.load.templating import render
from wfe_core.model.context import StepContext
from wfe_core.model.errors import ActionError, InvalidWorkflowError, TemplateError
from wfe_core.model.workflow import StepResult, StepStatus, WorkflowStep
from wfe_core.plan.fanout import base_id
from wfe_core.plugin.capabilities import Action, RollbackHandler

if TYPE_CHECKING:
    from wfe_core.run.prepare import AttemptPreparer
    from wfe_core.run.state import RunState

__all__ = ["Compensation", "CompensationResult", "compensate_all", "compensate_run", "plan_compensations"]


@attrs.frozen
class Compensation:
    """What undoing one step takes."""

    step: WorkflowStep
    output: Any
    memo: Any
    action: Action | None  # the rollback_action's record, when the step names one
    handler: RollbackHandler | None  # else the step action's handler
    scope: Mapping[str, Any] = attrs.field(factory=dict)  # a fan-out instance's {item}, {matrix.*}


@attrs.frozen
class CompensationResult:
    """How undoing one step went: ``status`` is rolled_back or rollback_failed."""

    step_id: str
    status: StepStatus
    error: str | None = None
    duration: float = 0.0


def plan_compensations(
    steps: Mapping[str, WorkflowStep],
    completed: Iterable[tuple[str, Any, Any]],
    actions: Mapping[str, Action],
    rollback_for: Callable[[str], RollbackHandler | None],
    scopes: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Compensation]:
    """Compensations for ``completed`` (step id, output, memo; in completion order), last first.

    Steps with neither a rollback action nor a handler need no compensation and are left
    out. ``scopes``: what a fan-out instance's templates add (``item``…), by step id.
    """
    out = []
    scopes = scopes or {}
    for sid, output, memo in reversed(list(completed)):
        step = steps[sid]
        extra = scopes.get(sid, {})
        if step.rollback_action is not None:
            out.append(Compensation(step, output, memo, actions.get(step.rollback_action), None, extra))
            continue
        handler = rollback_for(step.action)
        if handler is not None:
            out.append(Compensation(step, output, memo, None, handler, extra))
    return out


def _call_with_timeout(func: Callable[[StepContext], Any], context: StepContext, timeout: float) -> Any:
    """Run ``func(context)`` on a daemon thread; give up (and set the cancel flag) at ``timeout``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func(context)
        except BaseException as exc:  # carried back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"wfe-rollback-{context.step.id}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        context.cancel_event.set()
        raise TimeoutError(f"compensation timed out after {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def compensate_one(
    comp: Compensation, *, scope: Mapping[str, Any], context: StepContext, actions: Mapping[str, Action]
) -> CompensationResult:
    """Undo one step; never raises."""
    step = comp.step
    started = time.monotonic()
    if comp.scope:  # a fan-out instance: its {item}…, and its own output as its step's
        own = {"output": comp.output, "status": StepStatus.SUCCEEDED.value, "error": None}
        scope = {**scope, **comp.scope, "steps": ChainMap({base_id(step.id): own}, scope.get("steps", {}))}
    try:
        if comp.handler is None:
            action = comp.action
            if action is None:
                raise ActionError(f"rollback action '{step.rollback_action}' is not available")
            params: Any = render(step.rollback_parameters, scope, action.quote)
            if action.parameters is not None:
                params = structure(params, action.parameters, path="rollback_parameters")
            func = action.func
            value = _call_with_timeout(lambda ctx: func(params, ctx), context, step.timeout)
            if isinstance(value, StepResult) and not value.success:
                raise ActionError(value.error or "the rollback action reported failure")
        else:
            action = actions.get(step.action)
            params = render(step.parameters, scope, action.quote if action else None)
            if action is not None and action.parameters is not None:
                params = structure(params, action.parameters, path="parameters")
            handler = comp.handler
            _call_with_timeout(
                lambda ctx: handler.compensate(params, ctx, comp.memo, comp.output), context, step.timeout
            )
    except (ActionError, TemplateError, InvalidWorkflowError, TimeoutError) as exc:
        return CompensationResult(step.id, StepStatus.ROLLBACK_FAILED, str(exc), time.monotonic() - started)
    except Exception as exc:
        return CompensationResult(
            step.id, StepStatus.ROLLBACK_FAILED, f"{type(exc).__name__}: {exc}", time.monotonic() - started
        )
    return CompensationResult(step.id, StepStatus.ROLLED_BACK, None, time.monotonic() - started)


def compensate_all(
    comps: list[Compensation],
    *,
    scope: Mapping[str, Any],
    make_context: Callable[[WorkflowStep], StepContext],
    actions: Mapping[str, Action],
    on_result: Callable[[CompensationResult], None],
) -> list[CompensationResult]:
    """Undo each step in order; report every result through ``on_result`` as it happens."""
    results = []
    for comp in comps:
        result = compensate_one(comp, scope=scope, context=make_context(comp.step), actions=actions)
        on_result(result)
        results.append(result)
    return results


def compensate_run(
    state: RunState,
    preparer: AttemptPreparer,
    *,
    actions: Mapping[str, Action],
    rollback_for: Callable[[str], RollbackHandler | None],
    on_result: Callable[[CompensationResult], None],
) -> str:
    """Undo the succeeded steps of the run ``state`` describes, on the run's thread.

    Templates see the run's variables and results; contexts share the run's resources.
    Returns ``nothing`` (no step needs it), ``complete`` or ``partial`` (some failed).
    """
    comps = plan_compensations(state.steps, state.completed, actions, rollback_for, state.scopes)
    if not comps:
        return "nothing"

    def context_for(step: WorkflowStep) -> StepContext:
        return StepContext(
            run_id=preparer.run_id,
            workflow_id=preparer.workflow_id,
            step=step,
            variables=preparer.variables_view(),
            outputs=MappingProxyType(state.results),
            workdir=preparer.workdir,
            resources=preparer.resources,
            resources_lock=preparer.resources_lock,
        )

    results = compensate_all(
        comps, scope=preparer.scope(), make_context=context_for, actions=actions, on_result=on_result
    )
    return "complete" if all(r.error is None for r in results) else "partial"
