"""Runs recorded in the store: resume, rollback, history. Mixed into ``WorkflowEngine``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wfe_core.model.errors import WfeError
from wfe_core.store.journal import Journal, fingerprint
from wfe_core.model.workflow import RunStats, StepStatus, Workflow
from wfe_core.plugin.capabilities import Event
from wfe_core.model.secrets import Redactor, read_secrets, unseal
from wfe_core.store.runstore import RunStore, StoreError, is_cut

__all__ = ["DurableRuns", "ResumeError"]


class ResumeError(WfeError):
    """A run cannot be resumed (or rolled back) as asked."""


class DurableRuns:
    """What an engine with a run store can do with recorded runs.

    Expects ``store_path``, ``workdir``, ``actions``, ``plugins`` and ``_execute`` from
    :class:`~wfe_core.engine.WorkflowEngine`.
    """

    store_path: Path | None

    def _store(self) -> RunStore:
        if self.store_path is None:
            raise StoreError("this engine keeps no run store (store=None)")
        return RunStore(self.store_path)

    def _stored_run(self, run_id: str, workflow: Workflow | None) -> tuple[dict[str, Any], Workflow]:
        store = self._store()
        try:
            run = store.run(run_id)
        finally:
            store.close()
        if workflow is None:
            if not run["definition"]:
                raise ResumeError(f"run {run['run_id']} has no stored definition; give the workflow file")
            from wfe_core.load.loader import WorkflowLoader

            workflow = WorkflowLoader().load_from_string(run["definition"], "json", source=f"run {run['run_id']}")
        return run, workflow

    def resume(self, run_id: str, workflow: Workflow | None = None, *, strategy: str | None = None,
               variables: Mapping[str, Any] | None = None, max_workers: int | None = None,
               listeners: tuple[Callable[[Event], None], ...] = (), source: str | None = None) -> RunStats:
        """Continue a failed, cancelled or interrupted run under the same run id.

        Steps that succeeded keep their recorded outputs and variables and are not run
        again; every other step runs. ``workflow`` defaults to the definition stored with
        the run; a given one must not have changed any step that succeeded.
        """
        run, workflow = self._stored_run(run_id, workflow)
        if run["status"] == "running":
            raise ResumeError(f"run {run['run_id']} is still running (process {run['pid']} on {run['host']})")
        if run["status"] == "succeeded":
            raise ResumeError(f"run {run['run_id']} succeeded: there is nothing to resume")
        done = [row for row in run["steps"] if row["status"] == StepStatus.SUCCEEDED.value]
        problems = []
        by_id = {s.id: s for s in workflow.steps}
        for row in done:
            sid = row["step_id"]
            step = by_id.get(sid)
            if step is None:
                problems.append(f"step '{sid}' succeeded in run {run['run_id']} but is no longer in the workflow")
                continue
            if fingerprint(step) != row["fingerprint"]:
                problems.append(f"step '{sid}' succeeded in run {run['run_id']} but its definition changed "
                                "(action, parameters, dependencies, conditions or rollback)")
        if problems:
            raise ResumeError("cannot resume: " + "; ".join(problems) + "; start a new run instead")
        _refuse_cut_values(run, workflow, done, variables or {})
        # Secrets were sealed in the store; the environment gives their values back.
        secrets = read_secrets(workflow.secrets)
        done = [{**row, "output": unseal(row["output"], secrets), "variables": unseal(row["variables"], secrets),
                 "memo": unseal(row["memo"], secrets)} for row in done]
        stored_vars = unseal(dict(run["variables"] or {}), secrets)
        return self._execute(workflow, False, strategy or run["strategy"], {**stored_vars, **(variables or {})},
                             None, run_id=run["run_id"], max_workers=max_workers, listeners=listeners,
                             source=source or run["source"], restored=done,
                             prior_attempts={row["step_id"]: row["attempts"] for row in run["steps"]
                                             if row["status"] != StepStatus.SUCCEEDED.value and row["attempts"]})

    def rollback(self, run_id: str, workflow: Workflow | None = None,
                 listeners: tuple[Callable[[Event], None], ...] = ()) -> dict[str, str]:
        """Compensate the succeeded steps of a finished run, last completed first.

        Returns step id -> ``rolled_back`` or ``rollback_failed: <error>``.
        """
        from wfe_core.model.context import StepContext
        from wfe_core.run.rollback import compensate_all, plan_compensations

        run, workflow = self._stored_run(run_id, workflow)
        if run["status"] == "running":
            raise ResumeError(f"run {run['run_id']} is still running (process {run['pid']} on {run['host']})")
        done = [row for row in run["steps"] if row["status"] == StepStatus.SUCCEEDED.value]
        steps = {s.id: s for s in workflow.steps}
        missing = [row["step_id"] for row in done if row["step_id"] not in steps]
        if missing:
            raise ResumeError(f"cannot roll back run {run['run_id']}: steps {', '.join(missing)} are not in the workflow")
        secrets = read_secrets(workflow.secrets)
        # 'error' as the scheduler gives it: {steps.<id>.error} is a valid template.
        results = {row["step_id"]: {"output": unseal(row["output"], secrets), "status": row["status"],
                                    "error": unseal(row["error"], secrets)}
                   for row in run["steps"]}
        scope: dict[str, Any] = {**unseal(run["variables"] or {}, secrets), "steps": results, "secrets": secrets}
        comps = plan_compensations(steps, [(r["step_id"], results[r["step_id"]]["output"], unseal(r["memo"], secrets))
                                           for r in done],
                                   self.actions,
                                   self.plugins.rollback_for)
        store = self._store()
        redact = Redactor(secrets)
        journal = Journal(store, run["run_id"], redact)
        outcome: dict[str, str] = {}

        def record(result: Any) -> None:
            error = f"rollback failed: {result.error}" if result.error else None
            journal.step_status(result.step_id, result.status.value, error)  # the journal seals
            journal.commit()
            # A compensation's error may quote rendered {secrets.*} parameters; the
            # outcome (printed by `wfe rollback`) and the events are masked, as in a run.
            error = redact(error)
            outcome[result.step_id] = result.status.value + (f": {redact(result.error)}" if result.error else "")
            for listener in listeners:
                listener(Event(f"step.{result.status.value}", run["run_id"], workflow.id, result.step_id,
                               {"error": error}))

        workdir = (self.workdir or Path.cwd()).resolve()
        try:
            compensate_all(comps, scope=scope, actions=self.actions, on_result=record,
                           make_context=lambda step: StepContext(run_id=run["run_id"], workflow_id=workflow.id,
                                                                 step=step, workdir=workdir))
            state = "complete" if all(v == "rolled_back" for v in outcome.values()) else "partial"
            store.db.execute("UPDATE runs SET rollback=? WHERE run_id=?", (state if comps else "nothing",
                                                                          run["run_id"]))
        finally:
            journal.close()
        return outcome

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Recent runs in the store, newest first."""
        store = self._store()
        try:
            return store.runs(limit)
        finally:
            store.close()

    def _stored_status(self, workflow_id: str) -> dict[str, Any] | None:
        if self.store_path is None or not self.store_path.exists():
            return None
        store = RunStore(self.store_path)
        try:
            latest = store.runs(1, workflow_id=workflow_id)
            run_id = latest[0]["run_id"] if latest else workflow_id
            try:
                run = store.run(run_id)
            except StoreError:
                return None
        finally:
            store.close()
        return {"run_id": run["run_id"], "workflow_id": run["workflow_id"], "status": run["status"],
                "steps": {s["step_id"]: s["status"] for s in run["steps"]}, "error": run["error"]}


