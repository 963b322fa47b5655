"""Checking a workflow before it runs: every registered validator, one result."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any

import attrs

from wfe_core.model.errors import Problem
from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.model.workflow import Workflow
from wfe_core.plugin.capabilities import Action
from wfe_core.plugin.registry import Plugins, load_plugins

__all__ = ["ValidationContext", "ValidationResult", "WorkflowValidator"]


@attrs.frozen
class ValidationContext:
    """The second argument of every validator's ``check(workflow, context)``.

    Attributes:
        plugins: the plugin registry (what actions exist, with their parameter classes).
        actions: every action usable in this run: the registry's plus custom actions
            registered on the engine.
        strict: strict validation; warnings count as errors. Validators need not look
            at it: report security findings as ``severity="warning"`` and strict mode
            turns them into errors.
        source: the file the workflow came from, if any.
        variables: run variables given at run time (on top of the workflow's own).
        executor: the executor the run will use (``threads``, ``dask`` …): what an
            executor plugin's validator checks for (e.g. values that must be picklable).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    plugins: Plugins
    actions: Mapping[str, Action]
    strict: bool = False
    source: str | None = None
    variables: Mapping[str, Any] = attrs.field(factory=dict)
    executor: str = "threads"


@attrs.frozen
class ValidationResult:
    """What :meth:`WorkflowValidator.validate` found.

    Attributes:
        problems: every problem, errors and warnings, in validator order.
        strict: whether warnings count as errors.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    problems: tuple[Problem, ...]
    strict: bool = False

    @property
    def errors(self) -> list[Problem]:
        """Errors, and under strict validation the warnings too (still marked as warnings;
        :meth:`failures` gives them as errors, for display)."""
        return [p for p in self.problems if p.severity == "error" or self.strict]

    def failures(self) -> list[Problem]:
        """:attr:`errors`, each marked an error: what a user is told stopped the run."""
        return [p if p.severity == "error" else attrs.evolve(p, severity="error") for p in self.errors]

    @property
    def warnings(self) -> list[Problem]:
        return [] if self.strict else [p for p in self.problems if p.severity == "warning"]

    @property
    def is_valid(self) -> bool:
        return not self.errors


class WorkflowValidator:
    """Runs every registered validator over a workflow.

    ``WorkflowValidator().validate(workflow, strict=True)`` as in the original specification; pass
    ``plugins=`` to validate against a particular registry, ``actions=`` to add actions
    that are not in it (an engine's custom actions).
    """

    def __init__(self, plugins: Plugins | None = None, actions: Mapping[str, Action] | None = None):
        self.plugins = plugins if plugins is not None else load_plugins()
        # A view, not a copy: copying would import every plugin to read its actions.
        self.actions: Mapping[str, Action] = (
            ChainMap(dict(actions), self.plugins.actions) if actions else self.plugins.actions  # type: ignore[arg-type]
        )

    def validate(
        self,
        workflow: Workflow,
        strict: bool = False,
        source: str | None = None,
        variables: Mapping[str, Any] | None = None,
        executor: str = "threads",
    ) -> ValidationResult:
        context = ValidationContext(
            self.plugins,
            self.actions,
            strict=strict,
            source=source,
            variables=dict(variables or {}),
            executor=executor,
        )
        problems: list[Problem] = []
        # Plugins not imported yet whose actions this workflow uses are imported now; the
        # validators of the others only check actions the workflow does not use.
        self.plugins.require_workflow(workflow)
        for name, validator in self.plugins.loaded_validators():
            try:
                found = list(validator.check(workflow, context) or ())
            except Exception as exc:  # a broken validator is itself a finding
                found = [Problem(f"validator '{name}' crashed: {type(exc).__name__}: {exc}")]
            problems.extend(p if p.source or not source else attrs.evolve(p, source=source) for p in found)
        return ValidationResult(tuple(problems), strict)

    def suggest_improvements(self, workflow: Workflow) -> list[str]:
        """Advice that is not a problem: steps nothing can undo, non-critical steps with
        dependents, an all-chain workflow, parallel groups whose members depend on each other."""
        from wfe_core.validate.advice import suggestions

        return suggestions(workflow, self.actions, self.plugins.rollback_for)
