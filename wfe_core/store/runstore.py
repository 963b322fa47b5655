"""The embedded run store: one SQLite file (WAL) holding runs and their steps.

The scheduler writes through one :class:`RunStore` on its own thread and commits before
it acts on a step's completion, so a ``kill -9`` loses at most the steps that were
running. WAL with ``synchronous=NORMAL``: a commit survives the process dying at any
moment (not a power cut of the machine). Readers (``wfe runs``) never block writers,
and several runs may share one file.

Location: ``store=`` / ``--store``, else ``$WFE_STORE``, else
``$XDG_STATE_HOME/wfe/runs.sqlite`` (``~/.local/state/wfe/runs.sqlite``).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wfe_core.store.encoding import bounded, bounded_vars, encoded, is_cut, json_text, log_json
from wfe_core.store.guard import StoreError, guarded
from wfe_core.store.reads import LISTED_COLUMNS, RunReads, hostname
from wfe_core.store.rows import (
    FINISHED_ONCE,
    FINISHED_ONCE_OUTPUT,
    FINISHED_OUTPUT,
    FINISHED_PLAIN,
    FINISHED_ROW,
    FINISHED_ROW_ONCE,
    ONE_ATTEMPT,
    RUNNING_ROW,
    STARTED_ROW,
    STATUS_ROW,
    attempt_log,
    ended_as_row,
)
from wfe_core.store.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "DEFAULT_VALUE_LIMIT",
    "LISTED_COLUMNS",
    "SCHEMA_VERSION",
    "RunStore",
    "StoreError",
    "default_store_path",
    "freeze_writes",
    "is_cut",
    "value_limit",
]

#: Most characters of JSON stored for one value: a step's output, or one variable (1 MiB).
#: ``$WFE_STORE_VALUE_LIMIT`` (characters; 0 = no limit) changes it. A bigger value is
#: replaced in the store by a marker (:func:`is_cut`) saying how big it was; the run
#: itself still gets the whole value. Without a bound, one 50 MB file read made a 200 MB
#: store, and ``wfe runs show`` then needed 760 MB of memory.
DEFAULT_VALUE_LIMIT = 1024 * 1024

#: Set by a forced stop (second Ctrl-C): no store of this process writes any more, so a
#: run killed at once reads "interrupted" (resumable), not the "cancelled" its scheduler
#: thread could still record while the process exits.
_FROZEN = threading.Event()


def freeze_writes() -> None:
    """Stop every run store of this process from committing anything more."""
    _FROZEN.set()


def default_store_path() -> Path:
    """``$WFE_STORE``, else ``$XDG_STATE_HOME/wfe/runs.sqlite``."""
    if os.environ.get("WFE_STORE"):
        return Path(os.environ["WFE_STORE"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "wfe" / "runs.sqlite"


def value_limit() -> int:
    """``$WFE_STORE_VALUE_LIMIT`` if set (0: no limit), else :data:`DEFAULT_VALUE_LIMIT`."""
    raw = os.environ.get("WFE_STORE_VALUE_LIMIT", "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_VALUE_LIMIT
    except ValueError:
        raise StoreError(f"WFE_STORE_VALUE_LIMIT must be a whole number of characters, got {raw!r}") from None


def _entry(log: list[dict[str, Any]], number: int) -> dict[str, Any] | None:
    """Attempt ``number``'s entry of a step's attempt log (almost always the last one)."""
    if log and log[-1]["number"] == number:
        return log[-1]
    return next((e for e in reversed(log) if e["number"] == number), None)


class _Run:
    """What a connection holds for one run: the plan its rows are first written with,
    each step's attempt log, and the writes that wait for the next commit.

    Keyed by step id, with values the collector does not track (dicts of plain values,
    floats) where it can: every tuple or list made per step makes Python's cyclic
    collector run sooner, and each full collection walks everything alive (a stored
    10,000-step run made ~100 more collections than the run without a store, two of
    them full ones, when this was keyed by (run id, step id) tuples).
    """

    __slots__ = ("fingerprints", "finished", "firsts", "logs", "positions", "running", "started", "statements")

    def __init__(self) -> None:
        self.fingerprints: dict[str, str | None] = {}  # as the run planned them
        self.positions: dict[str, float] = {}  # in the file (a fan-out instance's: between two)
        # A step's attempt log: its only entry while that is its first attempt's (most
        # steps' whole log; no list per step), else the list (a retried or resumed step).
        self.firsts: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.started: dict[str, dict[str, Any]] = {}  # the log entry of a step's latest attempt
        self.finished: dict[str, tuple[Any, ...]] = {}  # a finished row's parameters...
        self.statements: dict[str, str] = {}  # ...and its statement
        self.running: dict[str, float] = {}  # step_running (a fan-out step), from when

    def entries(self, step_id: str) -> list[dict[str, Any]]:
        """A step's attempt log (read only: a new list when it is held as ``firsts``)."""
        log = self.logs.get(step_id)
        if log is not None:
            return log
        first = self.firsts.get(step_id)
        return [] if first is None else [first]

    def log(self, step_id: str) -> list[dict[str, Any]]:
        """A step's attempt log, to add to: held as a list from here on."""
        log = self.logs.get(step_id)
        if log is None:
            first = self.firsts.pop(step_id, None)
            log = self.logs[step_id] = [] if first is None else [first]
        return log

    def plan(self, step_id: str) -> tuple[str | None, float | None]:
        """(fingerprint, position) a step's first row is written with."""
        return self.fingerprints.get(step_id), self.positions.get(step_id)


