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

Who hears what: a listener may say which event kinds it wants, in an ``event_kinds``
attribute (a collection of kinds; ``None`` or none at all: every kind), on itself or, for
a bound method such as a reporter's ``handle``, on the object it is bound to; a plugin
says it with its ``wfe_event_kinds`` hook. :func:`~wfe_core.monitoring.log_event` hears
the kinds its loggers' levels let through (read as the run's first event is delivered).
Each event goes only to who wants its kind, and a kind nobody wants is not even built
(:meth:`EventDelivery.heard`). A listener (or its object) with a ``flush()`` method has
it called after each batch of events the run delivers (what one commit made true, or
one event delivered at once): a reporter writes its lines unflushed and has them reach
its reader once per batch rather than once per line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from wfe_core.model.records import fields_repr
from wfe_core.model.secrets import Redactor
from wfe_core.monitoring import KINDS, log_event, logs_kind
from wfe_core.plugin.capabilities import Event, _as_kinds

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
        #: Each listener with the kinds it wants (``None``: every kind).
        self._wants = [(listener, _wanted_kinds(listener)) for listener in self.listeners]
        #: kind -> the listeners that hear it, worked out once per run and kind.
        self._routes: dict[str, tuple[Callable[[Event], None], ...]] = {}
        #: The ``flush()`` of each listener that has one, called after each batch.
        self._flushes = tuple(f for f in map(_flush_of, self.listeners) if f is not None)

    def heard(self, kind: str) -> bool:
        """Whether anyone would hear an event of ``kind`` emitted now: a hook, a relay
        to a parent run, a listener other than :func:`~wfe_core.monitoring.log_event`,
        or that one for a level its logger has enabled. An event nobody hears need not
        be built (see :meth:`~wfe_core.run.state.RunState.listen`). A listener or plugin
        that declared the kinds it wants hears only those."""
        if not self.active:
            return False
        if self.relay is not None or self._plugins_hear(kind):
            return True
        return bool(self._route(kind))

    def _plugins_hear(self, kind: str) -> bool:
        if not self.plugins.has_listeners:
            return False
        hears = getattr(self.plugins, "hears", None)  # (a registry from before wfe_event_kinds)
        return True if hears is None else bool(hears(kind))

    def _route(self, kind: str) -> tuple[Callable[[Event], None], ...]:
        """The listeners that hear ``kind``, in their order (worked out once per kind)."""
        route = self._routes.get(kind)
        if route is None:
            if not self._routes:  # the first question: the loggers' levels as the run begins
                for known in KINDS:
                    self._routes[known] = self._hearing(known)
            route = self._routes.get(kind)
            if route is None:
                route = self._routes[kind] = self._hearing(kind)
        return route

    def _hearing(self, kind: str) -> tuple[Callable[[Event], None], ...]:
        return tuple(
            listener
            for listener, kinds in self._wants
            if (logs_kind(kind) if listener is log_event else kinds is None or kind in kinds)
        )

    def emit(self, kind: str, step_id: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Mask ``data`` and deliver the event now, or hold it for the next commit."""
        if self.active and self._emit(kind, step_id, data) and self._flushes:
            self._flush()

    def _emit(self, kind: str, step_id: str | None, data: dict[str, Any] | None) -> bool:
        """:meth:`emit` without the flush; whether the event was delivered now."""
        if self.redact is not None and data:
            data = self.redact(data)
        event = Event(kind, self.run_id, self.workflow_id, step_id, data if data is not None else {})
        if self.hold:
            self.held.append(event)
            if kind not in _NO_HURRY and step_id not in self.no_hurry:
                self.must_commit = True
            return False
        self._deliver(event)
        return True

    def publish(self, events: list[tuple[str, str | None, dict[str, Any]]]) -> None:
        """Emit a :class:`~wfe_core.run.state.RunState` outbox of ``(kind, step_id, data)``."""
        if not self.active:
            return
        emit = self._emit
        delivered = False
        for kind, step_id, data in events:
            delivered = emit(kind, step_id, data) or delivered
        if delivered and self._flushes:
            self._flush()

    def committed(self) -> None:
        """The store committed: deliver what was held."""
        self.must_commit = False
        held, self.held = self.held, []
        for event in held:
            self._deliver(event)
        if held and self._flushes:
            self._flush()

    def _flush(self) -> None:
        """The end of a batch: listeners that buffer what they write flush it now."""
        for flush in self._flushes:
            try:
                flush()
            except Exception:
                log.exception("a run listener failed to flush")

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
        if self._flushes:
            self._flush()

    def _deliver(self, item: Event | Relayed) -> None:
        event: Event | None
        if type(item) is Event and self.relay is None:  # the usual case, in fewer steps
            if self.plugins.has_listeners:
                self.plugins.emit(item)
            event = item
        else:
            original: Event
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
        route = self._routes.get(event.kind)
        for listener in route if route is not None else self._route(event.kind):
            try:
                listener(event)
            except Exception:
                log.exception("a run listener failed on %s", event.kind)


def _declared(listener: Callable[..., Any], name: str) -> Any:
    """``name`` declared by ``listener``, or for a bound method (a reporter's ``handle``)
    by the object it is bound to; ``None`` when neither declares it. Looked up statically
    (class or instance dict, no ``__getattr__``): an object that answers every attribute
    (a ``unittest.mock.Mock``) declares nothing."""
    import inspect

    owner = getattr(listener, "__self__", None)
    found = inspect.getattr_static(owner, name, None) if owner is not None else None
    if found is None:
        found = inspect.getattr_static(listener, name, None)
        owner = listener
    if found is None:
        return None
    return getattr(owner, name)  # bound (a method), as declared


def _wanted_kinds(listener: Callable[..., Any]) -> frozenset[str] | None:
    """The event kinds ``listener`` wants (its ``event_kinds``), ``None`` for every kind
    (also when what it declares is not a collection of kinds: logged)."""
    kinds = _declared(listener, "event_kinds")
    try:
        return _as_kinds(kinds)
    except TypeError:
        log.error("listener %r: event_kinds %r is not a collection of kinds; it hears every kind", listener, kinds)
        return None


def _flush_of(listener: Callable[..., Any]) -> Callable[[], Any] | None:
    flush = _declared(listener, "flush")
    return flush if callable(flush) else None
