"""The summary ``wfe run`` and ``wfe resume`` print when a run ends.

Status (a run whose only failures were non-critical says so), steps by outcome, wall time,
the slowest steps, the critical path of what actually ran and the parallel efficiency —
the last three as :mod:`wfe_core.report.analytics` defines them, read back from the run
store when the run was recorded. A failed, cancelled or interrupted run ends with the
exact ``wfe resume`` command that continues it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from wfe_core.plan.fanout import counted_note

__all__ = ["summary_lines"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _analytics(store: Path | None, run_id: str) -> Any:
    if store is None or not store.exists():
        return None
    try:
        from wfe_core.report.analytics import analyze
        from wfe_core.report.data import open_store, read_run

        db = open_store(store)
        try:
            return analyze(read_run(db, run_id))
        finally:
            db.close()
    except Exception:  # a summary must never turn a finished run into a crash
        return None


def summary_lines(stats: Any, *, store: Path | None, store_option: str | None = None) -> list[str]:
    """The summary of a finished run, one string per line.

    ``store`` is the run store the run was recorded in (None: not recorded);
    ``store_option`` is the ``--store`` the user gave, repeated in the resume command.
    """
    status = stats.status.value
    failed = stats.failed_steps
    if status == "succeeded" and failed:
        status = f"succeeded with {_plural(failed, 'non-critical failure')}"
    outcomes = [
        f"{stats.completed_steps} succeeded",
        f"{failed} failed",
        f"{stats.skipped_steps} skipped",
        f"{stats.cancelled_steps} cancelled",
    ]
    fanned = counted_note(getattr(stats, "fanned_out", None) or {})
    note = f"; {fanned}" if fanned else ""
    lines = [
        f"run {stats.run_id[:12]} {status}: {', '.join(outcomes)} (of {stats.total_steps}{note}) "
        f"in {stats.total_execution_time:.2f}s"
    ]
    if stats.error and not stats.succeeded:
        lines.append(f"  error: {stats.error}")
    if getattr(stats, "rollback", None):
        lines.append(f"  rollback {stats.rollback}")
    facts = _analytics(store, stats.run_id) if not stats.dry_run else None
    if facts is not None:
        slow = sorted(facts.spans.items(), key=lambda kv: -kv[1])[:3]
        if slow:
            lines.append("  slowest: " + ", ".join(f"{sid} {secs:.2f}s" for sid, secs in slow))
        if facts.critical_path:
            lines.append(f"  critical path: {' → '.join(facts.critical_path)} ({facts.critical_path_time:.2f}s)")
        lines.append(f"  parallel efficiency: {facts.parallel_efficiency:.0%} of {facts.workers} workers")
    else:
        ran = sorted(((sid, r.duration) for sid, r in stats.steps.items() if r.duration), key=lambda kv: -kv[1])
        if ran:
            lines.append("  slowest: " + ", ".join(f"{sid} {secs:.2f}s" for sid, secs in ran[:3]))
        lines.append(f"  parallel efficiency: {stats.parallel_efficiency:.0%} of {stats.workers} workers")
    if not stats.succeeded and store is not None and not stats.dry_run:
        command = ["wfe", "resume", stats.run_id]
        if store_option:
            command += ["--store", store_option]
        lines.append(f"  continue with: {shlex.join(command)}")
    return lines
