"""Status reporting: ``StatusReporter`` and ``ReportLevel``, and the ``logging`` bridge.

The original specification's API::

    reporter = StatusReporter(log_file="workflow.log")
    reporter.info("workflow_123", "Step completed successfully")
    reporter.export_reports("report.json", format="json")

Every entry also goes to the standard :mod:`logging` module (logger ``wfe.status``).
``log_file`` gets one JSON object per line, appended with one ``write`` under an
exclusive ``flock``, so threads and several processes can append to one file at once
without interleaving lines.

:func:`log_event` is the bridge every run uses: run and step lifecycle at INFO, retries
and non-critical failures at WARNING, failures at ERROR, on the ``wfe.run`` and
``wfe.step`` loggers, with ``run_id``, ``workflow_id`` and ``step_id`` as record
attributes. The ``wfe`` logger has a ``NullHandler``, so nothing is printed unless the
application configures logging (``logging.basicConfig(level=logging.INFO)`` shows a run's
story).
"""

from __future__ import annotations

import enum
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wfe_core.model.errors import WfeError
from wfe_core.model.secrets import Redactor

__all__ = ["EXPORT_FORMATS", "KINDS", "ReportLevel", "StatusReporter", "log_event", "logs_kind"]

logging.getLogger("wfe").addHandler(logging.NullHandler())
_RUN_LOG = logging.getLogger("wfe.run")
_STEP_LOG = logging.getLogger("wfe.step")
_STATUS_LOG = logging.getLogger("wfe.status")


class ReportLevel(enum.IntEnum):
    """Severity of a status entry; the values are the :mod:`logging` levels."""

    DEBUG = logging.DEBUG
    INFO = logging.INFO
    WARNING = logging.WARNING
    ERROR = logging.ERROR
    CRITICAL = logging.CRITICAL


#: The level of each run event in reporters and in :mod:`logging`; ``progress`` is not logged.
EVENT_LEVELS: Mapping[str, ReportLevel] = {
    "run.started": ReportLevel.INFO,
    "run.finished": ReportLevel.INFO,
    "step.started": ReportLevel.INFO,
    "step.succeeded": ReportLevel.INFO,
    "step.skipped": ReportLevel.INFO,
    "step.retrying": ReportLevel.WARNING,
    "step.failed": ReportLevel.ERROR,
    "step.timed_out": ReportLevel.ERROR,
    "step.cancelled": ReportLevel.WARNING,
    "step.rolled_back": ReportLevel.INFO,
    "step.rollback_failed": ReportLevel.ERROR,
}


#: Every kind of event a run emits (reporters and plugins may say which of them they want).
KINDS: frozenset[str] = frozenset({*EVENT_LEVELS, "step.waiting", "progress"})

#: Kinds whose level :func:`_event_level` derives from the event's data.
_LEVEL_DEPENDS_ON_DATA = frozenset({"run.finished", "step.failed", "step.timed_out"})


def _event_level(event: Any) -> ReportLevel | None:
    level = EVENT_LEVELS.get(event.kind)
    if level is None:
        return None
    data = event.data or {}
    if event.kind == "run.finished" and data.get("status") not in (None, "succeeded"):
        return ReportLevel.ERROR
    if event.kind in ("step.failed", "step.timed_out") and data.get("critical") is False:
        return ReportLevel.WARNING  # a non-critical failure does not fail the run
    return level


def _event_message(event: Any) -> str:
    data = event.data or {}
    subject = f"step {event.step_id}" if event.step_id else f"run {event.run_id[:12]}"
    what = event.kind.split(".", 1)[1].replace("_", " ")
    if event.kind == "run.finished":
        what = f"finished: {data.get('status')}"
    detail = data.get("error") or data.get("reason")
    return f"{subject} {what}" + (f": {detail}" if detail else "")


def log_event(event: Any) -> None:
    """Send one run event to :mod:`logging` (a run listener; costs one check when off)."""
    level = EVENT_LEVELS.get(event.kind)  # progress: None, never logged
    if level is None:
        return
    if event.kind in _LEVEL_DEPENDS_ON_DATA:
        level = _event_level(event) or level
    logger = _STEP_LOG if event.step_id else _RUN_LOG
    if not logger.isEnabledFor(level):
        return
    extra = {"run_id": event.run_id, "workflow_id": event.workflow_id, "step_id": event.step_id, "event": event.kind}
    logger.log(level, "%s", _event_message(event), extra=extra)


