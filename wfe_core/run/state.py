"""The state of one run, and the transitions that change it.

:class:`RunState` holds everything that changes while a run runs; the loop
(:mod:`wfe_core.run.loop`) is its only writer, from one thread. Its transitions are
plain methods: no threads, no I/O, no clock reads (callers pass ``now``, the monotonic
clock, and ``wall``, ``time.time()``). What the outside world must learn of a
transition goes into an *outbox* the loop drains: steps the strategy may start, writes
for the run store, events for listeners, steps whose children wait for a commit.

Constant state
--------------
- ``steps``: step id -> :class:`WorkflowStep`.
- ``parents`` / ``children``: the dependency graph (step id -> ids).
- ``order``: a topological order.
- ``prior_attempts``: step id -> attempts made by earlier runs of a resumed run.

Changing state
--------------
- ``records``: step id -> :class:`StepRecord` (status, attempts, output, error, times).
- ``waiting``: step id -> how many parents have not released it yet. A parent
  releases its children when it succeeds (after the commit that records it), when a
  dry run reports it, and, with ``propagate_skips=False``, when it is skipped.
- ``results``: the ``steps`` scope of templates: id -> ``{output, status, error}``.
- ``variables``: run variables; ``variables_version`` grows when they change.
- ``running``: step id -> its :class:`~wfe_core.run.attempt.Attempt` in flight.
- ``retrying``: steps whose failed attempt waits for a RETRY timer (insertion order).
- ``timers``: the :class:`~wfe_core.run.timers.Timers` heap (retries, deadlines).
- ``completed``: ``(step id, output, memo)`` of succeeded steps in completion order
  (rollback undoes them last first); ``memos``: step id -> rollback memo.
- ``not_run``: dry run: steps reported as "would run".
- ``finished``: how many steps are in a finished status.
- ``stopping``: why dispatch stopped (a :class:`Stop`), ``stop_reason`` its words.
- ``critical_failure``: the first critical failure that was not a cancel's fallout;
  kept apart from ``stopping``, which a later cancel overwrites: the run must still
  roll back and end failed.
- ``cancel_requested``: someone asked to cancel (the loop sets it as soon as it sees
  the request; ``cancel`` acts on it).
- ``fanouts``: fan-out step id -> its :class:`~wfe_core.run.fanout.FanOut` once
  expanded; ``instance_of``: instance id -> its step; ``scopes``: instance id -> what
  its templates add (``item``…). Instances join ``steps``, ``records``, ``parents`` and
  ``children`` when their step expands (see :mod:`wfe_core.run.fanout`).

Outboxes (the loop drains them)
-------------------------------
- ``ready``: steps whose dependencies are done and whose conditions hold, for the
  strategy's policy.
- ``releasing``: succeeded (or dry-run) steps whose children are released by
  :meth:`release_committed`, once the store has committed their outcome. A step in
  ``early`` (a stored run's side-effect-free step: running it again after a crash
  changes nothing) releases its children at once; its outcome is committed with the
  next commit, which comes before any outcome of those children.
- ``writes``: run-store writes, ``(Write, args...)``, in order (only when ``recording``).
- ``events``: ``(kind, step_id, data)`` (only when ``emitting``).

Every step ends in exactly one finished status; the run is over when nothing runs and
no retry waits (:attr:`busy`), after which :meth:`end` cancels what never started.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from wfe_core.load.templating import Unknown
from wfe_core.model.workflow import StepRecord, StepStatus, WorkflowStep
from wfe_core.plan.conditions import conditions_hold
from wfe_core.plan.expressions import ExpressionError, Undecidable, evaluate
from wfe_core.plan.expressions import parse as parse_expression
from wfe_core.plan.fanout import is_fanout
from wfe_core.run import fanout
from wfe_core.run.output import TAIL_CHARS, output_summary, output_tail
from wfe_core.run.timers import TimerKind, Timers

if TYPE_CHECKING:
    from wfe_core.run.attempt import Attempt

__all__ = ["RunState", "Stop", "Write"]

_SUCCEEDED = StepStatus.SUCCEEDED
_SUCCEEDED_TEXT = _SUCCEEDED.value
_SKIPPED = StepStatus.SKIPPED
_CANCELLED = StepStatus.CANCELLED
_RUNNING = StepStatus.RUNNING
_FAILURES = (StepStatus.FAILED, StepStatus.TIMED_OUT)


class Stop(enum.Enum):
    """Why a run stopped dispatching new steps."""

    CRITICAL_FAILURE = "critical failure"
    CANCELLED = "cancelled"
    #: The run ended with steps that never started and no reason: a scheduling bug.
    INTERNAL_ERROR = "internal error"


class Write(enum.Enum):
    """Kinds of run-store writes in :attr:`RunState.writes` (named after the journal's methods)."""

    STEP_STARTED = "step_started"  # (step_id, attempt number, started_at)
    ATTEMPT_FINISHED = "attempt_finished"  # (step_id, number, status value, started_at, error, finished_at)
    STEP_FINISHED = "step_finished"  # (record, variables, memo, seq)
    STEP_STATUS = "step_status"  # (step_id, status value, error)
    STEPS_ADDED = "steps_added"  # (fan-out step, [(instance id, item digest, item scope), ...])
    STEP_RUNNING = "step_running"  # (fan-out step id, started_at): its first instance started
    ATTEMPT_NOTED = "attempt_noted"  # (step_id, attempt number, fields: e.g. {"waited": why})


class RunState:
    """All per-run state of one run and its transitions (see the module docstring).

    Args:
        steps: the workflow's steps.
        parents / children / order: its dependency graph.
        variables: the run's variables at the start.
        prior_attempts: attempts of earlier runs (resume): numbering goes on, but each
            resume gets the step's whole retry budget again.
        propagate_skips: a skipped step skips its descendants (else it releases them).
        dry_run: a dry run (steps may return variables without declaring them).
        recording: fill :attr:`writes` (a run store records the run).
        emitting: fill :attr:`events` (someone listens).
        uniform: ``random.uniform``-like source of retry jitter (seed it in tests).
        resources: the workflow's limited resources: name -> units.
    """

    def __init__(
        self,
        steps: Iterable[WorkflowStep],
        parents: Mapping[str, tuple[str, ...]],
        children: Mapping[str, list[str]],
        order: list[str],
        *,
        variables: Mapping[str, Any] | None = None,
        prior_attempts: Mapping[str, int] | None = None,
        propagate_skips: bool = True,
        dry_run: bool = False,
        recording: bool = False,
        emitting: bool = False,
        uniform: Callable[[float, float], float] = random.uniform,
        resources: Mapping[str, int] | None = None,
        redact: Callable[[Any], Any] | None = None,
    ):
        self.steps: dict[str, WorkflowStep] = {s.id: s for s in steps}
        #: Masks secrets in a value: an output is masked *before* it is summarised (once
        #: dumped as JSON, a JSON-escaped secret inside it is escaped twice: no form the
        #: event's own masking knows).
        self.redact = redact
        # Steps that run on their dependencies' end whatever it was (trigger on_failure or
        # always): every parent's end counts down ``waiting``, not only a success.
        self.triggered = {sid for sid, s in self.steps.items() if s.trigger != "on_success"}
        self.when = {sid: parse_expression(s.when) for sid, s in self.steps.items() if s.when is not None}
        self.parents = parents
        self.children = children
        #: Fan-out steps (for_each / matrix): expanded into instances when ready.
        self.fanout = {sid for sid, s in self.steps.items() if is_fanout(s)}
        self.fanouts: dict[str, fanout.FanOut] = {}
        self.instance_of: dict[str, str] = {}
        self.scopes: dict[str, dict[str, Any]] = {}
        self.restored_digests: dict[str, str] = {}
        if self.fanout:  # instances are added to the graph: never to the plan's own
            self.parents, self.children = dict(parents), dict(children)
        self.order = order
        self.prior_attempts = dict(prior_attempts or {})
        self.propagate_skips = propagate_skips
        self.dry_run = dry_run
        self.recording = recording
        self.emitting = emitting
        # The per-step events of a run that succeeds, each built only when someone hears
        # it (see listen): most of a no-op step's cost when nobody listens but logging.
        self.emit_started = self.emit_succeeded = self.emit_progress = emitting
        #: A recorded success whose event nobody hears still wants a prompt commit, as its
        #: event would have asked (a fan-out instance has no release that asks for one):
        #: durability does not depend on who listens. The loop clears it when it commits.
        self.commit_soon = False
        self.uniform = uniform
        prior = self.prior_attempts
        self.records = (
            {sid: StepRecord(sid, attempts=prior.get(sid, 0)) for sid in self.steps}
            if prior
            else {sid: StepRecord(sid) for sid in self.steps}  # (a fresh run: 40% cheaper)
        )
        self.waiting = {sid: len(parents[sid]) for sid in self.steps}
        self.results: dict[str, dict[str, Any]] = {}
        self.variables: dict[str, Any] = dict(variables or {})
        self.variables_version = 0
        self.running: dict[str, Attempt] = {}
        # Prepared and offered to pool threads, not started yet (wfe_core.run.lending):
        # a thread may be starting one now, so stopping never closes them as not started.
        self.offered: set[str] = set()
        self.timers = Timers(self.running)  # (it sweeps deadlines of attempts no longer here)
        self.retrying: dict[str, None] = {}
        self.completed: list[tuple[str, Any, Any]] = []
        self.memos: dict[str, Any] = {}
        self.not_run: set[str] = set()
        self.finished = 0
        self.stopping: Stop | None = None
        self.stop_reason: str | None = None
        self.critical_failure: str | None = None
        self.cancel_requested = False
        self.cancelled_at: float | None = None
        self.capacity: dict[str, int] = dict(resources or {})
        self.held: dict[str, int] = dict.fromkeys(self.capacity, 0)
        self.parked: list[str] = []
        # Parked steps whose wait was announced (once per wait: a step parked again
        # when a holder left but another took the unit is still in the same wait).
        self.waited: dict[str, str] = {}
        self.ready: list[str] = []
        self.releasing: list[str] = []
        #: Steps whose success releases their children at once, not after the commit
        #: (set by the loop of a stored run; see RunLoop.run).
        self.early: frozenset[str] = frozenset()
        self.writes: list[tuple[Any, ...]] = []
        self.events: list[tuple[str, str | None, dict[str, Any]]] = []

    @property
    def busy(self) -> bool:
        """Whether the run goes on: an attempt runs or a retry waits."""
        return bool(self.running or self.retrying)

    def listen(self, heard: Callable[[str], bool]) -> None:
        """Build ``step.started``, ``step.succeeded`` and ``progress`` events only if
        ``heard(kind)`` (asked once, as the run begins); other kinds follow ``emitting``."""
        self.emit_started = self.emitting and heard("step.started")
        self.emit_succeeded = self.emitting and heard("step.succeeded")
        self.emit_progress = self.emitting and heard("progress")

    # -- beginning -------------------------------------------------------------------------
    def _masked(self, value: Any) -> Any:
        return self.redact(value) if self.redact is not None and value is not None else value

    def restore(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """A resumed run: steps that succeeded before keep their outputs and variables.

        Invariant: a restored step is SUCCEEDED, in ``results`` and ``completed``; its
        children are released by :meth:`begin`, like any success.
        """
        for row in rows:
            sid = row["step_id"]
            if sid in self.fanout:
                continue  # derived again from its instances when it expands
            if sid not in self.records and not fanout.restore_instance(self, dict(row)):
                continue
            record = self.records[sid]
            record.status = _SUCCEEDED
            record.output = row["output"]
            record.attempts = row["attempts"]
            record.duration = row["duration"]
            record.started_at, record.finished_at = row["started_at"], row["finished_at"]
            record.reason = "succeeded in an earlier attempt of this run"
            self.variables.update(row["variables"] or {})
            self.results[sid] = {"output": row["output"], "status": _SUCCEEDED.value, "error": None}
            self.completed.append((sid, row["output"], row["memo"]))
            self.finished += 1
        self.variables_version += 1

    def begin(self, wall: float) -> None:
        """Make the first steps ready: roots, and children of restored steps.

        Invariant: each step becomes ready at most once, when its last parent releases
        it (a root: here), whatever order releases come in.
        """
        for sid in self.order:
            record = self.records[sid]
            if record.status is _SUCCEEDED:  # restored
                self._release(sid, wall)
            elif not self.parents[sid] and not record.status.finished:
                self._ready(sid, wall)

    # -- readiness ---------------------------------------------------------------------------
    def _ready(self, sid: str, wall: float) -> None:
        """Every parent released ``sid``: it goes to the policy, unless the run stops (it
        is cancelled) or its conditions do not hold (it is skipped)."""
        step = self.steps[sid]
        if self.stopping is not None and (sid not in self.triggered or self.stopping is Stop.INTERNAL_ERROR):
            self._close(sid, _CANCELLED, wall, reason=f"not started: {self.stop_reason}")
            return
        if step.trigger == "on_failure":
            failed = [p for p in self.parents[sid] if self.records[p].status in _FAILURES]
            if not failed:
                self._close(sid, _SKIPPED, wall, reason="trigger on_failure: no dependency failed or timed out")
                return
        if step.conditions:
            why = conditions_hold(step.conditions, self.variables)
            if why is not None:
                self._close(sid, _SKIPPED, wall, reason=why)
                return
        expression = self.when.get(sid)
        if expression is not None:
            try:
                holds, seen = evaluate(expression, self.variables, self.results)
            except Undecidable:
                holds = True  # a dry run: decided by outputs it does not know; report the step
            except ExpressionError as exc:
                error = f'when "{expression.text}": {exc.message}'
                self.records[sid].error = error
                self._close(sid, StepStatus.FAILED, wall, error=error)
                self._after_failure(step, wall)
                return
            else:
                if not holds:
                    values = ", ".join(f"{k}={v!r}" for k, v in seen.items())
                    reason = f'when "{expression.text}" is false' + (f" ({values})" if values else "")
                    self._close(sid, _SKIPPED, wall, reason=reason)
                    return
        if sid in self.fanout:
            fanout.expand(self, sid, wall)
            return
        self.ready.append(sid)

    def _release(self, sid: str, wall: float) -> None:
        """The one place children are released: O(degree).

        Invariant: ``waiting[child]`` counts parents not yet released; a child reaches
        0 once, and only an unfinished child then becomes ready.
        """
        waiting, records = self.waiting, self.records
        for child in self.children[sid]:
            waiting[child] -= 1
            if waiting[child] == 0 and not records[child].status.finished:
                self._ready(child, wall)

    def release_committed(self, wall: float) -> None:
        """The store committed the outcomes in ``releasing``: release their children.

        Invariant: a child never starts before its parent's success is durable.
        """
        while self.releasing:
            batch, self.releasing = self.releasing, []
            for sid in batch:
                self._release(sid, wall)

    # -- starting ------------------------------------------------------------------------------
    def policy_key(self, sid: str) -> str:
        """What the strategy's policy is given for ready ``sid``: an instance goes as its
        fan-out step (policies know only the plan's steps); :meth:`claim` maps it back."""
        gid = self.instance_of.get(sid)
        if gid is None:
            return sid
        self.fanouts[gid].ready.append(sid)
        return gid

    def claim(self, sid: str) -> str | None:
        """The step to start for ``sid`` popped from the policy: itself, or the next ready
        instance of the fan-out step ``sid`` (``None``: none is left)."""
        fan = self.fanouts.get(sid)
        if fan is None:
            return sid
        while fan.ready:
            iid = fan.ready.popleft()
            if not self.records[iid].status.finished:
                return iid
        return None

    def admit(self, sid: str) -> bool:
        """Whether ``sid`` may start now as far as resources go; if not, it is parked.

        Invariant: running steps never hold more units of a resource than it has; a
        parked step holds no worker and returns to ``ready`` when a holder leaves.
        """
        needs = self.steps[sid].resources
        if not needs or self.dry_run:
            return True
        held, capacity = self.held, self.capacity
        short = next((name for name, count in needs.items() if held[name] + count > capacity[name]), None)
        if short is None:
            return True
        self.parked.append(sid)
        if sid not in self.waited:
            holders = [r for r in self.running if short in self.steps[r].resources]
            why = f"waiting for resource {short} ({held[short]}/{capacity[short]} held by {', '.join(holders)})"
            self.waited[sid] = why
            if self.emitting:
                data = {"resource": short, "held": held[short], "capacity": capacity[short], "holders": holders}
                self.events.append(("step.waiting", sid, {**data, "reason": why}))
        return False

    def _leave(self, sid: str) -> None:
        """``sid`` left ``running``: its resources are free; parked steps try again."""
        needs = self.steps[sid].resources
        if not needs:
            return
        for name, count in needs.items():
            self.held[name] -= count
        parked, self.parked = self.parked, []
        self.ready.extend(p for p in parked if not self.records[p].status.finished)

    def _begin_attempt(self, sid: str, number: int, wall: float) -> StepRecord:
        record = self.records[sid]
        record.attempts = number
        if record.started_at is None:
            record.started_at = wall
        return record

    def start(self, attempt: Attempt, wall: float) -> None:
        """``attempt`` (number ``record.attempts + 1``) was prepared and goes to the pool.

        Invariant: a step is in ``running`` exactly while one attempt of it is in flight
        (one a pool thread took from the standby: from when the loop reads that it did),
        and its DEADLINE timer is armed.
        """
        sid = attempt.step_id
        record = self.records[sid]
        record.attempts = attempt.number
        if record.started_at is None:
            record.started_at = wall
        self.running[sid] = attempt
        if self.offered:
            self.offered.discard(sid)
        needs = self.steps[sid].resources
        if needs:
            for name, count in needs.items():
                self.held[name] += count
        record.status = _RUNNING
        if self.recording:
            self.writes.append((Write.STEP_STARTED, sid, attempt.number, attempt.wall_started))
        gid = self.instance_of.get(sid)
        if gid is not None and self.records[gid].started_at is None:
            # The fan-out step runs from its first instance's start: the store says so
            # while it runs, and after a kill -9 it reads interrupted, not pending.
            self.records[gid].started_at = wall
            if self.recording:
                self.writes.append((Write.STEP_RUNNING, gid, attempt.wall_started))
        waited = self.waited.pop(sid, None) if self.waited else None
        if waited is not None and self.recording:  # the store keeps why this attempt started late
            self.writes.append((Write.ATTEMPT_NOTED, sid, attempt.number, {"waited": waited}))
        if self.emit_started:
            self.events.append(("step.started", sid, {"attempt": attempt.number, "action": attempt.action.name}))
        if not attempt.action.inline:
            # (An inline action has returned before the loop looks at a timer again:
            # its deadline could never fire.)
            self.timers.push(attempt.submitted + attempt.timeout, TimerKind.DEADLINE, sid, attempt)

    def fail_to_start(self, sid: str, number: int, error: str, wall: float) -> None:
        """Attempt ``number`` could not be prepared (a template or parameter error).

        Invariant: the step fails without a retry (the same input would fail again) and
        the failure policy applies, as for any failure that is final.
        """
        record = self._begin_attempt(sid, number, wall)
        record.error = error
        self._close(sid, StepStatus.FAILED, wall, error=error)
        self._after_failure(self.steps[sid], wall)

    def would_run(self, sid: str, number: int, reason: str, wall: float) -> None:
        """Dry run: the step is reported (skipped with ``reason``) instead of run.

        Its output is :class:`Unknown` to templates; its children are released (they are
        reported too). Invariant: a step in ``not_run`` never ran.
        """
        self._begin_attempt(sid, number, wall)
        self.not_run.add(sid)
        self.results[sid] = {"output": Unknown(f"steps.{sid}.output"), "status": "dry_run"}
        self._close(sid, _SKIPPED, wall, reason=reason, release=True)

    # -- an attempt ends ---------------------------------------------------------------------
    def finish(self, attempt: Attempt, now: float, wall: float, crash: str | None = None) -> None:
        """``attempt`` came back from the pool (``crash`` says why it has no result).

        Invariant: only the step's current attempt counts (a timed-out or abandoned one
        is ignored); a success is recorded before its children are released (they wait
        in ``releasing`` for the commit); after a cancel nothing succeeds any more.
        """
        sid = attempt.step_id
        if self.running.get(sid) is not attempt:
            return
        del self.running[sid]
        if self.capacity:  # (a step can only hold a declared resource)
            self._leave(sid)
        if not attempt.action.inline:  # its deadline entry is stale now (an inline one has none)
            self.timers.stale += 1
        record = self.records[sid]
        record.duration += (attempt.ended or now) - (attempt.started or attempt.submitted)
        result = attempt.result
        if result is None:
            self._fail(
                attempt, f"the action raised {crash or 'it did not return (worker died)'}", StepStatus.FAILED, now, wall
            )
            return
        if self.stopping is Stop.CANCELLED and sid not in self.triggered:
            if self.recording:
                self.writes.append(
                    (
                        Write.ATTEMPT_FINISHED,
                        sid,
                        attempt.number,
                        _CANCELLED.value,
                        attempt.wall_started,
                        result.error,
                        wall,
                    )
                )
            # (A halted attempt did not begin: see wfe_core.run.attempt.Halt. A retry's
            # reads as a retry dropped at a cancel does.)
            if not attempt.halted:
                reason = "run cancelled"
            elif attempt.number > self.prior_attempts.get(sid, 0) + 1:
                reason = "retry not started: run cancelled"
            else:
                reason = f"not started: {self.stop_reason}"
            self._close(sid, _CANCELLED, wall, reason=reason)
            return
        if result.success and result.variables and not (attempt.action.sets_variables or self.dry_run):
            result.success = False
            result.error = f"action '{attempt.action.name}' returned variables but does not declare sets_variables=True"
        if not result.success:
            self._fail(attempt, result.error or "failed", StepStatus.FAILED, now, wall, output=result.output)
            return
        if self.recording:
            self.writes.append(
                (Write.ATTEMPT_FINISHED, sid, attempt.number, _SUCCEEDED_TEXT, attempt.wall_started, None, wall)
            )
        if result.variables:
            self.variables.update(result.variables)
            self.variables_version += 1
        record.output = result.output
        record.error = None
        # 'error' too (None): validation allows {steps.<id>.error}, and without the key a
        # succeeded step's dependents failed with "has no key 'error'".
        self.results[sid] = {"output": result.output, "status": _SUCCEEDED_TEXT, "error": None}
        self.completed.append((sid, result.output, attempt.memo))
        self.memos[sid] = attempt.memo
        self._close(sid, _SUCCEEDED, wall, release=True, variables=result.variables)

    def time_out(self, attempt: Attempt, now: float, wall: float) -> None:
        """``attempt`` passed its deadline: a TIMED_OUT attempt, retried if the budget allows.

        Invariant: the attempt leaves ``running`` now, so whatever it returns later is
        ignored by :meth:`finish` (the loop abandons it).
        """
        sid = attempt.step_id
        del self.running[sid]
        self._leave(sid)
        self.records[sid].duration += attempt.timeout
        self._fail(attempt, f"timed out after {attempt.timeout:g}s", StepStatus.TIMED_OUT, now, wall)

    def _fail(
        self, attempt: Attempt, error: str, status: StepStatus, now: float, wall: float, output: Any = None
    ) -> None:
        """A failed attempt: retry it if its budget allows and the run goes on, else close it.

        ``output`` is what the failed attempt returned (e.g. the stdout/stderr of a command
        that exited non-zero): recorded, and its tail goes with the step's events.

        Invariant: a step has at most ``max_retries`` retries per run (resume included);
        a retry waits in ``retrying`` with a RETRY timer after an equal-jitter delay.
        """
        sid = attempt.step_id
        step = self.steps[sid]
        self.records[sid].error = error
        self.records[sid].output = output
        if self.recording:
            self.writes.append(
                (Write.ATTEMPT_FINISHED, sid, attempt.number, status.value, attempt.wall_started, error, wall)
            )
        tries = attempt.number - self.prior_attempts.get(sid, 0)
        if tries <= step.max_retries and self.stopping is None:
            delay = min(step.retry_delay * step.retry_backoff ** (tries - 1), step.retry_max_delay)
            delay = delay / 2 + self.uniform(0, delay / 2)  # equal jitter: grows, never bunches
            if self.emitting:
                self.events.append(
                    (
                        "step.retrying",
                        sid,
                        {
                            "attempt": attempt.number,
                            "error": error,
                            "delay": delay,
                            "status": status.value,
                            **_tail(output),
                        },
                    )
                )
            self.timers.push(now + delay, TimerKind.RETRY, sid)
            self.retrying[sid] = None
            return
        self._close(sid, status, wall, error=error)
        self._after_failure(step, wall)

    def _after_failure(self, step: WorkflowStep, wall: float) -> None:
        """A step failed for good. Critical: dispatch stops and pending retries are
        dropped. Not critical: exactly its descendants are skipped; the rest go on."""
        if step.critical:
            if self.critical_failure is None and not self.cancel_requested:  # not a cancel's fallout
                self.critical_failure = f"critical step '{step.id}' failed"
            if self.stopping is None:
                self.stopping = Stop.CRITICAL_FAILURE
                self.stop_reason = f"critical step '{step.id}' failed"
                # A pending retry will never start: close it now instead of keeping the
                # run alive until its timer fires (up to retry_max_delay).
                self._drop_retries(f"retry not started: {self.stop_reason}", wall)
                self._cancel_pending(wall)
        else:
            self._skip_descendants(step.id, f"upstream step '{step.id}' failed", wall)

    def retry_due(self, sid: str, wall: float) -> None:
        """A RETRY timer fired: the step is ready again, unless the run stopped.

        Invariant: a step leaves ``retrying`` exactly once: here, or when a stop drops it.
        """
        if sid not in self.retrying:
            return  # dropped already (a stop closed it)
        del self.retrying[sid]
        if self.stopping is None:
            self.ready.append(sid)
        else:
            self._close(sid, _CANCELLED, wall, reason=f"retry not started: {self.stop_reason}")

    # -- stopping ------------------------------------------------------------------------------
    def cancel(self, now: float, wall: float) -> list[Attempt]:
        """Stop dispatch for a cancel; returns the running attempts to signal.

        Invariant: after it, no step starts but triggered ones and no other attempt
        succeeds; pending retries are cancelled; running steps end CANCELLED when they
        return (or are abandoned). Running triggered steps (``always`` / ``on_failure``:
        cleanup, which a cancel still starts) are not signalled: they run to their end,
        within their own timeout, and end as they end.
        """
        self.cancel_requested = True
        self.stopping = Stop.CANCELLED
        self.stop_reason = "cancelled"
        self.cancelled_at = now
        self._drop_retries("retry not started: run cancelled", wall)
        self._cancel_pending(wall)
        triggered = self.triggered
        return [attempt for sid, attempt in self.running.items() if sid not in triggered]

    def _cancel_pending(self, wall: float) -> None:
        """Dispatch stopped: close now every step that will never start, so that steps
        with trigger ``always`` / ``on_failure`` see all their dependencies end.

        Invariant: afterwards only running steps and waiting triggered steps are unfinished.
        """
        if self.fanouts:
            fanout.stop_instances(self, wall)
        if not self.triggered:
            return  # nothing waits for these ends; end() cancels them as before
        reason = f"not started: {self.stop_reason}"
        fanouts = self.fanouts
        for sid in self.order:
            if sid in fanouts:
                continue  # ends with its running instances
            if (
                sid not in self.triggered
                and sid not in self.running
                and sid not in self.offered
                and not self.records[sid].status.finished
            ):
                self._close(sid, _CANCELLED, wall, reason=reason)

    def take_after_stop(self, free: int, wall: float) -> list[str]:
        """Dispatch stopped: the triggered steps that may still start (at most ``free``),
        from the front of ``ready``.

        Invariant: a ready step that is not triggered is cancelled once it is looked at;
        the steps behind the ``free`` taken wait in ``ready`` for a worker. Each step is
        looked at once: a stop with thousands of triggered steps queued is not quadratic.
        """
        out: list[str] = []
        if free <= 0:
            return out
        records, running, triggered, ready = self.records, self.running, self.triggered, self.ready
        internal = self.stopping is Stop.INTERNAL_ERROR
        looked = 0
        for sid in ready:
            looked += 1
            if records[sid].status.finished or sid in running:
                continue
            if internal or sid not in triggered:
                self._close(sid, _CANCELLED, wall, reason=f"not started: {self.stop_reason}")
                continue
            out.append(sid)
            if len(out) == free:
                break
        del ready[:looked]
        return out

    def _drop_retries(self, reason: str, wall: float) -> None:
        retrying, self.retrying = self.retrying, {}
        for sid in retrying:
            self._close(sid, _CANCELLED, wall, reason=reason)
        self.timers.drop(TimerKind.RETRY)

    def abandon_running(self, reason: str, wall: float) -> list[Attempt]:
        """Stop waiting for every running attempt; returns them, for the loop to abandon.

        Invariant: afterwards nothing runs but triggered steps; each abandoned step ended
        CANCELLED (``reason``).
        """
        # A triggered step (always / on_failure) is never asked to stop by a cancel (see
        # cancel): the grace period is not its limit (its own timeout is).
        triggered = self.triggered
        attempts = [a for sid, a in self.running.items() if sid not in triggered]
        for attempt in attempts:
            del self.running[attempt.step_id]
            self._leave(attempt.step_id)
            self._close(attempt.step_id, _CANCELLED, wall, reason=reason)
        return attempts

    def end(self, wall: float) -> str | None:
        """The run is over: every step not finished is cancelled. Returns why the run did
        not succeed (``None``: it did, unless it was cancelled).

        Invariant: afterwards every step is in a finished status; steps never started
        without a reason mean a scheduling bug, which must never read as success.
        """
        why = self.critical_failure or self.stop_reason
        if why is None and not self.cancel_requested:
            stranded = [sid for sid, r in self.records.items() if not r.status.finished]
            if stranded:
                self.stopping = Stop.INTERNAL_ERROR
                why = self.stop_reason = (
                    f"internal error: the run ended with {len(stranded)} steps never "
                    f"started ({', '.join(stranded[:5])})"
                )
        before = self.finished
        reason = f"not started: {why or 'run ended'}"
        for sid, record in self.records.items():
            if not record.status.finished:
                record.status = _CANCELLED
                record.reason = reason
                self._finished_now(record, None, None, None)
                if self.emitting:
                    self.events.append(("step.cancelled", sid, {"reason": reason}))
        if self.finished != before:
            self._progress()
        return why

    def rolled_back(self, sid: str, status: StepStatus, error: str | None, duration: float) -> None:
        """A compensation ended: the step is ROLLED_BACK or ROLLBACK_FAILED (``error``).

        Invariant: only a succeeded step is compensated, once, after the loop ended.
        """
        record = self.records[sid]
        record.status = status
        if error:
            record.error = f"rollback failed: {error}"
        shown = record.error if error else None
        if self.recording:
            self.writes.append((Write.STEP_STATUS, sid, status.value, shown))
        if self.emitting:
            self.events.append((f"step.{status.value}", sid, {"error": shown, "duration": duration}))

    # -- closing a step ---------------------------------------------------------------------
    def _finished_now(self, record: StepRecord, variables: Any, memo: Any, seq: int | None) -> None:
        self.finished += 1
        if self.recording:
            self.writes.append((Write.STEP_FINISHED, record, variables, memo, seq))

    def _close(
        self,
        sid: str,
        status: StepStatus,
        wall: float,
        *,
        error: str | None = None,
        reason: str | None = None,
        release: bool = False,
        variables: Any = None,
    ) -> None:
        """Put ``sid`` in a finished ``status`` (once: a finished step stays finished).

        Invariant: a success releases its children after the commit (``releasing``), or
        at once when the step is in ``early``; a skip skips its descendants
        (``propagate_skips``) or releases its children now; any other end leaves its
        children waiting (they are skipped or cancelled).
        """
        record = self.records[sid]
        if record.status.finished:
            return
        record.status = status
        record.finished_at = wall
        if error is not None:
            record.error = error
        if reason is not None:
            record.reason = reason
        succeeded = status is _SUCCEEDED
        self.finished += 1
        if self.recording:
            self.writes.append(
                (
                    Write.STEP_FINISHED,
                    record,
                    variables,
                    self.memos.get(sid),
                    len(self.completed) if succeeded else None,
                )
            )
        if not succeeded and sid not in self.results:
            self.results[sid] = {"output": None, "status": status.value, "error": record.error}
        if self.emit_succeeded if succeeded else self.emitting:
            data = {
                "attempts": record.attempts,
                "duration": record.duration,
                "error": record.error,
                "reason": record.reason,
            }
            output = record.output
            if output is not None:
                if succeeded:
                    summary = output_summary(self._masked(output))
                    if summary:
                        data["output_summary"] = summary
                elif status in _FAILURES:
                    data.update(_tail(output))
            # (_value_: .value is a property call, once per step)
            self.events.append((f"step.{status._value_}", sid, data))
        elif succeeded and self.recording and sid not in self.early:
            self.commit_soon = True
        if self.emit_progress:
            self._progress()
        if sid in self.instance_of:
            fanout.instance_closed(self, sid, wall)  # no children: its step answers for it
            return
        if release:
            if sid in self.early:
                self._release(sid, wall)
            else:
                self.releasing.append(sid)
        elif status is _SKIPPED and not self.propagate_skips:
            self._release(sid, wall)
        else:
            self._ended(sid, wall)
            if status is _SKIPPED:
                self._skip_descendants(sid, f"upstream step '{sid}' was skipped", wall)

    def _ended(self, sid: str, wall: float) -> None:
        """``sid`` ended without success: its triggered children count it as done."""
        if not self.triggered:
            return
        waiting, records = self.waiting, self.records
        for child in self.children[sid]:
            if child in self.triggered:
                waiting[child] -= 1
                if waiting[child] == 0 and not records[child].status.finished:
                    self._ready(child, wall)

    def _skip_descendants(self, sid: str, reason: str, wall: float) -> None:
        """Skip every unfinished, not running descendant of ``sid`` with ``reason``.

        Invariant: exactly the descendants are touched (O(descendants)); a skipped step
        never releases its children, so none of them starts.
        """
        before = self.finished
        triggered = self.triggered
        stack = [c for c in self.children[sid] if c not in triggered]
        while stack:
            child = stack.pop()
            record = self.records[child]
            if record.status.finished or child in self.running:
                continue
            record.status = _SKIPPED
            record.reason = reason
            record.finished_at = wall
            self.results[child] = {"output": None, "status": _SKIPPED.value}
            self._finished_now(record, None, None, None)
            if self.emitting:
                self.events.append(("step.skipped", child, {"reason": reason}))
            if triggered:
                self._ended(child, wall)
                stack.extend(c for c in self.children[child] if c not in triggered)
            else:
                stack.extend(self.children[child])
        if self.finished != before:  # these steps finished too: observers must see it
            self._progress()

    def _progress(self) -> None:
        if self.emit_progress:
            total = len(self.records)
            self.events.append(
                (
                    "progress",
                    None,
                    {
                        "completion_percentage": 100.0 * self.finished / max(1, total),
                        "finished": self.finished,
                        "total": total,
                    },
                )
            )


def _tail(output: Any) -> dict[str, Any]:
    """``{"output_tail": [...]}`` for a failed attempt's output that has printed lines, else ``{}``."""
    if output is None:
        return {}
    lines = output_tail(output, chars=TAIL_CHARS)
    return {"output_tail": lines} if lines else {}
