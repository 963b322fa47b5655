"""Completion estimates: step durations learned from the run store, remaining time along the DAG.

How a step's duration is estimated, first rule that applies:

1. **history**: the median duration of its last :data:`~wfe_core.store.learned.LAST_RUNS` successful runs in
   earlier runs of the same workflow, matched by step id *and* definition fingerprint (a
   changed step starts afresh);
2. the mean duration of this run's finished steps of the **same action**;
3. **fallback**: the mean duration of all of this run's finished steps.

When a step has none of these (nothing finished yet and no history), the ETA is unknown
(``None``). Remaining time is not a sum nor a linear extrapolation: it is the makespan of
a list schedule of the unfinished steps over the worker limit, longest remaining chain
first, with running steps occupying a worker for their estimate minus their elapsed time.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Mapping
from pathlib import Path

__all__ = ["learned_durations", "remaining_time"]


def learned_durations(store: str | Path | None, workflow_id: str, fingerprints: Mapping[str, str]) -> dict[str, float]:
    """Step id -> median duration of its last successful runs with the same fingerprint
    (:func:`wfe_core.store.learned.known_durations`, the same numbers the plan weighs paths by).

    A missing, unreadable or busy store yields ``{}``: an estimate must never stop a run.
    """
    from wfe_core.model.errors import WfeError
    from wfe_core.store.learned import known_durations
    from wfe_core.store.runstore import RunStore

    if store is None or not Path(store).exists():
        return {}
    try:
        opened = RunStore(store)
    except (WfeError, sqlite3.Error, OSError):
        return {}
    try:
        return known_durations(opened, workflow_id, fingerprints)
    except (WfeError, sqlite3.Error):
        return {}
    finally:
        opened.close()


def remaining_time(
    deps: Mapping[str, tuple[str, ...]],
    estimates: Mapping[str, float],
    finished: set[str],
    running: Mapping[str, float],
    workers: int,
) -> float:
    """Seconds until every unfinished step has finished, by list scheduling.

    Args:
        deps: step id -> the ids it waits for (every step of the run).
        estimates: step id -> estimated duration (every unfinished step).
        finished: ids that have finished (any outcome).
        running: id -> seconds it has been running.
        workers: the most steps at once.
    """
    todo = [s for s in deps if s not in finished and s not in running]
    children: dict[str, list[str]] = {s: [] for s in deps}
    for s, ds in deps.items():
        for d in ds:
            if d in children:
                children[d].append(s)
    # Priority: the longest chain of estimates from a step to the end (critical path first).
    tail: dict[str, float] = {}

    def chain(s: str) -> float:
        stack = [s]
        while stack:
            top = stack[-1]
            pending = [c for c in children[top] if c not in tail and c not in finished]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if top not in tail:
                tail[top] = estimates.get(top, 0.0) + max(
                    (tail[c] for c in children[top] if c not in finished), default=0.0
                )
        return tail[s]

    waiting = {s: sum(1 for d in deps[s] if d not in finished) for s in todo}
    ready = [(-chain(s), s) for s in todo if waiting[s] == 0]
    heapq.heapify(ready)
    ends = [(max(0.0, estimates.get(s, 0.0) - e), s) for s, e in running.items()]
    heapq.heapify(ends)
    now = 0.0
    free = max(1, workers) - len(ends)
    while ready or ends:
        while ready and free > 0:
            _, s = heapq.heappop(ready)
            heapq.heappush(ends, (now + estimates.get(s, 0.0), s))
            free -= 1
        if not ends:
            break
        now, done = heapq.heappop(ends)
        free += 1
        for c in children[done]:
            if c in waiting:
                waiting[c] -= 1
                if waiting[c] == 0:
                    heapq.heappush(ready, (-chain(c), c))
    return now
