"""The data model: workflows, steps, results and run statistics. No I/O here.

``Workflow`` and ``WorkflowStep`` are frozen attrs classes: what was loaded is what runs.
Their constructors check what can be checked without the plugin registry (empty or
duplicate ids, negative timeouts, a step depending on itself) and raise
:class:`~wfe_core.model.errors.InvalidWorkflowError` listing every problem.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from typing import Any

import attrs

from wfe_core.model.errors import InvalidWorkflowError, Problem, did_you_mean
from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.plan.expressions import ExpressionError, caret
from wfe_core.plan.expressions import parse as parse_expression
from wfe_core.plan.fanout import fanout_problems, instance_id_clashes

__all__ = [
    "DEFAULT_TIMEOUT",
    "TRIGGERS",
    "RunStats",
    "RunStatus",
    "StepRecord",
    "StepResult",
    "StepStatus",
    "Workflow",
    "WorkflowStep",
]

#: Seconds one attempt of a step may take when the step sets no ``timeout`` (one hour:
#: long enough for builds, short enough that a hung step does not hold a run forever).
DEFAULT_TIMEOUT = 3600.0

#: When a step runs relative to its dependencies: ``on_success`` (all succeeded, the
#: default), ``on_failure`` (all finished, at least one failed or timed out), ``always``
#: (all finished, whatever the outcome; also after a critical failure or a first Ctrl-C).
TRIGGERS = ("on_success", "on_failure", "always")


class StepStatus(str, enum.Enum):
    """Where a step is in its life."""

    PENDING = "pending"
    SKIPPED = "skipped"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"

    #: Whether a step in this status has ended (every status but pending and running).
    #: A plain attribute, set below: the run loop reads it several times per step.
    finished: bool


for _status in StepStatus:
    _status.finished = _status not in (StepStatus.PENDING, StepStatus.RUNNING)
del _status


class RunStatus(str, enum.Enum):
    """Where a run is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _steps(value: Iterable[WorkflowStep]) -> tuple[WorkflowStep, ...]:
    return tuple(value)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if value is not None else {}


def _resources(value: Any) -> Any:
    """``[database]`` means ``{database: 1}``; anything else is checked by ``_step_problems``."""
    if value is None:
        return {}
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return dict.fromkeys(value, 1)
    return dict(value) if isinstance(value, dict) else value


def _count_problems(resources: Any, field: str, owner: str) -> list[Problem]:
    if not isinstance(resources, dict):
        return [Problem(f"{owner}resources must be a list of names or a mapping of name to count", path=field)]
    out = []
    for name, count in resources.items():
        if not isinstance(name, str) or not name.strip():
            out.append(Problem(f"{owner}resource names must be non-empty strings, got {name!r}", path=field))
        elif not isinstance(count, int) or isinstance(count, bool) or count < 1:
            out.append(
                Problem(f"{owner}resource '{name}' needs a whole number >= 1, got {count!r}", path=f"{field}.{name}")
            )
    return out


def _plainly_valid(step: WorkflowStep) -> bool:
    """Whether ``step`` is one :func:`_step_problems` finds nothing in, decided quickly for
    the common step (defaults, or values of exactly their types); False means "look".

    Each test mirrors a check of :func:`_step_problems`, only stricter (``type(x) is``,
    not ``isinstance``), so whatever passes here passes there: building a 10,000-step
    file spent more time in the full checks than in constructing the steps.
    """
    sid, action, timeout, deps = step.id, step.action, step.timeout, step.dependencies
    numbers = (float, int)
    try:
        return (
            type(sid) is str
            and bool(sid.strip())
            and type(action) is str
            and bool(action.strip())
            and type(timeout) in numbers
            and timeout > 0  # False for NaN
            and type(step.max_retries) is int
            and step.max_retries >= 0
            and type(step.retry_delay) in numbers
            and step.retry_delay >= 0
            and type(step.retry_max_delay) in numbers
            and step.retry_max_delay >= 0
            and type(step.retry_backoff) in numbers
            and step.retry_backoff >= 1
            and type(step.resources) is dict
            and not step.resources
            and type(step.trigger) is str
            and step.trigger in TRIGGERS
            and step.when is None
            and step.for_each is None
            and step.matrix is None
            and step.exclude is None
            and step.max_parallel is None
            and sid not in deps
            and len(set(deps)) == len(deps)
        )
    except TypeError:  # an unhashable dependency: the full check says what it says
        return False


