"""What an action sees while it runs: :class:`StepContext`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = ["StepCancelled", "StepContext"]


class StepCancelled(Exception):
    """Raised by :meth:`StepContext.check_cancelled` once the step's time is up."""


@attrs.frozen(kw_only=True)
class StepContext:
    """The second argument of every action: ``func(parameters, context)``.

    Attributes:
        run_id: the run this attempt belongs to.
        workflow_id: the workflow's id.
        step: the :class:`~wfe_core.model.WorkflowStep` being run.
        attempt: 1 for the first attempt, 2 for the first retry, …
        variables: a read-only snapshot of run variables as the step started.
        outputs: outputs of the step's upstream steps, by step id.
        workdir: the directory relative paths resolve against.
        dry_run: true when the run is a dry run (only side-effect-free actions are called).
        cancel_event: set when the attempt timed out or the run was cancelled. Python
            cannot interrupt a running function, so a long action should poll
            :attr:`cancelled` (or sleep through :meth:`sleep`) and stop early; its result
            is discarded once the event is set.
        resources: per-run shared objects plugins may keep (an HTTP session, …), keyed
            by plugin; use :meth:`resource` to get-or-create one.
        log: a logger named after the step.
    """

    run_id: str
    workflow_id: str
    step: Any
    attempt: int = 1
    variables: Mapping[str, Any] = attrs.field(factory=dict)
    outputs: Mapping[str, Any] = attrs.field(factory=dict)
    workdir: Path = attrs.field(factory=Path.cwd)
    dry_run: bool = False
    cancel_event: threading.Event = attrs.field(factory=threading.Event)
    resources: dict[str, Any] = attrs.field(factory=dict)
    resources_lock: threading.Lock = attrs.field(factory=threading.Lock)
    log: logging.Logger = attrs.field(default=logging.getLogger("wfe.step"))

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
