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
import warnings
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

import attrs
import pluggy

import wfe_core.plugin.hookspecs as hookspecs
from wfe_core.load.templates import Template
from wfe_core.model.errors import PluginError, did_you_mean
from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, StepExecutor, Strategy, Validator
from wfe_core.report.format import ReportFormat

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


class Plugins:
    """The collected records of every registered plugin.

    Attributes:
        infos: every registered plugin, in registration order.
        actions, strategies, executors, validators, reporters, rollback_handlers: name -> record.
        problems: messages about plugins that failed to load (left out).
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        infos: list[PluginInfo],
        provided: dict[str, dict[str, Provided]],
        problems: list[str],
    ):
        self._pm = pm
        self.infos = infos
        self.provided = provided
        self.problems = problems
        self.actions: dict[str, Action] = {n: p.record for n, p in provided["actions"].items()}
        self.strategies: dict[str, Strategy] = {n: p.record for n, p in provided["strategies"].items()}
        self.executors: dict[str, StepExecutor] = {n: p.record for n, p in provided["executors"].items()}
        self.validators: dict[str, Validator] = {n: p.record for n, p in provided["validators"].items()}
        self.reporters: dict[str, Reporter] = {n: p.record for n, p in provided["reporters"].items()}
        self.rollback_handlers: dict[str, RollbackHandler] = {
            n: p.record for n, p in provided["rollback_handlers"].items()
        }
        self.has_listeners = bool(pm.hook.wfe_event.get_hookimpls())
        #: Whether some plugin implements ``wfe_step_durations`` (else the engine skips it).
        self.learns_durations = bool(pm.hook.wfe_step_durations.get_hookimpls())

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


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")


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
    return str(record.action if kind == "rollback_handlers" else record.name)


def _add(provided: dict[str, dict[str, Provided]], kind: str, name: str, new: Provided) -> None:
    """Add one record, refusing a second provider of the same name."""
    noun = _KINDS[kind][2]
    # An action's own compensation and a handler another plugin provides for it clash
    # whichever of the two plugins is collected first.
    if kind == "rollback_handlers":
        owner = provided["actions"].get(name)
        if owner is not None and owner.record.rollback is not None:
            raise PluginError(
                f"{noun} for '{name}' is provided by both plugin {owner.plugin.label} and plugin {new.plugin.label}"
            )
    if kind == "actions" and new.record.rollback is not None and name in provided["rollback_handlers"]:
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

    candidates: list[tuple[str, Any, str | None, str | None]] = []
    core_version = _version("wfe-core")
    for name, module in BUILTIN_PLUGINS.items():
        candidates.append((name, lambda m=module: importlib.import_module(m), "wfe-core", core_version))
    if autoload:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            candidates.append((ep.name, ep.load, dist, version))
    items = extra.items() if isinstance(extra, dict) else ((_plugin_name(p), p) for p in extra)
    for name, plugin in items:
        candidates.append((name, lambda p=plugin: p, None, None))

    # 1. Load and register every plugin that is not blocked.
    registered: list[tuple[Any, PluginInfo, str]] = []
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
        if pm.get_plugin(name) is not None:
            first = next(info for _, info, _ in registered if info.name == name)
            raise PluginError(
                f"two plugins are named '{name}': {first.module} from {first.distribution} and "
                f"{module} from {dist}; uninstall one, or block it with {BLOCK_ENV}"
            )
        try:
            pm.register(plugin, name=name)
        except Exception as exc:
            fail(f"{where} failed to register and was left out: {type(exc).__name__}: {exc}")
            continue
        registered.append((plugin, PluginInfo(name, dist, version, module), where))

    # 2. Every @hookimpl must name a hook wfe defines: a misspelled one (wfe_action) would
    # otherwise never be called, and the plugin would silently provide nothing.
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            plugin = exc.plugin
            where = next(w for p, _, w in registered if p is plugin)
            hooks = ", ".join(f"'{h}'{did_you_mean(h, HOOK_NAMES)}" for h in _unknown_hooks(pm, plugin))
            pm.unregister(plugin)
            registered = [r for r in registered if r[0] is not plugin]
            fail(f"{where} implements unknown hook {hooks} and was left out")

    # 3. Collect each plugin's records, refusing a second provider of one name.
    infos: list[PluginInfo] = []
    provided: dict[str, dict[str, Provided]] = {kind: {} for kind in _KINDS}
    for plugin, bare, where in registered:
        try:
            records = _collect(pm, plugin, bare.label)
        except Exception as exc:
            pm.unregister(plugin)
            fail(f"{where} failed to register and was left out: {type(exc).__name__}: {exc}")
            continue
        info = attrs.evolve(
            bare, provides={kind: tuple(_record_name(kind, r) for r in recs) for kind, recs in records.items() if recs}
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