def logs_kind(kind: str) -> bool:
    """Whether :func:`log_event` would log some event of ``kind`` with the loggers' levels
    as they are now (``progress`` and ``step.waiting``: never). A run whose only listener
    is :func:`log_event` asks this once at its start and does not even build the events
    of the kinds it would drop (a step's ``started``, ``succeeded`` and ``progress``
    unless INFO is enabled: most of a no-op step's cost)."""
    level = EVENT_LEVELS.get(kind)
    if level is None:
        return False
    if kind in _LEVEL_DEPENDS_ON_DATA:
        level = ReportLevel.ERROR  # the most its data can make it
    return (_STEP_LOG if kind.startswith("step.") else _RUN_LOG).isEnabledFor(level)


def _text_line(entry: Mapping[str, Any]) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["time"]))
    details = entry.get("details") or {}
    tail = "".join(f" {k}={v}" for k, v in details.items())
    return f"{stamp} {entry['level']:<8} {entry['workflow_id']}: {entry['message']}{tail}"


def _export_json(entries: list[dict[str, Any]]) -> str:
    return json.dumps({"format": "wfe.status/1", "entries": entries}, indent=2, default=repr) + "\n"


def _export_yaml(entries: list[dict[str, Any]]) -> str:
    import yaml

    plain = json.loads(json.dumps(entries, default=repr))  # only plain types reach the dumper
    return str(yaml.safe_dump({"format": "wfe.status/1", "entries": plain}, sort_keys=False, allow_unicode=True))


def _export_text(entries: list[dict[str, Any]]) -> str:
    return "".join(_text_line(e) + "\n" for e in entries)


#: format name -> exporter of the reporter's entries
EXPORT_FORMATS = {"json": _export_json, "yaml": _export_yaml, "text": _export_text}
#: run-report formats :meth:`StatusReporter.export_reports` delegates to ``wfe report``'s exporters
RUN_REPORT_FORMATS = ("html", "junit", "markdown")


