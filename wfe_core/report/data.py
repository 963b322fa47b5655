"""Reading runs out of the run store into plain records, read-only.

The store is opened with ``mode=ro``: reports never write (no migration, no WAL
checkpoint), and in WAL mode a reader never blocks the process that is running the
workflow, so a run still in progress can be reported while it runs. One read
transaction per run gives a consistent snapshot of the run and its steps.

Secrets are sealed in the store (``<<secret:NAME>>``) and masked here (``***``); the
records never hold a secret's value.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from wfe_core.model.secrets import mask_sealed
from wfe_core.plan.fanout import base_id, counted_steps
from wfe_core.store.reads import alive
from wfe_core.store.rows import attempt_log, with_planned
from wfe_core.store.runstore import SCHEMA_VERSION, StoreError, default_store_path

__all__ = ["AttemptRecord", "RunRecord", "StepRecord", "open_store", "read_run", "read_runs"]


@attrs.frozen
class AttemptRecord:
    """One attempt of a step.

    Attributes:
        number: 1 for the first attempt; numbers continue across a resume.
        status: ``running``, ``succeeded``, ``failed``, ``timed_out`` or ``cancelled``.
        started_at: ``time.time()`` when the scheduler handed it to a worker.
        finished_at: when the scheduler saw it end (``None`` while running).
        error: why it failed, secrets masked.
    """

    number: int
    status: str
    started_at: float | None
    finished_at: float | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The attempt in a report's data (``wfe.report/1``), with its ``duration``."""
        duration = None
        if self.finished_at and self.started_at:
            duration = self.finished_at - self.started_at
        return {
            "number": self.number,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration": duration,
            "error": self.error,
        }


@attrs.frozen
class StepRecord:
    """One step of a recorded run, with its definition and its attempts.

    Attributes:
        id, action, dependencies, critical, conditions, parallel_group: from the
            definition recorded with the run (empty when the run has none).
        status: the step's status; ``interrupted`` for a step that was running when its
            process died.
        attempts: every attempt, oldest first.
        started_at / finished_at: first start and end (``None`` when it never ran / while running).
        busy_time: seconds inside the action, summed over attempts (what
            ``RunStats.busy_time`` adds up).
        error / reason: why it failed / why it was skipped or cancelled, secrets masked.
        seq: completion order in the run (``None`` if it never finished).
        fan_out: a ``for_each`` / ``matrix`` step; once expanded its ``dependencies``
            are its instances (it ends when the last one ends), which hang off its own
            dependencies, so a drawing shows dependencies -> instances -> step -> dependents.
        instance_of: for an instance (``build[0]``), its fan-out step.
        max_parallel: the fan-out step's ``max_parallel`` (on its instances too).
    """

    id: str
    action: str = ""
    status: str = "pending"
    dependencies: tuple[str, ...] = ()
    critical: bool = True
    conditions: dict[str, Any] = attrs.field(factory=dict)
    parallel_group: str | None = None
    attempts: tuple[AttemptRecord, ...] = ()
    started_at: float | None = None
    finished_at: float | None = None
    busy_time: float = 0.0
    error: str | None = None
    reason: str | None = None
    seq: int | None = None
    fan_out: bool = False
    instance_of: str | None = None
    max_parallel: int | None = None


