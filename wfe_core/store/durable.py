"""Runs recorded in the store: resume, rollback, history (``WorkflowEngine`` delegates here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from wfe_core.model.errors import WfeError
from wfe_core.model.secrets import Redactor, read_secrets, unseal
from wfe_core.model.workflow import StepStatus, Workflow
from wfe_core.plan.fanout import FanOutError, Undecided, base_id, instance_step, is_fanout
from wfe_core.plan.fanout import expand as expand_items
from wfe_core.plugin.capabilities import Event
from wfe_core.run.events import EventDelivery
from wfe_core.store.journal import Journal, fingerprint, fingerprinted
from wfe_core.store.runstore import RunStore, StoreError, is_cut

__all__ = ["ResumeError", "ResumePoint", "StoredRuns"]


class ResumeError(WfeError):
    """A run cannot be resumed (or rolled back) as asked."""


@attrs.frozen
class ResumePoint:
    """What resuming a stored run starts from (see :meth:`StoredRuns.resume_point`).

    Attributes:
        run_id: the run's full id (resume continues under it).
        workflow: the workflow to run (the stored definition, or the one given).
        strategy / source: what the run was started with.
        variables: its stored variables (secrets unsealed from the environment).
        restored: rows of the steps that succeeded: they keep outputs and variables.
        prior_attempts: step id -> attempts already made, for steps that did not succeed.
    """

    run_id: str
    workflow: Workflow
    strategy: str
    source: str | None
    variables: dict[str, Any]
    restored: list[dict[str, Any]]
    prior_attempts: dict[str, int]


class StoredRuns:
    """What can be done with the runs recorded in a store: resume, rollback, history.

    :class:`~wfe_core.engine.WorkflowEngine` builds one per call with its own store
    path, actions, plugins and workdir, and delegates to it.
    """

    def __init__(
        self, store_path: Path | None, *, actions: Mapping[str, Any], plugins: Any, workdir: Path | None = None
    ):
        self.store_path = store_path
        self.actions = actions
        self.plugins = plugins
        self.workdir = workdir

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

    def resume_point(
        self, run_id: str, workflow: Workflow | None = None, variables: Mapping[str, Any] | None = None
    ) -> ResumePoint:
        """Where a failed, cancelled or interrupted run continues from.

        Refused (:class:`ResumeError`) for a running or succeeded run, when ``workflow``
        changed or dropped a step that succeeded, and when a step still to run needs a
        value the store did not keep whole and ``variables`` (given again) do not supply.
        """
        run, workflow = self._stored_run(run_id, workflow)
        if run["status"] == "running":
            raise ResumeError(f"run {run['run_id']} is still running (process {run['pid']} on {run['host']})")
        if run["status"] == "succeeded":
            raise ResumeError(f"run {run['run_id']} succeeded: there is nothing to resume")
        by_id = {s.id: s for s in workflow.steps}
        succeeded = {row["step_id"] for row in run["steps"] if row["status"] == StepStatus.SUCCEEDED.value}
        rerun = _cleanups_to_rerun(workflow, succeeded)
        done = [row for row in run["steps"] if row["step_id"] in succeeded - rerun]
        problems = []
        old_steps: dict[str, Any] | None = None
        for row in done:
            sid = row["step_id"]
            step = by_id.get(sid)
            fanned = by_id.get(base_id(sid)) if step is None else None
            if fanned is not None and is_fanout(fanned):  # an instance: <step fingerprint>:<item digest>
                if fingerprint(fanned) != str(row["fingerprint"]).rpartition(":")[0]:
                    if old_steps is None:
                        old_steps = _recorded_steps(run)
                    problems.append(
                        f"step '{fanned.id}' (instance {sid}) succeeded in run {run['run_id']} but its "
                        f"definition changed ({_changed_keys(old_steps.get(fanned.id), fanned)})"
                    )
                continue
            if step is None:
                problems.append(f"step '{sid}' succeeded in run {run['run_id']} but is no longer in the workflow")
                continue
            if fingerprint(step) != row["fingerprint"]:
                if old_steps is None:
                    old_steps = _recorded_steps(run)
                problems.append(
                    f"step '{sid}' succeeded in run {run['run_id']} but its definition changed "
                    f"({_changed_keys(old_steps.get(sid), step)})"
                )
        if problems:
            raise ResumeError("cannot resume: " + "; ".join(problems) + "; start a new run instead")
        _refuse_cut_values(run, workflow, done, variables or {})
        # Secrets were sealed in the store; the environment gives their values back.
        secrets = read_secrets(workflow.secrets)
        done = [
            {
                **row,
                "output": unseal(row["output"], secrets),
                "variables": unseal(row["variables"], secrets),
                "memo": unseal(row["memo"], secrets),
                "scope": unseal(row.get("scope"), secrets),
            }
            for row in done
        ]
        return ResumePoint(
            run_id=run["run_id"],
            workflow=workflow,
            strategy=run["strategy"],
            source=run["source"],
            variables=unseal(dict(run["variables"] or {}), secrets),
            restored=done,
            prior_attempts={
                row["step_id"]: row["attempts"]
                for row in run["steps"]
                if (row["status"] != StepStatus.SUCCEEDED.value or row["step_id"] in rerun) and row["attempts"]
            },
        )

    def rollback(
        self, run_id: str, workflow: Workflow | None = None, listeners: tuple[Callable[[Event], None], ...] = ()
    ) -> dict[str, str]:
        """Compensate the succeeded steps of a finished run, last completed first.

        Returns step id -> ``rolled_back`` or ``rollback_failed: <error>``.
        """
        from wfe_core.model.context import StepContext
        from wfe_core.run.rollback import compensate_all, plan_compensations

        run, workflow = self._stored_run(run_id, workflow)
        if run["status"] == "running":
            raise ResumeError(f"run {run['run_id']} is still running (process {run['pid']} on {run['host']})")
        steps = {s.id: s for s in workflow.steps}
        # A fan-out step is undone through its instances (its output is only their list).
        done = [
            row
            for row in run["steps"]
            if row["status"] == StepStatus.SUCCEEDED.value and not is_fanout(steps.get(row["step_id"]))
        ]
        for row in done:
            group = steps.get(base_id(row["step_id"]))
            if row["step_id"] not in steps and group is not None and is_fanout(group):
                steps[row["step_id"]] = instance_step(group, row["step_id"])
        missing = [row["step_id"] for row in done if row["step_id"] not in steps]
        if missing:
            raise ResumeError(
                f"cannot roll back run {run['run_id']}: steps {', '.join(missing)} are not in the workflow"
            )
        secrets = read_secrets(workflow.secrets)
        # 'error' as the scheduler gives it: {steps.<id>.error} is a valid template.
        results = {
            row["step_id"]: {
                "output": unseal(row["output"], secrets),
                "status": row["status"],
                "error": unseal(row["error"], secrets),
            }
            for row in run["steps"]
        }
        scope: dict[str, Any] = {**unseal(run["variables"] or {}, secrets), "steps": results, "secrets": secrets}
        comps = plan_compensations(
            steps,
            [(r["step_id"], results[r["step_id"]]["output"], unseal(r["memo"], secrets)) for r in done],
            self.actions,
            self.plugins.rollback_for,
            {**_instance_scopes(workflow, scope), **_stored_scopes(done, secrets)},
        )
        store = self._store()
        redact = Redactor(secrets)
        journal = Journal(store, run["run_id"], redact)
        outcome: dict[str, str] = {}
        # Events go where a run's go (wfe_event hooks and listeners), masked, each
        # delivered once the commit that records it is done.
        events = EventDelivery(self.plugins, listeners, run_id=run["run_id"], workflow_id=workflow.id, redact=redact)
        events.hold = True

        def record(result: Any) -> None:
            error = f"rollback failed: {result.error}" if result.error else None
            journal.step_status(result.step_id, result.status.value, error)  # the journal seals
            events.emit(f"step.{result.status.value}", result.step_id, {"error": error})
            journal.commit()
            events.committed()
            # A compensation's error may quote rendered {secrets.*} parameters; the
            # outcome (printed by `wfe rollback`) is masked, as events are.
            outcome[result.step_id] = result.status.value + (f": {redact(result.error)}" if result.error else "")

        workdir = (self.workdir or Path.cwd()).resolve()
        try:
            compensate_all(
                comps,
                scope=scope,
                actions=self.actions,
                on_result=record,
                make_context=lambda step: StepContext(
                    run_id=run["run_id"], workflow_id=workflow.id, step=step, workdir=workdir
                ),
            )
            state = "complete" if all(v == "rolled_back" for v in outcome.values()) else "partial"
            store.db.execute(
                "UPDATE runs SET rollback=? WHERE run_id=?", (state if comps else "nothing", run["run_id"])
            )
        finally:
            journal.close()
        return outcome

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Recent runs in the store, newest first."""
        store = self._store()
        try:
            runs: list[dict[str, Any]] = store.runs(limit)
            return runs
        finally:
            store.close()

    def status(self, workflow_id: str) -> dict[str, Any] | None:
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
        return {
            "run_id": run["run_id"],
            "workflow_id": run["workflow_id"],
            "status": run["status"],
            "steps": {s["step_id"]: s["status"] for s in run["steps"]},
            "error": run["error"],
        }


