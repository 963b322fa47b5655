"""What limited a run: wall time, efficiency, critical path, bottlenecks, a verdict.

Definitions (the report's JSON documents the same):

- **wall time**: the run's own measure of it (``RunStats.total_execution_time``, recorded
  when it finishes); for a run in progress, interrupted, or resumed, its end (or the
  moment it was read) minus its recorded start — a resumed run's wall time then
  includes the time it lay interrupted.
- **busy time**: seconds spent inside actions, summed over every attempt of every step.
- **parallel efficiency**: ``busy_time / (wall_time * workers)`` clamped to [0, 1] — the
  share of the worker capacity the run kept busy. :func:`parallel_efficiency` is the one
  formula, and the report feeds it RunStats' own inputs as recorded in the store (busy
  time per step, ``workers`` and the run's elapsed time), so the two are the same
  number. Not for a resumed run: RunStats divides the busy time of every session by
  the elapsed time of the last one (often over 100%, clamped); the report divides it by
  the run's whole lifetime, interruption included.
  A run that has not finished (in progress, interrupted) has no recorded worker limit:
  its peak concurrency (the most attempts that overlapped) stands in.
- **span** of a step: from its first attempt's start to its last attempt's end (retries
  and backoff included).
- **critical path**: the chain of dependent steps with the longest summed span, over the
  steps that ran; its share is its length over the wall time. A fan-out step is on it
  through the instance that ended last (what its dependents waited for); its other
  instances are not.
- **wait** of a step: from the moment its last dependency finished (the run's start for a
  step without dependencies) to its first attempt's start — time it was ready but no
  worker was free. Derived, because queueing is not recorded yet; not derived for
  resumed runs (their interruption would count as waiting). An instance of a fan-out
  step with ``max_parallel`` that started after ``max_parallel`` of its siblings waited
  for one of them to end, not for a worker: it is listed apart (``waited_max_parallel``)
  and does not count toward the worker-limit verdict.
"""

from __future__ import annotations

import attrs

from wfe_core.plan.graph import DependencyGraph
from wfe_core.report.data import RunRecord, StepRecord

__all__ = ["Analytics", "analyze", "parallel_efficiency"]

#: A wait shorter than this is scheduler latency, not a step waiting for a worker.
MIN_WAIT = 0.05


def parallel_efficiency(busy_time: float, wall_time: float, workers: int) -> float:
    """``busy_time / (wall_time * workers)``, clamped to [0, 1]; 0 without time or workers."""
    if wall_time <= 0 or workers <= 0:
        return 0.0
    return min(1.0, busy_time / (wall_time * workers))


@attrs.frozen
class Analytics:
    """The numbers of one run (see the module docstring for each definition).

    Attributes:
        wall_time, busy_time: seconds.
        workers: the worker count efficiency is measured against.
        workers_source: ``recorded`` or ``peak concurrency``.
        peak_concurrency: the most attempts that ran at once.
        parallel_efficiency: in [0, 1].
        spans: step id -> span in seconds (steps that ran).
        waits: step id -> derived wait in seconds (``{}`` for resumed runs).
        critical_path: step ids, first to last; ``critical_path_time`` its summed span;
            ``critical_path_share`` that over the wall time.
        slowest: steps on the critical path, longest span first: ``(step, seconds)``.
        waited: steps that waited for a worker, longest wait first: ``(step, seconds)``.
        waited_max_parallel: fan-out instances that waited for their step's
            ``max_parallel``, longest wait first: ``(step, seconds)``.
        retries: retried steps, costliest first: ``(step, attempts, seconds)`` where the
            seconds are what failed attempts and backoff cost before the last attempt.
        limiter: ``chain``, ``workers``, ``slow_step``, ``retries``, ``overhead`` or ``nothing``.
        verdict: one line saying what limited the run.
    """

    wall_time: float
    busy_time: float
    workers: int
    workers_source: str
    peak_concurrency: int
    parallel_efficiency: float
    spans: dict[str, float]
    waits: dict[str, float]
    critical_path: tuple[str, ...]
    critical_path_time: float
    critical_path_share: float
    slowest: tuple[tuple[str, float], ...]
    waited: tuple[tuple[str, float], ...]
    retries: tuple[tuple[str, int, float], ...]
    limiter: str
    verdict: str
    waited_max_parallel: tuple[tuple[str, float], ...] = ()


