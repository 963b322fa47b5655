"""One attempt of one step, on a pool thread: call the action, normalise what it gave."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import attrs

from wfe_core.model.context import StepCancelled, StepContext
from wfe_core.model.errors import ActionError
from wfe_core.model.nesting import LEAF_TYPES, MAX_NESTING, too_deep
from wfe_core.model.records import fields_repr
from wfe_core.model.workflow import StepResult
from wfe_core.plugin.capabilities import Action

__all__ = ["Attempt", "Halt", "run_attempt"]

log = logging.getLogger("wfe.executor")


class Halt:
    """The run's cancel, as pool threads see it: raised by ``RunLoop.cancel`` on the
    caller's thread, before the scheduler hears of it. An attempt that has not begun when
    it is raised does not begin (its step ends cancelled): no action starts after
    ``cancel_workflow()`` returned. ``cancelled`` is a plain attribute, read once per
    attempt (an Event's ``is_set()`` is a call).

    A sub-workflow's run adopts its Halt into its parent run's (:meth:`adopt`), so raising
    the parent's raises the child's at once, at any depth: a child's steps do not begin
    after the parent's cancel returned either (the child's scheduler, reading a halted
    attempt, cancels its run).
    """

    __slots__ = ("_children", "_lock", "cancelled")

    def __init__(self) -> None:
        self.cancelled = False
        self._children: list[Halt] = []
        self._lock = threading.Lock()

    def raise_(self) -> None:
        """Cancel: this run's attempts, and its sub-workflows', not yet begun do not begin."""
        with self._lock:
            self.cancelled = True
            children = list(self._children)
        for child in children:
            child.raise_()

    def adopt(self, child: Halt) -> None:
        """``child`` (a sub-workflow run's) is raised with this one (now, if this one is)."""
        with self._lock:
            self._children.append(child)
            raised = self.cancelled
        if raised:
            child.raise_()

    def disown(self, child: Halt) -> None:
        """``child``'s run ended."""
        with self._lock:
            self._children.remove(child)


#: A halted attempt's error (recorded with its attempt; the step ends cancelled).
HALTED = "not started: the run was cancelled"


@attrs.define(eq=False)
class Attempt:
    """One attempt in flight. The pool thread fills ``result``, ``started`` and ``ended``.

    ``abandoned`` is set by the scheduler when it stops waiting (timeout, cancellation);
    whatever the thread returns afterwards is discarded. ``halt`` is the run's
    :class:`Halt` (``None`` for a step that runs even after a cancel: ``trigger: always`` /
    ``on_failure``); ``halted`` says the attempt did not begin because of it.
    """

    __repr__ = fields_repr  # attrs' text, without compiling one per class

    step_id: str
    number: int
    action: Action
    parameters: Any
    context: StepContext
    timeout: float
    submitted: float = 0.0
    wall_started: float | None = None
    started: float | None = None
    ended: float | None = None
    result: StepResult | None = None
    abandoned: bool = False
    future: Any = None
    prepare: Any = None  # the rollback handler's prepare(parameters, context), when it will be needed
    memo: Any = None
    halt: Halt | None = None
    halted: bool = False


def run_attempt(attempt: Attempt) -> Attempt:
    """Run ``attempt`` and store a :class:`StepResult`; never raises."""
    attempt.started = time.monotonic()
    halt = attempt.halt
    if halt is not None and halt.cancelled:
        return _halted(attempt)
    if attempt.prepare is not None:
        try:
            attempt.memo = attempt.prepare(attempt.parameters, attempt.context)
        except Exception as exc:
            attempt.result = StepResult(
                success=False, error=f"could not capture what rollback needs: {type(exc).__name__}: {exc}"
            )
            attempt.ended = time.monotonic()
            return attempt
        if halt is not None and halt.cancelled:  # raised while it captured (a file's bytes: it takes a while)
            return _halted(attempt)
    try:
        value = attempt.action.func(attempt.parameters, attempt.context)
        if isinstance(value, StepResult):
            result = value
            if not result.success and not result.error:
                result.error = "the action reported failure without an error message"
        else:
            result = StepResult(success=True, output=value)
    except ActionError as exc:
        result = StepResult(success=False, error=str(exc), output=exc.output)
    except StepCancelled as exc:
        result = StepResult(success=False, error=str(exc))
    except OSError as exc:  # escaped the action's own handling: say it in words, not "[Errno 36] ..."
        result = StepResult(success=False, error=_os_error_words(attempt, exc))
    except Exception as exc:
        log.debug("step %s raised", attempt.step_id, exc_info=True)
        result = StepResult(success=False, error=f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # SystemExit from an action must not kill the worker
        if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
            raise  # Ctrl-C landed in an inline action on the caller's thread: the caller's to handle
        result = StepResult(success=False, error=f"the action raised {type(exc).__name__}: {exc}")
    if result.success:
        output = result.output
        # (Most steps return None or a scalar and set no variables: nothing to walk.)
        if result.variables or not (output is None or type(output) in LEAF_TYPES):
            result = _bounded_nesting(result)
    attempt.result = result
    attempt.ended = time.monotonic()
    return attempt


def _halted(attempt: Attempt) -> Attempt:
    """``attempt`` does not begin: the run was cancelled (see :class:`Halt`)."""
    attempt.halted = True
    attempt.result = StepResult(success=False, error=HALTED)
    attempt.ended = time.monotonic()
    return attempt


def _os_error_words(attempt: Attempt, exc: OSError) -> str:
    """``file.write could not use '/a/b': file name too long`` from ``OSError(36, ...)``."""
    cause = (exc.strerror or str(exc)).rstrip(".")
    cause = cause[:1].lower() + cause[1:]
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    shown = " and ".join(f"'{os.fsdecode(p)}'" for p in paths)
    return f"{attempt.action.name} could not use {shown}: {cause}" if shown else f"{attempt.action.name}: {cause}"


def _bounded_nesting(result: StepResult) -> StepResult:
    """A failure instead of an output (or variables) nested past :data:`MAX_NESTING`:
    masking, the store and templating could not walk it (see :mod:`wfe_core.model.nesting`)."""
    what, where = "output", too_deep(result.output)
    if where is None and result.variables:  # most steps set none: one walk, not two
        what, where = "variables it sets", too_deep(result.variables)
    if where is None:
        return result
    return StepResult(
        success=False,
        error=f"the step's {what} is nested more than {MAX_NESTING} "
        f"levels deep (lists and mappings inside each other, at {where})",
    )
