"""Building the plugin registry: the one place that talks to pluggy.

:func:`load_plugins` registers the built-in plugin modules exactly like external ones,
then the plugins of the ``wfe`` entry-point group, then ``extra`` plugins; checks with
``pm.check_pending()`` that every ``@hookimpl`` names a hook wfe defines; and collects the
records each plugin's registration hooks return into a :class:`Plugins` facade
(:mod:`wfe_core.plugin.facade`), each attributed to its plugin (so that two plugins
claiming one name is an error naming both). The rest of wfe never calls ``pm.hook``
directly. A plugin the plugin index (:mod:`wfe_core.plugin.index`) knows may wait
unimported until something it provides is needed.

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

import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

import wfe_core.plugin.hookspecs as hookspecs
from wfe_core.model.errors import PluginError, did_you_mean
from wfe_core.model.records import fields_repr
from wfe_core.plugin.facade import (
    _KINDS,
    _WAITING_HOOKS,
    FIRST_PARTY_EXECUTORS,
    FIRST_PARTY_PREFIXES,
    HOOK_NAMES,
    PluginInfo,
    PluginLoadWarning,
    Plugins,
    Provided,
    _add,
    _collect,
    _import_target,
    _Pending,
    _record_name,
    _unknown_hooks,
    _Waiting,
)
from wfe_core.plugin.index import PluginIndex, module_stamp

if TYPE_CHECKING:
    from importlib import metadata

__all__ = [
    "AUTOLOAD_ENV",
    "BLOCK_ENV",
    "BUILTIN_ALIASES",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "ESSENTIAL_PLUGINS",
    "FIRST_PARTY_EXECUTORS",
    "FIRST_PARTY_PREFIXES",
    "HOOK_NAMES",
    "STRICT_ENV",
    "PluginInfo",
    "PluginLoadWarning",
    "Plugins",
    "Provided",
    "load_plugins",
]

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
    "wfe.subworkflows": f"{_BUILTINS}.subworkflow",
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
    # name -> (facts, target) of plugins imported whose records the index knows: collected on need
    deferred: dict[str, tuple[dict[str, Any], str]] = {}
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
        if known_facts is not None and _records_can_wait(known_facts):
            deferred[name] = (known_facts, target)

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
            _add_pending(provided, info, waiting[name].own_rollback)
            infos.append(info)
            continue
        plugin, where, key = loaded[name]
        if name in deferred:  # registered for its other hooks (wfe_event ...); its records wait
            known_facts, module_target = deferred[name]
            info = attrs.evolve(info, provides=_provides(known_facts))
            own = frozenset(known_facts["own_rollback"])
            waiting[name] = _Waiting(info, module_target, where, _triggers(known_facts), own, plugin)
            _add_pending(provided, info, own)
            infos.append(info)
            continue
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


@attrs.frozen(eq=False)  # compared by identity: no __eq__/__hash__ to compile
class _Given:
    """A plugin object passed to :func:`load_plugins` (``extra``): never imported, never waits."""

    __repr__ = fields_repr  # attrs' text, without compiling one per class

    plugin: Any


def _add_pending(provided: dict[str, dict[str, Any]], info: PluginInfo, own_rollback: frozenset[str]) -> None:
    """The names a plugin whose records wait provides, as the index lists them."""
    for kind, names in info.provides.items():
        for record_name in names:
            _add(provided, kind, record_name, _Pending(info, kind == "actions" and record_name in own_rollback))


def _can_wait(facts: dict[str, Any]) -> bool:
    """Whether a plugin with these facts may stay unimported until something of it is needed."""
    return set(facts["hooks"]) <= _WAITING_HOOKS and _records_can_wait(facts)


def _records_can_wait(facts: dict[str, Any]) -> bool:
    """Whether a plugin's records may be collected only when one is needed: none of its
    validators checks every workflow (those must be there for every validation)."""
    return all(v is not None for v in facts["validators"].values())


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
