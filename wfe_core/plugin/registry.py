"""Building the plugin registry: the one place that talks to pluggy.

:func:`load_plugins` registers the built-in plugin modules exactly like external ones,
then the entry points of group ``wfe``, and collects their records into a
:class:`Plugins` facade. The rest of wfe never calls ``pm.hook`` directly.
"""

from __future__ import annotations

import importlib
import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

import attrs
import pluggy

import wfe_core.plugin.hookspecs as hookspecs
from wfe_core.model.errors import PluginError
from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, Strategy, Validator
from wfe_core.report.format import ReportFormat

__all__ = [
    "AUTOLOAD_ENV",
    "BLOCK_ENV",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
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

#: Built-in plugins: name -> module. Blockable and replaceable like any other plugin.
BUILTIN_PLUGINS = {
    "wfe.variables": "wfe_core.plugin.builtins.variables",
    "wfe.utility": "wfe_core.plugin.builtins.utility",
    "wfe.strategies": "wfe_core.plugin.builtins.strategies",
    "wfe.validators": "wfe_core.plugin.builtins.validators",
    "wfe.reporters": "wfe_core.plugin.builtins.reporters",
    "wfe.report_formats": "wfe_core.plugin.builtins.report_formats",
}

#: Where our own first-party actions live, for "which package do I install" messages.
FIRST_PARTY_PREFIXES = {
    "file.": "wfe-file",
    "shell.": "wfe-shell",
    "http.": "wfe-http",
    "claude_flow.": "wfe-claude-flow",
}

_KINDS = {
    "actions": ("wfe_actions", Action, "action"),
    "strategies": ("wfe_strategies", Strategy, "strategy"),
    "validators": ("wfe_validators", Validator, "validator"),
    "reporters": ("wfe_reporters", Reporter, "reporter"),
    "rollback_handlers": ("wfe_rollback_handlers", RollbackHandler, "rollback handler"),
    "report_formats": ("wfe_report_formats", ReportFormat, "report format"),
}


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded and was left out."""


@attrs.frozen
class PluginInfo:
    """A registered plugin and what it provides."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    provides: dict[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def label(self) -> str:
        if self.distribution:
            return f"'{self.name}' ({self.distribution} {self.version})"
        return f"'{self.name}'"


@attrs.frozen
class Provided:
    """A record together with the plugin that provided it."""

    record: Any
    plugin: PluginInfo


class Plugins:
    """The collected records of every registered plugin.

    Attributes:
        infos: every registered plugin, in registration order.
        actions, strategies, validators, reporters, rollback_handlers: name -> record.
        problems: messages about plugins that failed to load (left out).
    """

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo],
                 provided: dict[str, dict[str, Provided]], problems: list[str]):
        self._pm = pm
        self.infos = infos
        self.provided = provided
        self.problems = problems
        self.actions: dict[str, Action] = {n: p.record for n, p in provided["actions"].items()}
        self.strategies: dict[str, Strategy] = {n: p.record for n, p in provided["strategies"].items()}
        self.validators: dict[str, Validator] = {n: p.record for n, p in provided["validators"].items()}
        self.reporters: dict[str, Reporter] = {n: p.record for n, p in provided["reporters"].items()}
        self.rollback_handlers: dict[str, RollbackHandler] = {
            n: p.record for n, p in provided["rollback_handlers"].items()
        }
        self.has_listeners = bool(pm.hook.wfe_event.get_hookimpls())

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
    seen: set[tuple[str, str]] = set()
    out = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            out.append(ep)
    return out


def _record_name(kind: str, record: Any) -> str:
    return record.action if kind == "rollback_handlers" else record.name


def _add(provided: dict[str, dict[str, Provided]], kind: str, name: str, new: Provided) -> None:
    """Add one record, refusing a second provider of the same name."""
    noun = _KINDS[kind][2]
    if kind == "rollback_handlers":
        owner = provided["actions"].get(name)
        if owner is not None and owner.record.rollback is not None:
            raise PluginError(
                f"{noun} for '{name}' is provided by both plugin {owner.plugin.label} and plugin {new.plugin.label}"
            )
    if name in provided[kind]:
        other = provided[kind][name].plugin
        raise PluginError(f"{noun} '{name}' is provided by both plugin {other.label} and plugin {new.plugin.label}")
    provided[kind][name] = new


