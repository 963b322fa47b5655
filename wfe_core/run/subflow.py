"""Running a sub-workflow (``action: workflow.run``) as one step of a parent run.

Shape (why it is this one):

- A child is a **run of its own**, recorded in the parent's run store under the id
  ``<parent run id>/<step id>`` (a grandchild: ``<parent>/<step>/<inner step>``). That id is
  fixed by the parent run and the step, so a retry of the step or ``wfe resume`` of the
  parent finds the child's earlier run and *resumes* it: its finished steps are not run
  again. ``wfe rollback``, resume and the store need nothing new for children, and
  ``wfe runs show PARENT`` lists the child's steps nested as ``<step>/<child step>``.
- The child runs in a **nested engine with its own pool** of the parent's worker limit
  (same plugins, custom actions, store, executor, strategy, rollback settings). The
  ``workflow.run`` step holds one parent worker while it waits: sharing the parent's pool
  would deadlock once every parent worker waited on a child.
- A failed child rolls itself back (if rollback is on) before the step fails, as any
  failed run does. A child that *succeeded* is compensated by the parent's rollback
  through the action's rollback handler (:func:`compensate_child`): its succeeded steps,
  last completed first, from the store (a run without a store cannot do this; the
  compensation then fails, saying so).
- Cancellation and the step's timeout reach the child: the attempt's cancel flag cancels
  the child run, whose running steps are stopped as any cancelled run's are. The
  parent's cancel also raises the child's :class:`~wfe_core.run.attempt.Halt` before it
  returns, so no child step begins after it either. A cancel reaches neither a
  ``trigger: always`` / ``on_failure`` step's child: cleanup runs whole (its timeout
  still reaches it).

The parent's run loop hands this module a :class:`SubflowHost` in the run's shared
resources (key :data:`HOST_KEY`); the action finds it there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from wfe_core.model.errors import ActionError, InvalidWorkflowError, WfeError
from wfe_core.model.secrets import Redactor, read_secrets
from wfe_core.model.workflow import RunStatus, StepResult, StepStatus, Workflow

if TYPE_CHECKING:
    from wfe_core.engine import WorkflowEngine
    from wfe_core.run.attempt import Halt

__all__ = [
    "HOST_KEY",
    "MAX_DEPTH",
    "SubflowHost",
    "child_run_id",
    "compensate_child",
    "include_key",
    "run_child",
    "show_chain",
    "shown_path",
]

#: Where the parent run keeps its :class:`SubflowHost` among the run's shared resources.
HOST_KEY = "wfe.subflow"
#: Sub-workflows nested deeper than this fail: the backstop for a cycle that validation
#: could not see (a templated ``path``), and for runaway template recursion.
MAX_DEPTH = 16
#: How often the cancel watcher looks whether the child run has finished.
_WATCH = 0.1
#: The longest the parent waits, once its dispatch ended, for children still stopping
#: (their cancel grace is 5 s, plus their own compensation).
SETTLE_LIMIT = 60.0


@attrs.frozen
class SubflowHost:
    """What a ``workflow.run`` step needs from the run it is part of.

    Attributes:
        engine: the parent's engine (plugins, custom actions, store, settings).
        source: the file the parent workflow came from, if any (relative paths resolve
            against its directory).
        strategy / workers: the parent run's strategy and worker limit (the child's too).
        chain: the files (or ``template 'name'``) of this run and its parents, outermost
            first: a child already in it is an include cycle.
    """

    engine: WorkflowEngine
    source: str | None
    strategy: str
    workers: int
    chain: tuple[str, ...] = ()
    #: The parent loop's thread-safe inbox for its children's events (``RunLoop.forward``).
    forward: Callable[[str, Any], None] | None = attrs.field(default=None, eq=False)
    #: ``output(step_id, stream, line)`` of the parent run (``wfe run --output``), masked.
    output: Callable[[str, str, str], None] | None = attrs.field(default=None, eq=False)
    #: Child run id -> set once that child's run has ended (children still running).
    live: dict[str, threading.Event] = attrs.field(factory=dict, eq=False)
    #: The parent run's cancel as its pool threads see it: a child run's is adopted into it.
    halt: Halt | None = attrs.field(default=None, eq=False)
    lock: threading.Lock = attrs.field(factory=threading.Lock, eq=False)

    def settle(self, limit: float | None = None) -> None:
        """Wait (up to ``limit`` seconds in all) for children still stopping after the
        parent's run ended dispatch: a timed-out step's child cancels and compensates
        first, so its state is recorded and its undo precedes the parent's."""
        deadline = time.monotonic() + (SETTLE_LIMIT if limit is None else limit)
        with self.lock:
            waiting = list(self.live.values())
        for finished in waiting:
            finished.wait(max(0.0, deadline - time.monotonic()))

    @property
    def base(self) -> Path:
        """The directory a relative ``path`` is resolved against."""
        if self.source and Path(self.source).is_file():
            return Path(self.source).resolve().parent
        return (self.engine.workdir or Path.cwd()).resolve()


