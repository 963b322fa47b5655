"""The ``json`` reporter (plugin ``wfe.reporter.json``): every event as one JSON object per line."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from wfe_core.plugin.builtins.reporters.stream import BatchedLines, write_line
from wfe_core.plugin.capabilities import Event, Reporter
from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.run.output import as_json

__all__ = ["JsonReporter", "wfe_reporters"]


#: The keys a line starts with; event data holding one of them takes the general path.
_HEAD = frozenset({"kind", "run_id", "workflow_id", "time", "step_id"})


class JsonReporter(BatchedLines):
    """Every event as one JSON object per line (JSON Lines): ``kind``, ``run_id``,
    ``workflow_id``, ``time``, ``step_id`` (step events), then the event's data.
    Lines are flushed once per batch of events the run delivers (:meth:`flush`)."""

    def __init__(self, stream: TextIO | None = None):
        super().__init__(stream or sys.stdout)
        # What every line of a run repeats, encoded once: (run_id, workflow_id, their text).
        self._ids: tuple[Any, Any, str] = (None, None, "")
        self._kinds: dict[str, str] = {}

    def handle(self, event: Event) -> None:
        if self.open:
            self._write(self.line(event) + "\n")

    def line(self, event: Event) -> str:
        """The event's line (without its newline): ``json.dumps(record, default=str)``
        of the record described above, byte for byte. The run's ids and the event kinds
        are encoded once, not on each of the three lines a step makes."""
        data = event.data
        when = event.time
        # An unusual event (data holding a head key, not a dict; a time that is not a
        # finite float) is encoded whole, as the record it describes.
        if type(data) is not dict or type(when) is not float or when - when != 0.0 or not _HEAD.isdisjoint(data):
            return as_json(_record(event))
        run_id, workflow_id, ids = self._ids
        if run_id != event.run_id or workflow_id != event.workflow_id:
            ids = as_json({"run_id": event.run_id, "workflow_id": event.workflow_id})[1:-1]
            self._ids = (event.run_id, event.workflow_id, ids)
        kind = self._kinds.get(event.kind)
        if kind is None:
            kind = self._kinds[event.kind] = as_json(event.kind)
        head = '{"kind": ' + kind + ", " + ids + ', "time": ' + float.__repr__(when)
        if event.step_id is not None:
            data = {"step_id": event.step_id, **data}
        return head + ", " + as_json(data)[1:] if data else head + "}"

    def close(self) -> None:
        self.flush()
        if self.open:
            self.open = write_line(self.stream, "")


def _record(event: Event) -> dict[str, Any]:
    """What a line encodes: the head keys, then the event's data (a data key equal to a
    head key replaces that value in place)."""
    record: dict[str, Any] = {
        "kind": event.kind,
        "run_id": event.run_id,
        "workflow_id": event.workflow_id,
        "time": event.time,
    }
    if event.step_id is not None:
        record["step_id"] = event.step_id
    record.update(event.data)
    return record


@hookimpl
def wfe_reporters() -> list[Reporter]:
    return [Reporter("json", JsonReporter, "Every event as a JSON line.")]
