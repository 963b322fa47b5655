"""``workflow.run`` (plugin ``wfe.subworkflows``): run another workflow as one step.

.. code-block:: yaml

    - id: deploy
      action: workflow.run
      parameters: {path: deploy.yaml, variables: {release: "{release}"}}

How a child runs, is stored, resumed, rolled back and cancelled is in
:mod:`wfe_core.run.subflow`; what validation checks (missing files, include cycles, the
child's own problems) is in :mod:`wfe_core.validate.includes`.
"""

from __future__ import annotations

from typing import Any

import attrs

from wfe_core.model.workflow import StepResult
from wfe_core.plugin.capabilities import Action, RollbackHandler, Validator
from wfe_core.plugin.hookspecs import hookimpl

__all__ = ["RunParams", "wfe_actions", "wfe_validators", "workflow_run"]


def _one_source(instance: Any, attribute: Any, value: Any) -> None:
    if (instance.path is None) == (instance.template is None):
        raise ValueError("give exactly one of 'path' (a workflow file) and 'template' (a template name)")


@attrs.frozen
class RunParams:
    """Which workflow to run as this step, and with what. Give ``path`` or ``template``.

    Attributes:
        path: the workflow file (YAML, JSON or TOML), relative to this workflow's file.
        template: the name of a workflow template (see ``wfe templates``).
        variables: run variables for the child (for ``template``: its parameters).
    """

    path: str | None = None
    template: str | None = attrs.field(default=None, validator=_one_source)
    variables: dict[str, Any] = attrs.field(factory=dict)


def workflow_run(params: RunParams, context: Any) -> StepResult:
    """Run the child workflow; the output is ``{run_id, steps: {id: output}, variables}``."""
    from wfe_core.run.subflow import run_child

    return run_child(params, context)


def _prepare(params: Any, context: Any) -> Any:
    from wfe_core.run.subflow import prepare_memo

    return prepare_memo(params, context)


def _compensate(params: Any, context: Any, memo: Any, output: Any) -> None:
    from wfe_core.run.subflow import compensate_child

    compensate_child(params, context, memo, output)


def _check(workflow: Any, context: Any) -> Any:
    from wfe_core.validate.includes import check_includes

    return check_includes(workflow, context)


@hookimpl
def wfe_actions() -> list[Action]:
    return [
        Action(
            "workflow.run",
            workflow_run,
            RunParams,
            # A dry run of the parent runs the child as a dry run too: still side-effect free.
            side_effects=False,
            rollback=RollbackHandler("workflow.run", _compensate, _prepare),
            runs_on_driver=True,
            description="Run another workflow (a file or a template) as one step.",
        )
    ]


@hookimpl
def wfe_validators() -> list[Validator]:
    return [
        Validator(
            "wfe.includes",
            _check,
            "Sub-workflows (workflow.run) exist, are valid, and include no workflow that includes them.",
            # It looks at workflow.run steps only: a workflow without one leaves this plugin unimported.
            actions=("workflow.run",),
        )
    ]
