"""Preparing an attempt: rendering templates, structuring parameters, the dry-run
decision, and building the :class:`StepContext` and :class:`Attempt`.

Runs on the scheduler thread and reads the :class:`~wfe_core.run.state.RunState` it is
given; it changes nothing there.
"""

from __future__ import annotations

import functools
import threading
from collections import ChainMap
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from wfe_core.load.convert import structure
from wfe_core.load.templating import Unknown, has_placeholders, render
from wfe_core.model.context import StepContext
from wfe_core.model.errors import InvalidWorkflowError, TemplateError
from wfe_core.model.records import fields_repr
from wfe_core.model.secrets import Redactor
from wfe_core.model.workflow import WorkflowStep
from wfe_core.plugin.capabilities import Action
from wfe_core.run.attempt import Attempt, Halt
from wfe_core.run.state import RunState

__all__ = ["AttemptPreparer", "Unprepared", "WouldRun"]


_UNKNOWN = object()


@attrs.frozen(eq=False)  # compared by identity: no __eq__/__hash__ to compile
class Unprepared:
    """The attempt cannot be made: ``error`` (a template or parameter error)."""

    __repr__ = fields_repr  # attrs' text, without compiling one per class

    error: str


@attrs.frozen(eq=False)  # compared by identity: no __eq__/__hash__ to compile
class WouldRun:
    """Dry run: the step is reported, not run; ``reason`` says what it would run."""

    __repr__ = fields_repr  # attrs' text, without compiling one per class

    reason: str