def _span(step: StepRecord, now: float) -> float | None:
    starts = [a.started_at for a in step.attempts if a.started_at is not None]
    if not starts:
        return None
    end = step.attempts[-1].finished_at or (now if step.status in ("running", "interrupted") else None)
    end = end or step.finished_at or starts[0]
    return max(0.0, end - min(starts))


def _peak(run: RunRecord) -> int:
    """The most attempts running at once (ends sort before starts at the same instant)."""
    points = []
    for step in run.steps:
        for a in step.attempts:
            if a.started_at is not None:
                points.append((a.started_at, 1))
                points.append((a.finished_at or run.ended_at, -1))
    points.sort()
    peak = current = 0
    for _, delta in points:
        current += delta
        peak = max(peak, current)
    return peak


def _waits(run: RunRecord) -> dict[str, float]:
    if run.resumed or run.started_at is None:
        return {}
    by_id = {s.id: s for s in run.steps}
    out = {}
    for step in run.steps:
        if not step.attempts or step.attempts[0].started_at is None:
            continue
        ready = max((by_id[d].finished_at or 0.0 for d in step.dependencies), default=run.started_at)
        out[step.id] = max(0.0, step.attempts[0].started_at - ready)
    return out


def _held_back(run: RunRecord) -> set[str]:
    """Instances that started only after ``max_parallel`` siblings had started: each
    waited for a sibling to end (its step's limit), not for a worker."""
    siblings: dict[str, list[tuple[float, str]]] = {}
    limits: dict[str, int] = {}
    for step in run.steps:
        if step.instance_of and step.max_parallel and step.attempts and step.attempts[0].started_at is not None:
            siblings.setdefault(step.instance_of, []).append((step.attempts[0].started_at, step.id))
            limits[step.instance_of] = step.max_parallel
    out: set[str] = set()
    for gid, started in siblings.items():
        out.update(sid for _, sid in sorted(started)[limits[gid] :])
    return out


def _path_graph(run: RunRecord) -> dict[str, tuple[str, ...]]:
    """Dependencies for the critical path: an expanded fan-out step follows only the
    instance that ended last, and its other instances are left out."""
    deps = {s.id: s.dependencies for s in run.steps}
    by_id = {s.id: s for s in run.steps}
    for step in run.steps:
        if not (step.fan_out and step.dependencies and all(by_id[d].instance_of == step.id for d in step.dependencies)):
            continue
        ended = [d for d in step.dependencies if by_id[d].finished_at is not None and by_id[d].attempts]
        if not ended:
            continue
        last = max(ended, key=lambda d: by_id[d].finished_at or 0.0)
        for other in step.dependencies:
            if other != last:
                deps.pop(other, None)
        deps[step.id] = (last,)
    return deps


def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for lo, hi in sorted(intervals):
        if hi > end:
            total += hi - max(lo, end)
            end = hi
    return total


def _chain(path: tuple[str, ...]) -> str:
    shown = " -> ".join(path[:4])
    return shown + (f" -> … ({len(path)} steps)" if len(path) > 4 else "")


