"""The run loop: one thread drives a :class:`~wfe_core.run.state.RunState` to the end.

Pool threads only run :func:`~wfe_core.run.attempt.run_attempt`; each finished attempt
comes back through one queue, and timers (attempt deadlines, retry delays) live in one
heap, so the loop never scans the graph or polls: per step it does O(degree) work. The
loop is the only writer of the state; it reads the clocks, talks to the pool, the run
store (:mod:`~wfe_core.store.journal`) and listeners (:mod:`~wfe_core.run.events`), and
feeds what happened into the state's transitions. A step's success is committed before
its children are released (except a side-effect-free step's: see ``_repeatable``), and
events wait for the commit that makes them true.
"""

from __future__ import annotations

import logging
import queue
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfe_core.model.secrets import Redactor
from wfe_core.model.workflow import RunStats
from wfe_core.plan.plan import Plan
from wfe_core.plugin.capabilities import Action
from wfe_core.run.attempt import Attempt, Halt, run_attempt
from wfe_core.run.events import EventDelivery, Relayed
from wfe_core.run.lending import DEPTH, SHORT, Lent, Standby, in_flight, may_lend
from wfe_core.run.pool import FuturesPool, WorkerPool
from wfe_core.run.prepare import AttemptPreparer, Unprepared, WouldRun
from wfe_core.run.state import RunState, Stop, Write
from wfe_core.run.stats import build_stats
from wfe_core.run.timers import TimerKind
from wfe_core.store.journal import NullJournal

if TYPE_CHECKING:
    from wfe_core.run.rollback import CompensationResult

__all__ = ["IDLE_COMMIT", "RunLoop"]

log = logging.getLogger("wfe.scheduler")

#: Seconds of scheduler idleness after which pending store writes are committed. Short:
#: a step killed (kill -9) a moment after it started must read "interrupted", not
#: "pending"; steps shorter than this still ride along with their completion's commit.
IDLE_COMMIT = 0.02
#: How often the loop looks at the clock while a cancel waits for running steps.
_GRACE_POLL = 0.05
_WAKE = object()


