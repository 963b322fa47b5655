"""What the durable run store costs per step, by part.

    python bench/store_cost.py [--repeat 5] [--earlier 5]

Runs ``peers.py``'s W1 (1,000-step chain), W2 (1,000 independent) and W3 (10,000-step
layered DAG) with inline no-op steps (no thread hand-off, so the difference is the
store's), each without a store and with one that already holds ``--earlier`` runs of the
same workflow (what a workflow run again meets: learned durations are read). The store's
entry points, and two run loop methods that only a stored run calls, are timed with
``time.perf_counter`` (each its own time: what a timed part inside it took is that part's
row), and so is the cyclic collector (``gc.callbacks``: the row is what it takes more than
in the runs without a store). The table gives each part in µs per step, median of
``--repeat`` runs, with what is left unattributed (the rest of the loop's and the run
state's extra work for a stored run: building the writes, the commit checks and
bookkeeping inside ``_flush``, the events held for a commit).

The last row, "SQLite alone", is what SQLite itself does for the run: one more run's
statements are recorded (SQL and parameters, as the store's connections and their
cursors received them: the run's writes and the learned durations' reads) and replayed,
on a copy of the store as that run found it, from a plain loop with the store's
connection settings: SQLite's work for those reads, writes, commits and the close's
checkpoint, with no wfe code around it (median of ``--repeat`` replays). Opening the
connections (connect, pragmas, the schema version: the "open" row) is not in it. It is
part of the rows above it (those time the calls it is made from). The close's
checkpoint is in it, which no guarantee needs (see the README), so it is not a floor
for every design.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import chain, layered, run_wfe, wide

import wfe_core.engine
from wfe_core.run.loop import RunLoop
from wfe_core.store.journal import Journal
from wfe_core.store.runstore import RunStore

#: (part, owner, attribute): what each part of the table times.
PARTS = (
    ("fingerprints", wfe_core.engine, "fingerprint"),
    ("learned durations (own connection)", wfe_core.engine, "_known"),
    ("definition", wfe_core.engine, "_definition"),
    ("open", RunStore, "__init__"),
    ("run row (with the steps it plans)", RunStore, "start_run"),
    # (the journal hands these two to the store directly: timed there)
    ("journal: step started", RunStore, "step_started"),
    ("journal: attempt finished", RunStore, "attempt_finished"),
    ("journal: step finished", Journal, "step_finished"),
    ("commits", RunStore, "commit"),
    ("run finished", RunStore, "finish_run"),
    ("close (checkpoint)", RunStore, "close"),
    ("loop: steps that may start before their parent's commit", RunLoop, "_repeatable"),
    ("loop: writes handed to the journal", RunLoop, "_write"),
)
#: The cyclic collector's extra time in a stored run (more objects to scan): timed
#: through ``gc.callbacks``, in the runs with a store and in those without.
COLLECTOR = "cyclic collector (more than without a store)"

spent: dict[str, float] = {}
#: For each timed part now running (innermost last): the time spent in parts inside it.
_inner: list[float] = []


def _enter() -> float:
    _inner.append(0.0)
    return time.perf_counter()


def _leave(part: str, start: float) -> None:
    """Count the time since ``start`` in ``part``, less what parts inside it took (their own rows)."""
    elapsed = time.perf_counter() - start
    spent[part] = spent.get(part, 0.0) + elapsed - _inner.pop()
    if _inner:
        _inner[-1] += elapsed


def _timed(part: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = _enter()
        try:
            return function(*args, **kwargs)
        finally:
            _leave(part, start)

    return timed


_collecting: list[float] = []


def _collector(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        _collecting.append(_enter())
    elif _collecting:
        _leave(COLLECTOR, _collecting.pop())


#: A recorded call: the connection it was made on, the method, SQL and parameters.
Call = tuple[int, str, str, Any]


class Recorder:
    """A store connection that records what it is asked to run (through it or a cursor
    of it), then runs it. Each is numbered: the replay opens one connection per number."""

    opened = 0

    def __init__(self, db: sqlite3.Connection, calls: list[Call]):
        Recorder.opened += 1
        self._db, self._calls, self._number = db, calls, Recorder.opened

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        self._calls.append((self._number, "execute", sql, parameters))
        return self._db.execute(sql, parameters)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self._calls.append((self._number, "executemany", sql, rows))
        return self._db.executemany(sql, rows)

    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self._db.cursor(), self._calls, self._number)

    def close(self) -> None:
        self._calls.append((self._number, "close", "", None))
        self._db.close()

    def __getattr__(self, name: str) -> Any:
        if name in ("executescript", "commit", "rollback", "backup", "blobopen", "iterdump"):
            raise AttributeError(f"the store used {name}: record it too")  # (it does not)
        return getattr(self._db, name)


class RecordingCursor:
    """A cursor of a :class:`Recorder`'s connection: what it runs is recorded too (the
    learned durations' reads go through one)."""

    def __init__(self, cursor: sqlite3.Cursor, calls: list[Call], number: int):
        self._cursor, self._calls, self._number = cursor, calls, number

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        self._calls.append((self._number, "execute", sql, parameters))
        self._cursor.execute(sql, parameters)
        return self

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self._calls.append((self._number, "executemany", sql, rows))
        self._cursor.executemany(sql, rows)
        return self

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # (row_factory)
            setattr(self._cursor, name, value)


