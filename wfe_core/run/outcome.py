"""How a run ends: restoring a resumed run's finished steps, rollback, the final RunStats.

A mixin of :class:`~wfe_core.run.scheduler.Scheduler`, kept apart so each module reads in
one sitting; it uses the scheduler's state and runs on its thread.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from wfe_core.model.context import StepContext
from wfe_core.model.workflow import RunStats, RunStatus, StepStatus, WorkflowStep
from wfe_core.run.rollback import compensate_all, plan_compensations

__all__ = ["RunOutcome"]


class RunOutcome:
    """Restore, rollback and result of a run (see :class:`~wfe_core.run.scheduler.Scheduler`)."""

    def _restore(self) -> None:
        """A resumed run: steps that succeeded before keep their outputs and variables."""
        for row in self.restored:
            sid = row["step_id"]
            record = self.records[sid]
            record.status = StepStatus.SUCCEEDED
            record.output = row["output"]
            record.attempts = row["attempts"]
            record.duration = row["duration"]
            record.started_at, record.finished_at = row["started_at"], row["finished_at"]
            record.reason = "succeeded in an earlier attempt of this run"
            self.variables.update(row["variables"] or {})
            self.results[sid] = {"output": row["output"], "status": StepStatus.SUCCEEDED.value, "error": None}
            self.completed.append((sid, row["output"], row["memo"]))
            self.finished_count += 1
            for child in self.plan.graph.children[sid]:
                self.waiting[child] -= 1
        self._vars_dirty = True

    # -- result -------------------------------------------------------------------------------
    # -- rollback ------------------------------------------------------------------------------
    def _rollback(self) -> str | None:
        """Compensate completed steps after a critical failure (or a cancel, if configured)."""
        self._flush()
        self._commit()
        failed = self.critical_failure is not None  # even if a cancel came afterwards
        cancelled = self.cancelled.is_set()
        if self.dry_run or not self.enable_rollback or not (failed or (cancelled and self.rollback_on_cancel)):
            return None
        comps = plan_compensations(self.steps, self.completed, self.actions, self.plugins.rollback_for)
        if not comps:
            return "nothing"
        scope: dict[str, Any] = {**self.variables, "steps": self.results}
        if self.secrets:
            scope["secrets"] = self.secrets

        def context_for(step: WorkflowStep) -> StepContext:
            return StepContext(run_id=self.run_id, workflow_id=self.workflow.id, step=step,
                               variables=self._variables_view(), outputs=MappingProxyType(self.results),
                               workdir=self.workdir, resources=self.resources, resources_lock=self.resources_lock)

        def record(result: Any) -> None:
            rec = self.records[result.step_id]
            rec.status = result.status
            if result.error:
                rec.error = f"rollback failed: {result.error}"
            self.journal.step_status(result.step_id, result.status.value, rec.error if result.error else None)
            self.emit(f"step.{result.status.value}", result.step_id, error=rec.error if result.error else None,
                      duration=result.duration)
            self._commit()

        results = compensate_all(comps, scope=scope, make_context=context_for, actions=self.actions,
                                 on_result=record)
        return "complete" if all(r.error is None for r in results) else "partial"

    def _stats(self, started: float, elapsed: float, rollback: str | None = None) -> RunStats:
        why = self.critical_failure or self.stopping
        if why is None and not self.cancelled.is_set():
            stranded = [sid for sid, r in self.records.items() if not r.status.finished]
            if stranded:  # a scheduling bug must never read as success
                why = self.stopping = (f"internal error: the run ended with {len(stranded)} steps never started "
                                       f"({', '.join(stranded[:5])})")
        before = self.finished_count
        for sid, record in self.records.items():
            if not record.status.finished:
                record.status = StepStatus.CANCELLED
                record.reason = f"not started: {why or 'run ended'}"
                self.journal.step_finished(record, variables=None, memo=None, seq=None)
                self.finished_count += 1
                self.emit("step.cancelled", sid, reason=record.reason)
        if self.finished_count != before:
            self._progress()
        counts = {s: 0 for s in StepStatus}
        busy = 0.0
        for record in self.records.values():
            counts[record.status] += 1
            busy += record.duration
        if self.cancelled.is_set() and self.critical_failure is None:
            status = RunStatus.CANCELLED
        elif why is not None:
            status = RunStatus.FAILED
        else:
            status = RunStatus.SUCCEEDED
        workers = self.policy.workers
        stats = RunStats(
            run_id=self.run_id,
            workflow_id=self.workflow.id,
            status=status,
            total_steps=len(self.records),
            completed_steps=counts[StepStatus.SUCCEEDED],
            failed_steps=counts[StepStatus.FAILED] + counts[StepStatus.TIMED_OUT],
            skipped_steps=counts[StepStatus.SKIPPED],
            cancelled_steps=counts[StepStatus.CANCELLED],
            total_execution_time=elapsed,
            busy_time=busy,
            parallel_efficiency=min(1.0, busy / (elapsed * workers)) if elapsed > 0 and workers else 0.0,
            steps=self.records,
            variables=self.variables,
            error=None if status is RunStatus.SUCCEEDED else (why or "cancelled"),
            strategy=self.strategy,
            workers=workers,
            dry_run=self.dry_run,
            rollback=rollback,
            store=str(self.journal.path) if self.journal.path else None,
        )
        return stats
