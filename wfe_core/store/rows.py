"""A step's row in the run store: the statements that write it, and how readers list a
run's steps (schema 5: a step has a row once it first starts, finishes or changes status;
the steps a run plans are one JSON column of its run row).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from wfe_core.store.encoding import LOG_KEYS

__all__ = [
    "FINISHED_ONCE",
    "FINISHED_ONCE_OUTPUT",
    "FINISHED_OUTPUT",
    "FINISHED_PLAIN",
    "FINISHED_ROW",
    "FINISHED_ROW_ONCE",
    "ONE_ATTEMPT",
    "RUNNING_ROW",
    "STARTED_ROW",
    "STATUS_ROW",
    "STEP_COLUMNS",
    "attempt_log",
    "ended_as_row",
    "with_planned",
]

# A step's row is written when it first starts or finishes (see migration 5): these are
# upserts, whose INSERT also writes the fingerprint and file position the run planned
# (the last two parameters) and whose UPDATE (a row written earlier) leaves them.
_FINISHED_COLUMNS = (
    "status",
    "attempts",
    "attempt_log",
    "output",
    "variables",
    "memo",
    "error",
    "reason",
    "started_at",
    "finished_at",
    "duration",
    "seq",
    "run_id",
    "step_id",
    "fingerprint",
    "position",
)
#: The columns of a finished row that are mostly NULL (a step's output, variables,
#: rollback memo, error and reason).
_MOSTLY_NULL = ("output", "variables", "memo", "error", "reason")


#: A finished row's ``attempt_log`` for the usual step: one attempt, number 1, that ended
#: as the row did (the row's status, started and finished at the row's times, no error).
#: Readers spell it out (:func:`attempt_log`). Written out as JSON it was 6–8 % of a stored
#: step's instructions (the text, and SQLite's work on rows twice as long).
ONE_ATTEMPT = ""


def _finished_sql(nulls: frozenset[str] = frozenset(), *, one_attempt: bool = False) -> str:
    """The upsert of a finished step's row, with the ``nulls`` columns written as NULL in
    the text rather than bound as parameters: Python 3.11's ``sqlite3`` binds None through
    its adapter lookup, which raises and clears an AttributeError each time (~0.26 µs a
    parameter; a succeeded step's row had five). ``one_attempt``: the attempt log is
    :data:`ONE_ATTEMPT`, in the text too."""
    literal = {column: "NULL" for column in nulls}
    if one_attempt:
        literal["attempt_log"] = f"'{ONE_ATTEMPT}'"
    values = ",".join(literal.get(column, "?") for column in _FINISHED_COLUMNS)
    keep = ("run_id", "step_id", "fingerprint", "position")
    updates = ", ".join(f"{c}=excluded.{c}" for c in _FINISHED_COLUMNS if c not in keep)
    return (
        f"INSERT INTO steps ({', '.join(_FINISHED_COLUMNS)}) VALUES ({values})"
        f" ON CONFLICT (run_id, step_id) DO UPDATE SET {updates}"
    )


#: Every parameter bound; with the mostly-NULL columns NULL; with only the output set;
#: the ``_ONCE`` ones the same with the attempt log :data:`ONE_ATTEMPT` (not a parameter either).
FINISHED_ROW = _finished_sql()
FINISHED_PLAIN = _finished_sql(frozenset(_MOSTLY_NULL))
FINISHED_OUTPUT = _finished_sql(frozenset(_MOSTLY_NULL) - {"output"})
FINISHED_ROW_ONCE = _finished_sql(one_attempt=True)
FINISHED_ONCE = _finished_sql(frozenset(_MOSTLY_NULL), one_attempt=True)
FINISHED_ONCE_OUTPUT = _finished_sql(frozenset(_MOSTLY_NULL) - {"output"}, one_attempt=True)
STARTED_ROW = (
    "INSERT INTO steps (status, attempts, attempt_log, started_at, run_id, step_id, fingerprint, position)"
    " VALUES ('running',?,?,?,?,?,?,?) ON CONFLICT (run_id, step_id) DO UPDATE SET status='running',"
    " attempts=excluded.attempts, attempt_log=excluded.attempt_log,"
    " started_at=COALESCE(steps.started_at, excluded.started_at)"
)
RUNNING_ROW = (
    "INSERT INTO steps (status, started_at, run_id, step_id, fingerprint, position) VALUES ('running',?,?,?,?,?)"
    " ON CONFLICT (run_id, step_id) DO UPDATE SET status='running',"
    " started_at=COALESCE(steps.started_at, excluded.started_at)"
)
STATUS_ROW = (
    "INSERT INTO steps (status, error, run_id, step_id, fingerprint, position) VALUES (?,?,?,?,?,?)"
    " ON CONFLICT (run_id, step_id) DO UPDATE SET status=excluded.status, error=COALESCE(excluded.error, steps.error)"
)
#: The columns of a step's row, in the table's order.
STEP_COLUMNS = (
    "run_id",
    "step_id",
    "status",
    "attempts",
    "attempt_log",
    "output",
    "variables",
    "memo",
    "error",
    "reason",
    "started_at",
    "finished_at",
    "duration",
    "seq",
    "fingerprint",
    "position",
    "scope",
)


def attempt_log(text: str | None, row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The attempt log of a step's ``row`` whose ``attempt_log`` column is ``text``
    (:data:`ONE_ATTEMPT` is spelled out from the row's status and times)."""
    if text == ONE_ATTEMPT:
        return [
            {
                "number": 1,
                "status": row["status"],
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "error": None,
            }
        ]
    return json.loads(text) if text else []


def ended_as_row(entry: dict[str, Any], status: str, started_at: float | None, finished_at: float | None) -> bool:
    """Whether a log of this one ``entry`` is what :func:`attempt_log` spells
    :data:`ONE_ATTEMPT` out to for a row of ``status`` and these times (then the row is
    written with it)."""
    started, finished = entry.get("started_at"), entry.get("finished_at")
    return (
        tuple(entry) == LOG_KEYS  # (in this order: the text it had is the same)
        and entry["number"] == 1
        and entry["status"] == status
        and type(started) is float  # (read back from a REAL column, an int would be a float)
        and type(finished) is float
        and started == started_at
        and finished == finished_at
        and entry["error"] is None
    )


def with_planned(run_id: str, planned: str | None, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A run's step rows as dicts, with a pending row for each step the run planned
    (the runs table's ``planned``) that has no row yet, ordered by file position.

    A run recorded before schema 5 has no ``planned``: its rows include the pending ones.
    """
    steps = [dict(row) for row in rows]
    if planned:
        have = {step["step_id"] for step in steps}
        empty = dict.fromkeys(STEP_COLUMNS)
        empty.update(run_id=run_id, status="pending", attempts=0, duration=0)
        for position, (step_id, fingerprint) in enumerate(json.loads(planned)):
            if step_id not in have:
                steps.append({**empty, "step_id": step_id, "fingerprint": fingerprint, "position": position})
    steps.sort(key=_by_position)
    return steps


def _by_position(step: Mapping[str, Any]) -> tuple[float, str]:
    """Where ``ORDER BY position`` puts a row: NULL first, ties in the key's (step id) order."""
    position = step["position"]
    return (-math.inf if position is None else float(position), step["step_id"])
