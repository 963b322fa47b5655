"""wfe: a plugin-based workflow execution engine.

The public Python API: ``from wfe_core import WorkflowEngine, Workflow, WorkflowStep, ...``.
Names are imported on first use (PEP 562 module ``__getattr__``), so ``wfe --help`` and
plugins that only need :mod:`wfe_core.plugin` do not pay for the engine, SQLite, YAML
and asyncio at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "DEFAULT_TIMEOUT": "wfe_core.model.workflow",
    "Action": "wfe_core.plugin.capabilities",
    "ActionError": "wfe_core.model.errors",
    "CycleError": "wfe_core.model.errors",
    "DependencyGraph": "wfe_core.plan.graph",
    "Event": "wfe_core.plugin.capabilities",
    "InvalidWorkflowError": "wfe_core.model.errors",
    "Plan": "wfe_core.plan.plan",
    "PluginError": "wfe_core.model.errors",
    "Plugins": "wfe_core.plugin.registry",
    "Problem": "wfe_core.model.errors",
    "ProgressTracker": "wfe_core.run.progress",
    "Reporter": "wfe_core.plugin.capabilities",
    "ResumeError": "wfe_core.store.durable",
    "ReportLevel": "wfe_core.monitoring",
    "RollbackHandler": "wfe_core.plugin.capabilities",
    "RunStats": "wfe_core.model.workflow",
    "RunStatus": "wfe_core.model.workflow",
    "RunStore": "wfe_core.store.runstore",
    "StepCancelled": "wfe_core.model.context",
    "StepContext": "wfe_core.model.context",
    "StepRecord": "wfe_core.model.workflow",
    "StepResult": "wfe_core.model.workflow",
    "StatusReporter": "wfe_core.monitoring",
    "StepStatus": "wfe_core.model.workflow",
    "StoreError": "wfe_core.store.runstore",
    "Strategy": "wfe_core.plugin.capabilities",
    "TemplateError": "wfe_core.model.errors",
    "ValidationContext": "wfe_core.validate.validator",
    "ValidationResult": "wfe_core.validate.validator",
    "Validator": "wfe_core.plugin.capabilities",
    "WfeError": "wfe_core.model.errors",
    "Workflow": "wfe_core.model.workflow",
    "WorkflowEngine": "wfe_core.engine",
    "WorkflowLoader": "wfe_core.load.loader",
    "WorkflowStep": "wfe_core.model.workflow",
    "WorkflowValidator": "wfe_core.validate.validator",
    "hookimpl": "wfe_core.plugin.hookspecs",
    "load_plugins": "wfe_core.plugin.registry",
}

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
    "ReportLevel",
    "Reporter",
    "ResumeError",
    "RollbackHandler",
    "RunStats",
    "RunStatus",
    "RunStore",
    "StatusReporter",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wfe_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # what static checkers and IDEs see
    from wfe_core.engine import WorkflowEngine
    from wfe_core.load.loader import WorkflowLoader
    from wfe_core.model.context import StepCancelled, StepContext
    from wfe_core.model.errors import (
        ActionError,
        CycleError,
        InvalidWorkflowError,
        PluginError,
        Problem,
        TemplateError,
        WfeError,
    )
    from wfe_core.model.workflow import (
        DEFAULT_TIMEOUT,
        RunStats,
        RunStatus,
        StepRecord,
        StepResult,
        StepStatus,
        Workflow,
        WorkflowStep,
    )
    from wfe_core.monitoring import ReportLevel, StatusReporter
    from wfe_core.plan.graph import DependencyGraph
    from wfe_core.plan.plan import Plan
    from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, Strategy, Validator
    from wfe_core.plugin.hookspecs import hookimpl
    from wfe_core.plugin.registry import Plugins, load_plugins
    from wfe_core.run.progress import ProgressTracker
    from wfe_core.store.durable import ResumeError
    from wfe_core.store.runstore import RunStore, StoreError
    from wfe_core.validate.validator import ValidationContext, ValidationResult, WorkflowValidator