class AttemptPreparer:
    """Turns a ready step into an :class:`Attempt` (or says why it is not made).

    Args:
        state: the run's state (variables, results, dry-run bookkeeping are read).
        actions: action name -> :class:`Action`.
        rollback_for: action name -> its rollback handler (or ``None``).
        capture_memos: call the rollback handler's ``prepare`` before each attempt (rollback
            is on, or the run is stored: ``wfe rollback RUN_ID`` needs the memos later).
        secrets: secret values for ``{secrets.NAME}``; ``redact`` masks them.
        run_id / workflow_id / workdir / dry_run: what each :class:`StepContext` says.
    """

    def __init__(
        self,
        state: RunState,
        *,
        actions: dict[str, Action],
        rollback_for: Any,
        capture_memos: bool,
        secrets: dict[str, str],
        redact: Redactor,
        run_id: str,
        workflow_id: str,
        workdir: Path,
        dry_run: bool,
    ):
        self.state = state
        self.actions = actions
        self.rollback_for = rollback_for
        self.capture_memos = capture_memos
        self.secrets = secrets
        self.redact = redact
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.workdir = workdir
        self.dry_run = dry_run
        self.resources: dict[str, Any] = {}
        self.resources_lock = threading.Lock()
        #: The run's cancel as pool threads see it (see :class:`Halt`); None: not checked
        #: (an executor plugin's pool, whose threads may be elsewhere).
        self.halt: Halt | None = None
        #: ``output_line(step_id, stream, text)`` for actions' live output (``wfe run --output``).
        self.output_line: Callable[[str, str, str], None] | None = None
        self.templated = {sid: has_placeholders(s.parameters) for sid, s in state.steps.items()}
        self._secret_names = frozenset(secrets)
        #: action name -> its :class:`Action`, looked up in ``actions`` (the engine's live
        #: view: a Python call per lookup) once per run.
        self._action: dict[str, Action] = {}
        #: action name -> its rollback handler's ``prepare`` (or None), looked up once.
        self._capture: dict[str, Any] = {}
        self._vars_version = -1
        self._vars_view: MappingProxyType[str, Any] = MappingProxyType({})
        # What an inline action reads: the variables themselves (the dict is changed in
        # place, never replaced), one view for the run rather than one per step.
        self._live_vars = MappingProxyType(state.variables)
        self._scope: ChainMap[str, Any] | None = None

    def variables_view(self) -> MappingProxyType[str, Any]:
        """A read-only snapshot of the run variables, rebuilt only when they changed."""
        state = self.state
        if self._vars_version != state.variables_version:
            self._vars_view = MappingProxyType(dict(state.variables))
            self._vars_version = state.variables_version
        return self._vars_view

    def scope(self, sid: str | None = None) -> ChainMap[str, Any]:
        """What templates see: run variables, ``steps`` and ``secrets``; for a fan-out
        instance ``sid`` also ``item`` and ``item_index``, or ``matrix``. Read-only."""
        instance = self.state.scopes.get(sid) if sid is not None else None
        if instance is None and self._scope is not None:
            # One view for every step that adds nothing: the run's results and variables
            # are changed in place, never replaced, so it always shows them as they are.
            return self._scope
        names: dict[str, Any] = {"steps": self.state.results}
        if self.secrets:
            names["secrets"] = self.secrets
        if instance is not None:
            names.update(instance)
        # A view, not a copy: copying every run variable for each step made a run whose
        # steps set variables quadratic (a 10,000-step file spent 0.33 s here).
        view = ChainMap(names, self.state.variables)
        if instance is None:
            self._scope = view
        return view

    def prepare(self, sid: str, number: int, now: float, wall: float) -> Attempt | Unprepared | WouldRun:
        """Attempt ``number`` of ``sid``, submitted at ``now`` (monotonic) / ``wall``."""
        state = self.state
        step = state.steps[sid]
        action = self._action.get(step.action)
        if action is None:
            action = self._action[step.action] = self.actions[step.action]
        templated = self.templated.get(sid)
        if action.parameters is None and templated is False:
            params = step.parameters  # nothing to render or structure (no call for it)
        else:
            try:
                params = self.parameters(step, action, templated)
            except (TemplateError, InvalidWorkflowError) as exc:
                return Unprepared(f"step '{sid}': {exc}")
        parents = state.parents[sid]
        # Parameters that hold an output a dry run did not produce were not structured
        # (see parameters()): calling the action with them would crash it, so report it.
        # A side-effect-free step downstream of one that did not run is not run either:
        # what it reads (a file the upstream step would write) may not exist yet.
        if self.dry_run and (action.side_effects or _has_unknown(params) or any(p in state.not_run for p in parents)):
            return WouldRun(self._would_run(step, params))
        results = state.results
        # An inline action runs now, on this thread, while nothing changes them: it reads
        # the variables themselves. Others get a snapshot (copied only when the variables
        # changed; a copy per step was quadratic in runs that set them).
        variables = self._live_vars if action.inline else self.variables_view()
        # A snapshot, O(degree); a root's is empty (no comprehension to call).
        outputs = {p: results[p]["output"] for p in parents if p in results} if parents else {}
        context = StepContext(
            run_id=self.run_id,
            workflow_id=self.workflow_id,
            step=step,
            attempt=number,
            variables=variables,
            outputs=outputs,
            workdir=self.workdir,
            dry_run=self.dry_run,
            secret_names=self._secret_names,
            resources=self.resources,
            resources_lock=self.resources_lock,
            output_line=None if self.output_line is None else functools.partial(self.output_line, sid),
        )
        attempt = Attempt(
            sid,
            number,
            action,
            params,
            context,
            step.timeout,
            submitted=now,
            wall_started=wall,
            halt=None if sid in state.triggered else self.halt,  # (cleanup runs after a cancel)
        )
        # Capture the rollback memo whenever the run is recorded in a store, not only
        # with rollback on: `wfe rollback RUN_ID` of a run made with --no-rollback /
        # enable_rollback=False compensates from the stored memos (without them every
        # handler-based compensation, e.g. file.write's, failed with "not captured").
        if self.capture_memos and step.rollback_action is None:
            capture = self._capture.get(step.action, _UNKNOWN)
            if capture is _UNKNOWN:
                handler = self.rollback_for(step.action)
                capture = self._capture[step.action] = None if handler is None else handler.prepare
            attempt.prepare = capture
        return attempt

    def parameters(self, step: WorkflowStep, action: Action, templated: bool | None = None) -> Any:
        """The step's parameters rendered and structured into the action's parameter class
        (``templated``: whether they hold placeholders, when the caller looked it up)."""
        params = step.parameters
        if templated is None:
            templated = self.templated.get(step.id)
        if templated is None:  # a fan-out instance: added to the run after this was built
            templated = self.templated[step.id] = has_placeholders(params)
        if templated:
            params = render(params, self.scope(step.id), action.quote)
        if action.parameters is not None and not (self.dry_run and _has_unknown(params)):
            params = structure(params, action.parameters, path="parameters")
        return params

    def _would_run(self, step: WorkflowStep, params: Any) -> str:
        shown = params if isinstance(params, dict) else _as_dict(params)
        # Mask secrets before repr(): repr escapes them (a backslash doubles), and the
        # masking of events afterwards no longer recognised them.
        shown = self.redact(shown)
        return f"dry run: would run {step.action} with {shown!r}"

    def settle_resources(self, log: Any) -> None:
        """Let per-run resources with a ``settle()`` finish abandoned work (see
        :mod:`wfe_core.run.subflow`): called once dispatch ended, before rollback."""
        for resource in list(self.resources.values()):
            settle = getattr(resource, "settle", None)
            if callable(settle):
                try:
                    settle()
                except Exception:
                    log.exception("settling a run resource failed")

    def close_resources(self, log: Any) -> None:
        """Close every per-run resource plugins kept (an HTTP session, …)."""
        for resource in self.resources.values():
            close = getattr(resource, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing a run resource failed")


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return isinstance(value, str) and "<steps." in value


def _as_dict(params: Any) -> Any:
    return attrs.asdict(params) if attrs.has(type(params)) else params