def replayed(calls: list[Call], store: Path, copy: Path) -> float:
    """Seconds SQLite takes for ``calls`` on a fresh copy of ``store``, the store's way
    (a connection of the copy for each connection recorded, opened before the clock)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(store, copy)
    with open(copy, "rb+") as written:  # on disk before the clock: the close's sync would flush the copy too
        os.fsync(written.fileno())
    connections = {}
    for recorded, *_ in calls:
        if recorded not in connections:
            db = connections[recorded] = sqlite3.connect(copy, isolation_level=None, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
    start = time.perf_counter()
    for recorded, method, sql, parameters in calls:
        db = connections[recorded]
        if method == "execute":
            db.execute(sql, parameters).fetchall()
        elif method == "executemany":
            db.executemany(sql, parameters)
        else:
            db.close()
    return time.perf_counter() - start


def sqlite_alone(deps: Any, store: str, tmp: Path, repeat: int) -> float:
    """Seconds of SQLite's own work for one more run of ``deps`` (see the module's doc)."""
    before = tmp / "before.sqlite"
    shutil.copyfile(store, before)  # closed after each run: no WAL left beside it
    calls: list[Call] = []
    opened = RunStore.__init__

    def recording(self: RunStore, *args: Any, **kwargs: Any) -> None:
        opened(self, *args, **kwargs)  # set-up (pragmas, migrations) is not the run's
        self.db = Recorder(self.db, calls)  # type: ignore[assignment]

    RunStore.__init__ = recording  # type: ignore[method-assign]
    try:
        run_wfe(deps, None, store, inline=True)
    finally:
        RunStore.__init__ = opened  # type: ignore[method-assign]
    return statistics.median(replayed(calls, before, tmp / "replay.sqlite") for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--earlier", type=int, default=5, help="runs already in the store")
    args = parser.parse_args()
    for part, owner, name in PARTS:
        setattr(owner, name, _timed(part, getattr(owner, name)))
    gc.callbacks.append(_collector)
    tmp = Path(tempfile.mkdtemp(prefix="wfe-store-cost-"))
    workloads = {"W1 chain": chain(1000), "W2 wide": wide(1000), "W3 DAG": layered(100, 100)}
    columns: dict[str, dict[str, float]] = {}
    for label, deps in workloads.items():
        n = len(deps)
        store = str(tmp / f"{label[:2]}.sqlite")
        for _ in range(args.earlier):
            run_wfe(deps, None, store, inline=True)
        bares, collected = [], []
        for _ in range(args.repeat):
            spent.clear()
            bares.append(run_wfe(deps, None, None, inline=True))
            collected.append(spent.get(COLLECTOR, 0.0))
        walls, parts = [], []
        for _ in range(args.repeat):
            spent.clear()
            walls.append(run_wfe(deps, None, store, inline=True))
            parts.append(dict(spent))
        column = {"run, no store": statistics.median(bares) / n * 1e6, "run, store": statistics.median(walls) / n * 1e6}
        names = [part for part, _, _ in PARTS]
        for part in names:
            column[part] = statistics.median(p.get(part, 0.0) for p in parts) / n * 1e6
        column[COLLECTOR] = (
            (statistics.median(p.get(COLLECTOR, 0.0) for p in parts) - statistics.median(collected)) / n * 1e6
        )
        column["unattributed"] = (
            column["run, store"] - column["run, no store"] - sum(column[part] for part in [*names, COLLECTOR])
        )
        column["SQLite alone (this run's statements replayed)"] = sqlite_alone(deps, store, tmp, args.repeat) / n * 1e6
        columns[label] = column
    print(f"µs per step, inline no-op steps, median of {args.repeat} runs; the store holds {args.earlier} earlier runs")
    print("| part | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for row in next(iter(columns.values())):
        print(f"| {row} | " + " | ".join(f"{column[row]:.1f}" for column in columns.values()) + " |")


if __name__ == "__main__":
    main()