@attrs.frozen
class RunRecord:
    """One recorded run, read at ``read_at``.

    Attributes:
        run_id, workflow_id, workflow_name, status, strategy, source: as recorded;
            ``status`` is ``interrupted`` for a ``running`` run whose process is gone.
        started_at / finished_at: ``time.time()`` of the start and the end (``None`` while running).
        variables: run variables at the end (or the start, while running), secrets masked.
        error, rollback: why it failed; ``complete``/``partial``/``nothing`` after a rollback.
        resumed: how many times it was resumed.
        host, pid: where it ran.
        workers: the run's worker limit (``RunStats.workers``), recorded when the run
            finishes; ``None`` while it runs, if it was interrupted, or in an older store.
        elapsed: the run's wall time by its own clock (``RunStats.total_execution_time``:
            for a resumed run, its last session), recorded with ``workers``.
        steps: every step in file order.
        read_at: when this snapshot was read.
    """

    run_id: str
    workflow_id: str
    workflow_name: str | None
    status: str
    strategy: str | None
    source: str | None
    started_at: float | None
    finished_at: float | None
    variables: dict[str, Any]
    error: str | None
    rollback: str | None
    resumed: int
    host: str | None
    pid: int | None
    workers: int | None
    elapsed: float | None
    steps: tuple[StepRecord, ...]
    read_at: float

    @property
    def in_progress(self) -> bool:
        """Whether the run was still running when it was read."""
        return self.status == "running"

    @property
    def ended_at(self) -> float:
        """The end of the run; while running, the moment it was read; for an interrupted
        run, the last moment the store saw it do something."""
        if self.finished_at is not None:
            return self.finished_at
        if self.in_progress:
            return self.read_at
        seen = [t for s in self.steps for a in s.attempts for t in (a.started_at, a.finished_at) if t]
        return max(seen, default=self.started_at or self.read_at)


def open_store(path: str | os.PathLike[str] | None = None) -> sqlite3.Connection:
    """A read-only connection to the run store at ``path`` (default: the user's store)."""
    target = Path(path) if path is not None else default_store_path()
    if not target.exists():
        raise StoreError(f"no run store at {target} (no run recorded yet)")
    try:
        db = sqlite3.connect(
            f"{target.resolve().as_uri()}?mode=ro",
            uri=True,
            timeout=30.0,
            isolation_level=None,
            check_same_thread=False,
        )
        db.row_factory = sqlite3.Row
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read run store {target}: {exc}") from None
    if not 2 <= version <= SCHEMA_VERSION:  # 2 lacks only the worker limit (see RunRecord.workers)
        db.close()
        raise StoreError(
            f"{target} has store schema version {version}; reports read versions 2 to "
            f"{SCHEMA_VERSION} (run `wfe runs` once with this wfe to upgrade it)"
        )
    return db


def read_run(db: sqlite3.Connection, run_id: str) -> RunRecord:
    """The run ``run_id`` (an unambiguous prefix will do), steps and attempts included."""
    try:
        db.execute("BEGIN")  # one snapshot: the run row and its steps agree
        try:
            row = db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is None:
                # An abbreviation names a top-level run; a sub-workflow's run ('<run>/<step>')
                # is named by its full id.
                rows = db.execute(
                    "SELECT * FROM runs WHERE run_id LIKE ? ESCAPE '\\' AND (instr(run_id, '/') = 0 OR ?) LIMIT 2",
                    (_like_prefix(run_id), "/" in run_id),
                ).fetchall()
                if len(rows) != 1:
                    raise StoreError(
                        f"no run '{run_id}' in the run store" if not rows else f"run id prefix '{run_id}' is ambiguous"
                    )
                row = rows[0]
            steps = _steps(db, row)
        finally:
            db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read run store: {exc}") from None
    return _run(row, steps)


def read_runs(db: sqlite3.Connection, workflow_id: str, last: int = 20) -> list[RunRecord]:
    """The last ``last`` runs of ``workflow_id`` (dry runs left out), oldest first."""
    try:
        db.execute("BEGIN")
        try:
            rows = db.execute(
                "SELECT * FROM runs WHERE workflow_id=? AND dry_run=0 ORDER BY started_at DESC LIMIT ?",
                (workflow_id, last),
            ).fetchall()
            out = [_run(r, _steps(db, r)) for r in rows]
        finally:
            db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read run store: {exc}") from None
    out.reverse()
    return out