def _collect(plugin: Any, label: str) -> dict[str, list[Any]]:
    """Call each registration hook of one plugin and check its records."""
    out: dict[str, list[Any]] = {}
    for kind, (hook_name, record_type, noun) in _KINDS.items():
        func = getattr(plugin, hook_name, None)
        if func is None:
            out[kind] = []
            continue
        records = list(func() or ())
        for record in records:
            if not isinstance(record, record_type):
                raise PluginError(
                    f"plugin {label}: {hook_name}() returned {type(record).__name__}, "
                    f"expected {record_type.__name__}"
                )
        out[kind] = records
    return out


def load_plugins(
    *,
    autoload: bool | None = None,
    strict: bool | None = None,
    block: Iterable[str] = (),
    extra: Sequence[Any] | dict[str, Any] = (),
) -> Plugins:
    """Build the plugin registry.

    Args:
        autoload: load entry-point plugins; defaults to on unless ``WFE_DISABLE_PLUGIN_AUTOLOAD``.
        strict: a plugin that fails to load raises :class:`PluginError` instead of a
            :class:`PluginLoadWarning`; defaults to ``WFE_STRICT_PLUGINS``.
        block: plugin names to leave out (added to ``WFE_BLOCK_PLUGINS``).
        extra: further plugins (modules or objects) to register, by name if a dict.

    Raises:
        PluginError: two plugins provide the same name, or (strict) a plugin failed to load.
    """
    if autoload is None:
        autoload = not _env_flag(AUTOLOAD_ENV)
    if strict is None:
        strict = _env_flag(STRICT_ENV)
    blocked = {b.strip() for b in os.environ.get(BLOCK_ENV, "").split(",") if b.strip()}
    blocked.update(block)

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    problems: list[str] = []

    def fail(message: str) -> None:
        if strict:
            raise PluginError(message)
        problems.append(message)
        warnings.warn(message, PluginLoadWarning, stacklevel=3)

    candidates: list[tuple[str, Any, str | None, str | None]] = []
    for name, module in BUILTIN_PLUGINS.items():
        candidates.append((name, lambda m=module: importlib.import_module(m), "wfe-core", _version("wfe-core")))
    if autoload:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            candidates.append((ep.name, ep.load, dist, version))
    items = extra.items() if isinstance(extra, dict) else ((_plugin_name(p), p) for p in extra)
    for name, plugin in items:
        candidates.append((name, lambda p=plugin: p, None, None))

    infos: list[PluginInfo] = []
    provided: dict[str, dict[str, Provided]] = {kind: {} for kind in _KINDS}
    for name, load, dist, version in candidates:
        if name in blocked:
            continue
        where = f"plugin '{name}'" + (f" from {dist} {version}" if dist else "")
        try:
            plugin = load()
        except Exception as exc:
            fail(f"{where} failed to load and was left out: {type(exc).__name__}: {exc}")
            continue
        module = getattr(plugin, "__name__", type(plugin).__name__)
        label = PluginInfo(name, dist, version, module).label
        if pm.get_plugin(name) is not None:
            first = next(i for i in infos if i.name == name)
            raise PluginError(f"two plugins are named '{name}': {first.module} from {first.distribution} and "
                              f"{module} from {dist}; uninstall one, or block it with {BLOCK_ENV}")
        try:
            pm.register(plugin, name=name)
            records = _collect(plugin, label)
        except Exception as exc:
            if pm.get_plugin(name) is not None:
                pm.unregister(name=name)
            fail(f"{where} failed to register and was left out: {type(exc).__name__}: {exc}")
            continue
        info = PluginInfo(
            name, dist, version, module,
            provides={kind: tuple(_record_name(kind, r) for r in recs) for kind, recs in records.items() if recs},
        )
        for kind, recs in records.items():
            for record in recs:
                _add(provided, kind, _record_name(kind, record), Provided(record, info))
        infos.append(info)
    return Plugins(pm, infos, provided, problems)


def _plugin_name(plugin: Any) -> str:
    return getattr(plugin, "__name__", None) or type(plugin).__name__


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
