"""Building the plugin registry: the one place that talks to pluggy.

:func:`load_plugins` registers the built-in plugin modules exactly like external ones,
then the plugins of the ``wfe`` entry-point group, then ``extra`` plugins; checks with
``pm.check_pending()`` that every ``@hookimpl`` names a hook wfe defines; and collects the
records each plugin's registration hooks return into a :class:`Plugins` facade, each
attributed to its plugin (so that two plugins claiming one name is an error naming
both). The rest of wfe never calls ``pm.hook`` directly.

Blocking and replacing built-ins: every built-in in :data:`BUILTIN_PLUGINS` can be left
out with ``WFE_BLOCK_PLUGINS`` (or ``block=``) and replaced by any plugin providing
records of the same names — except the *essential* ones in :data:`ESSENTIAL_PLUGINS`,
whose checks the scheduler relies on: blocking one of those is a :class:`PluginError`
(``wfe`` exits 2 with a one-line message), as pytest refuses ``-p no:`` for its
essential plugins. Without a blocked built-in, a workflow that needs what it provided
fails validation (or, for a strategy or reporter, names what is known), never a
traceback.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import warnings
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

import wfe_core.plugin.hookspecs as hookspecs
from wfe_core.load.templates import Template
from wfe_core.model.errors import PluginError, did_you_mean
from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, StepExecutor, Strategy, Validator
from wfe_core.plugin.index import PluginIndex, module_stamp
from wfe_core.report.format import ReportFormat

if TYPE_CHECKING:
    from importlib import metadata

__all__ = [
    "AUTOLOAD_ENV",
    "BLOCK_ENV",
    "BUILTIN_ALIASES",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "ESSENTIAL_PLUGINS",
    "STRICT_ENV",
    "PluginInfo",
    "PluginLoadWarning",
    "Plugins",
    "Provided",
    "load_plugins",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "wfe"
#: Set to a non-empty value to skip entry-point plugins (built-ins still load).
AUTOLOAD_ENV = "WFE_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin names never to register, e.g. ``shell,wfe.wait``.
BLOCK_ENV = "WFE_BLOCK_PLUGINS"
#: Set to a non-empty value to make a plugin that fails to load an error.
STRICT_ENV = "WFE_STRICT_PLUGINS"

_BUILTINS = "wfe_core.plugin.builtins"
#: Built-in plugins: name -> module, registered in this order before any other plugin.
#: Each can be blocked and replaced like any other plugin, except the essential ones.
BUILTIN_PLUGINS = {
    "wfe.variables": f"{_BUILTINS}.variables",
    "wfe.wait": f"{_BUILTINS}.wait",
    "wfe.condition": f"{_BUILTINS}.condition",
    "wfe.strategy.sequential": f"{_BUILTINS}.strategies.sequential",
    "wfe.strategy.parallel": f"{_BUILTINS}.strategies.parallel",
    "wfe.strategy.hybrid": f"{_BUILTINS}.strategies.hybrid",
    "wfe.strategy.adaptive": f"{_BUILTINS}.strategies.adaptive",
    "wfe.structure": f"{_BUILTINS}.structure",
    "wfe.templates": f"{_BUILTINS}.template_references",
    "wfe.reporter.console": f"{_BUILTINS}.reporters.console",
    "wfe.reporter.json": f"{_BUILTINS}.reporters.json_lines",
    "wfe.executor.threads": f"{_BUILTINS}.threads",
    "wfe.workflow_templates": f"{_BUILTINS}.templates",
    "wfe.report_formats": f"{_BUILTINS}.report_formats",
}

#: Built-ins that cannot be blocked: the structural validators (actions exist, their
#: literal parameters fit, dependencies form a DAG) are what lets the scheduler trust a
#: plan; without them a step naming a missing action reached the run loop as a KeyError.
ESSENTIAL_PLUGINS = frozenset({"wfe.structure"})

#: Names of built-ins before they were split, still accepted in ``WFE_BLOCK_PLUGINS``.
BUILTIN_ALIASES = {
    "wfe.utility": ("wfe.wait", "wfe.condition"),
    "wfe.strategies": tuple(n for n in BUILTIN_PLUGINS if n.startswith("wfe.strategy.")),
    "wfe.reporters": ("wfe.reporter.console", "wfe.reporter.json"),
    "wfe.validators": ("wfe.structure", "wfe.templates"),
}

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

_KINDS = {
    "actions": ("wfe_actions", Action, "action"),
    "strategies": ("wfe_strategies", Strategy, "strategy"),
    "executors": ("wfe_executors", StepExecutor, "executor"),
    "validators": ("wfe_validators", Validator, "validator"),
    "reporters": ("wfe_reporters", Reporter, "reporter"),
    "rollback_handlers": ("wfe_rollback_handlers", RollbackHandler, "rollback handler"),
    "templates": ("wfe_templates", Template, "template"),
    "report_formats": ("wfe_report_formats", ReportFormat, "report format"),
}


#: Hooks a plugin may implement and still be imported only when something it provides
#: is needed: registration hooks are answered from the index, and ``wfe_force_stop``
#: has nothing to stop in a plugin that was never imported. Any other hook
#: (``wfe_event``, ``wfe_make_executor``) concerns every run: such a plugin is imported at once.
_WAITING_HOOKS = frozenset({*(hook for hook, _, _ in _KINDS.values()), "wfe_force_stop"})


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

    record: Any
    plugin: PluginInfo


@attrs.frozen
class _Pending:
    """A name provided by a plugin not imported yet: what the plugin index says of it.

    Attributes:
        plugin: the plugin that provides it (``provides`` from the index).
        own_rollback: for an action, whether it carries its own compensation (a
            rollback handler of another plugin for it is then a clash).
    """

    plugin: PluginInfo
    own_rollback: bool = False


@attrs.define
class _Waiting:
    """A plugin whose facts are known from the index, imported on first need.

    Attributes:
        info: what it provides, as :attr:`Plugins.infos` lists it.
        target: what to import (an entry point's value: ``package.module[:attribute]``).
        where: ``plugin 'name' from dist version``, for messages.
        triggers: the action names whose use in a workflow imports it: its actions, the
            actions its rollback handlers compensate and those its validators check.
        own_rollback: its actions that carry their own compensation.
    """

    info: PluginInfo
    target: str
    where: str
    triggers: frozenset[str]
    own_rollback: frozenset[str]


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
        self.has_listeners = bool(pm.hook.wfe_event.get_hookimpls())

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
        stale = any(c.name not in _WAITING_HOOKS for c in self._pm.get_hookcallers(plugin) or ())
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
        self.has_listeners = bool(self._pm.hook.wfe_event.get_hookimpls())

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
    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every ``wfe_event`` hook; a failing hook is logged."""
        if not self.has_listeners:
            return
        try:
            self._pm.hook.wfe_event(event=event)
        except Exception:  # a listener must never take a run down
            log.exception("a wfe_event hook failed on %s", event.kind)

    def force_stop(self) -> None:
        """Ask every plugin to release at once what must not outlive the process."""
        try:
            self._pm.hook.wfe_force_stop()
        except Exception:  # exiting anyway
            log.exception("a wfe_force_stop hook failed")

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


def _env_flag(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())


def _entry_points() -> list[metadata.EntryPoint]:
    from importlib import metadata

    seen: set[tuple[str, str]] = set()
    out = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            out.append(ep)
    return out


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
        for record in records:
            if not isinstance(record, record_type):
                raise PluginError(
                    f"plugin {label}: {hook_name}() returned {type(record).__name__}, expected {record_type.__name__}"
                )
        out[kind] = records
    return out


def _unknown_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """The hooks ``plugin`` implements that wfe does not define (misspelled, or from a newer wfe)."""
    return sorted(c.name for c in pm.get_hookcallers(plugin) or () if not c.has_spec())


def _blocked(block: Iterable[str]) -> set[str]:
    """The plugin names to leave out, aliases expanded; refuses an essential built-in."""
    given = [(b.strip(), f"in {BLOCK_ENV}") for b in os.environ.get(BLOCK_ENV, "").split(",")]
    given += [(b.strip(), "in block=") for b in block]
    out: set[str] = set()
    for name, where in given:
        if not name:
            continue
        expanded = BUILTIN_ALIASES.get(name, (name,))
        essential = [n for n in expanded if n in ESSENTIAL_PLUGINS]
        if essential:
            via = f" ('{name}' includes it)" if essential[0] != name else ""
            raise PluginError(
                f"built-in plugin '{essential[0]}'{via} is essential and cannot be blocked: the scheduler relies "
                f"on its checks (actions exist, dependencies form a DAG); remove it from the names {where}"
            )
        out.update(expanded)
    return out


def load_plugins(
    *,
    autoload: bool | None = None,
    strict: bool | None = None,
    block: Iterable[str] = (),
    extra: Sequence[Any] | dict[str, Any] = (),
    index: PluginIndex | None = None,
) -> Plugins:
    """Build the plugin registry.

    Built-ins (:data:`BUILTIN_PLUGINS`) are registered first, then entry points of group
    ``wfe``, then ``extra``. A plugin that fails to import, fails to register (its hooks do
    not match the hookspecs' arguments), implements a hook wfe does not define (a typo
    such as ``wfe_action``; found by ``pm.check_pending()``) or returns a wrong record is
    left out with a :class:`PluginLoadWarning` naming it — or, when strict, is a
    :class:`PluginError`.

    Args:
        autoload: load entry-point plugins; defaults to on unless ``WFE_DISABLE_PLUGIN_AUTOLOAD``.
        strict: a plugin that fails to load raises :class:`PluginError` instead of a
            :class:`PluginLoadWarning`; defaults to ``WFE_STRICT_PLUGINS``.
        block: plugin names to leave out (added to ``WFE_BLOCK_PLUGINS``); the names a
            built-in had before it was split (:data:`BUILTIN_ALIASES`) still work.
        extra: further plugins (modules or objects) to register, by name if a dict.

    Raises:
        PluginError: two plugins provide the same name, an essential built-in
            (:data:`ESSENTIAL_PLUGINS`) is blocked, or (strict) a plugin failed to load.
    """
    if autoload is None:
        autoload = not _env_flag(AUTOLOAD_ENV)
    if strict is None:
        strict = _env_flag(STRICT_ENV)
    blocked = _blocked(block)

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    problems: list[str] = []

    def fail(message: str) -> None:
        if strict:
            raise PluginError(message)
        problems.append(message)
        warnings.warn(message, PluginLoadWarning, stacklevel=3)

    index = index if index is not None else PluginIndex.default()
    known = index.read()
    facts: dict[str, Any] = dict(known["facts"]) if known else {}
    learned = known is None  # what to write back: everything, or only new facts

    # (name, what to import or the object itself, distribution, version)
    candidates: list[tuple[str, Any, str | None, str | None]] = []
    from wfe_core import __version__ as core_version

    for name, module in BUILTIN_PLUGINS.items():
        candidates.append((name, module, "wfe-core", core_version))
    # The entry points as the index lists them; None: not known (a build without
    # autoload never looks them up, and must not make the index say there are none).
    entry_points: list[list[Any]] | None = known["entry_points"] if known else None
    if autoload:
        if entry_points is None:  # importlib.metadata only when the index cannot say
            entry_points = [
                [ep.name, ep.value, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None]
                for ep in _entry_points()
            ]
            learned = True
        candidates += [(name, value, dist, version) for name, value, dist, version in entry_points]
    items = extra.items() if isinstance(extra, dict) else ((_plugin_name(p), p) for p in extra)
    for name, plugin in items:
        candidates.append((name, _Given(plugin), None, None))

    # 1. Load and register every plugin that is not blocked and cannot wait.
    registered: list[tuple[Any, PluginInfo, str, str | None]] = []  # plugin, info, where, index key
    waiting: dict[str, _Waiting] = {}
    order: list[tuple[str, PluginInfo]] = []  # every plugin kept, registered or waiting
    for name, target, dist, version in candidates:
        if name in blocked:
            continue
        where = f"plugin '{name}'" + (f" from {dist} {version}" if dist else "")
        key = f"{name}={target}" if isinstance(target, str) else None
        known_facts = facts.get(key) if key else None
        taken = {n for n, _ in order}
        if known_facts is not None and _can_wait(known_facts) and name not in taken:
            info = PluginInfo(name, dist, version, known_facts["module"], _provides(known_facts))
            own = frozenset(known_facts["own_rollback"])
            waiting[name] = _Waiting(info, target, where, _triggers(known_facts), own)
            order.append((name, info))
            continue
        try:
            plugin = target.plugin if isinstance(target, _Given) else _import_target(target)
        except Exception as exc:
            fail(f"{where} failed to load and was left out: {type(exc).__name__}: {exc}")
            continue
        module = getattr(plugin, "__name__", type(plugin).__name__)
        if pm.get_plugin(name) is not None or name in taken:
            first = next(info for n, info in order if n == name)
            raise PluginError(
                f"two plugins are named '{name}': {first.module} from {first.distribution} and "
                f"{module} from {dist}; uninstall one, or block it with {BLOCK_ENV}"
            )
        try:
            pm.register(plugin, name=name)
        except Exception as exc:
            fail(f"{where} failed to register and was left out: {type(exc).__name__}: {exc}")
            continue
        info = PluginInfo(name, dist, version, module)
        registered.append((plugin, info, where, key))
        order.append((name, info))

    # 2. Every @hookimpl must name a hook wfe defines: a misspelled one (wfe_action) would
    # otherwise never be called, and the plugin would silently provide nothing.
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            plugin = exc.plugin
            name, where = next((i.name, w) for p, i, w, _ in registered if p is plugin)
            hooks = ", ".join(f"'{h}'{did_you_mean(h, HOOK_NAMES)}" for h in _unknown_hooks(pm, plugin))
            pm.unregister(plugin)
            registered = [r for r in registered if r[0] is not plugin]
            order = [o for o in order if o[0] != name]
            fail(f"{where} implements unknown hook {hooks} and was left out")

    # 3. Collect each plugin's records (or, for one that waits, the names the index
    # knows), in registration order, refusing a second provider of one name.
    infos: list[PluginInfo] = []
    provided: dict[str, dict[str, Any]] = {kind: {} for kind in _KINDS}
    loaded = {info.name: (plugin, where, key) for plugin, info, where, key in registered}
    for name, info in order:
        if name in waiting:
            own = waiting[name].own_rollback
            for kind, names in info.provides.items():
                for record_name in names:
                    _add(provided, kind, record_name, _Pending(info, kind == "actions" and record_name in own))
            infos.append(info)
            continue
        plugin, where, key = loaded[name]
        try:
            records = _collect(pm, plugin, info.label)
        except Exception as exc:
            pm.unregister(plugin)
            fail(f"{where} failed to register and was left out: {type(exc).__name__}: {exc}")
            continue
        info = attrs.evolve(
            info, provides={kind: tuple(_record_name(kind, r) for r in recs) for kind, recs in records.items() if recs}
        )
        for kind, recs in records.items():
            for record in recs:
                _add(provided, kind, _record_name(kind, record), Provided(record, info))
        infos.append(info)
        if key is not None:
            new = _facts(pm, plugin, key.partition("=")[2], info, records)
            if new is not None and facts.get(key) != new:
                facts[key], learned = new, True
    if learned:
        index.write(entry_points, facts)
    return Plugins(pm, infos, provided, problems, waiting=waiting, fail=fail, index=index)


@attrs.frozen
class _Given:
    """A plugin object passed to :func:`load_plugins` (``extra``): never imported, never waits."""

    plugin: Any


def _import_target(target: str) -> Any:
    """The plugin an entry-point value (``package.module`` or ``package.module:attribute``) names."""
    module, _, attribute = target.partition(":")
    obj = importlib.import_module(module)
    for part in filter(None, attribute.split(".")):
        obj = getattr(obj, part)
    return obj


def _can_wait(facts: dict[str, Any]) -> bool:
    """Whether a plugin with these facts may stay unimported until something of it is needed."""
    return set(facts["hooks"]) <= _WAITING_HOOKS and all(v is not None for v in facts["validators"].values())


def _provides(facts: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    return {kind: tuple(names) for kind, names in facts["provides"].items() if kind in _KINDS and names}


def _triggers(facts: dict[str, Any]) -> frozenset[str]:
    provides = facts["provides"]
    checked = (name for names in facts["validators"].values() for name in names or ())
    return frozenset([*provides.get("actions", ()), *provides.get("rollback_handlers", ()), *checked])


def _facts(pm: pluggy.PluginManager, plugin: Any, target: str, info: PluginInfo, records: dict[str, list[Any]]) -> Any:
    """What the index keeps of a plugin just imported; ``None`` when its file is unknown."""
    stamp = module_stamp(sys.modules.get(target.partition(":")[0]))
    if stamp is None:
        return None
    return {
        "stamp": stamp,
        "module": info.module,
        "hooks": sorted(c.name for c in pm.get_hookcallers(plugin) or ()),
        "provides": {kind: list(names) for kind, names in info.provides.items()},
        "own_rollback": sorted(a.name for a in records["actions"] if a.rollback is not None),
        "validators": {
            v.name: (list(v.actions) if getattr(v, "actions", None) is not None else None)
            for v in records["validators"]
        },
    }


def _plugin_name(plugin: Any) -> str:
    return getattr(plugin, "__name__", None) or type(plugin).__name__
