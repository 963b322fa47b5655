"""The ``console`` reporter (plugin ``wfe.reporter.console``): a line per finished step and the run's end."""

from __future__ import annotations

import sys
from typing import TextIO

from wfe_core.plugin.builtins.reporters.stream import write_line
from wfe_core.plugin.capabilities import Event, Reporter
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["ConsoleReporter", "wfe_reporters"]

_MARKS = {
    "step.succeeded": "ok",
    "step.failed": "FAIL",
    "step.timed_out": "TIME",
    "step.skipped": "skip",
    "step.cancelled": "cncl",
    "step.retrying": "retry",
    "step.rolled_back": "undo",
    "step.rollback_failed": "UNDO!",
}


class ConsoleReporter:
    """One line per finished step, one per retry, and the run's end."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.open = True

    def handle(self, event: Event) -> None:
        line = self._line(event)
        if line is not None and self.open:
            self.open = write_line(self.stream, line + "\n")

    @staticmethod
    def _line(event: Event) -> str | None:
        data = event.data
        mark = _MARKS.get(event.kind)
        if mark is not None:
            detail = ""
            if event.kind == "step.retrying":
                detail = (
                    f" attempt {data.get('attempt')} failed: {data.get('error')}; "
                    f"retrying in {data.get('delay', 0):.2f}s"
                )
            elif data.get("error") and event.kind != "step.skipped":
                detail = f" {data['error']}"
            elif data.get("reason"):
                detail = f" ({data['reason']})"
            elif "duration" in data:
                detail = f" {data['duration']:.3f}s"
            # Multi-line details (a command's stderr) stay under their step.
            detail = detail.rstrip("\n").replace("\n", "\n        ")
            return f"[{mark:>5}] {event.step_id}{detail}"
        if event.kind == "run.started":
            return (
                f"run {event.run_id} of {event.workflow_id}: {data['total_steps']} steps, "
                f"{data['strategy']} on {data['workers']} workers" + (" (dry run)" if data.get("dry_run") else "")
            )
        if event.kind == "run.finished":
            return (
                f"run {event.run_id[:12]} {data['status']}: {data['completed_steps']}/{data['total_steps']} steps "
                f"succeeded in {data['duration']:.2f}s"
                + (f" — {data['error']}" if data.get("error") else "")
                + (f"; rollback {data['rollback']}" if data.get("rollback") else "")
            )
        return None

    def close(self) -> None:
        if self.open:
            self.open = write_line(self.stream, "")


@hookimpl
def wfe_reporters() -> list[Reporter]:
    return [Reporter("console", ConsoleReporter, "A line per step and a summary (default).")]