def _steps(db: sqlite3.Connection, run: sqlite3.Row) -> list[dict[str, Any]]:
    """The steps of ``run`` in file order, the ones still to start included."""
    rows = db.execute("SELECT * FROM steps WHERE run_id=?", (run["run_id"],)).fetchall()
    # (a store before schema 5 has no such column; `in` on a Row would look at its values)
    planned = run["planned"] if "planned" in run.keys() else None  # noqa: SIM118
    return with_planned(run["run_id"], planned, rows)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _definition(text: str | None) -> dict[str, dict[str, Any]]:
    """Step id -> its definition, from the JSON recorded with the run."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    steps = data.get("steps") if isinstance(data, dict) else None
    return {s["id"]: s for s in steps or () if isinstance(s, dict) and isinstance(s.get("id"), str)}


def _mask(text: Any) -> Any:
    """``mask_sealed`` for the few values that hold a sealed secret (it walks every value)."""
    if text is None or (isinstance(text, str) and "<<secret:" not in text):
        return text
    return mask_sealed(text)


def _run(row: sqlite3.Row, step_rows: Sequence[Mapping[str, Any]]) -> RunRecord:
    defs = _definition(row["definition"])
    status = row["status"]
    if status == "running" and not alive(row["pid"], row["host"]):
        status = "interrupted"
    # A definition edited on resume may name steps this run never recorded: drop those edges.
    known = {s["step_id"] for s in step_rows}
    fanned = {sid for sid, d in defs.items() if d.get("for_each") is not None or d.get("matrix")}
    _, fanned_out = counted_steps(known, fanned)
    instances: dict[str, list[str]] = {gid: [] for gid in fanned_out}
    for s in step_rows:
        if base_id(s["step_id"]) in fanned_out and s["step_id"] not in fanned:
            instances[base_id(s["step_id"])].append(s["step_id"])
    steps = []
    for s in step_rows:
        sid = s["step_id"]
        group = base_id(sid) if sid not in defs and base_id(sid) in instances else None
        d = defs.get(group or sid, {})
        log = attempt_log(s["attempt_log"], s)
        attempts = tuple(
            AttemptRecord(
                int(a.get("number") or i + 1),
                a.get("status") or "running",
                a.get("started_at"),
                a.get("finished_at"),
                _mask(a.get("error")),
            )
            for i, a in enumerate(log)
        )
        step_status = s["status"]
        if status == "interrupted" and step_status == "running":
            step_status = "interrupted"
        deps = d.get("dependencies") or ()
        if sid in instances:  # an expanded fan-out step waits for its instances
            deps = instances[sid]
        conditions = d.get("conditions")
        limit = d.get("max_parallel") if sid in fanned or group else None
        steps.append(
            StepRecord(
                id=s["step_id"],
                action=str(d.get("action", "")),
                status=step_status,
                dependencies=tuple(x for x in ((deps,) if isinstance(deps, str) else deps) if x in known),
                critical=bool(d.get("critical", True)),
                conditions=mask_sealed(dict(conditions)) if conditions else {},
                parallel_group=d.get("parallel_group"),
                attempts=attempts,
                started_at=s["started_at"],
                finished_at=s["finished_at"],
                busy_time=float(s["duration"] or 0.0),
                error=_mask(s["error"]),
                reason=_mask(s["reason"]),
                seq=s["seq"],
                fan_out=sid in fanned,
                instance_of=group,
                max_parallel=limit if isinstance(limit, int) else None,
            )
        )
    keys = row.keys()
    return RunRecord(
        run_id=row["run_id"],
        workflow_id=row["workflow_id"],
        workflow_name=row["workflow_name"],
        status=status,
        strategy=row["strategy"],
        source=row["source"],
        started_at=row["started_at"],
        finished_at=row["finished_at"] if status not in ("running", "interrupted") else None,
        variables=mask_sealed(json.loads(row["variables"]) if row["variables"] else {}),
        error=mask_sealed(row["error"]),
        rollback=row["rollback"],
        resumed=int(row["resumed"] or 0),
        host=row["host"],
        pid=row["pid"],
        # Recorded when the run finishes (schema 3); unknown while running or if interrupted.
        workers=row["workers"] if "workers" in keys else None,
        elapsed=row["elapsed"] if "elapsed" in keys and row["finished_at"] is not None else None,
        steps=tuple(steps),
        read_at=time.time(),
    )
