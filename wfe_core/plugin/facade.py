"""The plugin registry as the rest of wfe sees it: records by kind, each attributed to
the plugin that provided it.

:class:`Plugins` is what :func:`wfe_core.plugin.registry.load_plugins` returns. A plugin
the plugin index (:mod:`wfe_core.plugin.index`) knows and that only provides named
things waits unimported (:class:`_Waiting`, its names :class:`_Pending`) until one of
them is looked up or a workflow uses one of its actions; this module imports it then,
with the same checks and messages as a plugin imported at start.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, ValuesView
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

import wfe_core.plugin.hookspecs as hookspecs
from wfe_core.model.errors import PluginError, did_you_mean
from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.plugin.capabilities import (
    Action,
    Event,
    Reporter,
    RollbackHandler,
    StepExecutor,
    Strategy,
    Validator,
    _as_kinds,
)

if TYPE_CHECKING:
    from wfe_core.plugin.index import PluginIndex

__all__ = [
    "FIRST_PARTY_EXECUTORS",
    "FIRST_PARTY_PREFIXES",
    "HOOK_NAMES",
    "PluginInfo",
    "PluginLoadWarning",
    "Plugins",
    "Provided",
]

log = logging.getLogger("wfe_core.plugin.registry")

#: Where our own first-party actions live, for "which package do I install" messages.
FIRST_PARTY_PREFIXES = {
    "file.": "wfe-file",
    "shell.": "wfe-shell",
    "http.": "wfe-http",
    "claude_flow.": "wfe-claude-flow",
}

#: First-party executors and the distribution that provides each.
FIRST_PARTY_EXECUTORS = {"dask": "wfe-dask"}

#: The hooks wfe defines, for "did you mean" when a plugin implements an unknown one.
HOOK_NAMES = tuple(sorted(name for name in vars(hookspecs) if name.startswith("wfe_")))

_KINDS: dict[str, tuple[str, type | str, str]] = {
    "actions": ("wfe_actions", Action, "action"),
    "strategies": ("wfe_strategies", Strategy, "strategy"),
    "executors": ("wfe_executors", StepExecutor, "executor"),
    "validators": ("wfe_validators", Validator, "validator"),
    "reporters": ("wfe_reporters", Reporter, "reporter"),
    "rollback_handlers": ("wfe_rollback_handlers", RollbackHandler, "rollback handler"),
    # Named, not imported: few plugins provide these, and their modules cost ~7 ms at start.
    "templates": ("wfe_templates", "wfe_core.load.templates:Template", "template"),
    "report_formats": ("wfe_report_formats", "wfe_core.report.format:ReportFormat", "report format"),
}


#: Hooks a plugin may implement and still be imported only when something it provides
#: is needed: registration hooks are answered from the index, and ``wfe_force_stop``
#: has nothing to stop in a plugin that was never imported. Any other hook
#: (``wfe_event``, ``wfe_make_executor``) concerns every run: such a plugin is imported at once.
_WAITING_HOOKS = frozenset({*(hook for hook, _, _ in _KINDS.values()), "wfe_force_stop", "wfe_event_kinds"})


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded and was left out."""


@attrs.frozen
class PluginInfo:
    """A registered plugin and what it provides.

    Attributes:
        name: the plugin's name (entry-point name, built-in name, or ``extra`` key).
        distribution, version: the distribution it came from (``wfe-core`` for built-ins;
            ``None`` for plugins registered directly).
        module: the plugin module's (or object's) name.
        provides: kind (``actions``, ``strategies`` …) -> the names it provides.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    name: str
    distribution: str | None
    version: str | None
    module: str
    provides: dict[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def label(self) -> str:
        """``'name' (distribution version)`` for messages that name the plugin."""
        if self.distribution:
            return f"'{self.name}' ({self.distribution} {self.version})"
        return f"'{self.name}'"


@attrs.frozen
class Provided:
    """A record together with the plugin that provided it."""

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    record: Any
    plugin: PluginInfo


@attrs.frozen(eq=False)  # compared by identity: no __eq__/__hash__ to compile
class _Pending:
    """A name provided by a plugin not imported yet: what the plugin index says of it.

    Attributes:
        plugin: the plugin that provides it (``provides`` from the index).
        own_rollback: for an action, whether it carries its own compensation (a
            rollback handler of another plugin for it is then a clash).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class

    plugin: PluginInfo
    own_rollback: bool = False