class RunLoop:
    """Runs one plan to the end. Build it, call :meth:`run` once, from one thread.

    :meth:`cancel` may be called from any thread. ``records`` are the steps' records.
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
        listeners: tuple[Any, ...] = (),
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
        self.run_id = run_id
        self.workdir = workdir
        self.dry_run = dry_run
        self.cancel_grace = cancel_grace
        self.open_journal = journal or NullJournal
        self.journal: Any = NullJournal()
        self.enable_rollback = enable_rollback
        self.rollback_on_cancel = rollback_on_cancel
        self.secrets = dict(secrets or {})
        self.redact = Redactor(self.secrets)
        self.restored = restored or []
        self.run_info = run_info or {}
        self.events = EventDelivery(plugins, listeners, run_id=run_id, workflow_id=self.workflow.id, redact=self.redact)
        graph = plan.graph
        self.state = RunState(
            self.workflow.steps,
            graph.parents,
            graph.children,
            graph.order,
            variables=variables,
            prior_attempts=prior_attempts,
            propagate_skips=propagate_skips,
            dry_run=dry_run,
            emitting=self.events.active,
            resources=self.workflow.resources,
            redact=self.redact if self.redact else None,
        )
        self.records = self.state.records
        self.preparer = self._preparer(capture_memos=enable_rollback)
        self.abandoned = 0  # attempts abandoned whose threads have not returned yet
        self._executor = executor
        self._pool: Any = None
        self._standby: Standby | None = None  # attempts pool threads may take (lending.py)
        self._prepared: dict[str, Attempt] = {}  # offered, taken back, for the policy again
        #: Triggered steps handed to the policy (a dict: in the order they became ready).
        self._queued_triggered: dict[str, None] = {}
        # A plain flag, not a threading.Event: read several times per step, and an
        # Event's is_set() is a Python call each time. cancel() sets it, then wakes the loop.
        self._cancelled = False
        #: The same, for pool threads (see Halt); a sub-workflow's run adopts it into its parent's.
        self.halt = Halt()
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._committed_at = 0.0  # time.monotonic() of the last commit

    def _preparer(self, *, capture_memos: bool) -> AttemptPreparer:
        return AttemptPreparer(
            self.state,
            actions=self.actions,
            rollback_for=self.plugins.rollback_for,
            capture_memos=capture_memos,
            secrets=self.secrets,
            redact=self.redact,
            run_id=self.run_id,
            workflow_id=self.workflow.id,
            workdir=self.workdir,
            dry_run=self.dry_run,
        )

    # -- public -------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop dispatching, cancel running steps (not triggered ones: cleanup runs to its
        end); no step not yet begun begins; the run ends cancelled. Any thread."""
        self._cancelled = True
        self.halt.raise_()  # (attempts not yet begun do not begin, nor its sub-workflows')
        if self._standby is not None:
            self._standby.closed = True  # (threads take nothing more)
        self._done.put(_WAKE)

    def forward(self, step_id: str, item: Relayed) -> None:
        """Thread-safe: an event of the sub-workflow of step ``step_id``, delivered by
        this loop's thread when it next drains its queue (see :mod:`wfe_core.run.events`)."""
        self._done.put((step_id, item))

    def run(self) -> RunStats:
        """Run the plan to the end (rollback included) and return its statistics."""
        t0 = time.monotonic()
        state, events = self.state, self.events
        self.journal = journal = self.open_journal()
        # With a run store, nothing is reported before it is durable (see _commit).
        state.recording = events.hold = journal.path is not None
        # Asked here, not in __init__: the engine sets a sub-workflow's relay after that.
        state.listen(events.heard)
        # Capture rollback memos for a stored run even with rollback off: `wfe rollback
        # RUN_ID` compensates from them later.
        self.preparer.capture_memos = self.enable_rollback or journal.path is not None
        if journal.path is not None:
            state.early = events.no_hurry = self._repeatable()
        journal.run_started(
            workflow=self.workflow,
            strategy=self.strategy,
            dry_run=self.dry_run,
            variables=state.variables,
            resumed=bool(self.run_info.get("resumed")),
            source=self.run_info.get("source"),
            definition=self.run_info.get("definition"),
        )
        self._committed_at = time.monotonic()  # run_started commits
        events.emit(
            "run.started",
            None,
            {
                "strategy": self.strategy,
                "workers": self.policy.workers,
                "total_steps": len(state.steps),
                "dry_run": self.dry_run,
                # The DAG's shape, for plugins that size things by it (wfe-claude-flow's swarm).
                "width": self.plan.width,
                "depth": len(self.plan.levels),
                "claude_flow": bool(self.run_info.get("claude_flow")),
            },
        )
        executor = self._executor or self.plugins.make_executor(self.policy.workers)
        if executor is not None:
            self._pool = FuturesPool(executor, run_attempt, self._done.put)
        else:
            self.preparer.halt = self.halt
            if may_lend(self):
                self._standby = Standby()
            self._pool = WorkerPool(
                self.policy.workers,
                run_attempt,
                self._done.put,
                name=f"wfe-{self.run_id[:8]}",
                take=None if self._standby is None else self._standby.take,
            )
        try:
            state.restore(self.restored)
            state.begin(time.time())
            self._dispatch()
            self._loop()
            rollback = self._rollback()
            why = state.end(time.time())
            elapsed = time.monotonic() - t0
            stats = build_stats(
                state,
                why,
                run_id=self.run_id,
                workflow_id=self.workflow.id,
                strategy=self.strategy,
                workers=self.policy.workers,
                dry_run=self.dry_run,
                elapsed=elapsed,
                rollback=rollback,
                store=str(journal.path) if journal.path else None,
            )
            self._publish()
            journal.run_finished(stats)
            events.hold = False
            events.committed()
            events.emit(
                "run.finished",
                None,
                {
                    "status": stats.status.value,
                    "error": stats.error,
                    "rollback": rollback,
                    "completed_steps": stats.completed_steps,
                    "total_steps": stats.total_steps,
                    "duration": elapsed,
                },
            )
            return stats
        except BaseException as exc:
            # Never leave the run "running" in the store: it could not be resumed while
            # this process lives. Record why it stopped, then let the error through.
            try:
                self._write()  # what ended before the error is kept: resume does not re-run it
            except Exception:  # (a write that failed must not keep the crash from being recorded)
                log.exception("writing what run %s did before it crashed failed", self.run_id)
            try:
                journal.run_crashed(f"internal error: {type(exc).__name__}: {exc}")
            except Exception:
                log.exception("recording the crash of run %s failed", self.run_id)
            raise
        finally:
            self._shutdown()
            journal.close()

    def _repeatable(self) -> frozenset[Any]:
        """Steps whose outcome need not be durable before their children start.

        Their actions declare no side effects and have no compensation (their own or a
        plugin's), the step no rollback (``variable.*``, ``file.read``, ``wait``, a
        ``side_effects=False`` action), and so are all their children: after a crash,
        resume runs one that was not committed again, and nothing it could read has
        changed since, because a step with side effects starts only once everything
        before it is committed (and heard by listeners). Their children start at once;
        the outcome reaches the store with the next commit (an outcome of a step with
        side effects, or ``IDLE_COMMIT`` later at most), before any of the children's.
        """
        repeatable: dict[str, bool] = {}  # per action name
        free = set()
        for step in self.workflow.steps:
            name = step.action
            if step.rollback_action:
                continue
            if name not in repeatable:
                action = self.actions.get(name)
                repeatable[name] = (
                    action is not None and not action.side_effects and self.plugins.rollback_for(name) is None
                )
            if repeatable[name]:
                free.add(step.id)
        # A free step with a child that is not free is not repeatable: the parents of the
        # steps that are not free, found from those steps alone (most steps are free).
        parents = self.plan.graph.parents
        held = {parent for sid in parents.keys() - free for parent in parents[sid]}
        return frozenset(free - held)

    # -- the loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        state, done = self.state, self._done
        # (An offered step a thread took is not running until its notice is read.)
        while state.running or state.retrying or state.offered:
            if state.writes:  # after dispatch (see _flush), before the idle commit is timed
                self._write()
            if self._cancelled and state.stopping is not Stop.CANCELLED:
                self._apply_cancel()
                # It may have closed the last pending retry: re-check before blocking, or
                # the get below would sleep until a stale attempt deadline (default one hour).
                continue
            timeout, idle_commit = self._wait_time()
            try:
                item = done.get(timeout=timeout) if timeout is None or timeout > 0 else done.get_nowait()
            except queue.Empty:
                item = None
                if idle_commit:
                    self._commit()
            if item is not None:
                self._finished(item)
            self._fire_timers()
            self._dispatch()
            if state.stopping is Stop.CANCELLED and state.running and self._grace_over():
                self._abandon(
                    state.abandon_running("cancelled: the action did not stop within the grace period", time.time())
                )

    def _wait_time(self) -> tuple[float | None, bool]:
        """How long to block for the next completion, and whether to commit when idle."""
        state = self.state
        if state.stopping is Stop.CANCELLED and state.running:
            timeout: float | None = _GRACE_POLL
        else:
            due = state.timers.next_due()
            timeout = None if due is None else max(0.0, due - time.monotonic())
        # Writes not yet committed (steps that started) reach the store once the
        # scheduler has been idle a moment, so `wfe runs show` sees long steps running.
        idle_commit = (
            self.state.recording  # (a run store records the run)
            and (self.journal.dirty or bool(self.events.held))
            and (timeout is None or timeout > IDLE_COMMIT)
        )
        if idle_commit:  # IDLE_COMMIT after the last commit, at most (see _flush)
            return max(0.0, IDLE_COMMIT - (time.monotonic() - self._committed_at)), True
        return timeout, False

    def _finished(self, item: Any) -> None:
        """Feed the finished attempt ``item`` and every other one queued to the state."""
        state, done, standby = self.state, self._done, self._standby
        now, wall = time.monotonic(), time.time()
        while item is not None:
            if type(item) is tuple:  # a sub-workflow's event (forward)
                if state.events:  # (its step's "started", read from a notice just now, first)
                    self._deliver()
                self.events.relayed(*item)
            elif type(item) is Lent:
                self._lent(item.attempt)
            elif item is not _WAKE:
                if standby is not None and standby.failing:
                    try:  # (read now: before that, no thread took; see Standby.take)
                        standby.failing.remove(item)
                    except ValueError:
                        pass
                if item.abandoned:
                    self.abandoned -= 1
                else:
                    if standby is not None and item.ended is not None and item.started is not None:
                        standby.short = item.ended - item.started < SHORT
                    if item.result is not None and "worker" in item.result.metadata:
                        # A remote executor's worker address, for `wfe runs show`.
                        self.journal.attempt_noted(item.step_id, item.number, worker=item.result.metadata["worker"])
                    if item.halted and state.stopping is not Stop.CANCELLED:
                        # It ends cancelled, not failed, whenever this is read: before
                        # this loop applied its cancel, or raised by a parent run's
                        # cancel (a sub-workflow's run: see Halt), with no flag here.
                        self._cancelled = True
                        self._apply_cancel()
                    elif self._cancelled:  # a critical failure now is a cancel's fallout
                        state.cancel_requested = True
                    state.finish(item, now, wall, None if item.result is not None else _crash(item))
            try:
                item = done.get_nowait()
            except queue.Empty:
                item = None

    def _fire_timers(self) -> None:
        state = self.state
        timers = state.timers
        now = time.monotonic()
        while (timer := timers.pop_due(now)) is not None:
            kind, sid, attempt = timer
            if kind is TimerKind.RETRY:
                state.retry_due(sid, time.time())
            elif state.running.get(sid) is attempt and attempt is not None and attempt.ended is None:
                # (An attempt that ended in time has its completion queued: not a timeout.)
                # The deadline counts from when the action started, not from submission.
                if attempt.started is None or attempt.started + attempt.timeout > now:
                    base = attempt.started if attempt.started is not None else now
                    timers.push(base + attempt.timeout, TimerKind.DEADLINE, sid, attempt)
                    continue
                standby = self._standby
                if standby is not None:
                    # No thread takes while this may stop the run: replacing the thread
                    # (_abandon) lets the others run, before the stop is known.
                    standby.hold = True
                self._abandon([attempt])
                state.time_out(attempt, now, time.time())
                if standby is not None and state.stopping is None:
                    standby.hold = False

    # -- readiness, dispatch --------------------------------------------------------------
    def _dispatch(self) -> None:
        state, policy = self.state, self.policy
        # Drain: a step can close inside _start without running (dry-run "would run", a
        # template error) and release children after this pop; with nothing running the
        # loop would end and strand them as "not started".
        while True:
            # A cancel can land after the loop's check (another thread, or a listener
            # of the completion just handled): act on it before releasing and starting
            # children, or they start after the run was cancelled.
            if self._cancelled and state.stopping is not Stop.CANCELLED:
                self._apply_cancel()
            self._flush()
            if state.stopping is not None:
                if self._standby is not None:
                    self._take_back()
                # Only steps with trigger always / on_failure still start (cleanup).
                if self._queued_triggered:
                    self._requeue_triggered()
                busy = in_flight(state, self._standby)
                after = state.take_after_stop(policy.workers - busy, time.time()) if state.ready else []
                if not after:
                    return
                for sid in after:
                    if state.admit(sid):
                        self._start(sid)
                continue
            ready = state.ready
            # Without fan-outs and resources (most runs), a step goes to the policy as
            # itself and may always start: no calls per step to say so.
            plain = not state.fanout
            if ready:
                push = policy.push
                if state.triggered:  # (kept apart: they still start after a stop, see _requeue_triggered)
                    triggered, queued = state.triggered, self._queued_triggered
                    for sid in ready:
                        if sid in triggered:
                            queued[sid] = None
                if plain:
                    for sid in ready:
                        push(sid)
                else:
                    key = state.policy_key
                    for sid in ready:
                        push(key(sid))  # a fan-out instance goes as its step
                ready.clear()
            standby = self._standby
            busy = len(state.running) if standby is None else in_flight(state, standby)
            if standby is not None and standby.attempts and busy < policy.workers:
                self._return_offered()  # a slot is free: the policy chooses again, among them too
            batch = policy.pop(busy)  # (giving back changes nothing in flight)
            if not batch:
                if standby is not None and self._offer():
                    continue  # a step closed without starting (a template error): look again
                return
            limited = bool(state.capacity)  # (a step can only need a declared resource)
            for popped in batch:
                if state.stopping is not None:  # a critical step failed in _start: no more
                    break
                claimed = popped if plain else state.claim(popped)  # a fan-out step stands for its next instance
                if claimed is not None and (not limited or state.admit(claimed)):
                    self._start(claimed)  # (not admitted: parked until a holder of its resource ends)

    def _start(self, sid: str) -> None:
        state = self.state
        number = state.records[sid].attempts + 1
        wall = time.time()
        prepared: Attempt | Unprepared | WouldRun | None = self._prepared.pop(sid, None) if self._prepared else None
        if type(prepared) is Attempt:  # offered, taken back (lending): prepared once
            prepared.submitted, prepared.wall_started = time.monotonic(), wall
        else:
            prepared = self.preparer.prepare(sid, number, time.monotonic(), wall)
        if type(prepared) is Attempt:
            state.start(prepared, wall)
            if prepared.action.inline:
                # Action.inline: short and cooperative, so run it here; two thread hand-offs
                # (to a worker, back to this loop) cost more than the action. Its result
                # goes through the queue like any other: the loop's order stays one.
                self._done.put(run_attempt(prepared))
            else:
                self._pool.submit(prepared)
        else:
            self._not_started(sid, number, prepared, wall)

    def _not_started(self, sid: str, number: int, prepared: object, wall: float) -> None:
        """``prepared`` (a WouldRun or an Unprepared: not an Attempt) closes the step."""
        if type(prepared) is WouldRun:
            self.state.would_run(sid, number, prepared.reason, wall)
        else:
            assert type(prepared) is Unprepared
            self.state.fail_to_start(sid, number, prepared.error, wall)

    def _requeue_triggered(self) -> None:
        """The run stopped: triggered steps the policy still holds (ready, waiting for a
        worker) go back to the ready steps, where a stop looks for what may still start.
        The policy is not asked for anything after a stop."""
        state, rank = self.state, self.plan.rank
        records, running, ready, instance_of = state.records, state.running, state.ready, state.instance_of
        # Parked (waiting for a declared resource): it returns to ready when a holder
        # leaves. Offered and taken by a thread: it is starting, its notice not read yet.
        waiting = {*ready, *state.parked, *state.offered}
        # In plan order; a fan-out's instances (not in the plan) at their step's place,
        # in the order they became ready (the sort is stable). Ahead of what became ready
        # since (an instance released by one that ended with the stop): they were first.
        requeued = []
        for sid in sorted(self._queued_triggered, key=lambda sid: rank.get(instance_of.get(sid) or sid, len(rank))):
            if not records[sid].status.finished and sid not in running and sid not in waiting:
                requeued.append(sid)
                waiting.add(sid)
        ready[:0] = requeued
        self._queued_triggered.clear()

    # -- lending (wfe_core.run.lending) -------------------------------------------------------
    def _offer(self) -> bool:
        """Every slot is busy and steps are short: prepare up to DEPTH more for pool
        threads to take. Returns whether a step closed instead (it could not be prepared)."""
        state, standby = self.state, self._standby
        assert standby is not None
        room = DEPTH - len(standby.attempts)
        workers = self.policy.workers
        if room <= 0 or not standby.short or standby.closed or standby.hold or state.stopping is not None:
            return False
        if in_flight(state, standby) < workers:
            return False
        closed = False
        wall = time.time()
        now = time.monotonic()
        prepared_before = self._prepared
        popped = self.policy.pop(workers - room)  # (slots_only: at most `room` steps)
        for index, sid in enumerate(popped):
            if state.stopping is not None:
                # A step closed just now stopped the run: offer nothing more; the rest go
                # where ready steps go at a stop (a triggered one may still start).
                standby.closed = True
                state.ready.extend(popped[index:])
                break
            number = state.records[sid].attempts + 1
            prepared: Attempt | Unprepared | WouldRun | None = (
                prepared_before.pop(sid, None) if prepared_before else None
            )
            if prepared is None:
                prepared = self.preparer.prepare(sid, number, now, wall)
            if type(prepared) is Attempt:
                state.offered.add(sid)
                standby.attempts.append(prepared)
            else:
                self._not_started(sid, number, prepared, wall)
                closed = True
        return closed

    def _return_offered(self) -> None:
        """Give the policy back every offered attempt no thread took: with a slot free,
        it chooses again (a step that became ready meanwhile may come first)."""
        returned = self._withdraw()
        for attempt in returned:
            self._prepared[attempt.step_id] = attempt
        self.policy.unpop([attempt.step_id for attempt in returned])

    def _lent(self, attempt: Attempt) -> None:
        """A pool thread took ``attempt`` from the standby and runs it: it started."""
        state = self.state
        assert attempt.wall_started is not None  # (the thread set it as it took the attempt)
        state.start(attempt, attempt.wall_started)
        if state.stopping is Stop.CANCELLED and attempt.step_id not in state.triggered:
            # Taken as the cancel landed: stop it now; the cancel's grace counts for it,
            # as for every attempt that was running then (abandon_running).
            attempt.submitted = min(attempt.submitted, state.cancelled_at or attempt.submitted)
            attempt.context.cancel_event.set()

    def _take_back(self) -> None:
        """The run stops: threads take nothing more; what none took goes back to the
        ready steps (a triggered one may still start; the others are cancelled)."""
        assert self._standby is not None
        self._standby.closed = True
        self._prepared.clear()
        self.state.ready.extend(attempt.step_id for attempt in self._withdraw())

    def _withdraw(self) -> list[Attempt]:
        """The offered attempts no thread took, in order, no longer offered."""
        assert self._standby is not None
        withdrawn = self._standby.take_back()
        for attempt in withdrawn:
            self.state.offered.discard(attempt.step_id)
        return withdrawn

    # -- commits, events -------------------------------------------------------------------
    def _flush(self) -> None:
        """Commit what was recorded, then act on it: completions are durable first.

        Only acting needs a commit: "started" rows and failures ride along with the next
        one (a crash then re-runs those steps, as resume would anyway). Writes that no
        commit waits for reach the journal after dispatch, when the loop is about to
        block (:meth:`_loop`): a chain's next step is handed to its worker first, and the
        journal's work overlaps the worker's wake-up.
        """
        state, events = self.state, self.events
        while True:
            if state.events:
                self._deliver()
            # Outcomes that need not be durable yet (see _repeatable) still reach the
            # store, and their events the listeners, within IDLE_COMMIT.
            if not (state.releasing or events.must_commit or state.commit_soon) and (
                not state.recording  # (no run store: nothing waits for a commit)
                or time.monotonic() - self._committed_at < IDLE_COMMIT
                or not (events.held or state.writes or self.journal.dirty)
            ):
                return
            state.commit_soon = False
            if state.recording:  # (without a store nothing is held: nothing to commit or deliver)
                self._write()
                self.journal.commit()
                self._committed_at = time.monotonic()
                events.committed()
            if self._cancelled and state.stopping is not Stop.CANCELLED:
                self._apply_cancel()  # a listener of the events just delivered may have cancelled
            state.release_committed(time.time())

    def _publish(self) -> None:
        """Hand the state's outboxes over: writes to the journal, events to delivery."""
        self._write()
        self._deliver()

    def _deliver(self) -> None:
        """Hand the state's events to delivery (held until the next commit with a store)."""
        state = self.state
        if state.events:
            pending, state.events = state.events, []
            self.events.publish(pending)

    def _write(self) -> None:
        """Hand the state's writes to the journal, in the order the transitions made them."""
        state = self.state
        if state.writes:
            writes, state.writes = state.writes, []
            journal = self.journal
            for write in writes:  # see Write: ordered as the transitions made them
                kind = write[0]
                if kind is Write.STEP_FINISHED:
                    journal.step_finished(write[1], variables=write[2], memo=write[3], seq=write[4])
                elif kind is Write.ATTEMPT_FINISHED:
                    journal.attempt_finished(*write[1:])
                elif kind is Write.STEP_STARTED:
                    journal.step_started(*write[1:])
                elif kind is Write.STEPS_ADDED:
                    journal.steps_added(*write[1:])
                elif kind is Write.STEP_RUNNING:
                    journal.step_running(*write[1:])
                elif kind is Write.ATTEMPT_NOTED:
                    journal.attempt_noted(write[1], write[2], **write[3])
                else:
                    journal.step_status(*write[1:])

    def _commit(self) -> None:
        """Commit the store, then deliver the events that waited for it."""
        self._publish()
        self.state.commit_soon = False
        self.journal.commit()
        self._committed_at = time.monotonic()
        self.events.committed()

    # -- cancellation -------------------------------------------------------------------------
    def _apply_cancel(self) -> None:
        for attempt in self.state.cancel(time.monotonic(), time.time()):
            attempt.context.cancel_event.set()

    def _grace_over(self) -> bool:
        return time.monotonic() - (self.state.cancelled_at or 0.0) > self.cancel_grace

    def _abandon(self, attempts: list[Attempt]) -> None:
        """Stop waiting for ``attempts``: flag them cancelled and discard what they return."""
        for attempt in attempts:
            attempt.context.cancel_event.set()
            attempt.abandoned = True
            self.abandoned += 1
            self._pool.add_worker()  # the attempt may hold its thread for long: replace it

    def _shutdown(self) -> None:
        if self._standby is not None:
            self._standby.closed = True
        for attempt in self.state.running.values():  # only after an unexpected error in the loop
            attempt.context.cancel_event.set()
        if self._pool is not None:
            # Never wait for abandoned attempts: their results are discarded anyway.
            self._pool.shutdown()
        self.preparer.close_resources(log)

    # -- rollback ------------------------------------------------------------------------------
    def _rollback(self) -> str | None:
        """Compensate completed steps after a critical failure (or a cancel, if configured)."""
        # Work abandoned by a timeout or cancel that can still end cleanly (a sub-workflow
        # stopping, and compensating its own steps) finishes before this run compensates.
        self.preparer.settle_resources(log)
        self._relay_late()
        self._flush()
        self._commit()
        state = self.state
        if self._cancelled:
            state.cancel_requested = True
        failed = state.critical_failure is not None  # even if a cancel came afterwards
        if (
            self.dry_run
            or not self.enable_rollback
            or not (failed or (state.cancel_requested and self.rollback_on_cancel))
        ):
            return None
        from wfe_core.run.rollback import compensate_run  # here: only a failed run compensates

        return compensate_run(
            state,
            self.preparer,
            actions=self.actions,
            rollback_for=self.plugins.rollback_for,
            on_result=self._rolled_back,
        )

    def _relay_late(self) -> None:
        """Deliver what sub-workflows said after dispatch ended (a timed-out step's child
        stopping); anything else queued stays queued, as it was."""
        others = []
        while True:
            try:
                item = self._done.get_nowait()
            except queue.Empty:
                break
            if type(item) is tuple:
                self.events.relayed(*item)
            else:
                others.append(item)
        for item in others:
            self._done.put(item)

    def _rolled_back(self, result: CompensationResult) -> None:
        self.state.rolled_back(result.step_id, result.status, result.error, result.duration)
        self._commit()  # each compensation is durable (and reported) before the next one


def _crash(attempt: Attempt) -> str:
    """Why ``attempt`` came back without a result (its future's exception, if any)."""
    exc = attempt.future.exception() if attempt.future is not None else None
    return f"{type(exc).__name__}: {exc}" if exc is not None else "it did not return (worker died)"
