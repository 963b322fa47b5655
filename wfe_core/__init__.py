"""wfe: a plugin-based workflow execution engine."""

from __future__ import annotations

from .context import StepCancelled, StepContext
from .errors import ActionError, CycleError, InvalidWorkflowError, PluginError, Problem, TemplateError, WfeError
from .graph import DependencyGraph
from .hookspecs import hookimpl
from .model import DEFAULT_TIMEOUT, RunStats, RunStatus, StepResult, StepStatus, Workflow, WorkflowStep
from .plugins import Plugins, load_plugins
from .records import Action, Event, Reporter, RollbackHandler, Strategy, Validator

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "Action",
    "ActionError",
    "CycleError",
    "DependencyGraph",
    "Event",
    "InvalidWorkflowError",
    "PluginError",
    "Plugins",
    "Problem",
    "Reporter",
    "RollbackHandler",
    "RunStats",
    "RunStatus",
    "StepCancelled",
    "StepContext",
    "StepResult",
    "StepStatus",
    "Strategy",
    "TemplateError",
    "Validator",
    "WfeError",
    "Workflow",
    "WorkflowStep",
    "hookimpl",
    "load_plugins",
]
