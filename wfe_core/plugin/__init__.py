"""Everything a plugin author needs, in one module: ``from wfe_core.plugin import ...``.

A plugin is a module (or object) with ``@hookimpl`` functions named after the hookspecs in
:mod:`wfe_core.plugin.hookspecs`, found through the ``wfe`` entry-point group. Its
registration hooks return the frozen capability records below; the core collects them.
wfe's own plugins (wfe-file, wfe-shell, wfe-http, ...) import nothing from wfe_core but
this module, so what they use is what a third party can use too.

What is here:

- the hook marker :data:`hookimpl` and the records :class:`Action`, :class:`Strategy`,
  :class:`Validator`, :class:`Reporter`, :class:`RollbackHandler`, :class:`Event`;
- what actions receive and return: :class:`StepContext`, :class:`StepResult`,
  :class:`ActionError`, :class:`StepCancelled`;
- what validators receive and return: :class:`Workflow`, :class:`WorkflowStep`,
  :class:`Problem`, :class:`InvalidWorkflowError`, :func:`did_you_mean`;
- parameter classes: :func:`structure` (the core's strict converter), :func:`describe`,
  :func:`positive_seconds`; :func:`fields_repr`, :func:`fields_eq`, :func:`fields_hash`
  (``__repr__ = fields_repr`` ... in an attrs class body: attrs' own behaviour, without
  attrs compiling those methods for the class at every start);
- helpers the plugins would otherwise each rewrite: :func:`is_templated`,
  :func:`action_calls` / :class:`ActionCall`, :func:`looks_secret` (for validators);
  :func:`backoff_delay`, :func:`os_errors` / :func:`describe_os_error` (for actions).

The machinery behind it lives beside it: ``hookspecs`` (the contract), ``capabilities``
(the records), ``registry`` (building the plugin manager) and ``builtins/`` (the core's
own plugins, registered exactly like external ones).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wfe_core.load.convert import describe, structure
from wfe_core.model.context import CancelToken, StepCancelled, StepContext
from wfe_core.model.errors import ActionError, InvalidWorkflowError, Problem, WfeError, did_you_mean
from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.model.workflow import StepResult, Workflow, WorkflowStep
from wfe_core.plugin.capabilities import Action, Event, Reporter, RollbackHandler, StepExecutor, Strategy, Validator
from wfe_core.plugin.checks import ActionCall, action_calls, is_templated, looks_secret, template_names, template_paths
from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.plugin.os_errors import describe_os_error, os_errors
from wfe_core.plugin.parameters import positive_seconds
from wfe_core.plugin.retry import backoff_delay

if TYPE_CHECKING:
    from wfe_core.load.templates import Template, TemplateParameter, load_template_file
    from wfe_core.plugin.remote import RemoteContext, remote_context, run_remote_attempt
    from wfe_core.report.format import ReportFormat

#: Names imported on first use (PEP 562): few plugins need them, and their modules (attrs
#: classes) cost ~7 ms on every start.
_LAZY = {
    "Template": "wfe_core.load.templates",
    "TemplateParameter": "wfe_core.load.templates",
    "load_template_file": "wfe_core.load.templates",
    "RemoteContext": "wfe_core.plugin.remote",
    "remote_context": "wfe_core.plugin.remote",
    "run_remote_attempt": "wfe_core.plugin.remote",
    "ReportFormat": "wfe_core.report.format",
}

__all__ = [
    "Action",
    "ActionCall",
    "ActionError",
    "CancelToken",
    "Event",
    "InvalidWorkflowError",
    "Problem",
    "RemoteContext",
    "ReportFormat",
    "Reporter",
    "RollbackHandler",
    "StepCancelled",
    "StepContext",
    "StepExecutor",
    "StepResult",
    "Strategy",
    "Template",
    "TemplateParameter",
    "Validator",
    "WfeError",
    "Workflow",
    "WorkflowStep",
    "action_calls",
    "backoff_delay",
    "describe",
    "describe_os_error",
    "did_you_mean",
    "fields_eq",
    "fields_hash",
    "fields_repr",
    "hookimpl",
    "is_templated",
    "load_template_file",
    "looks_secret",
    "os_errors",
    "positive_seconds",
    "remote_context",
    "run_remote_attempt",
    "structure",
    "template_names",
    "template_paths",
]


def __getattr__(name: str) -> Any:
    """One of the :data:`_LAZY` names, imported now (and kept in this module's namespace)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
