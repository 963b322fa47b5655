"""wfe: a plugin-based workflow execution engine."""

from __future__ import annotations

from wfe_core.model.context import StepCancelled, StepContext
from wfe_core.model.errors import ActionError, CycleError, InvalidWorkflowError, PluginError, Problem, TemplateError, WfeError
from wfe_core.store.durable import ResumeError
from wfe_core.engine import WorkflowEngine
from wfe_core.plan.graph import DependencyGraph
from wfe_core.load.loader import WorkflowLoader
from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.model.workflow import DEFAULT_TIMEOUT, RunStats, RunStatus, StepRecord, StepResult, StepStatus, Workflow, WorkflowStep
from wfe_core.plan.plan import Plan
from wfe_core.plugin.registry import Plugins, load_plugins
from wfe_core.run.progress import ProgressTracker
from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, Strategy, Validator
from wfe_core.store.runstore import RunStore, StoreError
from wfe_core.validate.validator import ValidationContext, ValidationResult, WorkflowValidator

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "Action",
    "ActionError",
    "CycleError",
    "DependencyGraph",
    "Event",
    "InvalidWorkflowError",
    "Plan",
    "PluginError",
    "Plugins",
    "Problem",
    "ProgressTracker",
    "Reporter",
    "ResumeError",
    "RollbackHandler",
    "RunStats",
    "RunStatus",
    "RunStore",
    "StepCancelled",
    "StepContext",
    "StepRecord",
    "StepResult",
    "StepStatus",
    "StoreError",
    "Strategy",
    "TemplateError",
    "ValidationContext",
    "ValidationResult",
    "Validator",
    "WfeError",
    "Workflow",
    "WorkflowEngine",
    "WorkflowLoader",
    "WorkflowStep",
    "WorkflowValidator",
    "hookimpl",
    "load_plugins",
]