def include_key(source: str | None) -> str | None:
    """How ``source`` appears in an include chain: a resolved file path, or the label."""
    if source is None:
        return None
    path = Path(source)
    return str(path.resolve()) if path.is_file() else source


def child_run_id(parent_run_id: str, step_id: str) -> str:
    """The run id of the child of step ``step_id`` in run ``parent_run_id``."""
    return f"{parent_run_id}/{step_id}"


def show_chain(chain: tuple[str, ...]) -> str:
    """``a.yaml → b.yaml → a.yaml``: files relative to the working directory where they can be."""
    return " → ".join(shown_path(key) for key in chain)


def shown_path(key: str) -> str:
    try:
        rel = Path(key).relative_to(Path.cwd())
    except ValueError:
        return key
    return str(rel)


def load_child(host: SubflowHost, params: Any) -> tuple[Workflow, str, dict[str, Any]]:
    """The child workflow, its source label and the variables to run it with."""
    from wfe_core.load.catalog import TemplateCatalog
    from wfe_core.load.loader import WorkflowLoader

    variables = dict(params.variables)
    if params.path is not None:
        path = host.base / params.path
        try:
            found = path.is_file()
        except (OSError, ValueError):  # a name no file can have (a NUL byte, too long)
            found = False
        if not found:
            raise ActionError(f"sub-workflow file '{params.path}' not found (looked for {path})")
        source = shown_path(str(path.resolve()))
        return WorkflowLoader().load_from_file(path), source, variables
    # A template's parameters are its variables: they fill the template, not the run.
    workflow = TemplateCatalog(host.engine.plugins).load(params.template, variables)
    return workflow, f"template '{params.template}'", {}


