"""The frozen records that plugins hand to the core from their registration hooks.

A plugin never mutates core state: it returns records, and the core collects them,
refusing two records of one kind under one name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from wfe_core.model.records import fields_eq, fields_hash, fields_repr

__all__ = ["Action", "Event", "Reporter", "RollbackHandler", "StepExecutor", "Strategy", "Validator"]


@attrs.frozen
class RollbackHandler:
    """How to compensate an action after a critical failure.

    Attributes:
        action: the action name this handler compensates.
        compensate: ``compensate(parameters, context, memo, output)`` undoes one
            successful call; ``memo`` is what ``prepare`` returned, ``output`` the
            step's recorded output.
        prepare: ``prepare(parameters, context) -> memo`` runs just before each attempt
            of the action and captures what compensation needs (e.g. a file's previous
            bytes). The memo is stored with the step, so it must be JSON-serialisable.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    action: str
    compensate: Callable[[Any, Any, Any, Any], None]
    prepare: Callable[[Any, Any], Any] | None = None


@attrs.frozen
class Action:
    """An action a step can name.

    Attributes:
        name: dotted name used in workflows, e.g. ``file.write``.
        func: ``func(parameters, context) -> StepResult | Any``; a plain return value is
            taken as the output of a successful step, an exception as a failure.
        parameters: an attrs class describing the parameters. When given, parameters are
            structured into it (unknown keys refused) before ``func`` is called, it is what
            validation checks and what ``wfe schema`` publishes. ``None`` passes a dict.
        side_effects: whether running the action changes anything outside the run.
            Dry-run executes only actions with ``side_effects=False``.
        rollback: the action's own compensation, used when a step declares no
            ``rollback_action``.
        quote: per parameter name, a function that quotes values substituted into that
            parameter by templating. ``{x!raw}`` in a template opts one substitution out.
            A quoter with a ``render_template(pieces)`` method renders the whole template
            instead, knowing each value's context (``shell.execute`` passes values to its
            command through the environment); see :mod:`wfe_core.load.templating`.
        sets_variables: whether the action may return ``StepResult.variables``. Validation
            then cannot know statically which names the step defines, so it leaves
            undefined-name checks of its dependents to run time. (``variable.set`` is
            understood without it.) Variables returned by an action that does not declare
            this fail the step.
        description: one line for ``wfe plugins`` and the schema.
        runs_on_driver: whether the action must run in the ``wfe`` process itself, never
            on a remote executor's worker (``variable.*``: it only computes from the run's
            state). Actions without it run wherever the selected executor runs them.
        inline: run the action on the scheduler thread itself instead of handing it to a
            worker thread (and its result back): for short, cooperative actions that
            compute from their parameters and context and return in microseconds
            (``variable.set``/``variable.get``). The step is a step like any other:
            events, store rows, retries and conditions apply. What it cannot have is a
            timeout or a cancellation that interrupts it: while it runs, nothing else
            in the run moves. Never set it for an action that may block, sleep, wait for
            I/O or a lock, or run long (a user's regex, a file, the network). An inline
            action always runs in the ``wfe`` process, as ``runs_on_driver``. Its
            ``context.variables`` is a read-only view of the run's variables, not a copy
            (nothing changes them while it runs): read them during the call, do not keep
            the context for later.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    name: str
    func: Callable[[Any, Any], Any]
    parameters: type | None = None
    side_effects: bool = True
    rollback: RollbackHandler | None = None
    quote: Mapping[str, Callable[[Any], str]] = attrs.field(factory=dict)
    sets_variables: bool = False
    description: str = ""
    runs_on_driver: bool = False
    inline: bool = False


@attrs.frozen
class Strategy:
    """An execution strategy, selectable by name.

    Attributes:
        name: e.g. ``parallel``.
        factory: ``factory(plan, max_workers) -> policy``; see
            :mod:`wfe_core.plugin.builtins.strategies.policy` for the policy protocol the
            scheduler drives.
        description: one line for ``wfe plugins``.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    name: str
    factory: Callable[[Any, int], Any]
    description: str = ""


