"""Event delivery: masking secrets, and holding events until the commit that makes them true.

Events go to every ``wfe_event`` hook and every run listener, on the scheduler thread
only (pluggy makes no thread-safety promise). When a run store records the run, an
event waits for the next commit: a listener must never hear of a step's success that
a crash could still undo. Used by runs and by the rollback of stored runs alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from wfe_core.model.secrets import Redactor
from wfe_core.plugin.capabilities import Event

__all__ = ["EventDelivery"]

log = logging.getLogger("wfe.events")

#: Events that report no outcome: held for the next commit without asking for one.
_NO_HURRY = frozenset({"step.started", "step.retrying"})


class EventDelivery:
    """Delivers the events of one run (or one rollback of a stored run).

    Attributes:
        active: whether anyone listens (when not, events are not even built).
        hold: hold events until :meth:`committed` (a run store records the run).
        must_commit: a held event reports an outcome: the loop should commit soon.
    """

    def __init__(
        self,
        plugins: Any,
        listeners: Iterable[Callable[[Event], None]],
        *,
        run_id: str,
        workflow_id: str,
        redact: Redactor | None = None,
    ):
        self.plugins = plugins
        self.listeners = tuple(listeners)
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.redact = redact if redact else None
        self.active = bool(self.listeners) or bool(plugins.has_listeners)
        self.hold = False
        self.held: list[Event] = []
        self.must_commit = False

    def emit(self, kind: str, step_id: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Mask ``data`` and deliver the event now, or hold it for the next commit."""
        if not self.active:
            return
        if self.redact is not None and data:
            data = self.redact(data)
        event = Event(kind, self.run_id, self.workflow_id, step_id, data if data is not None else {})
        if self.hold:
            self.held.append(event)
            if kind not in _NO_HURRY:
                self.must_commit = True
            return
        self._deliver(event)

    def publish(self, events: list[tuple[str, str | None, dict[str, Any]]]) -> None:
        """Emit a :class:`~wfe_core.run.state.RunState` outbox of ``(kind, step_id, data)``."""
        emit = self.emit
        for kind, step_id, data in events:
            emit(kind, step_id, data)

    def committed(self) -> None:
        """The store committed: deliver what was held."""
        self.must_commit = False
        held, self.held = self.held, []
        for event in held:
            self._deliver(event)

    def _deliver(self, event: Event) -> None:
        self.plugins.emit(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a run listener failed on %s", event.kind)
