"""What the scheduler records about a run: a thin, redacting layer over the run store.

:class:`NullJournal` records nothing (runs without a store); the scheduler calls the
same methods either way.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from wfe_core.model.secrets import Redactor
from wfe_core.model.workflow import RunStats, StepRecord, WorkflowStep
from wfe_core.store.encoding import compact_json, quoted
from wfe_core.store.runstore import RunStore

__all__ = ["Journal", "LazyFingerprints", "NullJournal", "fingerprint", "fingerprinted"]

#: Keys hashed only when set, with the value they have when unset: added later, a run
#: recorded before they existed keeps its fingerprints, so it can still be resumed. (The
#: keys always hashed are action, parameters, dependencies, conditions, rollback_action
#: and rollback_parameters.)
_FINGERPRINTED_IF_SET: dict[str, Any] = {
    "when": None,
    "trigger": "on_success",
    "resources": {},
    "for_each": None,
    "matrix": None,
    "exclude": None,
    "max_parallel": None,
}


# SHA-256 from CPython's own module where it has one: hashlib loads OpenSSL, ~2.5 ms of
# every start (every run fingerprints its steps). Same digest.
def _own_sha256() -> Any:
    for name in ("_sha256", "_sha2"):  # CPython 3.11; 3.12 and later
        try:
            return importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256


_sha256 = _own_sha256()

#: One encoder for every fingerprint: the same text as ``json.dumps(data, sort_keys=True,
#: default=repr, separators=(",", ":"))``, which old runs' fingerprints were made of.
_FINGERPRINT_JSON = compact_json(sort_keys=True)


def fingerprinted(step: WorkflowStep) -> dict[str, Any]:
    """The keys of ``step`` that :func:`fingerprint` hashes (the new keys only when set)."""
    data = {
        "action": step.action,
        "parameters": step.parameters,
        "dependencies": step.dependencies,
        "conditions": step.conditions,
        "rollback_action": step.rollback_action,
        "rollback_parameters": step.rollback_parameters,
    }
    for name, default in _FINGERPRINTED_IF_SET.items():
        value = getattr(step, name)
        if value is not default and value != default:
            data[name] = value
    return data


def fingerprint(step: WorkflowStep) -> str:
    """What a step does, hashed: resume refuses a finished step whose fingerprint changed."""
    return str(_sha256(_fingerprint_text(step).encode()).hexdigest()[:16])


def _fingerprint_text(step: WorkflowStep) -> str:
    """``_FINGERPRINT_JSON(fingerprinted(step))``, the same text, made faster for a step
    that sets none of the keys added later (most steps): its keys written in their
    sorted order, empty values as their text, the rest by the same encoder."""
    # Whether any key of _FINGERPRINTED_IF_SET is set, in one expression (a loop over
    # them was a fifth of a fingerprint's time); a test holds the two to the same keys.
    if not (
        step.when is None
        and step.trigger == "on_success"
        and step.resources == {}
        and step.for_each is None
        and step.matrix is None
        and step.exclude is None
        and step.max_parallel is None
    ):
        return _FINGERPRINT_JSON(fingerprinted(step))
    encode = _FINGERPRINT_JSON
    action, conditions, dependencies = step.action, step.conditions, step.dependencies
    rollback, undo, parameters = step.rollback_action, step.rollback_parameters, step.parameters
    return (
        '{"action":'
        + (quoted(action) if type(action) is str else encode(action))
        + ',"conditions":'
        + ("{}" if type(conditions) is dict and not conditions else encode(conditions))
        + ',"dependencies":'
        + ("[]" if type(dependencies) is tuple and not dependencies else encode(dependencies))
        + ',"parameters":'
        + ("{}" if type(parameters) is dict and not parameters else encode(parameters))
        + ',"rollback_action":'
        + ("null" if rollback is None else encode(rollback))
        + ',"rollback_parameters":'
        + ("{}" if type(undo) is dict and not undo else encode(undo))
        + "}"
    )


class LazyFingerprints(Mapping[str, str]):
    """Step id -> :func:`fingerprint` of ``steps``, computed on first look: a plugin that
    learns durations (``wfe_step_durations``) is given them for every run and may not
    look (wfe-claude-flow only does in coordinated runs); 10,000 steps take ~50 ms."""

    def __init__(self, steps: Sequence[WorkflowStep]):
        self._steps = steps
        self._all: dict[str, str] | None = None

    def _computed(self) -> dict[str, str]:
        if self._all is None:
            self._all = {step.id: fingerprint(step) for step in self._steps}
        return self._all

    def __getitem__(self, step_id: str) -> str:
        return self._computed()[step_id]

    def __iter__(self) -> Iterator[str]:
        return iter([step.id for step in self._steps])

    def __len__(self) -> int:
        return len(self._steps)


class NullJournal:
    """Records nothing."""

    path: Path | None = None

    @property
    def dirty(self) -> bool:
        """Whether writes wait for a commit."""
        return False

    def run_started(self, **fields: Any) -> None: ...
    def step_started(self, step_id: str, number: int, started_at: float) -> None: ...
    def steps_added(self, step: WorkflowStep, instances: list[tuple[Any, ...]]) -> None: ...
    def step_running(self, step_id: str, started_at: float) -> None: ...
    def attempt_finished(
        self,
        step_id: str,
        number: int,
        status: str,
        started_at: float | None,
        error: str | None,
        finished_at: float | None = None,
    ) -> None: ...
    def attempt_noted(self, step_id: str, number: int, **fields: Any) -> None: ...
    def step_finished(self, record: StepRecord, *, variables: Any, memo: Any, seq: int | None) -> None: ...
    def step_status(self, step_id: str, status: str, error: str | None = None) -> None: ...
    def commit(self) -> None: ...
    def run_finished(self, stats: RunStats) -> None: ...
    def run_crashed(self, error: str) -> None: ...
    def close(self) -> None: ...


class Journal(NullJournal):
    """Records a run in a :class:`RunStore`, with secrets sealed (see :mod:`wfe_core.model.secrets`)."""

    def __init__(self, store: RunStore, run_id: str, redact: Redactor, fingerprints: dict[str, str] | None = None):
        self.store = store
        self.fingerprints = fingerprints  # step id -> fingerprint, when already computed
        self.path = store.path
        self.run_id = run_id
        # Secrets become <<secret:NAME>>: resumable, never stored. That includes memos (a
        # file's previous content, base64-encoded, may hold one): unsealed for rollback.
        self.seal = redact.seal
        self.sealing = bool(redact)  # no secrets: sealing changes nothing (five calls per step saved)
        # A step's start goes straight to the store, bound to this run (no frame of its
        # own); so does an attempt's end when there is nothing to seal in its error.
        self.step_started = functools.partial(store.step_started, run_id)  # type: ignore[method-assign]
        if not self.sealing:
            self.attempt_finished = functools.partial(store.attempt_finished, run_id)  # type: ignore[method-assign]

    def run_started(  # type: ignore[override]  # NullJournal takes any fields and records none
        self,
        *,
        workflow: Any,
        source: str | None,
        definition: str | None,
        strategy: str,
        dry_run: bool,
        variables: dict[str, Any],
        resumed: bool,
    ) -> None:
        self.store.start_run(
            run_id=self.run_id,
            workflow_id=workflow.id,
            workflow_name=workflow.name,
            source=source,
            definition=definition,
            strategy=strategy,
            dry_run=dry_run,
            variables=self.seal(variables),
            step_ids=[(s.id, self._fingerprint(s)) for s in workflow.steps],
            resumed=resumed,
        )

    def _fingerprint(self, step: WorkflowStep) -> str:
        known = self.fingerprints
        return known[step.id] if known is not None and step.id in known else fingerprint(step)

    def steps_added(self, step: WorkflowStep, instances: list[tuple[Any, ...]]) -> None:
        """A fan-out ``step`` expanded into ``instances`` (id, item digest, item scope):
        each gets a row, with its item (sealed) for a rollback that cannot expand again.

        An instance's fingerprint is its step's and its item's (``<step>:<digest>``):
        resume refuses it when the step changed, and runs it again when the item did.
        """
        base = self._fingerprint(step)
        rows = [(iid, f"{base}:{digest}", self.seal(scope[0] if scope else None)) for iid, digest, *scope in instances]
        self.store.add_steps(self.run_id, step.id, rows)

    def step_running(self, step_id: str, started_at: float) -> None:
        """A fan-out step's first instance started: the step's row reads running."""
        self.store.step_running(self.run_id, step_id, started_at)

    def attempt_finished(
        self,
        step_id: str,
        number: int,
        status: str,
        started_at: float | None,
        error: str | None,
        finished_at: float | None = None,
    ) -> None:
        if error is not None and self.sealing:
            error = self.seal(error)
        self.store.attempt_finished(self.run_id, step_id, number, status, started_at, error, finished_at)

    def attempt_noted(self, step_id: str, number: int, **fields: Any) -> None:
        self.store.attempt_noted(self.run_id, step_id, number, **fields)

    def step_finished(self, record: StepRecord, *, variables: Any, memo: Any, seq: int | None) -> None:
        output, error, reason = record.output, record.error, record.reason
        if self.sealing:
            r = self.seal
            output, variables, memo, error, reason = r(output), r(variables), r(memo), r(error), r(reason)
        self.store.step_finished(
            self.run_id,
            record.step_id,
            record.status._value_,  # (.value is a property call)
            record.attempts,
            output,
            variables,
            memo,
            error,
            reason,
            record.started_at,
            record.finished_at,
            record.duration,
            seq,
        )

    def step_status(self, step_id: str, status: str, error: str | None = None) -> None:
        self.store.set_step_status(self.run_id, step_id, status, self.seal(error))

    @property
    def dirty(self) -> bool:
        """Whether writes wait for a commit."""
        return self.store.dirty

    def commit(self) -> None:
        self.store.commit()

    def run_finished(self, stats: RunStats) -> None:
        self.store.finish_run(
            self.run_id,
            status=stats.status.value,
            error=self.seal(stats.error),
            variables=self.seal(stats.variables),
            rollback=stats.rollback,
            workers=stats.workers or None,
            elapsed=stats.total_execution_time,
            work=stats.busy_time,
        )

    def run_crashed(self, error: str) -> None:
        self.store.mark_failed(self.run_id, self.seal(error))

    def close(self) -> None:
        self.store.close()
