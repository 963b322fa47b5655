"""Built-in reporters: ``console`` (a line per step) and ``json`` (one JSON object per event)."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from ..hookspecs import hookimpl
from ..records import Event, Reporter

_MARKS = {
    "step.succeeded": "ok", "step.failed": "FAIL", "step.timed_out": "TIME", "step.skipped": "skip",
    "step.cancelled": "cncl", "step.retrying": "retry", "step.rolled_back": "undo", "step.rollback_failed": "UNDO!",
}


class ConsoleReporter:
    """One line per finished step, one per retry, and the run's end."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def handle(self, event: Event) -> None:
        mark = _MARKS.get(event.kind)
        data = event.data
        if mark is not None:
            detail = ""
            if event.kind == "step.retrying":
                detail = f" attempt {data.get('attempt')} failed: {data.get('error')}; retrying in {data.get('delay', 0):.2f}s"
            elif data.get("error") and event.kind != "step.skipped":
                detail = f" {data['error']}"
            elif data.get("reason"):
                detail = f" ({data['reason']})"
            elif "duration" in data:
                detail = f" {data['duration']:.3f}s"
            self.stream.write(f"[{mark:>5}] {event.step_id}{detail}\n")
        elif event.kind == "run.started":
            self.stream.write(f"run {event.run_id} of {event.workflow_id}: {data['total_steps']} steps, "
                              f"{data['strategy']} on {data['workers']} workers"
                              + (" (dry run)" if data.get("dry_run") else "") + "\n")
        elif event.kind == "run.finished":
            self.stream.write(
                f"run {event.run_id[:12]} {data['status']}: {data['completed_steps']}/{data['total_steps']} steps "
                f"succeeded in {data['duration']:.2f}s" + (f" — {data['error']}" if data.get("error") else "")
                + (f"; rollback {data['rollback']}" if data.get("rollback") else "") + "\n"
            )
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class JsonReporter:
    """Every event as one JSON object per line (JSON Lines)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def handle(self, event: Event) -> None:
        record: dict[str, Any] = {"kind": event.kind, "run_id": event.run_id, "workflow_id": event.workflow_id,
                                  "time": event.time}
        if event.step_id is not None:
            record["step_id"] = event.step_id
        record.update(event.data)
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


@hookimpl
def wfe_reporters():
    return [
        Reporter("console", ConsoleReporter, "A line per step and a summary (default)."),
        Reporter("json", JsonReporter, "Every event as a JSON line."),
    ]