def _instance_scopes(workflow: Workflow, scope: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What each fan-out instance's templates added (``item``…), expanded again from the
    stored variables and outputs (a list that cannot be rebuilt gives none)."""
    out: dict[str, dict[str, Any]] = {}
    variables = {k: v for k, v in scope.items() if k not in ("steps", "secrets")}
    for step in workflow.steps:
        if is_fanout(step):
            try:
                out.update((i.id, i.scope) for i in expand_items(step, variables, scope["steps"]))
            except (FanOutError, Undecided):
                continue
    return out


def _stored_scopes(rows: list[dict[str, Any]], secrets: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The items recorded with fan-out instances (stores from before schema 4 have none)."""
    return {r["step_id"]: unseal(r["scope"], secrets) for r in rows if isinstance(r.get("scope"), dict)}


def _cleanups_to_rerun(workflow: Workflow, succeeded: set[str]) -> set[str]:
    """Succeeded steps with trigger ``always`` / ``on_failure`` that run again on resume:
    those with a dependency that runs again (it did not succeed, or is itself such a
    step). A cleanup or a failure notice follows the work it is about: after the re-run."""
    rerun: set[str] = set()
    changed = True
    while changed:  # a fixpoint: a cleanup of a cleanup runs again too
        changed = False
        for step in workflow.steps:
            candidate = step.id in succeeded and step.id not in rerun and step.trigger != "on_success"
            if candidate and any(dep not in succeeded or dep in rerun for dep in step.dependencies):
                rerun.add(step.id)
                changed = True
    return rerun


def _recorded_steps(run: dict[str, Any]) -> dict[str, Any]:
    """The steps of the definition recorded with ``run`` (empty if it has none or it no
    longer loads): what a changed step is compared with."""
    if not run["definition"]:
        return {}
    from wfe_core.load.loader import WorkflowLoader

    try:
        recorded = WorkflowLoader().load_from_string(run["definition"], "json", source=f"run {run['run_id']}")
    except WfeError:
        return {}
    return {s.id: s for s in recorded.steps}


def _changed_keys(old: Any, new: Any) -> str:
    """Which fingerprinted keys differ between the recorded step ``old`` and ``new``."""
    if old is not None:
        before, after = fingerprinted(old), fingerprinted(new)
        keys = [k for k in sorted(before.keys() | after.keys()) if before.get(k) != after.get(k)]
        if keys:
            return "changed: " + ", ".join(keys)
    return "action, parameters, dependencies, conditions, rollback, when, trigger, resources or fan-out"


def _refuse_cut_values(
    run: dict[str, Any], workflow: Workflow, done: list[dict[str, Any]], given: Mapping[str, Any]
) -> None:
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
            needed = (
                f"the output of step '{parts[1]}'"
                if parts[0] == "steps" and len(parts) > 1 and parts[1] in cut_outputs
                else f"variable '{parts[0]}'"
                if parts[0] in cut_vars
                else None
            )
            if needed:
                raise ResumeError(
                    f"cannot resume run {run['run_id']}: step '{step.id}' uses {needed}, which was too big "
                    "to keep in the run store (WFE_STORE_VALUE_LIMIT); give it again with --var, raise the "
                    "limit for the next run, or start a new run"
                )