def analyze(run: RunRecord) -> Analytics:
    """The analytics of one run, from its record alone (O(steps + dependencies + attempts))."""
    now = run.ended_at
    lifetime = max(0.0, now - run.started_at) if run.started_at else 0.0
    wall = run.elapsed if run.elapsed is not None and not run.resumed else lifetime
    busy = sum(s.busy_time for s in run.steps)
    spans = {s.id: span for s in run.steps if (span := _span(s, now)) is not None}
    peak = _peak(run)
    workers = run.workers or peak
    graph = DependencyGraph(_path_graph(run))
    chain, length = graph.critical_path(spans)
    by_id = {s.id: s for s in run.steps}
    # A fan-out step stays on the path after its instance (it joins them for its dependents).
    path = tuple(
        p
        for n, p in enumerate(chain)
        if p in spans or (n and by_id[chain[n - 1]].instance_of == p and chain[n - 1] in spans)
    )
    share = length / wall if wall > 0 else 0.0
    waits = _waits(run)
    slowest = tuple(sorted(((p, spans[p]) for p in path if p in spans), key=lambda x: -x[1]))
    held = _held_back(run)
    waited = tuple(sorted(((s, w) for s, w in waits.items() if w >= MIN_WAIT and s not in held), key=lambda x: -x[1]))
    waited_limit = tuple(sorted(((s, w) for s, w in waits.items() if w >= MIN_WAIT and s in held), key=lambda x: -x[1]))
    retries = []
    for step in run.steps:
        starts = [a.started_at for a in step.attempts if a.started_at is not None]
        if len(starts) > 1:
            retries.append((step.id, len(step.attempts), max(0.0, starts[-1] - starts[0])))
    retries.sort(key=lambda x: -x[2])
    # Every waited step has a first attempt with a start (that is how its wait was derived).
    starts_of = {s: by_id[s].attempts[0].started_at or 0.0 for s, _ in waited}
    waited_time = _union([(starts_of[s] - w, starts_of[s]) for s, w in waited])
    limiter, verdict = _verdict(wall, spans, path, length, share, retries, waited_time, workers)
    if run.resumed:
        verdict = f"resumed {run.resumed}x, so times include the interruption: {verdict}"
    return Analytics(
        wall_time=wall,
        busy_time=busy,
        workers=workers,
        workers_source="recorded" if run.workers else "peak concurrency",
        peak_concurrency=peak,
        parallel_efficiency=parallel_efficiency(busy, wall, workers),
        spans=spans,
        waits=waits,
        critical_path=path,
        critical_path_time=length,
        critical_path_share=share,
        slowest=slowest,
        waited=waited,
        retries=tuple(retries),
        limiter=limiter,
        verdict=verdict,
        waited_max_parallel=waited_limit,
    )


def _verdict(
    wall: float,
    spans: dict[str, float],
    path: tuple[str, ...],
    length: float,
    share: float,
    retries: list[tuple[str, int, float]],
    waited_time: float,
    workers: int,
) -> tuple[str, str]:
    """The first of: retries, one slow step, the worker limit, a chain — that explains the run."""
    if not spans or wall <= 0:
        return "nothing", "nothing ran: every step was skipped, cancelled or never started"

    def pct(x: float) -> str:
        return f"{100 * x / wall:.0f}%"

    on_path = set(path)
    retry_cost = sum(cost for sid, _, cost in retries if sid in on_path)
    if retry_cost >= 0.3 * wall:
        names = ", ".join(sid for sid, _, cost in retries if sid in on_path and cost > 0)
        return "retries", (
            f"retries: failed attempts and backoff of {names} cost {retry_cost:.2f}s, "
            f"{pct(retry_cost)} of the {wall:.2f}s wall time"
        )
    slow, slow_time = max(spans.items(), key=lambda x: x[1])
    if slow_time >= 0.5 * wall and (len(path) <= 1 or slow_time >= 0.75 * length):
        return "slow_step", (
            f"one slow step: '{slow}' took {slow_time:.2f}s, {pct(slow_time)} of the {wall:.2f}s wall time"
        )
    if waited_time >= 0.25 * wall:
        return "workers", (
            f"the worker limit: ready steps waited {waited_time:.2f}s ({pct(waited_time)} of the wall "
            f"time) for one of {workers} workers; more workers would shorten the run"
        )
    if share >= 0.6:
        return "chain", (
            f"a chain: the critical path {_chain(path)} took {length:.2f}s, {pct(length)} of the "
            f"{wall:.2f}s wall time; more workers would not shorten it"
        )
    return "overhead", (
        f"overhead: the critical path is {pct(length)} of the {wall:.2f}s wall time and no step "
        "waited long for a worker; the rest is scheduling, start-up and rollback"
    )
