"""Everything a plugin author needs, in one module: ``from wfe_core.plugin import ...``.

A plugin is a module (or object) with ``@hookimpl`` functions named after the hookspecs in
:mod:`wfe_core.plugin.hookspecs`, found through the ``wfe`` entry-point group. Its
registration hooks return the frozen capability records below; the core collects them.
wfe's own plugins (wfe-file, wfe-shell, wfe-http, ...) import nothing from wfe_core but
this module, so what they use is what a third party can use too.

The machinery behind it lives beside it: ``hookspecs`` (the contract), ``capabilities``
(the records), ``registry`` (building the plugin manager) and ``builtins/`` (the core's
own plugins, registered exactly like external ones).
"""

from __future__ import annotations

from wfe_core.load.convert import describe, structure
from wfe_core.model.context import StepCancelled, StepContext
from wfe_core.model.errors import ActionError, InvalidWorkflowError, Problem, did_you_mean
from wfe_core.model.workflow import StepResult, Workflow, WorkflowStep
from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, Strategy, Validator
from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.report.format import ReportFormat

__all__ = [
    "Action",
    "ActionError",
    "Event",
    "InvalidWorkflowError",
    "Problem",
    "ReportFormat",
    "Reporter",
    "RollbackHandler",
    "StepCancelled",
    "StepContext",
    "StepResult",
    "Strategy",
    "Validator",
    "Workflow",
    "WorkflowStep",
    "describe",
    "did_you_mean",
    "hookimpl",
    "structure",
]
