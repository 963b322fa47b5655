"""The scheduler loop of one run. It owns all run state and is its only writer.

Pool threads only run :func:`~wfe_core.run.attempt.run_attempt`; each finished attempt comes
back through one queue, and timers (attempt deadlines, retry delays) live in one heap, so
the loop never scans the graph or polls: per step it does O(degree) work.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from concurrent.futures import Executor
from pathlib import Path
from types import MappingProxyType
from typing import Any

from wfe_core.plan.conditions import conditions_hold
from wfe_core.model.context import StepContext
from wfe_core.load.convert import structure
from wfe_core.model.errors import InvalidWorkflowError, TemplateError
from wfe_core.run.attempt import Attempt, run_attempt
from wfe_core.store.journal import NullJournal
from wfe_core.model.workflow import RunStats, StepRecord, StepStatus, WorkflowStep
from wfe_core.run.outcome import RunOutcome
from wfe_core.plan.plan import Plan
from wfe_core.run.pool import FuturesPool, WorkerPool
from wfe_core.plugin.capabilities import Action, Event
from wfe_core.model.secrets import Redactor
from wfe_core.load.templating import Unknown, has_placeholders, render

__all__ = ["Scheduler"]

log = logging.getLogger("wfe.scheduler")

_FAILED = (StepStatus.FAILED, StepStatus.TIMED_OUT)
#: Seconds of scheduler idleness after which pending store writes are committed.
IDLE_COMMIT = 0.2
#: Events that report no outcome: held for the next commit without asking for one.
_NO_HURRY = frozenset({"step.started", "step.retrying"})
_WAKE = object()


class Scheduler(RunOutcome):
    """Runs one plan to the end. Build it, call :meth:`run` once, from one thread.

    ``cancel()`` may be called from any thread.
    """

    def __init__(
        self,
        *,
        plan: Plan,
        policy: Any,
        strategy: str,
        actions: dict[str, Action],
        plugins: Any,
        variables: dict[str, Any],
        run_id: str,
        workdir: Path,
        dry_run: bool = False,
        executor: Executor | None = None,
        propagate_skips: bool = True,
        cancel_grace: float = 5.0,
        listeners: tuple = (),
        journal: Any = None,
        enable_rollback: bool = False,
        rollback_on_cancel: bool = False,
        secrets: dict[str, str] | None = None,
        restored: list[dict[str, Any]] | None = None,
        prior_attempts: dict[str, int] | None = None,
        run_info: dict[str, Any] | None = None,
    ):
        self.plan = plan
        self.workflow = plan.workflow
        self.policy = policy
        self.strategy = strategy
        self.actions = actions
        self.plugins = plugins
        self.variables = dict(variables)
        self.run_id = run_id
        self.workdir = workdir
        self.dry_run = dry_run
        self.propagate_skips = propagate_skips
        self.cancel_grace = cancel_grace
        self.listeners = listeners
        self.open_journal = journal or NullJournal
        self.journal: Any = NullJournal()
        self.enable_rollback = enable_rollback
        self.rollback_on_cancel = rollback_on_cancel
        self.secrets = dict(secrets or {})
        self.redact = Redactor(self.secrets)
        self.restored = restored or []
        self.run_info = run_info or {}
        self.completed: list[tuple[str, Any, Any]] = []  # (step, output, memo) in completion order
        self.memos: dict[str, Any] = {}
        self.pending_release: list[str] = []
        self.not_run: set[str] = set()  # dry run: steps reported as "would run"
        self._hold = False  # set when a run store records the run
        self._held: list[Event] = []
        self._must_commit = False
        self.steps: dict[str, WorkflowStep] = {s.id: s for s in self.workflow.steps}
        # A resumed run numbers attempts on from the earlier ones (their records stay),
        # but each resume gets the step's whole retry budget again.
        self.prior_attempts = prior_attempts or {}
        self.records = {sid: StepRecord(sid, attempts=self.prior_attempts.get(sid, 0)) for sid in self.steps}
        self.waiting = {sid: len(plan.graph.parents[sid]) for sid in self.steps}
        self.results: dict[str, dict[str, Any]] = {}  # the ``steps`` template scope
        self.running: dict[str, Attempt] = {}
        self.timers: list[tuple[float, int, str, str, Attempt | None]] = []
        self.seq = itertools.count()
        self.done = queue.SimpleQueue()
        self.stopping: str | None = None
        # The critical failure is kept apart from ``stopping``, which a later cancel
        # overwrites; the run must still roll back and end failed (see _rollback, _stats).
        self.critical_failure: str | None = None
        self.cancelled = threading.Event()
        self.abandoned = 0
        self.resources: dict[str, Any] = {}
        self.resources_lock = threading.Lock()
        self.templated = {sid: has_placeholders(s.parameters) for sid, s in self.steps.items()}
        self._vars_view = MappingProxyType(dict(self.variables))
        self._vars_dirty = False
        self._executor = executor
        self._pool: Any = None
        self.finished_count = 0
        self.retries_pending = 0
        self._step_variables: dict[str, Any] | None = None

    # -- events -------------------------------------------------------------------------
    def emit(self, kind: str, step_id: str | None = None, **data: Any) -> None:
        if not self.listeners and not self.plugins.has_listeners:
            return
        if self.redact:
            data = self.redact(data)
        event = Event(kind, self.run_id, self.workflow.id, step_id, data)
        if self._hold:
            # With a run store, nothing is reported before it is durable: events wait
            # for the next commit (see _commit); outcomes make that commit come soon.
            self._held.append(event)
            if kind not in _NO_HURRY:
                self._must_commit = True
            return
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        self.plugins.emit(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a run listener failed on %s", event.kind)

    # -- public -------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop dispatching, cancel running steps; the run ends cancelled."""
        self.cancelled.set()
        self.done.put(_WAKE)

    def run(self) -> RunStats:
        started = time.time()
        t0 = time.monotonic()
        self.journal = self.open_journal()
        self._hold = self.journal.path is not None
        self.journal.run_started(workflow=self.workflow, strategy=self.strategy, dry_run=self.dry_run,
                                 variables=self.variables, resumed=bool(self.run_info.get("resumed")),
                                 source=self.run_info.get("source"), definition=self.run_info.get("definition"))
        self.emit("run.started", strategy=self.strategy, workers=self.policy.workers,
                  total_steps=len(self.steps), dry_run=self.dry_run)
        executor = self._executor or self.plugins.make_executor(self.policy.workers)
        if executor is not None:
            self._pool = FuturesPool(executor, run_attempt, self.done.put)
        else:
            self._pool = WorkerPool(self.policy.workers, run_attempt, self.done.put, name=f"wfe-{self.run_id[:8]}")
        try:
            self._restore()
            # Take the ready set before acting on it. With propagate_skips=False a
            # skipped step releases its children at once (_close_release_only); a child
            # later in the order was then found ready again here, queued twice, run twice.
            ready = [sid for sid in self.plan.graph.order
                     if self.waiting[sid] == 0 and not self.records[sid].status.finished]
            for sid in ready:
                self._became_ready(sid)
            self._dispatch()
            self._loop()
            rollback = self._rollback()
            elapsed = time.monotonic() - t0
            stats = self._stats(started, elapsed, rollback)
            self.journal.run_finished(stats)
            self._hold = False
            self._drain()
            self.emit("run.finished", status=stats.status.value, error=stats.error, rollback=rollback,
                      completed_steps=stats.completed_steps, total_steps=stats.total_steps, duration=elapsed)
            return stats
        except BaseException as exc:
            # Never leave the run "running" in the store: it could not be resumed while
            # this process lives. Record why it stopped, then let the error through.
            try:
                self.journal.run_crashed(f"internal error: {type(exc).__name__}: {exc}")
            except Exception:
                log.exception("recording the crash of run %s failed", self.run_id)
            raise
        finally:
            self._shutdown()
            self.journal.close()

    # -- the loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        get = self.done.get
        while self.running or self._timers_pending():
            if self.cancelled.is_set() and self.stopping != "cancelled":
                self._cancel_running()
                # It may have closed the last pending retry: re-check before blocking, or
                # the get below would sleep until a stale attempt deadline (default one hour).
                continue
            timeout = self._next_timer_in()
            # Writes not yet committed (steps that started) reach the store once the
            # scheduler has been idle a moment, so `wfe runs show` sees long steps running.
            idle_commit = (self.journal.dirty or bool(self._held)) and (timeout is None or timeout > IDLE_COMMIT)
            if idle_commit:
                timeout = IDLE_COMMIT
            try:
                item = get(timeout=timeout) if timeout is None or timeout > 0 else get_nowait(self.done)
            except queue.Empty:
                item = None
                if idle_commit:
                    self._commit()
            while item is not None:
                if item is not _WAKE:
                    self._finished(item)
                item = get_nowait(self.done)
            self._fire_timers()
            self._dispatch()
            if self.stopping == "cancelled" and self.running and self._grace_over():
                self._abandon_running("cancelled: the action did not stop within the grace period")

    def _timers_pending(self) -> bool:
        return self.retries_pending > 0

    def _next_timer_in(self) -> float | None:
        if self.stopping == "cancelled" and self.running:
            return 0.05
        if not self.timers:
            return None
        return max(0.0, self.timers[0][0] - time.monotonic())

    def _fire_timers(self) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, kind, sid, attempt = heapq.heappop(self.timers)
            if kind == "retry":
                self.retries_pending -= 1
                if self.stopping is None:
                    self.policy.push(sid)
                else:
                    self._close(sid, StepStatus.CANCELLED, reason=f"retry not started: {self.stopping}")
            elif self.running.get(sid) is attempt and attempt.ended is None:
                # (An attempt that ended in time has its completion queued: not a timeout.)
                # The deadline counts from when the action started, not from submission.
                if attempt.started is None or attempt.started + attempt.timeout > now:
                    base = attempt.started if attempt.started is not None else now
                    heapq.heappush(self.timers, (base + attempt.timeout, next(self.seq), "deadline", sid, attempt))
                    continue
                self._timed_out(attempt)

    # -- readiness, dispatch --------------------------------------------------------------
    def _became_ready(self, sid: str) -> None:
        if self.stopping is not None:
            self._close(sid, StepStatus.CANCELLED, reason=f"not started: {self.stopping}")
            return
        step = self.steps[sid]
        if step.conditions:
            why = conditions_hold(step.conditions, self.variables)
            if why is not None:
                self._close(sid, StepStatus.SKIPPED, reason=why)
                return
        self.policy.push(sid)

    def _dispatch(self) -> None:
        # Drain: a step can close inside _start without running (dry-run "would run", a
        # template error) and release children into the policy after this pop; with
        # nothing running the loop would end and strand them as "not started".
        while True:
            # A cancel can land after the loop's check (another thread, or a listener
            # of the completion just handled): act on it before releasing and starting
            # children, or they start after the run was cancelled.
            if self.cancelled.is_set() and self.stopping != "cancelled":
                self._cancel_running()
            self._flush()
            if self.stopping is not None:
                return
            batch = self.policy.pop(len(self.running))
            if not batch:
                return
            for sid in batch:
                if self.stopping is not None:  # a critical step failed in _start: no more
                    break
                self._start(sid)

    def _commit(self) -> None:
        """Commit the store, then deliver the events that waited for it."""
        self.journal.commit()
        self._must_commit = False
        self._drain()

    def _drain(self) -> None:
        held, self._held = self._held, []
        for event in held:
            self._deliver(event)

    def _flush(self) -> None:
        """Commit what was recorded, then act on it: completions are durable first.

        Only acting needs a commit: "started" rows and failures ride along with the next
        one (a crash then re-runs those steps, as resume would anyway).
        """
        while self.pending_release or self._must_commit:
            self._commit()
            if self.cancelled.is_set() and self.stopping != "cancelled":
                self._cancel_running()  # a listener of the events just delivered may have cancelled
            batch, self.pending_release = self.pending_release, []
            for sid in batch:
                for child in self.plan.graph.children[sid]:
                    self.waiting[child] -= 1
                    if self.waiting[child] == 0 and not self.records[child].status.finished:
                        self._became_ready(child)

    def _start(self, sid: str) -> None:
        step = self.steps[sid]
        record = self.records[sid]
        action = self.actions[step.action]
        number = record.attempts + 1
        record.attempts = number
        if record.started_at is None:
            record.started_at = time.time()
        try:
            params = self._parameters(step, action)
        except (TemplateError, InvalidWorkflowError) as exc:
            record.error = f"step '{sid}': {exc}"
            self._close(sid, StepStatus.FAILED, error=record.error)
            self._after_failure(step)
            return
        # Parameters that hold an output a dry run did not produce were not structured
        # (see _parameters): calling the action with them would crash it, so report it.
        # A side-effect-free step downstream of one that did not run is not run either:
        # what it reads (a file the upstream step would write) may not exist yet.
        if self.dry_run and (action.side_effects or _has_unknown(params)
                             or any(p in self.not_run for p in self.plan.graph.parents[sid])):
            self._would_run(step, params)
            return
        context = StepContext(
            run_id=self.run_id, workflow_id=self.workflow.id, step=step, attempt=number,
            variables=self._variables_view(), outputs=self._upstream_outputs(sid),
            workdir=self.workdir, dry_run=self.dry_run, resources=self.resources,
            resources_lock=self.resources_lock,
        )
        attempt = Attempt(sid, number, action, params, context, step.timeout, submitted=time.monotonic(),
                          wall_started=time.time())
        # Capture the rollback memo whenever the run is recorded in a store, not only
        # with rollback on: `wfe rollback RUN_ID` of a run made with --no-rollback /
        # enable_rollback=False compensates from the stored memos (without them every
        # handler-based compensation, e.g. file.write's, failed with "not captured").
        if (self.enable_rollback or self.journal.path is not None) and step.rollback_action is None:
            handler = self.plugins.rollback_for(step.action)
            if handler is not None and handler.prepare is not None:
                attempt.prepare = handler.prepare
        self.running[sid] = attempt
        record.status = StepStatus.RUNNING
        self.journal.step_started(sid, number, attempt.wall_started)
        self.emit("step.started", sid, attempt=number, action=step.action)
        self._pool.submit(attempt)
        heapq.heappush(self.timers, (attempt.submitted + step.timeout, next(self.seq), "deadline", sid, attempt))

    def _upstream_outputs(self, sid: str) -> dict[str, Any]:
        """Outputs of the step's direct dependencies: a snapshot, O(degree)."""
        return {p: self.results[p]["output"] for p in self.plan.graph.parents[sid] if p in self.results}

    def _parameters(self, step: WorkflowStep, action: Action) -> Any:
        params = step.parameters
        if self.templated[step.id]:
            scope = {**self.variables, "steps": self.results}
            if self.secrets:
                scope["secrets"] = self.secrets
            params = render(params, scope, action.quote)
        if action.parameters is not None and not (self.dry_run and _has_unknown(params)):
            params = structure(params, action.parameters, path="parameters")
        return params

    def _variables_view(self) -> MappingProxyType:
        if self._vars_dirty:
            self._vars_view = MappingProxyType(dict(self.variables))
            self._vars_dirty = False
        return self._vars_view

    def _would_run(self, step: WorkflowStep, params: Any) -> None:
        shown = params if isinstance(params, dict) else _as_dict(params)
        # Mask secrets before repr(): repr escapes them (a backslash doubles), and the
        # masking emit() does afterwards no longer recognised them.
        shown = self.redact(shown)
        self.not_run.add(step.id)
        self.results[step.id] = {"output": Unknown(f"steps.{step.id}.output"), "status": "dry_run"}
        self._close(step.id, StepStatus.SKIPPED,
                    reason=f"dry run: would run {step.action} with {shown!r}", release=True)

    # -- completion -----------------------------------------------------------------------
    def _finished(self, attempt: Attempt) -> None:
        if attempt.abandoned:
            self.abandoned -= 1
            return
        sid = attempt.step_id
        if self.running.get(sid) is not attempt:
            return
        del self.running[sid]
        record = self.records[sid]
        record.duration += (attempt.ended or time.monotonic()) - (attempt.started or attempt.submitted)
        result = attempt.result
        if result is None:
            exc = attempt.future.exception() if attempt.future is not None else None
            why = f"{type(exc).__name__}: {exc}" if exc is not None else "it did not return (worker died)"
            self._failed_attempt(attempt, f"the action raised {why}", StepStatus.FAILED)
            return
        if self.stopping == "cancelled":
            self.journal.attempt_finished(sid, attempt.number, StepStatus.CANCELLED.value, attempt.wall_started,
                                          result.error)
            self._close(sid, StepStatus.CANCELLED, reason="run cancelled")
            return
        if result.success and result.variables and not (attempt.action.sets_variables or self.dry_run):
            result.success = False
            result.error = (f"action '{attempt.action.name}' returned variables but does not declare "
                            "sets_variables=True")
        if result.success:
            self.journal.attempt_finished(sid, attempt.number, StepStatus.SUCCEEDED.value, attempt.wall_started, None)
            if result.variables:
                self.variables.update(result.variables)
                self._vars_dirty = True
            record.output = result.output
            record.error = None
            # 'error' too (None): validation allows {steps.<id>.error}, and without the
            # key a succeeded step's dependents failed with "has no key 'error'".
            self.results[sid] = {"output": result.output, "status": StepStatus.SUCCEEDED.value, "error": None}
            self.completed.append((sid, result.output, attempt.memo))
            self.memos[sid] = attempt.memo
            self._step_variables = result.variables
            self._close(sid, StepStatus.SUCCEEDED, release=True)
        else:
            self._failed_attempt(attempt, result.error or "failed", StepStatus.FAILED)

    def _abandon(self, attempt: Attempt) -> None:
        attempt.context.cancel_event.set()
        attempt.abandoned = True
        self.abandoned += 1
        self._pool.add_worker()  # the attempt may hold its thread for long: replace it

    def _timed_out(self, attempt: Attempt) -> None:
        self._abandon(attempt)
        del self.running[attempt.step_id]
        self.records[attempt.step_id].duration += attempt.timeout
        self._failed_attempt(attempt, f"timed out after {attempt.timeout:g}s", StepStatus.TIMED_OUT)

    def _failed_attempt(self, attempt: Attempt, error: str, status: StepStatus) -> None:
        sid = attempt.step_id
        step = self.steps[sid]
        record = self.records[sid]
        record.error = error
        self.journal.attempt_finished(sid, attempt.number, status.value, attempt.wall_started, error)
        tries = attempt.number - self.prior_attempts.get(sid, 0)
        if tries <= step.max_retries and self.stopping is None:
            delay = min(step.retry_delay * step.retry_backoff ** (tries - 1), step.retry_max_delay)
            delay = delay / 2 + random.uniform(0, delay / 2)  # equal jitter: grows, never bunches
            self.emit("step.retrying", sid, attempt=attempt.number, error=error, delay=delay, status=status.value)
            heapq.heappush(self.timers, (time.monotonic() + delay, next(self.seq), "retry", sid, None))
            self.retries_pending += 1
            return
        self._close(sid, status, error=error)
        self._after_failure(step)

    def _after_failure(self, step: WorkflowStep) -> None:
        if step.critical:
            if self.critical_failure is None and not self.cancelled.is_set():  # not a cancel's fallout
                self.critical_failure = f"critical step '{step.id}' failed"
            if self.stopping is None:
                self.stopping = f"critical step '{step.id}' failed"
                # A pending retry will never start: close it now instead of keeping the run
                # alive until its timer fires (up to retry_max_delay).
                self._drop_retries(f"retry not started: {self.stopping}")
        else:
            self._skip_descendants(step.id, f"upstream step '{step.id}' failed")

    # -- closing a step ---------------------------------------------------------------------
    def _close(self, sid: str, status: StepStatus, *, error: str | None = None,
               reason: str | None = None, release: bool = False) -> None:
        record = self.records[sid]
        if record.status.finished:
            return
        record.status = status
        record.finished_at = time.time()
        if error is not None:
            record.error = error
        if reason is not None:
            record.reason = reason
        self.finished_count += 1
        variables, self._step_variables = self._step_variables, None
        self.journal.step_finished(record, variables=variables, memo=self.memos.get(sid),
                                   seq=len(self.completed) if status is StepStatus.SUCCEEDED else None)
        if status is not StepStatus.SUCCEEDED and sid not in self.results:
            self.results[sid] = {"output": None, "status": status.value, "error": record.error}
        self.emit(f"step.{status.value}", sid, attempts=record.attempts, duration=record.duration,
                  error=record.error, reason=record.reason)
        self._progress()
        if release:
            self.pending_release.append(sid)
        elif status is StepStatus.SKIPPED and self.propagate_skips:
            self._skip_descendants(sid, f"upstream step '{sid}' was skipped")
        elif status is StepStatus.SKIPPED:
            self._close_release_only(sid)

    def _progress(self) -> None:
        if self.listeners or self.plugins.has_listeners:
            self.emit("progress", completion_percentage=100.0 * self.finished_count / max(1, len(self.steps)),
                      finished=self.finished_count, total=len(self.steps))

    def _close_release_only(self, sid: str) -> None:
        for child in self.plan.graph.children[sid]:
            self.waiting[child] -= 1
            if self.waiting[child] == 0 and not self.records[child].status.finished:
                self._became_ready(child)

    def _skip_descendants(self, sid: str, reason: str) -> None:
        before = self.finished_count
        stack = list(self.plan.graph.children[sid])
        while stack:
            child = stack.pop()
            if self.records[child].status.finished or child in self.running:
                continue
            record = self.records[child]
            record.status = StepStatus.SKIPPED
            record.reason = reason
            record.finished_at = time.time()
            self.finished_count += 1
            self.results[child] = {"output": None, "status": StepStatus.SKIPPED.value}
            self.journal.step_finished(record, variables=None, memo=None, seq=None)
            self.emit("step.skipped", child, reason=reason)
            stack.extend(self.plan.graph.children[child])
        if self.finished_count != before:  # these steps finished too: observers must see it
            self._progress()

    # -- cancellation -------------------------------------------------------------------------
    def _cancel_running(self) -> None:
        self.stopping = "cancelled"
        self._cancel_started = time.monotonic()
        for attempt in self.running.values():
            attempt.context.cancel_event.set()
        self._drop_retries("retry not started: run cancelled")

    def _drop_retries(self, reason: str) -> None:
        for _, _, kind, sid, _ in self.timers:
            if kind == "retry":
                self._close(sid, StepStatus.CANCELLED, reason=reason)
        self.timers = [t for t in self.timers if t[2] != "retry"]
        heapq.heapify(self.timers)
        self.retries_pending = 0

    def _grace_over(self) -> bool:
        return time.monotonic() - self._cancel_started > self.cancel_grace

    def _abandon_running(self, reason: str) -> None:
        for sid, attempt in list(self.running.items()):
            self._abandon(attempt)
            del self.running[sid]
            self._close(sid, StepStatus.CANCELLED, reason=reason)

    def _shutdown(self) -> None:
        for attempt in self.running.values():  # only after an unexpected error in the loop
            attempt.context.cancel_event.set()
        if self._pool is not None:
            # Never wait for abandoned attempts: their results are discarded anyway.
            self._pool.shutdown()
        for resource in self.resources.values():
            close = getattr(resource, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing a run resource failed")

def get_nowait(q: queue.SimpleQueue) -> Any:
    try:
        return q.get_nowait()
    except queue.Empty:
        return None


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return isinstance(value, str) and "<steps." in value


def _as_dict(params: Any) -> Any:
    import attrs

    return attrs.asdict(params) if attrs.has(type(params)) else params
