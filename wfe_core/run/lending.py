"""Handing a pool thread its next step without waking the run loop ("lending").

A pool thread that finished an attempt sleeps until the loop wakes it with the next
one. With steps of microseconds that wake-up, one per step, is most of what a run on
worker threads costs over a bare thread pool, which queues every ready step ahead of
its threads (``bench/lending.py``). So while steps are short the loop keeps a
few prepared attempts in a :class:`Standby` beside the pool: a thread whose attempt
just succeeded takes the next one, tells the loop (a :class:`Lent` notice, queued
after that attempt's own completion) and runs it. The loop starts the step in the
state when it reads the notice: it is reported and recorded as started then, and its
timeout counts from when the thread took it.

What keeps the run's promises:

- **the bound**: a thread takes an attempt only right after one of its own succeeded,
  one for one, so no more steps run at once than the policy's workers; the loop fills
  the standby only for policies that count slots and nothing else (``slots_only``);
- **the order**: the standby holds at most :data:`DEPTH` steps, taken from the policy
  in its order while attempts end within :data:`SHORT` seconds, and a thread takes one
  only after a step of its own that short. Whenever a slot is free the loop gives the
  policy back what no thread took, and it chooses again: a step that became ready
  meanwhile waits behind at most what threads take between two short steps;
- **stopping**: no thread takes from when one hands back a failure until the loop has
  read it (a critical one stops the run), nor while the loop handles a timeout, nor
  after an abandoned attempt, nor once the run is cancelled; the loop takes back what
  is left as soon as the run stops, offers nothing more once a step it prepares stops
  it, and a notice read after a cancel cancels its attempt at once;
- **what a step sees**: a standby attempt is prepared before it starts, so lending is
  used only where that is the same: no step sets variables, none runs inline on the
  loop's thread, no fan-out, no declared resources, no dry run, threads of wfe's own
  pool (an executor plugin's futures report their own ends).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

__all__ = ["DEPTH", "SHORT", "Lent", "Standby", "in_flight", "may_lend"]

#: Most attempts kept prepared for pool threads to take.
DEPTH = 64
#: Lend only while the last attempt that ended ran less than this many seconds: for
#: longer steps a wake-up is nothing, and the policy's order is kept exactly.
SHORT = 0.001


class Lent:
    """Queued by a pool thread: it took ``attempt`` from the standby and runs it."""

    __slots__ = ("attempt",)

    def __init__(self, attempt: Any):
        self.attempt = attempt


class Standby:
    """Prepared attempts pool threads may take (see the module docstring).

    The loop appends and takes back; pool threads take with :meth:`take`. A deque's
    ``append`` and ``popleft`` are atomic, so an attempt goes to exactly one of them.
    """

    def __init__(self) -> None:
        self.attempts: deque[Any] = deque()
        self.closed = False  # set by the loop (and a cancel, from any thread): take nothing
        # Failed attempts threads are handing back, each put here before it is queued and
        # removed by the loop as it reads it: no thread takes while one may stop the run.
        self.failing: deque[Any] = deque()
        # Set by the loop while it handles a timeout (which may stop the run): take nothing.
        self.hold = False
        self.short = False  # the last attempt the loop read ran within SHORT seconds

    def take(self, finished: Any) -> tuple[Lent, Any] | None:
        """On a pool thread, once ``finished`` ran and before it is handed back: None,
        or the next attempt with the notice to queue after ``finished``.

        Taking first keeps the count of what is in flight right: the loop counts an
        attempt out of the standby and not yet started as running (:func:`in_flight`),
        so ``finished``'s slot never looks free while this thread keeps it.
        """
        if self.closed or self.hold or finished.abandoned:
            return None
        result = finished.result
        if result is None or not result.success:
            self.failing.append(finished)
            return None
        if self.failing or not self.attempts or finished.ended - finished.started >= SHORT:
            return None  # (after a longer step the loop chooses the next: the policy's order)
        try:
            attempt = self.attempts.popleft()
        except IndexError:
            return None
        attempt.submitted = time.monotonic()
        attempt.wall_started = time.time()
        return Lent(attempt), attempt

    def take_back(self) -> list[Any]:
        """Every attempt no thread took yet, in order."""
        out = []
        while True:
            try:
                out.append(self.attempts.popleft())
            except IndexError:
                return out


def may_lend(loop: Any) -> bool:
    """Whether lending keeps the run's promises for ``loop``'s run (see the module docstring)."""
    state = loop.state
    policy = loop.policy
    if loop.dry_run or state.fanout or state.capacity:
        return False
    if not (getattr(policy, "slots_only", False) and callable(getattr(policy, "unpop", None))):
        return False
    names = {step.action for step in loop.workflow.steps}
    for name in names:
        action = loop.actions.get(name)
        if action is None or action.inline or action.sets_variables:
            return False
    return True


def in_flight(state: Any, standby: Standby | None) -> int:
    """Steps in flight: running, and offered ones a thread took whose notice the loop
    has not read yet (an attempt leaves the standby before its thread hands back the
    one it ended, so a slot a thread keeps is never counted free)."""
    running = len(state.running)
    if standby is None or not state.offered:
        return running
    return running + len(state.offered) - len(standby.attempts)