@attrs.define(eq=False)  # compared by identity: no __eq__/__hash__ to compile
class _Waiting:
    """A plugin whose facts are known from the index, imported (or, if it already is,
    asked for its records) on first need.

    Attributes:
        info: what it provides, as :attr:`Plugins.infos` lists it.
        target: what to import (an entry point's value: ``package.module[:attribute]``).
        where: ``plugin 'name' from dist version``, for messages.
        triggers: the action names whose use in a workflow imports it: its actions, the
            actions its rollback handlers compensate and those its validators check.
        own_rollback: its actions that carry their own compensation.
        plugin: the plugin itself when it is imported and registered already (it
            implements a hook that concerns every run, such as ``wfe_event``) and only
            its records wait: building them (its actions' parameter classes) is most of
            what importing a plugin costs, and most runs use none of them.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class

    info: PluginInfo
    target: str
    where: str
    triggers: frozenset[str]
    own_rollback: frozenset[str]
    plugin: Any = None


class _Records(Mapping[str, Any]):
    """Name -> record of one kind (or the :class:`Provided`, with ``whole``).

    Names and membership never import anything; looking a name up imports the plugin
    that provides it if it is not imported yet. ``items()`` and ``values()`` import every
    provider of the kind first.
    """

    def __init__(self, owner: Plugins, kind: str, whole: bool = False):
        self._owner, self._kind, self._whole = owner, kind, whole

    def __getitem__(self, name: str) -> Any:
        entry = self._owner._entries[self._kind][name]
        if isinstance(entry, _Pending):
            self._owner._load(entry.plugin.name)
            entry = self._owner._entries[self._kind][name]  # KeyError: it did not provide it after all
        return entry if self._whole else entry.record

    def __contains__(self, name: object) -> bool:
        return name in self._owner._entries[self._kind]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._owner._entries[self._kind]))

    def __len__(self) -> int:
        return len(self._owner._entries[self._kind])

    def items(self) -> ItemsView[str, Any]:
        self._owner._load_kind(self._kind)
        return super().items()

    def values(self) -> ValuesView[Any]:
        self._owner._load_kind(self._kind)
        return super().values()

    def __repr__(self) -> str:
        return f"<{self._kind} of {len(self)} names>"


class Plugins:
    """The collected records of every registered plugin.

    A plugin the index knows (:mod:`wfe_core.plugin.index`) and that only provides
    named things is imported when one of them is first looked up, or when a workflow
    uses one of its actions (:meth:`require`); plugins that observe every run
    (``wfe_event``, ``wfe_make_executor``) or validate every workflow are imported at once.

    Attributes:
        infos: every registered plugin, in registration order.
        actions, strategies, executors, validators, reporters, rollback_handlers: name -> record
            (mappings; a lookup imports the provider if needed).
        provided: kind -> name -> :class:`Provided`.
        problems: messages about plugins that failed to load (left out).
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        infos: list[PluginInfo],
        provided: dict[str, dict[str, Any]],
        problems: list[str],
        *,
        waiting: dict[str, _Waiting] | None = None,
        fail: Any = None,
        index: PluginIndex | None = None,
    ):
        self._pm = pm
        self.infos = infos
        self._entries = provided
        self._waiting = dict(waiting or {})
        self._fail = fail
        self._index = index
        self._lock = threading.RLock()
        self.problems = problems
        self.provided = {kind: _Records(self, kind, whole=True) for kind in _KINDS}
        self.actions: Mapping[str, Action] = _Records(self, "actions")
        self.strategies: Mapping[str, Strategy] = _Records(self, "strategies")
        self.executors: Mapping[str, StepExecutor] = _Records(self, "executors")
        self.validators: Mapping[str, Validator] = _Records(self, "validators")
        self.reporters: Mapping[str, Reporter] = _Records(self, "reporters")
        self.rollback_handlers: Mapping[str, RollbackHandler] = _Records(self, "rollback_handlers")
        self._listen()
        #: Whether some plugin implements ``wfe_step_durations`` (else the engine skips it).
        #: Such a plugin is imported at once (the hook is not one that can wait).
        self.learns_durations = bool(pm.hook.wfe_step_durations.get_hookimpls())

    # -- lazy loading ---------------------------------------------------------------------
    def require(self, action_names: Iterable[str]) -> None:
        """Import every plugin a workflow using ``action_names`` needs: the providers of
        those actions, of their rollback handlers, and of validators that check them."""
        wanted = set(action_names)
        for name, waiting in list(self._waiting.items()):
            if waiting.triggers & wanted:
                self._load(name)

    def require_workflow(self, workflow: Any) -> None:
        """:meth:`require` the actions ``workflow``'s steps call, rollback actions included."""
        names = set()
        for step in workflow.steps:
            names.add(step.action)
            if step.rollback_action is not None:
                names.add(step.rollback_action)
        self.require(names)

    def load_all(self) -> None:
        """Import every plugin not imported yet (``wfe plugins``, a full schema, ...)."""
        for name in list(self._waiting):
            self._load(name)

    def loaded_validators(self) -> list[tuple[str, Validator]]:
        """The validators of the plugins imported so far, in registration order."""
        return [(n, e.record) for n, e in self._entries["validators"].items() if isinstance(e, Provided)]

    def _load_kind(self, kind: str) -> None:
        for name in {e.plugin.name for e in self._entries[kind].values() if isinstance(e, _Pending)}:
            self._load(name)

    def _load(self, name: str) -> None:
        with self._lock:
            waiting = self._waiting.pop(name, None)
            if waiting is not None:
                self._import(name, waiting)

    def _import(self, name: str, waiting: _Waiting) -> None:
        info, where = waiting.info, waiting.where
        plugin = waiting.plugin
        if plugin is None:
            try:
                plugin = _import_target(waiting.target)
                self._pm.register(plugin, name=name)
            except Exception as exc:
                self._forget(name)
                self._failed(f"{where} failed to load and was left out: {type(exc).__name__}: {exc}")
                return
            unknown = _unknown_hooks(self._pm, plugin)
            if unknown:
                self._pm.unregister(plugin)
                self._forget(name)
                hooks = ", ".join(f"'{h}'{did_you_mean(h, HOOK_NAMES)}" for h in unknown)
                self._failed(f"{where} implements unknown hook {hooks} and was left out")
                return
        try:
            records = _collect(self._pm, plugin, info.label)
        except Exception as exc:
            self._pm.unregister(plugin)
            self._forget(name)
            self._failed(f"{where} failed to register and was left out: {type(exc).__name__}: {exc}")
            return
        # A plugin imported only now must have no hook that concerns every run (the index
        # said so); one registered at start has them, and was checked then.
        stale = waiting.plugin is None and any(
            c.name not in _WAITING_HOOKS for c in self._pm.get_hookcallers(plugin) or ()
        )
        for kind, recs in records.items():
            for record in recs:
                key = _record_name(kind, record)
                entry = self._entries[kind].get(key)
                if isinstance(entry, _Pending) and entry.plugin.name == name:
                    self._entries[kind][key] = Provided(record, info)  # in place: order kept
                else:  # the index did not know it: the plugin changed without a reinstall
                    stale = True
                    _add(self._entries, kind, key, Provided(record, info))
        for entries in self._entries.values():
            gone = [k for k, e in entries.items() if isinstance(e, _Pending) and e.plugin.name == name]
            for key in gone:
                del entries[key]
                stale = True
        if stale and self._index is not None:
            self._index.invalidate()
        self._listen()
        self.learns_durations = bool(self._pm.hook.wfe_step_durations.get_hookimpls())

    def _forget(self, name: str) -> None:
        """A plugin that failed to load after all: none of its names, not listed."""
        for entries in self._entries.values():
            for key in [k for k, e in entries.items() if isinstance(e, _Pending) and e.plugin.name == name]:
                del entries[key]
        self.infos[:] = [i for i in self.infos if i.name != name]
        if self._index is not None:
            self._index.invalidate()

    def _failed(self, message: str) -> None:
        if self._fail is None:
            raise PluginError(message)
        self._fail(message)

    # -- using the records ----------------------------------------------------------------
    def _listen(self) -> None:
        """Note the ``wfe_event`` implementations (after plugins were registered) and the
        kinds each plugin wants (``wfe_event_kinds``, asked once per plugin).

        Plain implementations are called directly, in pluggy's order (last registered
        first): a run delivers three events per step, and pluggy's dispatch cost ~5 µs
        each. Hook wrappers take the pluggy path.
        """
        impls = self._pm.hook.wfe_event.get_hookimpls()
        self.has_listeners = bool(impls)
        if not hasattr(self, "_kinds"):
            self._kinds: dict[str, frozenset[str] | None] = {}
        for impl in self._pm.hook.wfe_event_kinds.get_hookimpls():
            if impl.plugin_name not in self._kinds:
                self._kinds[impl.plugin_name] = _declared_kinds(impl)
        self._direct = not any(impl.hookwrapper or getattr(impl, "wrapper", False) for impl in impls)
        #: Each implementation, in calling order, with the kinds it wants (None: every kind).
        self._impls = [(impl, self._kinds.get(impl.plugin_name)) for impl in reversed(impls)]
        #: kind -> what delivers it: ``(function, takes_event)`` of each plugin that wants
        #: it, or ``[(hook caller, None)]`` on the pluggy path; empty if nobody wants it.
        self._event_calls: dict[str, list[tuple[Callable[..., Any], bool | None]]] = {}

    def hears(self, kind: str) -> bool:
        """Whether some ``wfe_event`` hook wants events of ``kind`` (``wfe_event_kinds``)."""
        calls = self._event_calls.get(kind)
        return bool(calls if calls is not None else self._calls(kind))

    def _calls(self, kind: str) -> list[tuple[Callable[..., Any], bool | None]]:
        wanting = [impl for impl, kinds in self._impls if kinds is None or kind in kinds]
        calls: list[tuple[Callable[..., Any], bool | None]]
        if self._direct:
            calls = [(impl.function, bool(impl.argnames)) for impl in wanting]
        elif not wanting:
            calls = []
        elif len(wanting) == len(self._impls):
            calls = [(self._pm.hook.wfe_event, None)]
        else:
            others = [impl.plugin for impl, _ in self._impls if impl not in wanting]
            calls = [(self._pm.subset_hook_caller("wfe_event", remove_plugins=others), None)]
        self._event_calls[kind] = calls
        return calls

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every ``wfe_event`` hook that wants its kind; a failing
        hook is logged (and the others still hear the event)."""
        if not self.has_listeners:
            return
        calls = self._event_calls.get(event.kind)
        if calls is None:
            calls = self._calls(event.kind)
        for function, takes_event in calls:
            try:
                if takes_event:
                    function(event)
                elif takes_event is None:  # a pluggy hook caller (hook wrappers)
                    function(event=event)
                else:
                    function()
            except Exception:  # a listener must never take a run down
                log.exception("a wfe_event hook failed on %s", event.kind)

    def force_stop(self) -> None:
        """Ask every plugin to release at once what must not outlive the process."""
        try:
            self._pm.hook.wfe_force_stop()
        except Exception:  # exiting anyway
            log.exception("a wfe_force_stop hook failed")

    def step_durations(
        self, workflow: Any, run_id: str, run_info: Mapping[str, Any], fingerprints: Mapping[str, str]
    ) -> dict[str, float]:
        """Durations plugins learned for ``workflow``'s steps (``wfe_step_durations``),
        merged: for a step several plugins know, the one called first wins. Unknown
        steps and values that are not positive finite numbers are left out; a failing
        hook is logged and counts as knowing nothing."""
        caller = self._pm.hook.wfe_step_durations
        merged: dict[str, float] = {}
        for impl in reversed(caller.get_hookimpls()):  # pluggy's call order: last registered first
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                found = impl.function(
                    **{
                        name: value
                        for name, value in (
                            ("workflow", workflow),
                            ("run_id", run_id),
                            ("run_info", run_info),
                            ("fingerprints", fingerprints),
                        )
                        if name in impl.argnames
                    }
                )
            except Exception as exc:  # a plugin's estimate must never stop a run
                log.warning(
                    "the wfe_step_durations hook of plugin '%s' failed (%s: %s); its durations are not used",
                    impl.plugin_name,
                    type(exc).__name__,
                    exc,
                )
                log.debug("wfe_step_durations of %s", impl.plugin_name, exc_info=True)
                continue
            if found is None:
                continue
            if not isinstance(found, Mapping):
                log.warning(
                    "the wfe_step_durations hook of plugin '%s' returned %s, not a mapping; its durations are not used",
                    impl.plugin_name,
                    type(found).__name__,
                )
                continue
            for step_id, seconds in found.items():
                if step_id in fingerprints and step_id not in merged and _positive(seconds):
                    merged[step_id] = float(seconds)
        return merged

    def make_executor(self, max_workers: int) -> Any:
        """The executor a plugin supplies for ``max_workers``, or ``None``."""
        return self._pm.hook.wfe_make_executor(max_workers=max_workers)

    def executor(self, name: str) -> StepExecutor:
        """The executor called ``name``; an error naming what to install or what is known."""
        if name in self.executors:
            return self.executors[name]
        dist = FIRST_PARTY_EXECUTORS.get(name)
        if dist is not None:
            raise PluginError(f"executor '{name}' is provided by the {dist} distribution (pip install {dist})")
        raise PluginError(
            f"unknown executor '{name}'{did_you_mean(name, self.executors)}; "
            f"known: {', '.join(sorted(self.executors)) or 'none'}"
        )

    def rollback_for(self, action_name: str) -> RollbackHandler | None:
        """The compensation known for ``action_name``: the action's own or a plugin's."""
        action = self.actions.get(action_name)
        if action is not None and action.rollback is not None:
            return action.rollback
        return self.rollback_handlers.get(action_name)

    def provider_hint(self, action_name: str) -> str:
        """A hint naming the distribution that provides a missing first-party action."""
        for prefix, dist in FIRST_PARTY_PREFIXES.items():
            if action_name.startswith(prefix):
                if any(name.startswith(prefix) for name in self.actions):
                    return ""  # installed: the name is a typo, not a missing package
                return f"; it is provided by the {dist} distribution (pip install {dist})"
        return ""


def _record_name(kind: str, record: Any) -> str:
    return str(record.action if kind == "rollback_handlers" else record.name)


def _add(provided: dict[str, dict[str, Any]], kind: str, name: str, new: Provided | _Pending) -> None:
    """Add one record, refusing a second provider of the same name."""
    noun = _KINDS[kind][2]
    # An action's own compensation and a handler another plugin provides for it clash
    # whichever of the two plugins is collected first.
    if kind == "rollback_handlers":
        owner = provided["actions"].get(name)
        if owner is not None and _own_rollback(owner):
            raise PluginError(
                f"{noun} for '{name}' is provided by both plugin {owner.plugin.label} and plugin {new.plugin.label}"
            )
    if kind == "actions" and _own_rollback(new) and name in provided["rollback_handlers"]:
        other = provided["rollback_handlers"][name].plugin
        raise PluginError(
            f"rollback handler for '{name}' is provided by both plugin {other.label} and plugin {new.plugin.label}"
        )
    if name in provided[kind]:
        other = provided[kind][name].plugin
        if kind == "templates" and other.distribution == "wfe-core" and new.plugin.distribution != "wfe-core":
            provided[kind][name] = new  # a plugin may replace a built-in template by name
            return
        raise PluginError(f"{noun} '{name}' is provided by both plugin {other.label} and plugin {new.plugin.label}")
    provided[kind][name] = new


def _own_rollback(entry: Provided | _Pending) -> bool:
    """Whether an action (imported or not yet) carries its own compensation."""
    return entry.own_rollback if isinstance(entry, _Pending) else entry.record.rollback is not None


def _collect(pm: pluggy.PluginManager, plugin: Any, label: str) -> dict[str, list[Any]]:
    """Call each registration hook of one plugin through its pluggy hookimpls; check the records.

    A hook call (``pm.hook.wfe_actions()``) merges every plugin's results into one list;
    the registry calls each plugin's implementation on its own instead, so that every
    record stays attributed to the plugin (and distribution) that returned it.
    """
    callers = {caller.name: caller for caller in pm.get_hookcallers(plugin) or ()}
    out: dict[str, list[Any]] = {}
    for kind, (hook_name, record_type, _noun) in _KINDS.items():
        records: list[Any] = []
        caller = callers.get(hook_name)
        for impl in caller.get_hookimpls() if caller is not None else ():
            if impl.plugin is not plugin:
                continue
            records.extend(impl.function() or ())  # type: ignore[arg-type]  # a plugin's own return
        if records:
            expected: type = _import_target(record_type) if isinstance(record_type, str) else record_type
        for record in records:
            if not isinstance(record, expected):
                raise PluginError(
                    f"plugin {label}: {hook_name}() returned {type(record).__name__}, expected {expected.__name__}"
                )
        out[kind] = records
    return out


def _unknown_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """The hooks ``plugin`` implements that wfe does not define (misspelled, or from a newer wfe)."""
    return sorted(c.name for c in pm.get_hookcallers(plugin) or () if not c.has_spec())


def _declared_kinds(impl: Any) -> frozenset[str] | None:
    """What one plugin's ``wfe_event_kinds`` returned, as a set; ``None`` (every kind) when
    it says so, fails, or returns something that is not a collection of strings."""
    try:
        return _as_kinds(impl.function())
    except Exception:
        log.exception("plugin %r: wfe_event_kinds failed; its wfe_event hears every kind", impl.plugin_name)
        return None


def _import_target(target: str) -> Any:
    """The plugin an entry-point value (``package.module`` or ``package.module:attribute``) names."""
    module, _, attribute = target.partition(":")
    obj = importlib.import_module(module)
    for part in filter(None, attribute.split(".")):
        obj = getattr(obj, part)
    return obj


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")
