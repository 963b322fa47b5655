"""Progress of runs: ``engine.progress_tracker.add_observer(callback)`` and ETA snapshots.

The tracker keeps a small, lock-protected picture of each active run, updated from run
events on the scheduler thread (cheap: a few dict writes per event). Observers are called
after every step that finishes; the live display instead reads :meth:`ProgressTracker.snapshot`
from its own thread, so estimating never costs the scheduler per event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from wfe_core.plugin.capabilities import Event
from wfe_core.run.eta import remaining_time

__all__ = ["ProgressTracker", "RunProgress"]

log = logging.getLogger("wfe.progress")

_FAILED = ("step.failed", "step.timed_out")
_FINISHED = ("step.succeeded", "step.skipped", "step.cancelled", *_FAILED)


class RunProgress:
    """What the tracker knows of one run (mutated under the tracker's lock)."""

    def __init__(
        self,
        deps: Mapping[str, tuple[str, ...]],
        actions: Mapping[str, str],
        learned: Mapping[str, float],
        workers: int,
    ) -> None:
        self.deps = dict(deps)
        self.actions = dict(actions)
        self.learned = dict(learned)
        self.workers = workers
        self.started = time.monotonic()
        self.running: dict[str, float] = {}  # step id -> monotonic start of its attempt
        self.attempts: dict[str, int] = {}
        self.finished: set[str] = set()
        self.failed: list[str] = []
        self.durations: dict[str, float] = {}  # this run's finished steps that ran
        self.ended = False
        self.eta_cache: tuple[float, float | None, int] | None = None  # (when, eta, steps done)


class ProgressTracker:
    """Turns run events into progress updates for observers and snapshots for displays.

    An observer is called as ``callback(workflow_id, progress_data)`` on the scheduler
    thread after every step that finishes, where ``progress_data`` has
    ``completion_percentage`` (0–100), ``completed_steps``, ``total_steps``, ``running``
    (step ids), ``failed`` (step ids), ``elapsed`` (seconds), ``eta_seconds`` (seconds
    left, ``None`` when unknown; see :mod:`wfe_core.run.eta`), plus ``run_id`` and the
    older names ``finished``, ``total`` and ``eta``. An observer that raises is logged
    and the run goes on.
    """

    def __init__(self) -> None:
        self._observers: list[Callable[[str, dict[str, Any]], None]] = []
        self._lock = threading.Lock()
        self._runs: dict[str, RunProgress] = {}
        self._workflows: dict[str, str] = {}
        #: Track runs even without observers (a display reads :meth:`snapshot`).
        self.follow = False

    def add_observer(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``callback(workflow_id, progress_data)`` after every finished step."""
        with self._lock:
            self._observers.append(callback)

    def remove_observer(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        with self._lock:
            self._observers.remove(callback)

    @property
    def active(self) -> bool:
        """Whether runs need to feed this tracker."""
        return bool(self._observers) or self.follow

    def begin(
        self,
        run_id: str,
        workflow_id: str,
        *,
        deps: Mapping[str, tuple[str, ...]],
        actions: Mapping[str, str],
        learned: Mapping[str, float],
        workers: int,
    ) -> None:
        """Know a run's shape before it starts: dependencies, actions, learned durations."""
        with self._lock:
            self._runs[run_id] = RunProgress(deps, actions, learned, workers)
            self._workflows[run_id] = workflow_id

    def handle(self, event: Event) -> None:
        """A run listener: update the run's picture; notify observers on progress."""
        with self._lock:
            run = self._runs.get(event.run_id)
            if run is None:
                return
            kind, sid = event.kind, event.step_id
            if kind == "run.started":
                run.started = time.monotonic()
                run.workers = int(event.data.get("workers") or run.workers)
            elif kind == "step.started" and sid is not None:
                run.running[sid] = time.monotonic()
                run.attempts[sid] = int(event.data.get("attempt") or 1)
            elif kind in _FINISHED and sid is not None:
                run.running.pop(sid, None)
                if sid in run.deps:  # a fan-out instance is not a step of the plan: its step counts
                    run.finished.add(sid)
                if kind in _FAILED:
                    run.failed.append(sid)
                if kind != "step.skipped" and kind != "step.cancelled" and "duration" in event.data:
                    run.durations[sid] = float(event.data["duration"])
            elif kind == "run.finished":
                run.ended = True
            observers = list(self._observers) if kind == "progress" else []
        if observers:
            data = self.snapshot(event.run_id)
            if data is None:
                return
            for observer in observers:
                try:
                    observer(event.workflow_id, data)
                except Exception:
                    log.exception("a progress observer failed")
        if event.kind == "run.finished":
            with self._lock:
                self._runs.pop(event.run_id, None)
                self._workflows.pop(event.run_id, None)

    def snapshot(self, run_id: str, eta_max_age: float = 0.0) -> dict[str, Any] | None:
        """The progress data of an active run (thread-safe), or None when not tracked.

        The state is copied under the lock and the ETA computed outside it, so the
        scheduler thread never waits for an estimate. ``eta_max_age``: reuse an estimate
        computed less than this many seconds ago (counted down since), as a display
        redrawing often over thousands of steps should.
        """
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            now = time.monotonic()
            total = len(run.deps)
            done = len(run.finished)
            running = {s: now - t for s, t in run.running.items()}
            attempts = {s: run.attempts.get(s, 1) for s in running}
            cached = run.eta_cache
            # An unknown estimate is not reused once another step has finished: that
            # step's duration may be what makes it known (the display said "unknown"
            # for up to eta_max_age after it was not).
            if cached is not None and now - cached[0] < eta_max_age and (cached[1] is not None or cached[2] == done):
                eta = None if cached[1] is None else max(0.0, cached[1] - (now - cached[0]))
                copy = None
            else:
                copy = _copy(run)
            failed, started = list(run.failed), run.started
        if copy is not None:
            eta = _eta(copy, running)
            with self._lock:
                run.eta_cache = (now, eta, done)
        return {
            "run_id": run_id,
            "workflow_id": self._workflows.get(run_id),
            "completion_percentage": 100.0 * done / max(1, total),
            "completed_steps": done,
            "total_steps": total,
            "running": sorted(running, key=lambda s: -running[s]),
            "running_for": running,
            "attempts": attempts,
            "failed": failed,
            "elapsed": now - started,
            "eta_seconds": eta,
            # The names of earlier versions.
            "finished": done,
            "total": total,
            "eta": eta,
        }


def _copy(run: RunProgress) -> RunProgress:
    """What :func:`_eta` reads, copied (the scheduler goes on changing the original)."""
    copy = RunProgress.__new__(RunProgress)
    copy.deps, copy.actions, copy.learned, copy.workers = run.deps, run.actions, run.learned, run.workers
    copy.finished, copy.durations = set(run.finished), dict(run.durations)
    return copy


def _eta(run: RunProgress, running: Mapping[str, float]) -> float | None:
    """Seconds left, or None when some unfinished step has no estimate."""
    if len(run.finished) >= len(run.deps):
        return 0.0
    import statistics  # here: with fractions and decimal, ~2 ms of every start; few runs estimate

    by_action: dict[str, list[float]] = {}
    for sid, d in run.durations.items():
        by_action.setdefault(run.actions.get(sid, ""), []).append(d)
    overall = statistics.fmean(run.durations.values()) if run.durations else None
    estimates: dict[str, float] = {}
    for sid in run.deps:
        if sid in run.finished:
            continue
        if sid in run.learned:
            estimates[sid] = run.learned[sid]
        elif run.actions.get(sid) in by_action:
            estimates[sid] = statistics.fmean(by_action[run.actions[sid]])
        elif overall is not None:
            estimates[sid] = overall
        else:
            return None
    return remaining_time(run.deps, estimates, run.finished, running, run.workers)