@attrs.frozen
class StepExecutor:
    """Where step attempts run, selectable with ``wfe run --executor NAME``.

    Attributes:
        name: e.g. ``threads`` (the built-in default) or ``dask``.
        factory: ``factory(max_workers, options) -> concurrent.futures.Executor | None``,
            called once per run before the first step; ``options`` is a dict (``address``
            from ``--scheduler`` …). ``None`` means the core's own thread pool. The
            executor is given ``submit(run_attempt, attempt)`` and must return a Future
            whose result is the attempt with ``result`` (and ``memo``, ``ended``) filled;
            the core calls ``shutdown(wait=False, cancel_futures=True)`` when the run
            ends. Raise :class:`~wfe_core.model.errors.WfeError` for a one-line error
            (e.g. a cluster that cannot be reached).
        description: one line for ``wfe plugins``.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    name: str
    factory: Callable[[int, Mapping[str, Any]], Any]
    description: str = ""


def _optional_names(names: Iterable[str] | None) -> tuple[str, ...] | None:
    """``names`` as a tuple (a list or any iterable of names is accepted), ``None`` kept."""
    return None if names is None else tuple(names)


@attrs.frozen
class Validator:
    """A check run over a workflow before it runs.

    Attributes:
        name: e.g. ``shell.dangerous-commands``.
        check: ``check(workflow, context) -> Iterable[Problem]`` where ``context`` is a
            :class:`~wfe_core.validate.validator.ValidationContext`.
        description: one line for ``wfe plugins``.
        actions: the action names whose calls (steps' actions and rollback actions) this
            check looks at, or ``None`` (the default) when it looks at every workflow.
            Declaring them lets wfe leave the plugin unimported for workflows that use
            none of them; the check then cannot run, so it must find nothing there.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    name: str
    check: Callable[[Any, Any], Iterable[Any]]
    description: str = ""
    actions: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_names)


@attrs.frozen
class Reporter:
    """A named consumer of run events, selectable with ``wfe run --reporter NAME``.

    Attributes:
        name: e.g. ``console``.
        factory: ``factory(stream) -> object`` with ``handle(event)`` and ``close()``.
        description: one line for ``wfe plugins``.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    name: str
    factory: Callable[[Any], Any]
    description: str = ""


def _as_kinds(declared: Any) -> frozenset[str] | None:
    """The event kinds a listener's ``event_kinds`` or a plugin's ``wfe_event_kinds``
    declared: ``None`` for every kind, one string for that one kind (not its letters).

    Raises:
        TypeError: ``declared`` is not a collection of strings (each caller says so in its
            own words, and takes it as every kind).
    """
    if declared is None:
        return None
    if isinstance(declared, str):
        return frozenset((declared,))
    found = frozenset(declared)  # (TypeError when not iterable)
    if not all(isinstance(kind, str) for kind in found):
        raise TypeError(f"expected event kinds (strings), got {declared!r}")
    return found


@attrs.frozen
class Event:
    """Something that happened in a run, delivered on the scheduler thread.

    Attributes:
        kind: ``run.started``, ``run.finished``, ``step.waiting`` (for a resource: once
            per wait, ``reason`` says which and who holds it), ``step.started``, ``step.succeeded``,
            ``step.failed``, ``step.retrying``, ``step.skipped``, ``step.timed_out``,
            ``step.cancelled``, ``step.rolled_back``, ``step.rollback_failed``, ``progress``.
        run_id: the run.
        workflow_id: the workflow.
        step_id: the step, for ``step.*`` events.
        data: details (attempt, duration, error, completion_percentage …).
        time: ``time.time()`` when it happened.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    kind: str
    run_id: str
    workflow_id: str
    step_id: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)
    time: float = attrs.field(factory=time.time)
