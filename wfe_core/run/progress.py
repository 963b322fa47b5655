"""Progress observers: ``engine.progress_tracker.add_observer(callback)``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from wfe_core.plugin.capabilities import Event

__all__ = ["ProgressTracker"]

log = logging.getLogger("wfe.progress")


class ProgressTracker:
    """Turns run events into progress updates for observers.

    An observer is called as ``callback(workflow_id, progress_data)`` on the scheduler
    thread after every step that finishes, where ``progress_data`` has
    ``completion_percentage`` (0–100), ``finished``, ``total``, ``run_id``, ``elapsed``
    (seconds) and ``eta`` (seconds, estimated from the mean pace so far; ``None`` until
    a step has finished).
    """

    def __init__(self) -> None:
        self._observers: list[Callable[[str, dict[str, Any]], None]] = []
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}

    def add_observer(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        with self._lock:
            self._observers.append(callback)

    def remove_observer(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        with self._lock:
            self._observers.remove(callback)

    @property
    def active(self) -> bool:
        return bool(self._observers)

    def handle(self, event: Event) -> None:
        if event.kind == "run.started":
            self._started[event.run_id] = time.monotonic()
            return
        if event.kind == "run.finished":
            self._started.pop(event.run_id, None)
            return
        if event.kind != "progress":
            return
        elapsed = time.monotonic() - self._started.get(event.run_id, time.monotonic())
        finished, total = event.data["finished"], event.data["total"]
        eta = elapsed / finished * (total - finished) if finished else None
        data = {**event.data, "run_id": event.run_id, "elapsed": elapsed, "eta": eta}
        for observer in list(self._observers):
            try:
                observer(event.workflow_id, data)
            except Exception:
                log.exception("a progress observer failed")
