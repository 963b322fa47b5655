"""The summary ``wfe run`` and ``wfe resume`` print when a run ends.

Status (a run whose only failures were non-critical says so), steps by outcome, wall time,
the slowest steps, the critical path of what actually ran and the parallel efficiency —
the last three as :mod:`wfe_core.report.analytics` defines them when the run was
recorded (computed from the run itself where that gives the same numbers, else read back
from the run store). A failed, cancelled or interrupted run ends with the exact
``wfe resume`` command that continues it.
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


class _Facts:
    """What the summary shows of :class:`wfe_core.report.analytics.Analytics`."""

    def __init__(
        self, spans: dict[str, float], path: tuple[str, ...], path_time: float, efficiency: float, workers: int
    ):
        self.spans, self.critical_path, self.critical_path_time = spans, path, path_time
        self.parallel_efficiency, self.workers = efficiency, workers


def _from_memory(stats: Any, workflow: Any) -> _Facts | None:
    """The summary's analytics from the finished run itself, where they are exactly what
    :func:`wfe_core.report.analytics.analyze` reads back from the store: a run of
    ``workflow`` in this process (not resumed), no fan-out, every step that started also
    ended. Else ``None``, and the store is read (the report package costs ~8 ms of start-up).

    A step's span is from its first start to its end (retries included); efficiency is
    RunStats' own, which the report computes from the same recorded inputs.
    """
    if workflow is None or stats.fanned_out or stats.workers <= 0:
        return None
    dependencies = {step.id: step.dependencies for step in workflow.steps}
    spans: dict[str, float] = {}
    for step_id, record in stats.steps.items():
        if step_id not in dependencies:  # an id the definition does not have: let the report decide
            return None
        if record.started_at is None:
            continue
        if record.finished_at is None:
            return None
        spans[step_id] = max(0.0, record.finished_at - record.started_at)
    from wfe_core.plan.graph import graph_of

    # The graph validation built for this very workflow (the same one, from the same
    # dependencies): building it again cost a 10,000-step run ~20 ms.
    chain, length = graph_of(workflow).critical_path(spans)
    path = tuple(step_id for step_id in chain if step_id in spans)
    return _Facts(spans, path, length, stats.parallel_efficiency, stats.workers)


def summary_lines(
    stats: Any, *, store: Path | None, store_option: str | None = None, workflow: Any = None
) -> list[str]:
    """The summary of a finished run, one string per line.

    ``store`` is the run store the run was recorded in (None: not recorded);
    ``store_option`` is the ``--store`` the user gave, repeated in the resume command;
    ``workflow`` the workflow this process ran (its steps' dependencies give the critical
    path without reading the store back).
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
    facts: Any = None
    if store is not None and not stats.dry_run and store.exists():
        facts = _from_memory(stats, workflow) or _analytics(store, stats.run_id)
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
