"""The contract between wfe and its plugins.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names match
the specs below. Built-in plugins are ordinary modules registered the same way as
external ones, found through the ``wfe`` entry-point group.

Registration hooks (``wfe_actions`` …) are called once, when the plugin registry is
built, and return an iterable of frozen records from :mod:`wfe_core.plugin.capabilities`. Keep
their module imports light: heavy imports belong inside the action functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, Strategy, Validator

if TYPE_CHECKING:
    from wfe_core.report.format import ReportFormat

__all__ = ["hookimpl", "hookspec", "PROJECT"]

PROJECT = "wfe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def wfe_actions() -> Iterable[Action]:
    """Return the actions this plugin provides.

    Called once per registry build, with no arguments. Return an iterable of
    :class:`~wfe_core.plugin.capabilities.Action`. Two plugins returning actions of the same name
    is an error naming both plugins.
    """


@hookspec
def wfe_strategies() -> Iterable[Strategy]:
    """Return the execution strategies this plugin provides.

    Called once per registry build. Return an iterable of
    :class:`~wfe_core.plugin.capabilities.Strategy`; names must be unique across plugins.
    """


@hookspec
def wfe_validators() -> Iterable[Validator]:
    """Return the workflow validators this plugin provides.

    Called once per registry build. Each :class:`~wfe_core.plugin.capabilities.Validator` is run by
    :class:`~wfe_core.validate.validator.WorkflowValidator` over every workflow before it runs
    and by ``wfe validate``; names must be unique across plugins.
    """


@hookspec
def wfe_reporters() -> Iterable[Reporter]:
    """Return the reporters this plugin provides.

    Called once per registry build. A :class:`~wfe_core.plugin.capabilities.Reporter` is selected by
    name (``wfe run --reporter NAME``) and receives every event of the run.
    """


@hookspec
def wfe_rollback_handlers() -> Iterable[RollbackHandler]:
    """Return compensation for actions, including actions of other plugins.

    Called once per registry build. A :class:`~wfe_core.plugin.capabilities.RollbackHandler` named
    here takes precedence over no handler, but an action's own ``Action.rollback`` and
    a handler from another plugin for the same action is an error naming both.
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
    in the order events happen. ``event`` is a frozen :class:`~wfe_core.plugin.capabilities.Event`.
    The return value is ignored. Keep it quick: the scheduler waits for it. An exception
    is logged and the run goes on.
    """


@hookspec(firstresult=True)
def wfe_make_executor(max_workers: int) -> Any:
    """Return the ``concurrent.futures.Executor`` that runs step actions, or ``None``.

    Called once per run, before the first step is dispatched; ``max_workers`` is the
    run's concurrency limit. First non-None result wins; when every plugin returns
    ``None`` the core uses a ``ThreadPoolExecutor``. The engine shuts the executor down
    when the run ends.
    """


@hookspec
def wfe_force_stop() -> None:
    """Release at once what must not outlive the process: the user forced a stop.

    Called on the main thread when a second Ctrl-C (or SIGTERM) stops ``wfe`` without
    waiting for running steps, just before the process exits. Kill child processes
    (e.g. with SIGKILL to their process groups) and return quickly; nothing else runs
    afterwards. The return value is ignored; an exception is ignored too.
    """
