"""Validating sub-workflows (``workflow.run`` steps) before anything runs.

For each ``workflow.run`` step whose ``path`` (or ``template``) is literal, the child is
loaded through the same loader and validated by every validator, this one included, so a
grandchild is checked too. The chain of files being validated is carried in a context
variable: a child already in it is an include cycle, reported once, on the step that closes
it, with that step's file and line (``a.yaml → b.yaml → a.yaml``). A missing file is a
problem of the parent's step and field. The child's own problems keep the child's file and
line. A templated ``path`` is checked when the step runs (see :mod:`wfe_core.run.subflow`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from wfe_core.load.templating import has_placeholders
from wfe_core.model.errors import InvalidWorkflowError, Problem
from wfe_core.run.subflow import MAX_DEPTH, include_key, show_chain

__all__ = ["check_includes", "validating_within"]

ACTION = "workflow.run"
#: The files (resolved) whose validation is under way, outermost first.
_CHAIN: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("wfe_include_chain", default=())


def check_includes(workflow: Any, context: Any) -> Iterator[Problem]:
    """Problems of every sub-workflow ``workflow`` includes (see the module's text)."""
    steps = [(i, s) for i, s in enumerate(workflow.steps) if s.action == ACTION and isinstance(s.parameters, dict)]
    if not steps:
        return
    own = include_key(context.source)
    chain = _CHAIN.get()
    if own is not None and (not chain or chain[-1] != own):
        chain = (*chain, own)
    base = Path(own).parent if own is not None and Path(own).is_file() else Path.cwd()
    for i, step in steps:
        params = step.parameters
        path, template = params.get("path"), params.get("template")
        if path is not None and template is not None:
            continue  # the parameter check says to give only one
        if isinstance(path, str) and not has_placeholders(path):
            target = base / path
            where = f"steps[{i}].parameters.path"
            if not _is_file(target):
                yield Problem(
                    f"step '{step.id}': sub-workflow file '{path}' not found (looked for {target})",
                    path=where,
                    step_id=step.id,
                )
                continue
            key = str(target.resolve())
        elif isinstance(template, str) and not has_placeholders(template):
            key, where = f"template '{template}'", f"steps[{i}].parameters.template"
        else:
            continue  # checked when the step runs
        if key in chain:
            cycle = (*chain[chain.index(key) :], key)  # the cycle alone, not the files that lead to it
            yield Problem(f"step '{step.id}': include cycle: {show_chain(cycle)}", path=where, step_id=step.id)
            continue
        if len(chain) > MAX_DEPTH:
            yield Problem(
                f"step '{step.id}': sub-workflows nested more than {MAX_DEPTH} deep", path=where, step_id=step.id
            )
            continue
        yield from _child_problems(step, params, key, chain, context)


def _child_problems(step: Any, params: dict[str, Any], key: str, chain: tuple[str, ...], context: Any) -> Any:
    """The child's own problems (with its file and line), found with ``key`` on the chain."""
    from wfe_core.load.catalog import TemplateCatalog
    from wfe_core.load.loader import WorkflowLoader
    from wfe_core.run.subflow import shown_path
    from wfe_core.validate.validator import WorkflowValidator

    variables = params.get("variables")
    variables = dict(variables) if isinstance(variables, dict) else {}
    is_file = not key.startswith("template '")
    shown = shown_path(key) if is_file else key
    try:
        if is_file:
            child = WorkflowLoader().load_from_file(key)
        else:
            if has_placeholders(variables):
                return []  # the template's parameters are known only at run time
            child = TemplateCatalog(context.plugins).load(params["template"], variables)
            variables = {}
    except InvalidWorkflowError as exc:
        return [_relayed(p, shown, step) for p in exc.problems]
    token = _CHAIN.set((*chain, key))
    try:
        validator = WorkflowValidator(context.plugins, actions=context.actions)
        result = validator.validate(child, strict=context.strict, source=key if is_file else None, variables=variables)
    finally:
        _CHAIN.reset(token)
    problems = list(result.problems)
    if is_file:
        mine = [p for p in problems if p.source in (None, key)]
        located = WorkflowLoader().locate([attrs.evolve(p, source=key) for p in mine], key)
        problems = located + [p for p in problems if p.source not in (None, key)]
    return [_relayed(p, shown, step) for p in problems]


def _relayed(problem: Problem, shown: str, step: Any) -> Problem:
    """A child's problem as the parent reports it: the child's file, and which step includes it."""
    source = shown if problem.source in (None, "") else _display(problem.source)
    message = problem.message
    if "include cycle:" not in message and "(sub-workflow of step" not in message:
        message += f" (sub-workflow of step '{step.id}')"
    return attrs.evolve(problem, source=source, message=message, step_id=step.id)


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; a name no file can have (a NUL byte, too long) is not."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _display(source: str) -> str:
    from wfe_core.run.subflow import shown_path

    return shown_path(source) if Path(source).is_absolute() else source


@contextlib.contextmanager
def validating_within(chain: tuple[str, ...]) -> Iterator[None]:
    """Validate as part of ``chain`` (a sub-workflow's engine validating its workflow)."""
    if not chain:
        yield
        return
    token = _CHAIN.set(chain)
    try:
        yield
    finally:
        _CHAIN.reset(token)
