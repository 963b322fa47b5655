"""wfe: a plugin-based workflow execution engine."""

from __future__ import annotations

from .context import StepCancelled, StepContext
from .errors import ActionError, CycleError, InvalidWorkflowError, PluginError, Problem, TemplateError, WfeError
from .durable import ResumeError
from .engine import WorkflowEngine
from .graph import DependencyGraph
from .loader import WorkflowLoader
from .hookspecs import hookimpl
from .model import DEFAULT_TIMEOUT, RunStats, RunStatus, StepRecord, StepResult, StepStatus, Workflow, WorkflowStep
from .plan import Plan
from .plugins import Plugins, load_plugins
from .progress import ProgressTracker
from .records import Action, Event, Reporter, RollbackHandler, Strategy, Validator
from .store import RunStore, StoreError
from .validation import ValidationContext, ValidationResult, WorkflowValidator

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
