"""What an action sees while it runs: :class:`StepContext`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from wfe_core.model.records import fields_eq, fields_repr

__all__ = ["CancelToken", "StepCancelled", "StepContext"]

_GUARD = threading.Lock()


class StepCancelled(Exception):
    """Raised by :meth:`StepContext.check_cancelled` once the step's time is up."""


class CancelToken:
    """A ``threading.Event`` look-alike that costs nothing until someone waits on it.

    One exists per attempt, so a real Event (a Condition and two locks) per step was a
    measurable share of the per-step overhead; most actions never wait.
    """

    __slots__ = ("_event", "_flag")

    def __init__(self) -> None:
        self._flag = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        with _GUARD:
            event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        with _GUARD:
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        if self._flag:  # set() ran before the event existed
            event.set()
        return event.wait(timeout)


@attrs.define(kw_only=True)
class StepContext:
    """The second argument of every action: ``func(parameters, context)``.

    Attributes:
        run_id: the run this attempt belongs to.
        workflow_id: the workflow's id.
        step: the :class:`~wfe_core.model.workflow.WorkflowStep` being run.
        attempt: 1 for the first attempt, 2 for the first retry, …
        variables: a read-only snapshot of run variables as the step started (for an
            ``inline`` action, a read-only view of them: they do not change while it runs).
        outputs: outputs of the step's direct dependencies, by step id (a snapshot;
            any upstream output is reachable through templates: ``{steps.<id>.output}``).
        workdir: the directory relative paths resolve against.
        dry_run: true when the run is a dry run (only side-effect-free actions are called).
        cancel_event: set when the attempt timed out or the run was cancelled (a
            :class:`CancelToken`: ``is_set()``, ``wait(timeout)``, like an Event). Python
            cannot interrupt a running function, so a long action should poll
            :attr:`cancelled` (or sleep through :meth:`sleep`) and stop early; its result
            is discarded once the event is set.
        resources: per-run shared objects plugins may keep (an HTTP session, …), keyed
            by plugin; use :meth:`resource` to get-or-create one.
        log: a logger named after the step.
        secret_names: the run's declared secrets (names of environment variables). Actions
            that start processes keep these out of a child's environment unless the step
            uses them, so a secret reaches only the steps that need it.
        output_line: ``output_line(stream, text)`` or None: an action that produces output
            while it runs (a shell command) may call it with each line (``stream`` is
            ``stdout`` or ``stderr``) so ``wfe run --output`` can show it live. Optional:
            check for None; what an action returns stays its recorded output.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq

    run_id: str
    workflow_id: str
    step: Any
    attempt: int = 1
    variables: Mapping[str, Any] = attrs.field(factory=dict)
    outputs: Mapping[str, Any] = attrs.field(factory=dict)
    workdir: Path = attrs.field(factory=Path.cwd)
    dry_run: bool = False
    cancel_event: CancelToken = attrs.field(factory=CancelToken)
    resources: dict[str, Any] = attrs.field(factory=dict)
    resources_lock: threading.Lock = attrs.field(factory=threading.Lock)
    log: logging.Logger = attrs.field(default=logging.getLogger("wfe.step"))
    secret_names: frozenset[str] = frozenset()
    output_line: Callable[[str, str], None] | None = None

    @property
    def cancelled(self) -> bool:
        """Whether the step should stop now."""
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`StepCancelled` if the step should stop now."""
        if self.cancel_event.is_set():
            raise StepCancelled(f"step '{self.step.id}' was cancelled")

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking early on cancellation; true if it slept fully."""
        return not self.cancel_event.wait(seconds)

    def resolve_path(self, path: str | Path) -> Path:
        """``path`` made absolute against :attr:`workdir`."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.workdir / p

    def resource(self, key: str, factory: Any) -> Any:
        """The run-wide object stored under ``key``, created by ``factory()`` on first use."""
        with self.resources_lock:
            if key not in self.resources:
                self.resources[key] = factory()
            return self.resources[key]
