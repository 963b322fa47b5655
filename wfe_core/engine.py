"""``WorkflowEngine``: the Python API of the original specification over plan, validation and the scheduler."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import uuid
from collections import ChainMap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfe_core.model.errors import InvalidWorkflowError, WfeError
from wfe_core.model.secrets import Redactor, read_secrets
from wfe_core.model.workflow import RunStats, Workflow
from wfe_core.monitoring import StatusReporter, log_event
from wfe_core.plan.plan import Plan
from wfe_core.plugin.capabilities import Action, Event
from wfe_core.plugin.registry import Plugins, load_plugins
from wfe_core.run.loop import RunLoop
from wfe_core.run.progress import ProgressTracker
from wfe_core.store.journal import Journal, LazyFingerprints, NullJournal, fingerprint
from wfe_core.store.learned import fill_unknown
from wfe_core.store.runstore import RunStore, default_store_path
from wfe_core.validate.validator import ValidationResult, WorkflowValidator

if TYPE_CHECKING:
    from wfe_core.run.attempt import Halt
    from wfe_core.store.durable import ResumeError, StoredRuns

__all__ = ["DEFAULT_STORE", "ResumeError", "WorkflowEngine"]

#: The action whose steps run a sub-workflow: a run with one gets a sub-workflow host.
_SUBFLOW_ACTION = "workflow.run"


def __getattr__(name: str) -> Any:
    # Resume and rollback of stored runs are imported when used: a plain run never needs them.
    if name == "ResumeError":
        from wfe_core.store.durable import ResumeError

        return ResumeError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EXECUTION_MODES = ("normal", "dry_run")
#: ``store=DEFAULT_STORE``: ``$WFE_STORE``, else ``~/.local/state/wfe/runs.sqlite``.
DEFAULT_STORE = "default"


class WorkflowEngine:
    """Runs workflows.

    Args:
        max_concurrent_steps: the most steps that run at once.
        default_strategy: strategy used when a run names none (``adaptive``).
        enable_rollback: compensate completed steps after a critical failure.
        enable_claude_flow: coordinate runs through Claude Flow (needs wfe-claude-flow).
        plugins: the plugin registry; built from installed plugins when omitted.
        workdir: where relative paths resolve (default: the current directory).
        strict: validate strictly before each run (warnings become errors).
        propagate_skips: a skipped step skips its dependents (default true).
        store: the run store file; ``DEFAULT_STORE`` (the default) is ``$WFE_STORE`` or
            ``~/.local/state/wfe/runs.sqlite``; ``None`` records nothing (no resume, no
            history). Dry runs are never recorded.
        rollback_on_cancel: compensate completed steps when a run is cancelled too.
        executor: where attempts run: ``threads`` (the default, this process) or an
            executor plugin's name (``dask`` from wfe-dask); see ``wfe plugins``.
        executor_options: passed to the executor's factory (``{"address": ...}`` …).
        status_reporter: a :class:`~wfe_core.monitoring.StatusReporter` that hears every
            run and step event of this engine's runs (``reporter.on_event``).
    """

    def __init__(
        self,
        max_concurrent_steps: int = 10,
        default_strategy: str = "adaptive",
        enable_rollback: bool = True,
        enable_claude_flow: bool = False,
        *,
        plugins: Plugins | None = None,
        workdir: str | Path | None = None,
        strict: bool = False,
        propagate_skips: bool = True,
        store: str | Path | None = DEFAULT_STORE,
        rollback_on_cancel: bool = False,
        executor: str = "threads",
        executor_options: Mapping[str, Any] | None = None,
        status_reporter: StatusReporter | None = None,
    ):
        if not isinstance(max_concurrent_steps, int) or max_concurrent_steps < 1:
            raise WfeError(f"max_concurrent_steps must be a whole number >= 1, got {max_concurrent_steps!r}")
        self.plugins = plugins if plugins is not None else load_plugins()
        self._check_strategy(default_strategy)
        self.plugins.executor(executor)  # a missing plugin is an error now, naming what to install
        self.executor = executor
        self.executor_options = dict(executor_options or {})
        if enable_claude_flow and not any(n.startswith("claude_flow.") for n in self.plugins.actions):
            raise WfeError(
                "enable_claude_flow=True needs the wfe-claude-flow distribution (pip install wfe-claude-flow)"
            )
        self.max_concurrent_steps = max_concurrent_steps
        self.default_strategy = default_strategy
        self.enable_rollback = enable_rollback
        self.enable_claude_flow = enable_claude_flow
        self.workdir = Path(workdir) if workdir is not None else None
        self.strict = strict
        self.propagate_skips = propagate_skips
        self.rollback_on_cancel = rollback_on_cancel
        self.store_path: Path | None = (
            None if store is None else default_store_path() if store == DEFAULT_STORE else Path(store)
        )
        self.progress_tracker = ProgressTracker()
        self.status_reporter = status_reporter
        self._custom: dict[str, Action] = {}
        self._active: dict[str, RunLoop] = {}
        self._history: dict[str, RunStats] = {}
        self._lock = threading.Lock()
        #: Set on the nested engine of a sub-workflow: the files of its parents and its own
        #: (see :mod:`wfe_core.run.subflow`); an include cycle is a file already in it.
        self.subflow_chain: tuple[str, ...] = ()
        #: Set on the nested engine of a sub-workflow: where its runs' events go (the
        #: parent loop's queue; see :mod:`wfe_core.run.events`), not to hooks directly.
        self.event_relay: Callable[[Any], None] | None = None
        #: Set on the nested engine of a sub-workflow: the parent run's cancel as its pool
        #: threads see it (:class:`~wfe_core.run.attempt.Halt`), which raises its runs' too.
        self.parent_halt: Halt | None = None

    # -- actions --------------------------------------------------------------------------
    @property
    def actions(self) -> Mapping[str, Action]:
        """Every action a workflow may use: plugins' plus custom ones (a view: reading
        the plugins' names imports no plugin; looking one up imports its provider)."""
        if not self._custom:  # a ChainMap's every lookup costs a generator: validators look up each step
            return self.plugins.actions
        return ChainMap(self._custom, self.plugins.actions)  # type: ignore[arg-type]

    def register_custom_action(
        self,
        name: str,
        function: Callable[[Any, Any], Any],
        *,
        side_effects: bool = True,
        parameters: type | None = None,
        sets_variables: bool = False,
        replace: bool = False,
        inline: bool = False,
    ) -> None:
        """Make ``function(parameters, context)`` available as action ``name``.

        It returns a :class:`StepResult` or a plain value (taken as the output). Custom
        actions are assumed to have side effects (dry-run does not call them) unless
        ``side_effects=False``. One that returns ``StepResult(variables=...)`` must say
        ``sets_variables=True`` (validation then leaves names it may define to run time).
        ``inline=True`` runs it on the scheduler thread, for functions that return in
        microseconds and never block (see :attr:`Action.inline`).
        Naming an action a plugin provides is an error unless
        ``replace=True``.
        """
        if not isinstance(name, str) or not name:
            raise WfeError("a custom action needs a non-empty name")
        if name in self.plugins.actions and not replace:
            owner = self.plugins.provided["actions"][name].plugin.label
            raise WfeError(f"action '{name}' is already provided by plugin {owner}; pass replace=True to override it")
        self._custom[name] = Action(
            name,
            function,
            parameters,
            side_effects=side_effects,
            sets_variables=sets_variables,
            inline=inline,
            runs_on_driver=inline,
            description="custom action",
        )

    # -- validation ------------------------------------------------------------------------
    def validate_workflow(
        self,
        workflow: Workflow,
        strict: bool | None = None,
        variables: Mapping[str, Any] | None = None,
        source: str | None = None,
    ) -> ValidationResult:
        """Run every validator; see :class:`~wfe_core.validate.validator.WorkflowValidator`.

        ``source`` is the file the workflow came from: sub-workflow paths are relative to it.
        """
        validator = WorkflowValidator(self.plugins, actions=self._custom)
        within: Any = contextlib.nullcontext()
        if self.subflow_chain:  # a sub-workflow's engine (the module is imported only then)
            from wfe_core.validate.includes import validating_within

            within = validating_within(self.subflow_chain)
        with within:
            return validator.validate(
                workflow,
                strict=self.strict if strict is None else strict,
                variables=variables,
                source=source,
                executor=self.executor,
            )

    def _check_strategy(self, name: str) -> None:
        if name not in self.plugins.strategies:
            from wfe_core.model.errors import did_you_mean

            known = ", ".join(sorted(self.plugins.strategies))
            raise WfeError(f"unknown strategy '{name}'{did_you_mean(name, self.plugins.strategies)}; known: {known}")

    # -- running ---------------------------------------------------------------------------
    def run(
        self,
        workflow: Workflow,
        execution_mode: str = "normal",
        strategy: str | None = None,
        variables: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        max_workers: int | None = None,
        listeners: tuple[Callable[[Event], None], ...] = (),
        source: str | None = None,
        validation: ValidationResult | None = None,
        output: Callable[[str, str, str], None] | None = None,
    ) -> RunStats:
        """Run ``workflow`` to the end and return its :class:`RunStats` (synchronous).

        Raises :class:`InvalidWorkflowError` (nothing runs) when validation fails. A run
        that fails or is cancelled returns normally; look at ``stats.status``. Pass the
        result of :meth:`validate_workflow` (same workflow and variables) as ``validation``
        to skip validating again. ``output(step_id, stream, line)`` hears each line a step
        prints while it runs (actions that support it: the shell's), secrets masked.
        """
        if execution_mode not in EXECUTION_MODES:
            raise WfeError(f"unknown execution_mode '{execution_mode}'; use one of: {', '.join(EXECUTION_MODES)}")
        return self._execute(
            workflow,
            execution_mode == "dry_run",
            strategy,
            variables,
            metadata,
            run_id=run_id,
            max_workers=max_workers,
            listeners=listeners,
            source=source,
            validation=validation,
            output=output,
        )

    def _execute(
        self,
        workflow: Workflow,
        dry_run: bool,
        strategy: str | None,
        variables: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        *,
        run_id: str | None = None,
        max_workers: int | None = None,
        listeners: tuple[Callable[[Event], None], ...] = (),
        source: str | None = None,
        restored: list[dict[str, Any]] | None = None,
        prior_attempts: dict[str, int] | None = None,
        validation: ValidationResult | None = None,
        output: Callable[[str, str, str], None] | None = None,
    ) -> RunStats:
        strategy = strategy or self.default_strategy
        self._check_strategy(strategy)
        run_vars = {**workflow.variables, **(variables or {})}
        # A dry run needs no secret: one not set renders as <secrets.NAME>.
        secrets = read_secrets(workflow.secrets, missing_ok=dry_run)
        result = validation or self.validate_workflow(workflow, variables=variables, source=source)
        if not result.is_valid:
            problems = result.failures()
            if source:
                import attrs

                problems = [p if p.source else attrs.evolve(p, source=source) for p in problems]
            raise InvalidWorkflowError(problems)
        run_id = run_id or uuid.uuid4().hex
        fingerprints: Mapping[str, str] | None = None
        stored: dict[str, str] | None = None
        known: dict[str, float] = {}  # learned from earlier runs: for the plan's paths and the ETA
        if self.store_path is not None and not dry_run:
            fingerprints = stored = {step.id: fingerprint(step) for step in workflow.steps}
        elif self.plugins.learns_durations and not dry_run:
            fingerprints = LazyFingerprints(workflow.steps)  # a plugin may not look at them
        if self.plugins.learns_durations and fingerprints is not None:
            # Plugins' knowledge fills the steps the store has never seen; the store wins.
            info = {"claude_flow": self.enable_claude_flow, "resumed": restored is not None}
            known = dict(self.plugins.step_durations(workflow, run_id, info, fingerprints))
        workers = max_workers or self.max_concurrent_steps

        def learned(at_once: int | None = None) -> dict[str, float]:
            if stored is not None and self.store_path is not None:
                known.update(_known(self.store_path, workflow.id, stored, at_once))
            return fill_unknown(known, fingerprints or {})

        if self.progress_tracker.active or self.executor != "threads":
            # The ETA weighs the steps left by them; an executor plugin's cluster may run
            # fewer attempts at once than `workers`, and queues the rest in their order.
            plan = Plan.build(workflow, source=source, durations=learned())
        else:  # the store is read only if the order steps start in can depend on it
            # Read only if it can pay: the durations then only order the ready steps.
            at_once = 1 if workflow.resources else workers
            plan = Plan.build(workflow, source=source, learn=lambda: learned(at_once), workers=workers)
        policy = self.plugins.strategies[strategy].factory(plan, workers)
        # Every run tells the `logging` module its story (silent unless logging is configured).
        observers = (log_event, *listeners)
        if self.status_reporter is not None:
            observers += (self.status_reporter.on_event,)
            self.status_reporter.heard_run(run_id, None if dry_run else self.store_path)
        if self.progress_tracker.active:
            self.progress_tracker.begin(
                run_id,
                workflow.id,
                deps={s.id: s.dependencies for s in workflow.steps},
                actions={s.id: s.action for s in workflow.steps},
                learned=known,
                workers=workers,
            )
            observers += (self.progress_tracker.handle,)
        redact = Redactor(secrets)
        journal: Callable[[], Any] = NullJournal
        if self.store_path is not None and not dry_run:
            path = self.store_path
            journal = lambda: Journal(RunStore(path), run_id, redact, stored)  # noqa: E731 (opened on the run's thread)
        # Built per run, before the loop starts: an unreachable cluster is an error up front.
        pool = None if dry_run else self.plugins.executor(self.executor).factory(workers, self.executor_options)
        scheduler = RunLoop(
            plan=plan,
            executor=pool,
            policy=policy,
            strategy=strategy,
            actions=self.actions,  # type: ignore[arg-type]  # a mapping view: RunLoop only looks names up
            plugins=self.plugins,
            variables=run_vars,
            run_id=run_id,
            workdir=(self.workdir or Path.cwd()).resolve(),
            dry_run=dry_run,
            propagate_skips=self.propagate_skips,
            listeners=observers,
            journal=journal,
            enable_rollback=self.enable_rollback,
            rollback_on_cancel=self.rollback_on_cancel,
            secrets=secrets,
            restored=restored,
            prior_attempts=prior_attempts,
            run_info={
                "source": source,
                "resumed": restored is not None,
                "definition": _definition(workflow) if journal is not NullJournal else None,
                "claude_flow": self.enable_claude_flow,
            },
        )
        # What a workflow.run step of this run needs (see wfe_core.run.subflow).
        if output is not None:
            scheduler.preparer.output_line = _masked_output(output, redact)
        scheduler.events.relay = self.event_relay
        if any(_SUBFLOW_ACTION in (s.action, s.rollback_action) for s in workflow.steps):
            from wfe_core.run.subflow import HOST_KEY, SubflowHost, include_key

            scheduler.preparer.resources[HOST_KEY] = SubflowHost(
                self,
                source,
                strategy,
                workers,
                self.subflow_chain or tuple(filter(None, [include_key(source)])),
                forward=scheduler.forward,
                output=scheduler.preparer.output_line,
                halt=scheduler.halt,
            )
        parent_halt = self.parent_halt
        if parent_halt is not None:
            parent_halt.adopt(scheduler.halt)
        with self._lock:
            self._active[run_id] = scheduler
        try:
            stats = scheduler.run()
        finally:
            with self._lock:
                self._active.pop(run_id, None)
            if parent_halt is not None:
                parent_halt.disown(scheduler.halt)
        stats.metadata = dict(metadata or {})
        if dry_run:
            stats.plan = plan.describe()
        with self._lock:
            self._history[run_id] = stats
        return stats

    async def execute_workflow(
        self,
        workflow: Workflow,
        execution_mode: str = "normal",
        strategy: str | None = None,
        variables: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> RunStats:
        """The original specification's async API: ``stats = await engine.execute_workflow(workflow)``.

        The run happens on a worker thread, so the event loop stays free.
        """
        import asyncio  # here: importing it costs every `wfe` start ~10 ms

        return await asyncio.to_thread(self.run, workflow, execution_mode, strategy, variables, metadata, **options)

    def cancel_workflow(self, workflow_id: str) -> bool:
        """Cancel the active run with this run id, or every active run of this workflow id.

        Returns whether anything was cancelled.
        """
        with self._lock:
            targets = [s for rid, s in self._active.items() if workflow_id in (rid, s.workflow.id)]
        for scheduler in targets:
            scheduler.cancel()
        return bool(targets)

    def get_workflow_status(self, workflow_id: str) -> dict[str, Any] | None:
        """Status of a run (by run id) or of the latest run of a workflow (by workflow id)."""
        with self._lock:
            active = [s for rid, s in self._active.items() if workflow_id in (rid, s.workflow.id)]
            if active:
                s = active[-1]
                return {
                    "run_id": s.run_id,
                    "workflow_id": s.workflow.id,
                    "status": "running",
                    "steps": {sid: r.status.value for sid, r in s.records.items()},
                }
            done = [st for rid, st in self._history.items() if workflow_id in (rid, st.workflow_id)]
        if not done:
            return self._stored().status(workflow_id)
        st = done[-1]
        return {
            "run_id": st.run_id,
            "workflow_id": st.workflow_id,
            "status": st.status.value,
            "steps": {sid: r.status.value for sid, r in st.steps.items()},
            "error": st.error,
        }

    def cleanup(self) -> None:
        """Cancel what still runs and forget finished runs."""
        with self._lock:
            active = list(self._active.values())
            self._history.clear()
        for scheduler in active:
            scheduler.cancel()

    # -- recorded runs -----------------------------------------------------------------------
    def _stored(self) -> StoredRuns:
        from wfe_core.store.durable import StoredRuns

        return StoredRuns(self.store_path, actions=self.actions, plugins=self.plugins, workdir=self.workdir)

    def resume(
        self,
        run_id: str,
        workflow: Workflow | None = None,
        *,
        strategy: str | None = None,
        variables: Mapping[str, Any] | None = None,
        max_workers: int | None = None,
        listeners: tuple[Callable[[Event], None], ...] = (),
        source: str | None = None,
        output: Callable[[str, str, str], None] | None = None,
    ) -> RunStats:
        """Continue a failed, cancelled or interrupted run under the same run id.

        Steps that succeeded keep their recorded outputs and variables and are not run
        again; every other step runs. ``workflow`` defaults to the definition stored with
        the run; a given one must not have changed any step that succeeded.
        """
        point = self._stored().resume_point(run_id, workflow, variables)
        run_vars = {**point.variables, **(variables or {})}
        return self._execute(
            point.workflow,
            False,
            strategy or point.strategy,
            run_vars,
            None,
            run_id=point.run_id,
            max_workers=max_workers,
            listeners=listeners,
            source=source or point.source,
            restored=point.restored,
            prior_attempts=point.prior_attempts,
            output=output,
        )

    def rollback(
        self, run_id: str, workflow: Workflow | None = None, listeners: tuple[Callable[[Event], None], ...] = ()
    ) -> dict[str, str]:
        """Compensate the succeeded steps of a finished run, last completed first.

        Returns step id -> ``rolled_back`` or ``rollback_failed: <error>``. Events go to
        ``listeners`` and the ``wfe_event`` hooks, as a run's do.
        """
        return self._stored().rollback(run_id, workflow, listeners)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Recent runs in the store, newest first."""
        return self._stored().runs(limit)


def _known(path: str | Path, workflow_id: str, fingerprints: dict[str, str], at_once: int | None) -> dict[str, float]:
    """Durations of steps seen in earlier runs in the store (see :mod:`wfe_core.store.learned`,
    and its ``at_once``); none when the store cannot be read (the run itself then reports why)."""
    from wfe_core.store.learned import known_durations

    try:
        store = RunStore(path)
    except (WfeError, sqlite3.Error, OSError):
        return {}
    try:
        return known_durations(store, workflow_id, fingerprints, at_once)
    except (WfeError, sqlite3.Error):
        return {}
    finally:
        store.close()


def _masked_output(output: Callable[[str, str, str], None], redact: Redactor) -> Callable[[str, str, str], None]:
    """``output`` with secrets masked; a failing one is logged, never fails the step."""
    import logging

    def line(step_id: str, stream: str, text: str) -> None:
        try:
            output(step_id, stream, redact(text) if redact else text)
        except Exception:
            logging.getLogger("wfe.events").exception("an output listener failed")

    return line


def _definition(workflow: Workflow) -> str | None:
    """The workflow as JSON for the run store, or None when it cannot be written out."""
    from wfe_core.load.loader import definition_json

    try:
        return definition_json(workflow)
    except (TypeError, ValueError, RecursionError):
        return None