def run_child(params: Any, context: Any) -> StepResult:
    """Run (or resume) the child workflow of this step; its outcome is the step's."""
    host = context.resources.get(HOST_KEY)
    if not isinstance(host, SubflowHost):
        raise ActionError("workflow.run needs a run started by a wfe engine")
    try:
        child, source, variables = load_child(host, params)
    except InvalidWorkflowError as exc:
        raise ActionError("sub-workflow is invalid: " + "; ".join(str(p) for p in exc.problems)) from None
    key = include_key(source if params.path is None else str((host.base / params.path).resolve()))
    assert key is not None
    if key in host.chain:
        raise ActionError(f"include cycle: {show_chain((*host.chain[host.chain.index(key) :], key))}")
    if len(host.chain) > MAX_DEPTH:
        raise ActionError(f"sub-workflows nested more than {MAX_DEPTH} deep: {show_chain((*host.chain, key))}")
    # The parent's secrets stay secrets in the child (masked in its events and store).
    names = list(dict.fromkeys([*child.secrets, *context.secret_names]))
    child = attrs.evolve(child, secrets=names)
    engine = _child_engine(host, key)
    if context.step.trigger == "on_success":
        # The parent's cancel halts the child's steps at once. Not a cleanup's child
        # (trigger always / on_failure): a cancel still runs it, whole.
        engine.parent_halt = host.halt
    if host.forward is not None:
        # The child's events reach hooks and reporters through the parent's scheduler
        # thread (never two threads at once), its step events as `<step>/<child step>`.
        step_id, forward = context.step.id, host.forward
        engine.event_relay = lambda item: forward(step_id, item)
    run_id = child_run_id(context.run_id, context.step.id)
    stored = None if context.dry_run else _stored_status(engine.store_path, run_id)
    if stored == RunStatus.SUCCEEDED.value:  # finished before the parent could record it
        return StepResult(success=True, output=_stored_output(engine.store_path, run_id))
    finished = threading.Event()
    with host.lock:
        host.live[run_id] = finished
    watcher = threading.Thread(
        target=_watch,
        args=(context, engine, run_id, finished, time.monotonic()),
        name=f"wfe-subflow-{run_id[-24:]}",
        daemon=True,
    )
    watcher.start()
    child_output = None
    if host.output is not None:  # the child's steps' live output, as `<step>/<child step>| line`
        parent_output, prefix = host.output, context.step.id + "/"
        child_output = lambda sid, stream, text: parent_output(prefix + sid, stream, text)  # noqa: E731
    try:
        if stored is not None:
            stats = engine.resume(
                run_id,
                child,
                strategy=host.strategy,
                variables=variables,
                max_workers=host.workers,
                source=source,
                output=child_output,
            )
        else:
            stats = engine.run(
                child,
                "dry_run" if context.dry_run else "normal",
                host.strategy,
                variables,
                run_id=run_id,
                max_workers=host.workers,
                source=source,
                output=child_output,
            )
    except InvalidWorkflowError as exc:
        raise ActionError(f"sub-workflow {source} is invalid: " + "; ".join(str(p) for p in exc.problems)) from None
    except WfeError as exc:  # a resume refused (the child file changed a finished step), a store error
        raise ActionError(f"sub-workflow {source}: {exc}") from None
    finally:
        # Not joined: the watcher notices within _WATCH and ends; a late cancel of an
        # ended run is a no-op.
        finished.set()
        with host.lock:
            host.live.pop(run_id, None)
    # Secrets only the child declared are not known to the parent's masking: mask them here.
    extra = {k: v for k, v in read_secrets(child.secrets, missing_ok=True).items() if k not in context.secret_names}
    redact = Redactor(extra)
    if stats.status is RunStatus.SUCCEEDED:
        output = _output(stats, run_id, context)
        return StepResult(success=True, output=redact(output) if redact else output)
    return StepResult(success=False, error=redact(_failure(source, stats)))


def _output(stats: Any, run_id: str, context: Any) -> dict[str, Any]:
    """The step's output: the child's run id, its steps' outputs and its final variables."""
    steps = {sid: rec.output for sid, rec in stats.steps.items() if rec.status is StepStatus.SUCCEEDED}
    output: dict[str, Any] = {"run_id": run_id, "steps": steps, "variables": stats.variables}
    if context.dry_run:
        # What the child's dry run did not run is unknown to later steps, as in any dry run.
        from wfe_core.load.templating import Unknown

        prefix = f"steps.{context.step.id}.output.steps"
        output["steps"] = {
            sid: rec.output if rec.status is StepStatus.SUCCEEDED else Unknown(f"{prefix}.{sid}")
            for sid, rec in stats.steps.items()
        }
        output["plan"] = stats.plan
        output["would_run"] = {sid: rec.reason for sid, rec in stats.steps.items() if rec.reason}
    return output


def _failure(source: str, stats: Any) -> str:
    """Why the child failed, naming its failing step."""
    if stats.status is RunStatus.CANCELLED:
        return f"sub-workflow {source} was cancelled"
    bad = [
        (sid, rec)
        for sid, rec in stats.steps.items()
        if rec.status in (StepStatus.FAILED, StepStatus.TIMED_OUT)
        or (rec.status in (StepStatus.ROLLED_BACK, StepStatus.ROLLBACK_FAILED) and rec.error)
    ]
    if bad:
        sid, rec = bad[0]
        error = (rec.error or rec.status.value).splitlines()[0] if rec.error else rec.status.value
        return f"sub-workflow {source} failed at step '{sid}': {error}"
    return f"sub-workflow {source} failed: {stats.error or stats.status.value}"


def _watch(context: Any, engine: WorkflowEngine, run_id: str, finished: threading.Event, started: float) -> None:
    """Cancel the child run once the step is cancelled or times out (until the child ends).

    A timeout fails the step, so the child compensates its finished steps as a failed run
    does (rollback on); a cancel (Ctrl-C) compensates only with ``rollback_on_cancel``.
    """
    while not finished.is_set():
        if context.cancel_event.wait(_WATCH):
            # The parent's deadline counts from when this action started (run_attempt).
            timed_out = time.monotonic() - started >= context.step.timeout - _WATCH
            rollback = timed_out and engine.enable_rollback
            # The child may not be registered yet: keep asking until it is, or it ended.
            while not finished.is_set() and not _cancel(engine, run_id, rollback):
                finished.wait(_WATCH / 2)
            return


