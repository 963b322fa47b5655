"""Reading runs back: the listing (``wfe runs``) and one run with its steps (``runs show``,
resume, reports). :class:`~wfe_core.store.runstore.RunStore` has these methods."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from wfe_core.store.guard import StoreError, guarded
from wfe_core.store.rows import STEP_COLUMNS, attempt_log, with_planned

__all__ = ["LISTED_COLUMNS", "RunReads", "alive", "hostname"]

#: What ``wfe runs`` lists: no variables, outputs or definition, which may be large.
LISTED_COLUMNS = (
    "run_id",
    "workflow_id",
    "workflow_name",
    "source",
    "status",
    "strategy",
    "dry_run",
    "error",
    "rollback",
    "started_at",
    "finished_at",
    "pid",
    "host",
    "resumed",
)


class RunReads:
    """The reading methods of a run store (a connection ``db`` to the file at ``path``)."""

    db: sqlite3.Connection
    path: Any
    _in_tx: bool

    @guarded
    def runs(self, limit: int = 20, workflow_id: str | None = None) -> list[dict[str, Any]]:
        """Recent runs, newest first; a 'running' run whose process is gone reads 'interrupted'.

        Only :data:`LISTED_COLUMNS`: a listing reads no variables, outputs or definitions.
        """
        # Sub-workflow runs (ids '<parent>/<step>') are shown under their parent, not here.
        query = f"SELECT {', '.join(LISTED_COLUMNS)} FROM runs WHERE instr(run_id, '/') = 0"
        args: tuple[Any, ...] = ()
        if workflow_id is not None:
            query += " AND workflow_id=?"
            args = (workflow_id,)
        rows = self.db.execute(query + " ORDER BY started_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._run_row(r) for r in rows]

    @guarded
    def run(self, run_id: str, *, memos: bool = True) -> dict[str, Any]:
        """One run with its steps (in completion order, then in file order) and their attempts.

        ``memos=False`` leaves out the rollback memos (``None``), which only a rollback
        needs and which may be large (the previous bytes of a file).
        """
        # One snapshot: the run row (with the steps it plans) and the step rows agree, even
        # when a resume commits a new plan between the two reads.
        snapshot = not self.db.in_transaction
        if snapshot:
            self.db.execute("BEGIN")
        try:
            row = self.db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is None:
                # An abbreviated id names a top-level run: a parent's children share its prefix.
                rows = self.db.execute(
                    "SELECT * FROM runs WHERE run_id LIKE ? AND (instr(run_id, '/') = 0 OR ?) LIMIT 2",
                    (run_id + "%", "/" in run_id),
                ).fetchall()
                if len(rows) != 1:
                    raise StoreError(
                        f"no run '{run_id}' in {self.path}"
                        if not rows
                        else f"run id prefix '{run_id}' is ambiguous in {self.path}"
                    )
                row = rows[0]
            columns = ", ".join(name if memos or name != "memo" else "NULL AS memo" for name in STEP_COLUMNS)
            rows = self.db.execute(f"SELECT {columns} FROM steps WHERE run_id=?", (row["run_id"],)).fetchall()
        except BaseException:
            if snapshot:
                self.db.execute("ROLLBACK")
            raise
        if snapshot:
            self.db.execute("COMMIT")
        run = self._run_row(row)
        steps = with_planned(run["run_id"], run.pop("planned", None), rows)
        steps.sort(key=lambda s: (s["seq"] is None, s["seq"] or 0))  # stable: file order within
        run["steps"] = []
        for step in steps:
            del step["position"]
            for key in ("output", "variables", "memo", "scope"):
                step[key] = _unjson(step[key])
            step["attempt_log"] = attempt_log(step["attempt_log"], step)
            if run["status"] == "interrupted" and step["status"] == "running":
                step["status"] = "interrupted"
            run["steps"].append(step)
        return run

    @guarded
    def child_runs(self, run_id: str) -> dict[str, str]:
        """Step id -> run id of the sub-workflow runs of run ``run_id`` (``<run_id>/<step>``)."""
        prefix = run_id + "/"
        rows = self.db.execute(
            "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? AND instr(substr(run_id, ?), '/') = 0",
            (len(prefix), prefix, len(prefix) + 1),
        ).fetchall()
        return {row[0][len(prefix) :]: row[0] for row in rows}

    def _run_row(self, row: sqlite3.Row) -> dict[str, Any]:
        run = dict(row)
        if "variables" in run:
            run["variables"] = _unjson(run["variables"])
        if run["status"] == "running" and not alive(run["pid"], run["host"]):
            run["status"] = "interrupted"
        return run


def _unjson(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def hostname() -> str:
    """This machine's name, as ``socket.gethostname()`` says it (both read ``uname``): without
    importing :mod:`socket`, which every start paid ~4 ms for."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def alive(pid: int | None, host: str | None) -> bool:
    """Whether a run's process still exists (a run on another machine is assumed alive)."""
    if pid is None or host != hostname():
        return True  # another machine's run: assume it is still going
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