def _step_problems(step: WorkflowStep) -> list[Problem]:
    """Every problem of ``step`` the model can see (no registry needed)."""
    return [] if _plainly_valid(step) else _all_step_problems(step)


def _all_step_problems(step: WorkflowStep) -> list[Problem]:
    sid = step.id
    out: list[Problem] = []

    def bad(field: str, message: str) -> None:
        out.append(Problem(message, path=field, step_id=sid or None))

    if not isinstance(sid, str) or not sid.strip():
        bad("id", "step id must be a non-empty string")
    if not isinstance(step.action, str) or not step.action.strip():
        bad("action", f"step '{sid}': action must be a non-empty string")
    if not (isinstance(step.timeout, (int, float)) and step.timeout > 0 and not math.isnan(step.timeout)):
        bad("timeout", f"step '{sid}': timeout must be a positive number of seconds, got {step.timeout!r}")
    if not isinstance(step.max_retries, int) or isinstance(step.max_retries, bool) or step.max_retries < 0:
        bad("max_retries", f"step '{sid}': max_retries must be a whole number >= 0, got {step.max_retries!r}")
    for name in ("retry_delay", "retry_max_delay"):
        value = getattr(step, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            bad(name, f"step '{sid}': {name} must be a number >= 0, got {value!r}")
    if not isinstance(step.retry_backoff, (int, float)) or step.retry_backoff < 1:
        bad("retry_backoff", f"step '{sid}': retry_backoff must be a number >= 1, got {step.retry_backoff!r}")
    out.extend(
        attrs.evolve(p, step_id=sid or None) for p in _count_problems(step.resources, "resources", f"step '{sid}': ")
    )
    if step.trigger not in TRIGGERS:
        bad(
            "trigger",
            f"step '{sid}': trigger must be one of {', '.join(TRIGGERS)}, got {step.trigger!r}"
            f"{did_you_mean(str(step.trigger), TRIGGERS)}",
        )
    if step.when is not None:
        try:
            parse_expression(step.when)
        except ExpressionError as exc:
            bad("when", f"step '{sid}': when: {exc.message}\n{caret(step.when, exc.column)}")
    out.extend(fanout_problems(step))
    if sid in step.dependencies:
        bad("dependencies", f"step '{sid}' depends on itself")
    seen: set[str] = set()
    for dep in step.dependencies:
        if dep in seen:
            bad("dependencies", f"step '{sid}' lists dependency '{dep}' twice")
        seen.add(dep)
    return out


@attrs.frozen(kw_only=True)
class WorkflowStep:
    """One step of a workflow.

    Attributes:
        id: unique within the workflow; what ``dependencies`` and ``{steps.<id>…}`` name.
        action: the action to run, e.g. ``shell.execute``.
        name: human-readable name; defaults to ``id``.
        description: free text.
        parameters: the action's parameters; string values are templates (``{name}``).
        dependencies: ids of steps that must succeed before this one starts.
        timeout: seconds one attempt may take (default :data:`DEFAULT_TIMEOUT`).
        max_retries: extra attempts after a failure (default 0).
        retry_delay: seconds before the first retry (default 1).
        retry_backoff: factor the delay grows by per retry (default 2).
        retry_max_delay: cap on the delay between retries (default 60).
        critical: a failure fails the run (default true); non-critical failures skip
            only this step's dependents.
        parallel_group: steps sharing a group run together under the hybrid strategy.
        conditions: run variables that must hold the given values, else the step is skipped.
        trigger: ``on_success`` (default: every dependency succeeded), ``on_failure``
            (all ended, one failed or timed out) or ``always`` (all ended, whatever the
            outcome; also after a critical failure or a first Ctrl-C).
        resources: what the step holds while it runs: ``[database]`` (one unit each) or
            ``{database: 1}``; each must be declared in the workflow's ``resources``.
        when: an expression over run variables and upstream results, e.g.
            ``environment == 'production' and steps.test.output.failed == 0``; false
            skips the step; an undefined name is an error (grammar: README, "when expressions").
        for_each: run the step once per item: a list, or one placeholder naming a list
            known when the step becomes ready (``"{steps.list.output.items}"``); each
            instance (``id[0]``, ``id[1]``, …) sees ``{item}`` and ``{item_index}``.
        matrix: run the step once per combination of axis values, e.g.
            ``{os: [linux, mac], py: ["3.11", "3.12"]}``; instances
            (``id[os=linux,py=3.11]``, …) see ``{matrix.<axis>}``.
        exclude: combinations of a ``matrix`` not to run (partial ones match many).
        max_parallel: how many instances of a fan-out step may run at once.
        rollback_action: action that compensates this step after a critical failure.
        rollback_parameters: parameters of ``rollback_action`` (templated).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    id: str
    action: str
    name: str = attrs.field()
    description: str = ""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    dependencies: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = 0
    retry_delay: float = 1.0
    retry_backoff: float = 2.0
    retry_max_delay: float = 60.0
    critical: bool = True
    parallel_group: str | None = None
    conditions: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    trigger: str = "on_success"
    resources: Any = attrs.field(factory=dict, converter=_resources)
    when: str | None = None
    for_each: Any = None
    matrix: Any = None
    exclude: Any = None
    max_parallel: int | None = None
    rollback_action: str | None = None
    rollback_parameters: dict[str, Any] = attrs.field(factory=dict, converter=_dict)

    @name.default
    def _name_default(self) -> str:
        return self.id

    def __attrs_post_init__(self) -> None:
        problems = _step_problems(self)
        if problems:
            raise InvalidWorkflowError(problems)


@attrs.frozen(kw_only=True)
class Workflow:
    """A named DAG of steps.

    Attributes:
        id: the workflow's identifier.
        name: human-readable name; defaults to ``id``.
        description: free text.
        metadata: anything the author wants to keep with the workflow.
        variables: initial run variables (overridden by variables given at run time).
        secrets: names of environment variables holding secrets, usable as
            ``{secrets.NAME}`` and masked (``***``) in events, reports and the run store.
        resources: limited resources and how many running steps may hold each at once,
            e.g. ``{database: 1}``; a step declares what it holds in its ``resources``.
        steps: the steps, in file order; order carries no meaning beyond tie-breaking.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    id: str
    name: str = attrs.field()
    description: str = ""
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    variables: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    secrets: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    resources: dict[str, int] = attrs.field(factory=dict, converter=_dict)
    steps: tuple[WorkflowStep, ...] = attrs.field(default=(), converter=_steps)

    @name.default
    def _name_default(self) -> str:
        return self.id

    def __attrs_post_init__(self) -> None:
        problems: list[Problem] = []
        if not isinstance(self.id, str) or not self.id.strip():
            problems.append(Problem("workflow id must be a non-empty string", path="id"))
        problems.extend(_count_problems(self.resources, "resources", ""))
        seen: dict[str, int] = {}
        for index, step in enumerate(self.steps):
            if not isinstance(step, WorkflowStep):
                problems.append(Problem(f"expected a WorkflowStep, got {type(step).__name__}", path=f"steps[{index}]"))
                continue
            if step.id in seen:
                problems.append(
                    Problem(
                        f"duplicate step id '{step.id}' (first used by steps[{seen[step.id]}])",
                        path=f"steps[{index}].id",
                        step_id=step.id,
                    )
                )
            else:
                seen[step.id] = index
            if step.resources:  # most steps hold none
                problems.extend(self._resource_problems(step, index))
        problems.extend(instance_id_clashes(self.steps))
        if problems:
            raise InvalidWorkflowError(problems)

    def _resource_problems(self, step: WorkflowStep, index: int) -> list[Problem]:
        """A step holds only declared resources, no more units than exist."""
        if not isinstance(step.resources, dict) or not isinstance(self.resources, dict):
            return []
        out = []
        for name, count in step.resources.items():
            where = f"steps[{index}].resources"
            if not isinstance(name, str) or not isinstance(count, int):
                continue  # reported by the step
            if name not in self.resources:
                declared = ", ".join(sorted(self.resources)) or "none"
                out.append(
                    Problem(
                        f"step '{step.id}': undeclared resource '{name}'{did_you_mean(name, self.resources)}; "
                        f"declared resources: {declared}",
                        path=where,
                        step_id=step.id,
                    )
                )
            elif isinstance(self.resources[name], int) and count > self.resources[name]:
                out.append(
                    Problem(
                        f"step '{step.id}': needs {count} of resource '{name}', but only {self.resources[name]} exist",
                        path=f"{where}.{name}",
                        step_id=step.id,
                    )
                )
        return out

    def step(self, step_id: str) -> WorkflowStep:
        """Return the step with id ``step_id`` (``KeyError`` if there is none)."""
        for candidate in self.steps:
            if candidate.id == step_id:
                return candidate
        raise KeyError(step_id)


@attrs.define
class StepResult:
    """What an action returns: ``StepResult(success=True, output=...)``.

    Attributes:
        success: whether the action did its job.
        output: the action's output, reachable by later steps as ``{steps.<id>.output}``.
        error: why it failed, when it did.
        variables: run variables to set once this step succeeds (applied by the scheduler,
            so concurrent steps never lose each other's updates).
        metadata: anything else worth recording about the attempt.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq

    success: bool
    output: Any = None
    error: str | None = None
    variables: dict[str, Any] = attrs.field(factory=dict)
    metadata: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class StepRecord:
    """What happened to one step in a run.

    Attributes:
        step_id: the step.
        status: its :class:`StepStatus`.
        attempts: how many attempts started.
        output: the successful attempt's output; for a failed step, what its last failed
            attempt returned (a command's stdout/stderr), when it returned anything.
        error: the last attempt's error, for failed / timed-out steps.
        reason: why a step was skipped or cancelled (or, in a dry run, what would happen).
        started_at / finished_at: ``time.time()`` of the first start and the end.
        duration: seconds spent inside the action, summed over attempts.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq

    step_id: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    output: Any = None
    error: str | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration: float = 0.0


@attrs.define
class RunStats:
    """What :meth:`WorkflowEngine.execute_workflow` returns about a finished run.

    Attributes:
        run_id: the run's identifier (also the key of the run store).
        workflow_id: the workflow that ran.
        status: the run's final :class:`RunStatus`.
        total_steps / completed_steps / failed_steps / skipped_steps / cancelled_steps:
            step counts; ``completed_steps`` counts the steps that succeeded.
        total_execution_time: wall-clock seconds of the run.
        busy_time: seconds spent inside actions, summed over steps.
        parallel_efficiency: ``busy_time / (total_execution_time * workers)``, in [0, 1].
        steps: a :class:`StepRecord` per step id.
        variables: run variables at the end.
        error: why the run failed, when it did.
        rollback: after a failure with rollback on: ``complete`` (every compensation
            succeeded), ``partial`` (some failed) or ``nothing`` (nothing to undo).
        store: the run store file the run was recorded in, if any.
        plan: for a dry run, the plan: ``order``, ``levels`` and ``parallel_groups``.
        fanned_out: fan-out step id -> how many instances it has; the step counts
            as those instances in the totals above, not itself (``steps`` has both).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq

    run_id: str
    workflow_id: str
    status: RunStatus
    total_steps: int
    completed_steps: int = 0
    failed_steps: int = 0
    skipped_steps: int = 0
    cancelled_steps: int = 0
    total_execution_time: float = 0.0
    busy_time: float = 0.0
    parallel_efficiency: float = 0.0
    steps: dict[str, StepRecord] = attrs.field(factory=dict)
    variables: dict[str, Any] = attrs.field(factory=dict)
    error: str | None = None
    strategy: str = ""
    workers: int = 0
    dry_run: bool = False
    metadata: dict[str, Any] = attrs.field(factory=dict)
    rollback: str | None = None
    store: str | None = None
    plan: dict[str, Any] | None = None
    fanned_out: dict[str, int] = attrs.field(factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.SUCCEEDED
