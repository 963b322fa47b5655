"""Event delivery: masking secrets, and holding events until the commit that makes them true.

Events go to every ``wfe_event`` hook and every run listener, on the scheduler thread
only (pluggy makes no thread-safety promise). When a run store records the run, an
event waits for the next commit: a listener must never hear of a step's success that
a crash could still undo. Used by runs and by the rollback of stored runs alike.

Sub-workflows (:mod:`wfe_core.run.subflow`) run on a worker thread of their parent. A
child's delivery therefore never calls hooks or the parent's listeners itself: it hands
each event (:class:`Relayed`) to :attr:`EventDelivery.relay`, which puts it on the
parent loop's completion queue; the parent's scheduler thread drains it and calls
:meth:`EventDelivery.relayed`. So hooks and reporters are only ever called from the
top-level run's scheduler thread, one event at a time. Listeners of the parent hear a
child's step events under the parent's run with nested step ids (``deploy/build``);
``wfe_event`` hooks hear the child's events as the child emitted them (its own run id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from wfe_core.model.records import fields_repr
from wfe_core.model.secrets import Redactor
from wfe_core.monitoring import log_event, logs_kind
from wfe_core.plugin.capabilities import Event

__all__ = ["EventDelivery", "Relayed"]

log = logging.getLogger("wfe.events")

#: Events that report no outcome: held for the next commit without asking for one
#: (progress counts outcomes whose own events ask for it when they must).
_NO_HURRY = frozenset({"step.started", "step.retrying", "progress"})


@attrs.frozen(eq=False)  # compared by identity: no __eq__/__hash__ to compile
class Relayed:
    """An event of a sub-workflow on its way up to the top-level run.

    Attributes:
        original: the event as its run emitted it (for ``wfe_event`` hooks).
        nested: a step event as the run that relays it sees it (step id relative to that
            run, e.g. ``build`` or ``build/test``); ``None`` for run events, which only
            hooks hear.
    """

    __repr__ = fields_repr  # attrs' text, without compiling one per class

    original: Event
    nested: Event | None


class EventDelivery:
    """Delivers the events of one run (or one rollback of a stored run).

    Attributes:
        active: whether anyone listens (when not, events are not even built).
        hold: hold events until :meth:`committed` (a run store records the run).
        must_commit: a held event reports an outcome: the loop should commit soon.
        no_hurry: steps whose outcome events do not ask for a commit (side-effect-free
            steps of a stored run: the loop commits them within ``IDLE_COMMIT``).
        relay: set on a sub-workflow's delivery: where its events go instead of the
            hooks (the parent loop's thread-safe :meth:`~wfe_core.run.loop.RunLoop.forward`).
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
        self.held: list[Event | Relayed] = []
        self.must_commit = False
        self.no_hurry: frozenset[str | None] = frozenset()
        self.relay: Callable[[Relayed], None] | None = None

    def heard(self, kind: str) -> bool:
        """Whether anyone would hear an event of ``kind`` emitted now: a hook, a relay
        to a parent run, a listener other than :func:`~wfe_core.monitoring.log_event`,
        or that one for a level its logger has enabled. An event nobody hears need not
        be built (see :meth:`~wfe_core.run.state.RunState.listen`)."""
        if not self.active:
            return False
        if self.relay is not None or self.plugins.has_listeners:
            return True
        return any(listener is not log_event or logs_kind(kind) for listener in self.listeners)

    def emit(self, kind: str, step_id: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Mask ``data`` and deliver the event now, or hold it for the next commit."""
        if not self.active:
            return
        if self.redact is not None and data:
            data = self.redact(data)
        event = Event(kind, self.run_id, self.workflow_id, step_id, data if data is not None else {})
        if self.hold:
            self.held.append(event)
            if kind not in _NO_HURRY and step_id not in self.no_hurry:
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

    def relayed(self, step_id: str, item: Relayed) -> None:
        """An event of the sub-workflow of step ``step_id`` (on this run's scheduler thread).

        Its step events are renamed ``<step_id>/<child step>`` under this run and masked
        with this run's secrets too. They keep their place after this run's held events.
        """
        nested = item.nested
        if nested is not None:
            data = self.redact(dict(nested.data)) if self.redact is not None else dict(nested.data)
            nested = Event(nested.kind, self.run_id, self.workflow_id, f"{step_id}/{nested.step_id}", data, nested.time)
        relayed = Relayed(item.original, nested)
        if self.hold and self.held:
            self.held.append(relayed)
            return
        self._deliver(relayed)

    def _deliver(self, item: Event | Relayed) -> None:
        original: Event
        event: Event | None
        if isinstance(item, Relayed):
            original, event = item.original, item.nested
        else:
            original = event = item
        if self.relay is not None:
            # A sub-workflow: its parent delivers to hooks and reporters, on its thread.
            self.relay(Relayed(original, event if event is None or event.step_id else None))
        elif self.plugins.has_listeners:  # (checked here too: a call per event saved)
            self.plugins.emit(original)
        if event is None:
            return
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a run listener failed on %s", event.kind)
