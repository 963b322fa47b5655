"""Building the :class:`RunStats` of a run that has ended, from its :class:`RunState`."""

from __future__ import annotations

from wfe_core.model.workflow import RunStats, RunStatus, StepStatus
from wfe_core.plan.fanout import counted_steps
from wfe_core.run.state import RunState

__all__ = ["build_stats", "run_status"]


def run_status(state: RunState, why: str | None) -> RunStatus:
    """How the run ended: a cancel that no critical failure preceded reads as cancelled,
    any other reason (``why``, from :meth:`RunState.end`) as failed."""
    if state.cancel_requested and state.critical_failure is None:
        return RunStatus.CANCELLED
    if why is not None:
        return RunStatus.FAILED
    return RunStatus.SUCCEEDED


def build_stats(
    state: RunState,
    why: str | None,
    *,
    run_id: str,
    workflow_id: str,
    strategy: str,
    workers: int,
    dry_run: bool,
    elapsed: float,
    rollback: str | None,
    store: str | None,
) -> RunStats:
    """The run's statistics; ``state`` must have ended (every step finished)."""
    counts = dict.fromkeys(StepStatus, 0)
    busy = 0.0
    counted, fanned_out = counted_steps(state.records, state.fanout)
    for sid in counted:
        counts[state.records[sid].status] += 1
    for record in state.records.values():
        busy += record.duration
    status = run_status(state, why)
    return RunStats(
        run_id=run_id,
        workflow_id=workflow_id,
        status=status,
        total_steps=len(counted),
        completed_steps=counts[StepStatus.SUCCEEDED],
        failed_steps=counts[StepStatus.FAILED] + counts[StepStatus.TIMED_OUT],
        skipped_steps=counts[StepStatus.SKIPPED],
        cancelled_steps=counts[StepStatus.CANCELLED],
        total_execution_time=elapsed,
        busy_time=busy,
        parallel_efficiency=min(1.0, busy / (elapsed * workers)) if elapsed > 0 and workers else 0.0,
        steps=state.records,
        variables=state.variables,
        error=None if status is RunStatus.SUCCEEDED else (why or "cancelled"),
        strategy=strategy,
        workers=workers,
        dry_run=dry_run,
        rollback=rollback,
        store=store,
        fanned_out=fanned_out,
    )
