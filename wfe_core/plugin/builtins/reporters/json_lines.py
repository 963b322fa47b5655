"""The ``json`` reporter (plugin ``wfe.reporter.json``): every event as one JSON object per line."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from wfe_core.plugin.builtins.reporters.stream import write_line
from wfe_core.plugin.capabilities import Event, Reporter
from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.run.output import as_json

__all__ = ["JsonReporter", "wfe_reporters"]


class JsonReporter:
    """Every event as one JSON object per line (JSON Lines)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.open = True

    def handle(self, event: Event) -> None:
        record: dict[str, Any] = {
            "kind": event.kind,
            "run_id": event.run_id,
            "workflow_id": event.workflow_id,
            "time": event.time,
        }
        if event.step_id is not None:
            record["step_id"] = event.step_id
        record.update(event.data)
        if self.open:
            self.open = write_line(self.stream, as_json(record) + "\n")

    def close(self) -> None:
        if self.open:
            self.open = write_line(self.stream, "")


@hookimpl
def wfe_reporters() -> list[Reporter]:
    return [Reporter("json", JsonReporter, "Every event as a JSON line.")]