class RunStore(RunReads):
    """One connection to the store file. Use it from one thread (``sqlite3`` insists)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0):
        self.path = Path(path) if path is not None else default_store_path()
        self._limit = value_limit()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open run store {self.path}: {exc}") from None
        self.db.row_factory = sqlite3.Row
        try:
            self._set_up(timeout)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if _is_busy(exc):
                raise StoreError(
                    f"run store {self.path} stayed locked by another process for {timeout:g} s while opening it: {exc}"
                ) from None
            raise StoreError(f"{self.path} is not a usable wfe run store: {exc}") from None
        except BaseException:
            self.db.close()
            raise
        self._in_tx = False
        # Step writes are buffered and written with executemany at commit: one statement
        # per kind per commit instead of one per step keeps the store off the hot path.
        # A step's attempts live in one JSON column of its row (one B-tree, few pages per
        # commit); the log of each step of this connection's run is kept here.
        self._runs: dict[str, _Run] = {}
        self._pending = False  # writes wait in self._runs for a commit

    # -- schema ---------------------------------------------------------------------------
    def _set_up(self, timeout: float) -> None:
        """WAL mode, pragmas and migrations, retried with backoff while another process holds a lock.

        SQLite does not call the busy handler for every lock it meets while switching a
        new file to WAL: two ``wfe run`` creating one store at once failed now and then
        with "database is locked" at ``PRAGMA journal_mode=WAL``. Only the first opener
        switches the mode (the others find it set), and set-up is retried until ``timeout``.
        """
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                if str(self.db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * random.uniform(0.5, 1.5))  # jitter: openers that collided do not collide again
            delay = min(delay * 2, 0.25)

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this wfe knows up to {SCHEMA_VERSION} (upgrade wfe)"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated between our read and our lock.
                if self.db.execute("PRAGMA user_version").fetchone()[0] >= target:
                    self.db.execute("COMMIT")
                    continue
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={target}")
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # BEGIN itself may be what failed
                    self.db.execute("ROLLBACK")
                raise

    # -- transactions -----------------------------------------------------------------------
    def _begin(self) -> None:
        if not self._in_tx:
            self.db.execute("BEGIN")
            self._in_tx = True

    @property
    def dirty(self) -> bool:
        """Whether there are writes not committed yet."""
        return self._pending or self._in_tx

    def _run(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _Run()
        return run

    @guarded
    def commit(self) -> None:
        """Make every write since the last commit durable."""
        if _FROZEN.is_set():
            return
        if self._pending:
            # A step that also finished in this batch needs no "running" row first.
            started = [
                (entry["number"], json_text(run.entries(sid)), entry["started_at"], run_id, sid, *run.plan(sid))
                for run_id, run in self._runs.items()
                for sid, entry in run.started.items()
                if sid not in run.finished
            ]
            running = [
                (at, run_id, sid, *run.plan(sid))
                for run_id, run in self._runs.items()
                for sid, at in run.running.items()
            ]
            by_statement: dict[str, list[tuple[Any, ...]]] = {}
            for run in self._runs.values():
                statements = run.statements
                for sid, row in run.finished.items():
                    rows = by_statement.get(statements[sid])
                    if rows is None:
                        by_statement[statements[sid]] = [row]
                    else:
                        rows.append(row)
            if not (started or running or self._in_tx) and len(by_statement) == 1:
                ((sql, rows),) = by_statement.items()
                if len(rows) == 1:
                    # One row (a chain's step): one statement is its own transaction; BEGIN
                    # and COMMIT around it would be two more round trips into SQLite.
                    self.db.execute(sql, rows[0])
                    self._written()
                    return
            self._begin()
            if started:
                self.db.executemany(STARTED_ROW, started)
            if running:
                for _, run_id, sid, *_plan in running:  # (a fan-out step: its row may be an earlier run's)
                    self._spell_out(run_id, sid)
                self.db.executemany(RUNNING_ROW, running)
            for sql, rows in by_statement.items():
                self.db.executemany(sql, rows)
        if self._in_tx:
            self.db.execute("COMMIT")
            self._in_tx = False
        if self._pending:
            self._written()

    def _written(self) -> None:
        """The buffered writes are committed: forget them (only then: a failed commit keeps them)."""
        for run in self._runs.values():
            run.started.clear()
            run.finished.clear()
            run.statements.clear()
            run.running.clear()
        self._pending = False

    def close(self) -> None:
        self.commit()
        self.db.close()

    # -- writes (the scheduler's) ------------------------------------------------------------
    @guarded
    def start_run(
        self,
        *,
        run_id: str,
        workflow_id: str,
        workflow_name: str,
        source: str | None,
        definition: str | None,
        strategy: str,
        dry_run: bool,
        variables: dict[str, Any],
        step_ids: Iterable[tuple[str, str]],
        resumed: bool = False,
    ) -> None:
        """Record a run as running (a new one, or a resumed one: its steps are kept).

        ``step_ids`` (id, fingerprint) in file order is what the run plans: written as the
        run's ``planned`` column, not as a row per step (see migration 5 in :mod:`wfe_core.store.schema`).
        """
        self._begin()
        now = time.time()
        steps = list(step_ids)
        planned = encoded(steps)
        run = self._run(run_id)
        run.fingerprints.update(steps)
        run.positions.update({sid: n for n, (sid, _) in enumerate(steps)})
        if resumed:
            self.db.execute(
                "UPDATE runs SET status='running', strategy=?, error=NULL, rollback=NULL, finished_at=NULL,"
                " work=NULL,"  # (its steps will do more: known again when it finishes)
                " pid=?, host=?, resumed=resumed+1, definition=COALESCE(?, definition), planned=? WHERE run_id=?",
                (strategy, os.getpid(), hostname(), definition, planned, run_id),
            )
            # A step left running by a dead process was interrupted: a fan-out instance the
            # resumed run never expands again would otherwise read running for ever.
            self.db.execute("UPDATE steps SET status='interrupted' WHERE run_id=? AND status='running'", (run_id,))
            for row in self.db.execute(
                "SELECT step_id, attempt_log, status, started_at, finished_at FROM steps WHERE run_id=?", (run_id,)
            ):
                run.firsts.pop(row["step_id"], None)
                log = attempt_log(row["attempt_log"], row)
                if log:  # (a row with no attempts yet: its first one may still be ONE_ATTEMPT)
                    run.logs[row["step_id"]] = log
                else:
                    run.logs.pop(row["step_id"], None)
            # The rows kept take the step's fingerprint and position of this file.
            self.db.executemany(
                "UPDATE steps SET fingerprint=?, position=? WHERE run_id=? AND step_id=?",
                ((fp, n, run_id, sid) for n, (sid, fp) in enumerate(steps)),
            )
        else:
            self.db.execute(
                "INSERT INTO runs (run_id, workflow_id, workflow_name, source, definition, status, strategy,"
                " dry_run, variables, started_at, pid, host, planned) VALUES (?,?,?,?,?,'running',?,?,?,?,?,?,?)",
                (
                    run_id,
                    workflow_id,
                    workflow_name,
                    source,
                    definition,
                    strategy,
                    int(dry_run),
                    bounded_vars(variables, self._limit),
                    now,
                    os.getpid(),
                    hostname(),
                    planned,
                ),
            )
        self.commit()

    @guarded
    def add_steps(self, run_id: str, after: str, steps: list[tuple[str, str, Any]]) -> None:
        """Rows for steps that exist only once the run is under way (a fan-out step's
        instances): ``(step id, fingerprint, scope)``, listed right after step ``after``;
        ``scope`` is what the instance's templates add (``item``…), kept for its rollback."""
        # Every step of a run this connection started was planned by start_run (a resumed
        # run's too), and so is each instance added here (a fan-out inside a fan-out).
        run = self._runs[run_id]
        base = run.positions[after]
        self._begin()
        n = len(steps) + 1
        limit = self._limit
        rows = [
            (run_id, sid, fp, bounded_vars(scope, limit), base + (k + 1) / n)
            for k, (sid, fp, scope) in enumerate(steps)
        ]
        for _, sid, fp, _, position in rows:
            run.fingerprints[sid] = fp
            run.positions[sid] = position
        self.db.executemany(
            "INSERT INTO steps (run_id, step_id, status, fingerprint, scope, position) VALUES (?,?,'pending',?,?,?)"
            " ON CONFLICT (run_id, step_id) DO UPDATE SET fingerprint=excluded.fingerprint, scope=excluded.scope",
            rows,
        )

    def step_running(self, run_id: str, step_id: str, started_at: float) -> None:
        """A step with no attempts of its own (a fan-out step) is running from ``started_at``."""
        self._run(run_id).running[step_id] = started_at  # written at the next commit
        self._pending = True

    def step_started(self, run_id: str, step_id: str, number: int, started_at: float) -> None:
        run = self._runs.get(run_id) or self._run(run_id)
        entry = {"number": number, "status": "running", "started_at": started_at}
        if number == 1 and step_id not in run.logs and step_id not in run.firsts:
            run.firsts[step_id] = entry  # (most steps: see _Run)
        else:
            run.log(step_id).append(entry)
        run.started[step_id] = entry  # its row is written at commit, if still running then
        self._pending = True

    def attempt_finished(
        self,
        run_id: str,
        step_id: str,
        number: int,
        status: str,
        started_at: float | None,
        error: str | None,
        finished_at: float | None = None,
    ) -> None:
        """An attempt ended at ``finished_at`` (wall clock; now when not given): the
        scheduler writes it after dispatching what the end released, so it says when."""
        run = self._runs.get(run_id) or self._run(run_id)
        entry = run.firsts.get(step_id)
        if entry is None or entry["number"] != number:
            log = run.log(step_id)
            # _entry's usual answer, the last entry, without the call
            entry = log[-1] if log and log[-1]["number"] == number else _entry(log, number)
            if entry is None:
                entry = {"number": number, "started_at": started_at}
                log.append(entry)
        entry["status"] = status  # (not update(status=…): keywords build a dict per call)
        entry["finished_at"] = time.time() if finished_at is None else finished_at
        entry["error"] = error

    def attempt_noted(self, run_id: str, step_id: str, number: int, **fields: Any) -> None:
        """Add ``fields`` (e.g. ``worker``: where a remote executor ran it) to an attempt's log entry."""
        log = self._run(run_id).log(step_id)
        entry = _entry(log, number)
        if entry is None:
            entry = {"number": number}
            log.append(entry)
        entry.update(fields)

    def step_finished(  # (positional: the journal calls it once per step; keywords cost ~1 µs)
        self,
        run_id: str,
        step_id: str,
        status: str,
        attempts: int,
        output: Any,
        variables: dict[str, Any] | None,
        memo: Any,
        error: str | None,
        reason: str | None,
        started_at: float | None,
        finished_at: float | None,
        duration: float,
        seq: int | None,
    ) -> None:
        run = self._runs.get(run_id) or self._run(run_id)
        limit = self._limit
        fingerprint, position = run.fingerprints.get(step_id), run.positions.get(step_id)
        stored = None if output is None else bounded(output, limit)
        self._pending = True
        # The usual log, one attempt that ended as the row does, is not written out (rows.ONE_ATTEMPT).
        first = run.firsts.get(step_id)
        once = attempts == 1 and first is not None and ended_as_row(first, status, started_at, finished_at)
        if not variables and memo is None and error is None and reason is None:  # most steps
            if once:  # (each row built whole: no tuples joined, see _Run)
                if stored is None:
                    run.statements[step_id] = FINISHED_ONCE
                    run.finished[step_id] = (
                        status, attempts, started_at, finished_at, duration, seq, run_id, step_id, fingerprint, position
                    )  # fmt: skip
                else:
                    run.statements[step_id] = FINISHED_ONCE_OUTPUT
                    run.finished[step_id] = (
                        status, attempts, stored, started_at, finished_at, duration, seq, run_id, step_id, fingerprint,
                        position,
                    )  # fmt: skip
                return
            head: tuple[Any, ...] = (status, attempts, log_json(run.entries(step_id)))
            if stored is None:
                sql = FINISHED_PLAIN
            else:
                sql, head = FINISHED_OUTPUT, (*head, stored)
        else:
            head = (status, attempts) if once else (status, attempts, log_json(run.entries(step_id)))
            stored_vars = bounded_vars(variables, limit) if variables else None
            stored_memo = None if memo is None else json_text(memo)
            sql = FINISHED_ROW_ONCE if once else FINISHED_ROW
            head = (*head, stored, stored_vars, stored_memo, error, reason)
        run.statements[step_id] = sql
        run.finished[step_id] = (*head, started_at, finished_at, duration, seq, run_id, step_id, fingerprint, position)

    @guarded
    def set_step_status(self, run_id: str, step_id: str, status: str, error: str | None = None) -> None:
        self.commit()
        self._begin()
        self._spell_out(run_id, step_id)
        self.db.execute(STATUS_ROW, (status, error, run_id, step_id, *self._run(run_id).plan(step_id)))

    def _spell_out(self, run_id: str, step_id: str) -> None:
        """Write the step's attempt log out if it is kept as ONE_ATTEMPT, which readers
        spell out from the row's status: before that status changes (a rolled-back step's
        attempt still succeeded; a step that becomes a fan-out step runs again). Rare."""
        row = self.db.execute(
            "SELECT status, started_at, finished_at FROM steps WHERE run_id=? AND step_id=? AND attempt_log=?",
            (run_id, step_id, ONE_ATTEMPT),
        ).fetchone()
        if row is not None:
            self.db.execute(
                "UPDATE steps SET attempt_log=? WHERE run_id=? AND step_id=?",
                (log_json(attempt_log(ONE_ATTEMPT, row)), run_id, step_id),
            )

    @guarded
    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        error: str | None,
        variables: dict[str, Any],
        rollback: str | None = None,
        workers: int | None = None,
        elapsed: float | None = None,
        work: float | None = None,
    ) -> None:
        if _FROZEN.is_set():
            return
        self.commit()
        self._begin()
        self.db.execute(
            "UPDATE runs SET status=?, error=?, variables=?, rollback=?, finished_at=?,"
            " workers=COALESCE(?, workers), elapsed=?, work=? WHERE run_id=?",
            (
                status,
                error,
                bounded_vars(variables, self._limit),
                rollback,
                time.time(),
                workers,
                elapsed,
                work,
                run_id,
            ),
        )
        self.commit()

    @guarded
    def mark_failed(self, run_id: str, error: str) -> None:
        """End a run that stopped on an internal error (its variables are kept for resume)."""
        self.commit()
        self._begin()
        self.db.execute(
            "UPDATE runs SET status='failed', error=?, finished_at=? WHERE run_id=?", (error, time.time(), run_id)
        )
        self.commit()


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)
