"""What the durable run store costs per step, by part.

    python bench/store_cost.py [--repeat 5] [--earlier 5]

Runs ``peers.py``'s W1 (1,000-step chain), W2 (1,000 independent) and W3 (10,000-step
layered DAG) with inline no-op steps (no thread hand-off, so the difference is the
store's), each without a store and with one that already holds ``--earlier`` runs of the
same workflow (what a workflow run again meets: learned durations are read). The store's
entry points are timed with ``time.perf_counter`` (nested ones count in their caller
only), and the table gives each part in µs per step, median of ``--repeat`` runs, with
what is left unattributed (the loop's own extra work for a stored run, the collector).

The last row, "SQLite alone", is what SQLite itself does for the run: one more run's
statements are recorded (SQL and parameters, as the store's connections and their
cursors received them: the run's writes and the learned durations' reads) and replayed,
on a copy of the store as that run found it, from a plain loop with the store's
connection settings: SQLite's work for those reads, writes, commits and the close's
checkpoint, with no wfe code around it (median of ``--repeat`` replays). Opening the
connections (connect, pragmas, the schema version: the "open" row) is not in it. It is
part of the rows above it (those time the calls it is made from). Some of that work a
store keeping a row per step could avoid (the pending rows, the close's checkpoint: see
the README), so it is not a floor for every design.
"""

from __future__ import annotations

import argparse
import functools
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
from wfe_core.store.journal import Journal
from wfe_core.store.runstore import RunStore

#: (part, owner, attribute): what each part of the table times.
PARTS = (
    ("fingerprints", wfe_core.engine, "fingerprint"),
    ("learned durations (own connection)", wfe_core.engine, "_known"),
    ("definition", wfe_core.engine, "_definition"),
    ("open", RunStore, "__init__"),
    ("run row and pending rows", RunStore, "start_run"),
    # (the journal hands these two to the store directly: timed there)
    ("journal: step started", RunStore, "step_started"),
    ("journal: attempt finished", RunStore, "attempt_finished"),
    ("journal: step finished", Journal, "step_finished"),
    ("commits", RunStore, "commit"),
    ("run finished", RunStore, "finish_run"),
    ("close (last commit, checkpoint)", RunStore, "close"),
)

spent: dict[str, float] = {}
_depth = [0]


def _timed(part: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if _depth[0]:  # inside another timed part: counted there
            return function(*args, **kwargs)
        _depth[0] += 1
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[part] = spent.get(part, 0.0) + time.perf_counter() - start
            _depth[0] -= 1

    return timed


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
    tmp = Path(tempfile.mkdtemp(prefix="wfe-store-cost-"))
    workloads = {"W1 chain": chain(1000), "W2 wide": wide(1000), "W3 DAG": layered(100, 100)}
    columns: dict[str, dict[str, float]] = {}
    for label, deps in workloads.items():
        n = len(deps)
        store = str(tmp / f"{label[:2]}.sqlite")
        for _ in range(args.earlier):
            run_wfe(deps, None, store, inline=True)
        bare = statistics.median(run_wfe(deps, None, None, inline=True) for _ in range(args.repeat))
        walls, parts = [], []
        for _ in range(args.repeat):
            spent.clear()
            walls.append(run_wfe(deps, None, store, inline=True))
            parts.append(dict(spent))
        wall = statistics.median(walls)
        column = {"run, no store": bare / n * 1e6, "run, store": wall / n * 1e6}
        for part, _, _ in PARTS:
            column[part] = statistics.median(p.get(part, 0.0) for p in parts) / n * 1e6
        column["unattributed"] = (
            column["run, store"] - column["run, no store"] - sum(column[part] for part, _, _ in PARTS)
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