def _refuse_cut_values(run: dict[str, Any], workflow: Workflow, done: list[dict[str, Any]],
                       given: Mapping[str, Any]) -> None:
    """Refuse to resume when a step still to run needs a value the store did not keep
    (over ``WFE_STORE_VALUE_LIMIT``): it would get the marker text instead, silently."""
    from wfe_core.load.templating import placeholders

    succeeded = {row["step_id"] for row in done}
    cut_outputs = {row["step_id"] for row in done if is_cut(row["output"])}
    cut_vars = {name for name, value in (run["variables"] or {}).items() if is_cut(value) and name not in given}
    for row in done:
        cut_vars |= {n for n, v in (row["variables"] or {}).items() if is_cut(v) and n not in given}
    if not (cut_outputs or cut_vars):
        return
    for step in workflow.steps:
        if step.id in succeeded:
            continue
        for ph in placeholders([step.parameters, step.rollback_parameters, step.conditions]):
            parts = ph.parts
            needed = (f"the output of step '{parts[1]}'" if parts[0] == "steps" and len(parts) > 1
                      and parts[1] in cut_outputs else f"variable '{parts[0]}'" if parts[0] in cut_vars else None)
            if needed:
                raise ResumeError(
                    f"cannot resume run {run['run_id']}: step '{step.id}' uses {needed}, which was too big "
                    "to keep in the run store (WFE_STORE_VALUE_LIMIT); give it again with --var, raise the "
                    "limit for the next run, or start a new run")
