"""The contract between wfe and its plugins: the hooks wfe calls.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names match
the specs below; a ``@hookimpl`` whose name matches none (a typo such as ``wfe_action``)
makes the plugin fail to load. A hook that only newer versions of wfe define can be
marked ``@hookimpl(optionalhook=True)``: older versions then ignore it. wfe's own built-in plugins
(:data:`wfe_core.plugin.registry.BUILTIN_PLUGINS`) are ordinary modules registered the
same way as third-party ones, before them; third-party plugins are found through the
``wfe`` entry-point group (``[project.entry-points.wfe] name = "package.module"``).

Registration hooks (``wfe_actions``, ``wfe_strategies``, ``wfe_validators``,
``wfe_reporters``, ``wfe_rollback_handlers``) are called once per plugin when the plugin
registry is built (each ``wfe`` command, each :func:`~wfe_core.plugin.registry.load_plugins`)
and return an iterable of frozen records from :mod:`wfe_core.plugin.capabilities`. Two
plugins returning records of one kind under one name is an error naming both; to replace
a built-in, block it (``WFE_BLOCK_PLUGINS``) and provide the same name.

What the registration hooks return is remembered in the plugin index
(:mod:`wfe_core.plugin.index`): later starts import a plugin only when something it
provides is needed, unless it implements ``wfe_event`` or ``wfe_make_executor`` or has a
validator without ``actions=`` (those are imported at every start). Keep module imports
light all the same — ``wfe plugins`` and the first start import every plugin — and heavy
ones inside the action functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, StepExecutor, Strategy, Validator

if TYPE_CHECKING:
    from wfe_core.load.templates import Template
    from wfe_core.model.workflow import Workflow
    from wfe_core.report.format import ReportFormat

__all__ = ["PROJECT", "hookimpl", "hookspec"]

#: The pluggy project name: hooks are marked ``@hookimpl`` = ``pluggy.HookimplMarker("wfe")``.
PROJECT = "wfe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def wfe_actions() -> Iterable[Action]:
    """Return the actions this plugin provides.

    Called once per registry build, with no arguments, on the thread building it.

    :return: an iterable of :class:`~wfe_core.plugin.capabilities.Action` (or ``None``
        for none). An action name another plugin also returns is an error naming both
        plugins; a record of another type is an error naming this plugin.

    .. versionadded:: 0.1
    """


@hookspec
def wfe_strategies() -> Iterable[Strategy]:
    """Return the execution strategies this plugin provides.

    Called once per registry build, with no arguments. A strategy is chosen by name with
    ``wfe run --strategy NAME`` or ``WorkflowEngine(default_strategy=NAME)``; its factory
    is then called once per run (see :mod:`wfe_core.plugin.builtins.strategies.policy`
    for the policy it must build).

    :return: an iterable of :class:`~wfe_core.plugin.capabilities.Strategy`; names must
        be unique across plugins.

    .. versionadded:: 0.1
    """


@hookspec
def wfe_executors() -> Iterable[StepExecutor]:
    """Return the step executors this plugin provides.

    Called once per registry build, with no arguments. An executor is chosen by name with
    ``wfe run --executor NAME`` or ``WorkflowEngine(executor=NAME)``; its factory is then
    called once per run (see :class:`~wfe_core.plugin.capabilities.StepExecutor`). The
    built-in ``threads`` executor is the default. ``wfe_make_executor`` still works for
    code that only overrides the default executor.

    :return: an iterable of :class:`~wfe_core.plugin.capabilities.StepExecutor`; names
        must be unique across plugins.
    """


@hookspec
def wfe_validators() -> Iterable[Validator]:
    """Return the workflow checks this plugin provides.

    Called once per registry build, with no arguments. Each check is then called as
    ``check(workflow, context)`` by :class:`~wfe_core.validate.validator.WorkflowValidator`
    over every workflow before it runs and by ``wfe validate``, with a
    :class:`~wfe_core.validate.validator.ValidationContext`; it yields
    :class:`~wfe_core.model.errors.Problem` s (``severity="warning"`` for findings that
    strict validation turns into errors). :func:`~wfe_core.plugin.action_calls` and
    :func:`~wfe_core.plugin.is_templated` help write one.

    :return: an iterable of :class:`~wfe_core.plugin.capabilities.Validator`; names must
        be unique across plugins.

    .. versionadded:: 0.1
    """


@hookspec
def wfe_reporters() -> Iterable[Reporter]:
    """Return the reporters this plugin provides.

    Called once per registry build, with no arguments. A reporter is selected by name
    (``wfe run --reporter NAME``; ``console`` by default); its factory is called with the
    output stream, and the object it returns receives every event of the run (``handle``,
    on the scheduler thread) and ``close()`` at the end. Optionally, the object says which
    kinds of event it wants in an ``event_kinds`` attribute (a collection of kinds;
    ``None``: every kind), and only those reach ``handle``; and it may have a ``flush()``
    method, called after each batch of events the run delivers: write lines unflushed
    in ``handle`` and flush them there, so they reach the reader promptly without a
    write system call per line.

    :return: an iterable of :class:`~wfe_core.plugin.capabilities.Reporter`; names must
        be unique across plugins.

    .. versionadded:: 0.1
    """


@hookspec
def wfe_rollback_handlers() -> Iterable[RollbackHandler]:
    """Return compensation for actions — typically actions of *other* plugins.

    Called once per registry build, with no arguments. A handler is used for a step
    whose action it names when the step declares no ``rollback_action``: its ``prepare``
    runs before each attempt (when the run may need to roll back) and its ``compensate``
    during rollback, in reverse completion order. An action's own ``Action.rollback``
    and a handler from another plugin for the same action is an error naming both, as
    are two handlers for one action.

    :return: an iterable of :class:`~wfe_core.plugin.capabilities.RollbackHandler`.

    .. versionadded:: 0.1
    """


@hookspec
def wfe_templates() -> Iterable[Template]:
    """Return the workflow templates this plugin provides.

    Called once per registry build. Return an iterable of
    :class:`~wfe_core.load.templates.Template`, usually built with
    :func:`~wfe_core.plugin.load_template_file` from files shipped in the plugin's
    package. A template named like one of wfe-core's built-ins replaces it; two other
    plugins providing one name is an error naming both. Templates in
    ``WFE_TEMPLATE_PATH`` directories take precedence over every plugin's.
    """


@hookspec
def wfe_report_formats() -> Iterable[ReportFormat]:
    """Return the report formats this plugin provides.

    Called once per registry build. A :class:`~wfe_core.plugin.ReportFormat` is selected
    by name (``wfe report RUN_ID --format NAME``); its ``render(report)`` receives a
    :class:`wfe_core.report.report.Report` and returns ``str`` or ``bytes``. Names must
    be unique across plugins.
    """


@hookspec
def wfe_event(event: Event) -> None:
    """Observe one run or step event.

    Called on the scheduler thread (never concurrently) for every event of every run,
    in the order events happen, or only for the kinds the plugin's ``wfe_event_kinds``
    names. Keep it quick: the scheduler waits for it. An exception is logged and the run
    goes on.

    :param event: the frozen :class:`~wfe_core.plugin.capabilities.Event` (secrets
        already masked).
    :return: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """


@hookspec
def wfe_event_kinds() -> Iterable[str] | None:
    """Say which kinds of event this plugin's ``wfe_event`` wants.

    Called once per registry build, with no arguments, after the plugin is registered.
    The plugin's ``wfe_event`` then hears only events of these kinds (``run.started``,
    ``step.succeeded``, ``progress`` …: see :class:`~wfe_core.plugin.capabilities.Event`),
    and a run does not even build an event of a kind nobody wants (a step's ``started``,
    ``succeeded`` and ``progress`` events are most of a quick step's cost). A plugin
    without this hook, or returning ``None``, hears every kind, as before this hook
    existed; implement it with ``@hookimpl(optionalhook=True)`` so older versions of
    wfe, which do not know it, still load the plugin. An exception, or a value that is
    not a collection of strings, is logged and the plugin hears every kind.

    :return: the kinds (an iterable of strings), or ``None`` for every kind.
    """


@hookspec
def wfe_step_durations(
    workflow: Workflow, run_id: str, run_info: Mapping[str, Any], fingerprints: Mapping[str, str]
) -> Mapping[str, float] | None:
    """Return the seconds each step of ``workflow`` is expected to take, as this plugin learned them.

    Called once per run (not for dry runs), on the thread that called ``engine.run`` /
    ``engine.resume``, after validation and before the first step starts (and before
    the ``run.started`` event). The durations weigh the adaptive strategy's longest
    remaining path and feed the ETA (``progress_data["eta_seconds"]``, the live display).
    The run waits for this hook: keep it bounded (seconds, not minutes).

    Results are merged, not first-wins: every plugin's mapping is used. For a step
    several sources know, the run store's own history wins (exact and local: the median
    of the step's last 5 successful runs with the same fingerprint), then the plugin
    called first (pluggy calls the last registered plugin first). Steps no source knows
    weigh the median of the known ones. Unknown step ids, and values that are not
    positive finite numbers, are ignored. An exception is logged and the run goes on as
    if the plugin knew nothing.

    :param workflow: the :class:`~wfe_core.model.workflow.Workflow` about to run.
    :param run_id: the run's id (the same as in its events).
    :param run_info: what the run's ``run.started`` event will also say of it:
        ``claude_flow`` (``enable_claude_flow=True`` / ``wfe run --claude-flow``) and
        ``resumed``.
    :param fingerprints: step id -> the fingerprint of the step's definition (it
        changes when the step does: a duration learned for another fingerprint is stale).
    :return: step id -> seconds, or ``None`` for nothing known.
    """


@hookspec(firstresult=True)
def wfe_make_executor(max_workers: int) -> Any:
    """Supply the ``concurrent.futures.Executor`` that runs step actions.

    Called once per run, before the first step is dispatched. First non-None result
    wins (later plugins are not asked); when every plugin returns ``None`` the core uses
    its own thread pool. The engine shuts the executor down when the run ends.

    :param max_workers: the run's concurrency limit (the strategy's worker count).
    :return: an ``Executor``, or ``None`` to leave the choice to other plugins.

    .. versionadded:: 0.1
    """


@hookspec
def wfe_force_stop() -> None:
    """Release at once what must not outlive the process: the user forced a stop.

    Called on the main thread when a second Ctrl-C (or SIGTERM) stops ``wfe`` without
    waiting for running steps, just before the process exits. Kill child processes
    (e.g. with SIGKILL to their process groups) and return quickly; nothing else runs
    afterwards. An exception is logged and ignored.

    :return: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """
