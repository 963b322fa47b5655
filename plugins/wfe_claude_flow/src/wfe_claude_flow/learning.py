"""Learning from earlier runs: step durations read back from claude-flow memory at planning time.

A coordinated run stores, at its end, each succeeded step's last duration under
``durations`` and the fingerprint of its definition under ``fingerprints`` (namespace
``wfe:<workflow_id>``). The plugin's ``wfe_step_durations`` hook (:func:`step_durations`)
reads both back before the next coordinated run starts, through the run's own session
(the one coordination then uses: no second server start), and gives wfe the durations of
steps whose definition has not changed. wfe weighs the adaptive strategy's paths and its
ETA with them where its run store knows nothing (the store's own history wins).

What was read is handed to the run's :class:`~wfe_claude_flow.coordination.Coordinator`
(:func:`take`), which reports it as ``expected_duration`` and updates it at the end. When
the server cannot be reached, the error is handed over instead, so that the run logs one
coordination failure, not two.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from .actions import default_namespace
from .client import for_run

__all__ = ["DURATIONS_KEY", "FINGERPRINTS_KEY", "LOOKUP_TIMEOUT", "Learned", "step_durations", "take"]

DURATIONS_KEY = "durations"
FINGERPRINTS_KEY = "fingerprints"
#: Seconds the planning-time lookup may take (server start included); the run waits for it.
LOOKUP_TIMEOUT = 30.0


class Learned:
    """What an earlier run left in memory, as read at planning time.

    Attributes:
        durations: step id -> its last successful duration (every step memory knows).
        fingerprints: step id -> the fingerprint it had then (steps stored before
            fingerprints were recorded have none).
        current: step id -> this run's fingerprint.
    """

    def __init__(self, durations: dict[str, float], fingerprints: dict[str, str], current: Mapping[str, str]):
        self.durations = durations
        self.fingerprints = fingerprints
        self.current = dict(current)

    def usable(self) -> dict[str, float]:
        """Durations of this run's steps whose definition did not change since."""
        return {
            sid: seconds
            for sid, seconds in self.durations.items()
            if sid in self.current and self.fingerprints.get(sid, self.current[sid]) == self.current[sid]
        }


_READ: dict[str, Learned | Exception] = {}
_LOCK = threading.Lock()


def step_durations(workflow: Any, run_id: str, fingerprints: Mapping[str, str]) -> dict[str, float]:
    """The ``wfe_step_durations`` hook for a coordinated run: the durations claude-flow
    memory has for its unchanged steps (``{}`` when it knows none or cannot be reached)."""
    client = for_run(run_id, workflow.id)
    namespace = default_namespace(workflow.id)
    deadline = time.monotonic() + LOOKUP_TIMEOUT
    try:
        found = {
            key: client.call("memory_retrieve", {"key": key, "namespace": namespace}, deadline)
            for key in (DURATIONS_KEY, FINGERPRINTS_KEY)
        }
    except Exception as exc:  # no server: coordination reports it once, at run start
        with _LOCK:
            _READ[run_id] = exc
        return {}
    learned = Learned(
        {k: float(v) for k, v in _value(found[DURATIONS_KEY]).items() if _number(v)},
        {k: str(v) for k, v in _value(found[FINGERPRINTS_KEY]).items()},
        fingerprints,
    )
    with _LOCK:
        _READ[run_id] = learned
    return learned.usable()


def take(run_id: str) -> Learned | Exception | None:
    """What :func:`step_durations` read for ``run_id`` (once), or None when it did not run."""
    with _LOCK:
        return _READ.pop(run_id, None)


def _value(result: Any) -> dict[str, Any]:
    value = result.get("value") if isinstance(result, dict) and result.get("found", True) else None
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
