"""Step durations learned from earlier runs in the store, for scheduling.

The adaptive strategy orders ready steps by the longest remaining path; with these
durations that path is weighted by what each step took before instead of counting steps.
A step's estimate is the median of its last few successful runs of the same workflow
with the same fingerprint (a changed step starts unknown again).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from wfe_core.store.runstore import RunStore

__all__ = ["LAST_RUNS", "known_durations", "learned_durations"]

#: How many of a step's latest successful runs its estimate is the median of.
LAST_RUNS = 5
#: How many of the workflow's latest runs are read: a step that failed in some of them has
#: fewer samples (reading more costs ~10 µs per step per run on a 10,000-step workflow).
_RUNS_READ = LAST_RUNS


def learned_durations(store: RunStore, workflow_id: str, fingerprints: Mapping[str, str]) -> dict[str, float]:
    """Estimated seconds per step id of ``fingerprints`` (step id -> fingerprint).

    Steps never seen succeed get the median of the known estimates, so that known and
    unknown steps weigh in the same unit; ``{}`` when no step is known (then a path is
    weighted by counting steps).
    """
    return fill_unknown(known_durations(store, workflow_id, fingerprints), fingerprints)


def fill_unknown(known: Mapping[str, float], fingerprints: Mapping[str, str]) -> dict[str, float]:
    """``known`` with every other step of ``fingerprints`` at the median of the known ones."""
    if not known:
        return {}
    unknown = statistics.median(known.values())
    return {step_id: known.get(step_id, unknown) for step_id in fingerprints}


def known_durations(store: RunStore, workflow_id: str, fingerprints: Mapping[str, str]) -> dict[str, float]:
    """Median seconds of each step's last successful runs with the same fingerprint (known steps only)."""
    seen: dict[str, list[float]] = {}
    rows = store.db.execute(
        "SELECT s.step_id, s.fingerprint, s.duration FROM steps s JOIN"
        " (SELECT run_id, started_at FROM runs WHERE workflow_id=? AND dry_run=0"
        "  ORDER BY started_at DESC LIMIT ?) r ON s.run_id = r.run_id"
        " WHERE s.status='succeeded' ORDER BY r.started_at DESC",
        (workflow_id, _RUNS_READ),
    )
    for step_id, fp, duration in rows:
        if fingerprints.get(step_id) == fp:
            durations = seen.setdefault(step_id, [])
            if len(durations) < LAST_RUNS:
                durations.append(duration)
    return {step_id: statistics.median(durations) for step_id, durations in seen.items()}