def _cancel(engine: WorkflowEngine, run_id: str, rollback: bool) -> bool:
    """Cancel the child run ``run_id`` (compensating its steps if ``rollback``); false if
    it is not running (yet)."""
    with engine._lock:
        loop = engine._active.get(run_id)
    if loop is None:
        return False
    if rollback:
        loop.rollback_on_cancel = True
    loop.cancel()
    return True


def _child_engine(host: SubflowHost, key: str) -> WorkflowEngine:
    from wfe_core.engine import WorkflowEngine

    parent = host.engine
    engine = WorkflowEngine(
        max_concurrent_steps=host.workers,
        default_strategy=host.strategy,
        enable_rollback=parent.enable_rollback,
        plugins=parent.plugins,
        workdir=parent.workdir,
        strict=parent.strict,
        propagate_skips=parent.propagate_skips,
        store=parent.store_path,
        rollback_on_cancel=parent.rollback_on_cancel,
        executor=parent.executor,
        executor_options=parent.executor_options,
    )
    engine._custom = dict(parent._custom)
    engine.subflow_chain = (*host.chain, key)
    return engine


def _stored_status(store_path: Path | None, run_id: str) -> str | None:
    """The status of run ``run_id`` in the store (exact id), or None when there is none."""
    if store_path is None or not store_path.exists():
        return None
    from wfe_core.store.runstore import RunStore

    store = RunStore(store_path)
    try:
        row = store.db.execute("SELECT run_id FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else str(store.run(run_id, memos=False)["status"])
    finally:
        store.close()


def _stored_output(store_path: Path | None, run_id: str) -> dict[str, Any]:
    """A succeeded child's output rebuilt from the store (steps' outputs, final variables)."""
    from wfe_core.model.secrets import unseal
    from wfe_core.store.runstore import RunStore

    assert store_path is not None
    store = RunStore(store_path)
    try:
        run = store.run(run_id, memos=False)
    finally:
        store.close()
    secrets = read_secrets(_secret_names(run), missing_ok=True)
    steps = {r["step_id"]: r["output"] for r in run["steps"] if r["status"] == StepStatus.SUCCEEDED.value}
    return {"run_id": run_id, "steps": unseal(steps, secrets), "variables": unseal(run["variables"] or {}, secrets)}


def _secret_names(run: Mapping[str, Any]) -> list[str]:
    import json

    try:
        return list(json.loads(run.get("definition") or "{}").get("secrets") or [])
    except (ValueError, AttributeError):
        return []


def prepare_memo(params: Any, context: Any) -> dict[str, Any] | None:
    """What compensating the child later needs: its run id and the store it is in."""
    host = context.resources.get(HOST_KEY)
    store = host.engine.store_path if isinstance(host, SubflowHost) else None
    if store is None:
        return None
    return {"run_id": child_run_id(context.run_id, context.step.id), "store": str(store)}


def compensate_child(params: Any, context: Any, memo: Any, output: Any) -> None:
    """Undo a succeeded child: its succeeded steps, last completed first (from the store)."""
    from wfe_core.store.durable import StoredRuns

    if not memo or not memo.get("store"):
        raise ActionError("the sub-workflow's steps cannot be compensated: the run keeps no run store")
    host = context.resources.get(HOST_KEY)
    if isinstance(host, SubflowHost):
        actions, plugins, workdir = host.engine.actions, host.engine.plugins, host.engine.workdir
    else:  # `wfe rollback RUN_ID`: no run is live
        from wfe_core.plugin.registry import load_plugins

        plugins = load_plugins()
        actions, workdir = plugins.actions, None
    outcome = StoredRuns(Path(memo["store"]), actions=actions, plugins=plugins, workdir=workdir).rollback(
        memo["run_id"]
    )
    failed = [f"{sid}: {result}" for sid, result in outcome.items() if result != StepStatus.ROLLED_BACK.value]
    if failed:
        raise ActionError("sub-workflow steps not compensated: " + "; ".join(failed))
