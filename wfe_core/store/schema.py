"""The run store's tables, as the migrations that build them version by version.

A store records its version in ``PRAGMA user_version``; :class:`~wfe_core.store.runstore.RunStore`
applies the migrations it lacks when it opens the file (reports read it as it is).
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

SCHEMA_VERSION = 6

#: The statements that bring a store from the version before each key to that version.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        workflow_name TEXT,
        source TEXT,
        definition TEXT,
        status TEXT NOT NULL,
        strategy TEXT,
        dry_run INTEGER NOT NULL DEFAULT 0,
        variables TEXT,
        error TEXT,
        rollback TEXT,
        started_at REAL,
        finished_at REAL,
        pid INTEGER,
        host TEXT,
        resumed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_start ON runs (started_at DESC);
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        step_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        output TEXT,
        variables TEXT,
        memo TEXT,
        error TEXT,
        reason TEXT,
        started_at REAL,
        finished_at REAL,
        duration REAL NOT NULL DEFAULT 0,
        seq INTEGER,
        fingerprint TEXT,
        PRIMARY KEY (run_id, step_id)
    );
    CREATE TABLE attempts (
        run_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at REAL,
        finished_at REAL,
        error TEXT,
        PRIMARY KEY (run_id, step_id, number)
    );
    """,
    # 2: a step's attempts move into its row (one B-tree per commit instead of four);
    # the steps table becomes WITHOUT ROWID and remembers file order.
    2: """
    ALTER TABLE steps RENAME TO steps_v1;
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        step_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        attempt_log TEXT,
        output TEXT,
        variables TEXT,
        memo TEXT,
        error TEXT,
        reason TEXT,
        started_at REAL,
        finished_at REAL,
        duration REAL NOT NULL DEFAULT 0,
        seq INTEGER,
        fingerprint TEXT,
        position INTEGER,
        PRIMARY KEY (run_id, step_id)
    ) WITHOUT ROWID;
    INSERT INTO steps (run_id, step_id, status, attempts, attempt_log, output, variables, memo, error, reason,
                       started_at, finished_at, duration, seq, fingerprint, position)
        SELECT s.run_id, s.step_id, s.status, s.attempts,
               (SELECT json_group_array(json_object('number', a.number, 'status', a.status,
                                                    'started_at', a.started_at, 'finished_at', a.finished_at,
                                                    'error', a.error))
                  FROM (SELECT * FROM attempts a WHERE a.run_id = s.run_id AND a.step_id = s.step_id
                        ORDER BY a.number) a),
               s.output, s.variables, s.memo, s.error, s.reason, s.started_at, s.finished_at, s.duration,
               s.seq, s.fingerprint, s.rowid
          FROM steps_v1 s;
    DROP TABLE steps_v1;
    DROP TABLE attempts;
    """,
    # 3: the run's worker limit and its own measure of its wall time (RunStats'), so a
    # report's parallel efficiency is RunStats' number.
    3: """
    ALTER TABLE runs ADD COLUMN workers INTEGER;
    ALTER TABLE runs ADD COLUMN elapsed REAL;
    """,
    # 4: a fan-out instance's item ({item}, {item_index} or {matrix}), so that rolling it
    # back renders them even when its step does not expand again (its `when` turned false).
    4: """
    ALTER TABLE steps ADD COLUMN scope TEXT;
    """,
    # 5: a run's steps in file order with their fingerprints, as one JSON array
    # ([[id, fingerprint], ...]): a step gets its row when it first starts, finishes or
    # changes status, and readers (:func:`wfe_core.store.rows.with_planned`) show the planned steps without
    # one as pending. Inserting a pending row for every step at the start, then
    # updating it, was a second B-tree write per step (~2.5 µs a step of SQLite's work).
    5: """
    ALTER TABLE runs ADD COLUMN planned TEXT;
    """,
    # 6: a finished step's attempt log may be '' (rows.ONE_ATTEMPT): one attempt that ended
    # as the row did, spelled out by readers (:func:`wfe_core.store.rows.attempt_log`; the
    # version keeps a wfe that would read '' as JSON from the file). A finished run's
    # ``work``: its steps' summed durations (RunStats.busy_time), which bounds what learned
    # durations can gain (:mod:`wfe_core.store.learned`) without reading its rows.
    6: """
    ALTER TABLE runs ADD COLUMN work REAL;
    """,
}