class StatusReporter:
    """Collects status entries at or above ``level``; see the module docstring.

    Args:
        log_file: append each entry to this file as one JSON line (optional).
        level: the minimum level kept (a :class:`ReportLevel`, its name, or a number).
        secrets: values masked (``***``) in every message and detail written anywhere.
        max_entries: entries kept in memory for :meth:`export_reports` (oldest dropped).
    """

    def __init__(
        self,
        log_file: str | os.PathLike[str] | None = None,
        *,
        level: ReportLevel | str | int = ReportLevel.DEBUG,
        secrets: Mapping[str, str] | Iterable[str] = (),
        max_entries: int = 100_000,
    ):
        self.level = _level(level)
        self.log_file = Path(log_file) if log_file is not None else None
        self._redact = Redactor(secrets)
        self._entries: list[dict[str, Any]] = []
        self._max = max_entries
        self._lock = threading.Lock()
        self._runs: dict[str, Path | None] = {}  # run id -> the store it is recorded in

    # -- the original specification's methods ------------------------------------------------------------
    def debug(self, workflow_id: str, message: str, **details: Any) -> None:
        self.report(ReportLevel.DEBUG, workflow_id, message, **details)

    def info(self, workflow_id: str, message: str, **details: Any) -> None:
        self.report(ReportLevel.INFO, workflow_id, message, **details)

    def warning(self, workflow_id: str, message: str, **details: Any) -> None:
        self.report(ReportLevel.WARNING, workflow_id, message, **details)

    def error(self, workflow_id: str, message: str, **details: Any) -> None:
        self.report(ReportLevel.ERROR, workflow_id, message, **details)

    def critical(self, workflow_id: str, message: str, **details: Any) -> None:
        self.report(ReportLevel.CRITICAL, workflow_id, message, **details)

    def report(self, level: ReportLevel | str | int, workflow_id: str, message: str, **details: Any) -> None:
        """Record one entry (dropped when below the reporter's level)."""
        level = _level(level)
        if level < self.level:
            return
        entry = {
            "time": time.time(),
            "level": level.name,
            "workflow_id": str(workflow_id),
            "message": self._redact(str(message)),
            "details": self._redact(details),
        }
        _STATUS_LOG.log(
            level, "%s: %s", entry["workflow_id"], entry["message"], extra={"workflow_id": entry["workflow_id"]}
        )
        line = json.dumps(entry, default=repr, ensure_ascii=False) + "\n"
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self._max:
                del self._entries[: len(self._entries) - self._max]
            if self.log_file is not None:
                _append_line(self.log_file, line.encode("utf-8"))

    def on_event(self, event: Any) -> None:
        """A run listener: every run and step event becomes an entry (engines wire this)."""
        level = _event_level(event)
        if level is None:
            return
        details = {
            "run_id": event.run_id,
            "event": event.kind,
            **({"step_id": event.step_id} if event.step_id else {}),
            **{k: v for k, v in (event.data or {}).items() if v is not None},
        }
        self.report(level, event.workflow_id, _event_message(event), **details)

    # -- reading back ------------------------------------------------------------------
    @property
    def entries(self) -> list[dict[str, Any]]:
        """A copy of the entries kept in memory, oldest first."""
        with self._lock:
            return list(self._entries)

    def export_reports(self, path: str | os.PathLike[str], format: str = "json", run_id: str | None = None) -> Path:
        """Write the status entries to ``path`` as ``json``, ``yaml`` or ``text``, or a run
        report as ``html``, ``junit`` or ``markdown``; returns the path.

        The run-report formats delegate to the exporters behind ``wfe report`` (one set of
        renderers): they render ``run_id`` (default: the last run this reporter heard from
        an engine) from the run store that engine recorded it in. A run heard from an
        engine without a store cannot be reported that way, and the error says so.
        """
        exporter = EXPORT_FORMATS.get(format)
        if exporter is not None:
            target = Path(path)
            target.write_text(exporter(self.entries), encoding="utf-8")
            return target
        if format not in RUN_REPORT_FORMATS:
            known = ", ".join([*EXPORT_FORMATS, *RUN_REPORT_FORMATS])
            raise WfeError(f"unknown report format {format!r}; known formats: {known}")
        return self._export_run_report(Path(path), format, run_id)

    def heard_run(self, run_id: str, store: Path | None) -> None:
        """Called by an engine when it starts a run that reports here: where it is recorded."""
        with self._lock:
            self._runs[run_id] = store

    def _export_run_report(self, target: Path, format: str, run_id: str | None) -> Path:
        with self._lock:
            runs = dict(self._runs)
        if not runs:
            raise WfeError(f"a {format} report renders a recorded run, and this reporter has heard no run yet")
        run_id = run_id if run_id is not None else list(runs)[-1]
        store = runs.get(run_id)
        if store is None:
            why = "it was not recorded (the engine had no run store)" if run_id in runs else "it heard no such run"
            raise WfeError(f"cannot write a {format} report of run {run_id}: {why}")
        from wfe_core.plugin.builtins.report_formats import wfe_report_formats
        from wfe_core.report.data import open_store, read_run
        from wfe_core.report.report import build_report

        renderer = next(f for f in wfe_report_formats() if f.name == format)
        db = open_store(store)
        try:
            run = read_run(db, run_id)
        finally:
            db.close()
        data = renderer.render(build_report(run))
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data, encoding="utf-8")
        return target


def _level(level: ReportLevel | str | int) -> ReportLevel:
    if isinstance(level, ReportLevel):
        return level
    try:
        return ReportLevel[level.upper()] if isinstance(level, str) else ReportLevel(level)
    except (KeyError, ValueError):
        names = ", ".join(m.name for m in ReportLevel)
        raise WfeError(f"unknown report level {level!r}; known levels: {names}") from None


def _append_line(path: Path, data: bytes) -> None:
    """One ``write`` of a whole line under an exclusive lock: no interleaving, even
    between processes (O_APPEND alone does not promise that for large writes)."""
    import fcntl

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)  # closing releases the lock
