"""Built-in reporters: ``console`` (a line per step) and ``json`` (one JSON object per event)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.plugin.capabilities import Event, Reporter

_MARKS = {
    "step.succeeded": "ok", "step.failed": "FAIL", "step.timed_out": "TIME", "step.skipped": "skip",
    "step.cancelled": "cncl", "step.retrying": "retry", "step.rolled_back": "undo", "step.rollback_failed": "UNDO!",
}


def _write(stream: TextIO, text: str) -> bool:
    """Write and flush; False once the reader has gone (``wfe run … | head``)."""
    try:
        stream.write(text)
        stream.flush()
        return True
    except BrokenPipeError:
        # The reader is gone: the run goes on quietly. Point stdout at /dev/null so the
        # interpreter's final flush does not complain either (as the Python docs advise).
        if stream is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return False


class ConsoleReporter:
    """One line per finished step, one per retry, and the run's end."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.open = True

    def handle(self, event: Event) -> None:
        line = self._line(event)
        if line is not None and self.open:
            self.open = _write(self.stream, line + "\n")

    @staticmethod
    def _line(event: Event) -> str | None:
        data = event.data
        mark = _MARKS.get(event.kind)
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
            # Multi-line details (a command's stderr) stay under their step.
            detail = detail.rstrip("\n").replace("\n", "\n        ")
            return f"[{mark:>5}] {event.step_id}{detail}"
        if event.kind == "run.started":
            return (f"run {event.run_id} of {event.workflow_id}: {data['total_steps']} steps, "
                    f"{data['strategy']} on {data['workers']} workers" + (" (dry run)" if data.get("dry_run") else ""))
        if event.kind == "run.finished":
            return (f"run {event.run_id[:12]} {data['status']}: {data['completed_steps']}/{data['total_steps']} steps "
                    f"succeeded in {data['duration']:.2f}s" + (f" — {data['error']}" if data.get("error") else "")
                    + (f"; rollback {data['rollback']}" if data.get("rollback") else ""))
        return None

    def close(self) -> None:
        if self.open:
            self.open = _write(self.stream, "")


class JsonReporter:
    """Every event as one JSON object per line (JSON Lines)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.open = True

    def handle(self, event: Event) -> None:
        record: dict[str, Any] = {"kind": event.kind, "run_id": event.run_id, "workflow_id": event.workflow_id,
                                  "time": event.time}
        if event.step_id is not None:
            record["step_id"] = event.step_id
        record.update(event.data)
        if self.open:
            self.open = _write(self.stream, json.dumps(record, default=str) + "\n")

    def close(self) -> None:
        if self.open:
            self.open = _write(self.stream, "")


@hookimpl
def wfe_reporters():
    return [
        Reporter("console", ConsoleReporter, "A line per step and a summary (default)."),
        Reporter("json", JsonReporter, "Every event as a JSON line."),
    ]
