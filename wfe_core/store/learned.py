"""Step durations learned from earlier runs in the store, for scheduling.

The adaptive strategy orders ready steps by the longest remaining path; with these
durations that path is weighted by what each step took before instead of counting steps.
A step's estimate is the median of its last few successful runs of the same workflow
with the same fingerprint (a changed step starts unknown again).

Reading them costs the scheduler time before the first step starts (~1.5 µs a step for
each run read), and no order can win back more than the work it orders: any order that
never leaves a worker idle while a step is ready finishes within W/m + CP, and no order
before max(W/m, CP) (Graham's bound on list schedules; W the steps' summed durations, CP
the longest path, m how many run at once), so the best order gains at most W/m. This
run's W is not known before it runs; what the read would tell of it is at most the summed
work of the runs read (a median is at most the largest of its samples), which each
finished run keeps (``runs.work``; unknown while a run or its resume is under way, or
after it was killed: then the durations are read). Asked how many run at once,
:func:`known_durations` reads nothing when that sum over m is below what the read would
cost: a workflow of microsecond steps run again is not slowed by its history, and one
long step in any run read is enough to read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wfe_core.store.runstore import RunStore

__all__ = ["LAST_RUNS", "READ_COST", "known_durations", "learned_durations"]

#: How many of a step's latest successful runs its estimate is the median of.
LAST_RUNS = 5
#: How many of the workflow's latest runs are read: a step that failed in some of them has
#: fewer samples (reading more costs ~10 µs per step per run on a 10,000-step workflow).
_RUNS_READ = LAST_RUNS
#: Up to this many steps, a workflow's rows are looked up by step id instead of read whole.
_LOOKED_UP = 500
#: Seconds the read costs per step for each run read (measured ~1.4, bench/store_cost.py).
READ_COST = 1.5e-6


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
    import statistics  # here: with fractions and decimal, ~2 ms of every start

    unknown = statistics.median(known.values())
    return {step_id: known.get(step_id, unknown) for step_id in fingerprints}


def known_durations(
    store: RunStore, workflow_id: str, fingerprints: Mapping[str, str], at_once: int | None = None
) -> dict[str, float]:
    """Median seconds of each step's last successful runs with the same fingerprint (known steps only).

    ``at_once``: how many steps the run may run at once, when the durations only order
    them (1 where steps compete for a declared resource: a schedule that never idles
    then finishes within W). Then nothing is read, ``{}``, when the runs it would read
    did too little work for any order to gain what reading them costs (see the module).
    """
    # Newest run first, each read along the primary key: one query sorting every row of
    # the last runs by their run's start cost more than the reading. Plain tuples, not
    # the store's sqlite3.Row, and one dict comprehension per run: this reads up to
    # _RUNS_READ rows per step (a loop over the rows with a list per step cost twice as much).
    cursor = store.db.cursor()
    cursor.row_factory = None
    found = cursor.execute(
        "SELECT run_id, work FROM runs WHERE workflow_id=? AND dry_run=0 ORDER BY started_at DESC LIMIT ?",
        (workflow_id, _RUNS_READ),
    ).fetchall()
    if at_once is not None and found and not _worth_reading([work for _, work in found], len(fingerprints), at_once):
        return {}
    runs = [(run_id,) for run_id, _ in found]
    get = fingerprints.get
    query = "SELECT step_id, fingerprint, duration FROM steps WHERE run_id=? AND status='succeeded'"
    wanted: tuple[str, ...] = ()
    if len(fingerprints) <= _LOOKED_UP:
        # A small workflow looks its steps up: an earlier run of the same workflow id may
        # have had thousands of steps this one no longer has (~1 ms instead of ~30).
        wanted = tuple(fingerprints)
        query += f" AND step_id IN ({','.join('?' * len(wanted))})"
    per_run = [
        {
            step_id: duration
            for step_id, fp, duration in cursor.execute(query + " ORDER BY step_id", (run_id, *wanted))
            if fp is not None and get(step_id) == fp  # (a row migrated from v1 may have none)
        }
        for (run_id,) in runs
    ]
    if len(per_run) <= 1:
        return per_run[0] if per_run else {}
    first = per_run[0]
    if all(durations.keys() == first.keys() for durations in per_run):
        # The same steps succeeded in every run read (the usual case), each run's rows in
        # step id order: one tuple of samples per step, by zipping the runs.
        return dict(zip(first, map(_median, zip(*(d.values() for d in per_run), strict=True)), strict=True))
    known: dict[str, float] = {}
    for step_id in fingerprints:
        samples = [durations[step_id] for durations in per_run if step_id in durations]
        if samples:
            known[step_id] = _median(samples)
    return known


def _worth_reading(work: list[float | None], steps: int, at_once: int) -> bool:
    """Whether the order the durations give can gain more than reading these runs costs.

    ``work``: each run's summed step durations, None when it did not finish (then what
    it did is not known, and the durations are read). The gain is at most their sum over
    ``at_once`` (see the module); the read costs :data:`READ_COST` a step for each run.
    """
    total = 0.0
    for done in work:
        if done is None:
            return True
        total += done
    return total / at_once >= READ_COST * len(work) * steps


def _median(values: Sequence[float]) -> float:
    """``statistics.median`` for the few values of one step, without its overhead."""
    n = len(values)
    if n == 1:
        return values[0]
    ordered = sorted(values)
    half = n // 2
    return ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2
