"""Test helpers for plugin authors (and wfe's own tests). Opt in with
``pytest -p wfe_core.testing`` or ``pytest_plugins = ["wfe_core.testing"]``.

Fixtures:
    ``wfe_isolated_store`` (autouse): ``$WFE_STORE`` points at ``tmp_path / "runs.sqlite"``,
    so runs a test makes are never recorded in the user's store.
    ``wfe_plugins``: a hermetic registry factory — ``wfe_plugins(my_plugin)`` gives the
    built-ins plus exactly the plugins named, with entry-point autoloading off.
    ``wfe_context``: a factory for a real :class:`StepContext` rooted in ``tmp_path``:
    ``wfe_context(action="my.act", step_id="s", timeout=5, dry_run=True)``.
    ``wfe_call``: :func:`call_action`, calling an action as the core does.

Functions: :func:`hermetic_plugins`, :func:`make_context` (the fixtures' factories, for
use outside fixtures) and :func:`call_action` (call an action as the core does).

:class:`ActionContract` is a base class of shared tests every action should pass:
subclass it, set ``plugin`` (your plugin module) and ``action_name``, and give
``valid_parameters`` (a dict the action accepts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import pytest

from wfe_core.load.convert import structure
from wfe_core.model.context import StepContext
from wfe_core.model.errors import InvalidWorkflowError
from wfe_core.model.workflow import StepResult, Workflow, WorkflowStep
from wfe_core.plugin.capabilities import Action
from wfe_core.plugin.registry import Plugins, load_plugins
from wfe_core.validate.validator import WorkflowValidator

__all__ = ["ActionContract", "call_action", "cli_channels", "hermetic_plugins", "make_context", "secret_traces"]


def hermetic_plugins(*plugins: Any, **named: Any) -> Plugins:
    """Built-ins plus exactly these plugins; no entry points, strict loading."""
    extra = {getattr(p, "__name__", repr(p)): p for p in plugins}
    extra.update(named)
    return load_plugins(autoload=False, strict=True, extra=extra)


def make_context(
    workdir: Any,
    step: WorkflowStep | None = None,
    *,
    action: str = "test",
    step_id: str = "step",
    timeout: float | None = None,
    **fields: Any,
) -> StepContext:
    """A real :class:`StepContext` for calling an action directly.

    Args:
        workdir: the step's working directory (``fields["workdir"]`` wins if given).
        step: the step being run; else a step ``step_id`` calling ``action``, with
            ``timeout`` seconds if given.
        fields: further :class:`StepContext` fields (``dry_run``, ``variables``, ...).
    """
    if step is None:
        step = (
            WorkflowStep(id=step_id, action=action)
            if timeout is None
            else WorkflowStep(id=step_id, action=action, timeout=timeout)
        )
    fields.setdefault("workdir", workdir)
    return StepContext(run_id="test-run", workflow_id="test", step=step, **fields)


def call_action(action: Action, parameters: Any, context: StepContext) -> Any:
    """Call ``action`` as the core does: ``parameters`` (a dict) structured into its
    parameter class first — unknown keys and bad values raise
    :class:`~wfe_core.model.errors.InvalidWorkflowError` — then ``action.func``."""
    if action.parameters is not None:
        parameters = structure(parameters, action.parameters)
    return action.func(parameters, context)


@pytest.fixture(autouse=True)
def wfe_isolated_store(tmp_path: Any, monkeypatch: Any) -> Any:
    """Runs made in a test are recorded in a store under ``tmp_path``, never the user's."""
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("WFE_STORE", str(path))
    return path


@pytest.fixture
def wfe_plugins() -> Callable[..., Plugins]:
    """:func:`hermetic_plugins`: ``wfe_plugins(my_plugin)`` is the built-ins plus ``my_plugin``."""
    return hermetic_plugins


@pytest.fixture
def wfe_context(tmp_path: Any) -> Callable[..., StepContext]:
    """:func:`make_context` rooted in ``tmp_path``: ``wfe_context(action="x.y", dry_run=True)``."""
    return lambda step=None, **fields: make_context(fields.pop("workdir", tmp_path), step, **fields)


@pytest.fixture
def wfe_call() -> Callable[[Action, Any, StepContext], Any]:
    """:func:`call_action`: ``wfe_call(action, {"path": "x"}, context)`` runs it as the core does."""
    return call_action


class ActionContract:
    """Shared tests for one action. Subclass with ``plugin``, ``action_name``, ``valid_parameters``."""

    plugin: Any = None
    action_name: str = ""
    valid_parameters: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def action(self) -> Action:
        registry = hermetic_plugins(self.plugin)
        assert self.action_name in registry.actions, f"{self.plugin!r} does not provide '{self.action_name}'"
        return registry.actions[self.action_name]

    def test_record_is_well_formed(self, action: Action) -> None:
        assert "." in action.name or action.name.isidentifier()
        assert callable(action.func)
        assert action.description, "give the action a one-line description for `wfe plugins`"
        if action.parameters is not None:
            assert attrs.has(action.parameters), "parameters must be an attrs class"
            assert action.parameters.__doc__, "document the parameters in the class docstring"
        if action.rollback is not None:
            assert action.rollback.action == action.name

    def test_valid_parameters_structure(self, action: Action) -> None:
        if action.parameters is not None:
            structure(self.valid_parameters, action.parameters)

    def test_unknown_parameter_is_refused_with_a_did_you_mean(self, action: Action) -> None:
        if action.parameters is None or not self.valid_parameters:
            pytest.skip("the action takes free-form parameters")
        key = next(iter(self.valid_parameters))
        typo = key[:-1] + ("x" if key[-1] != "x" else "y")
        bad = {**{k: v for k, v in self.valid_parameters.items() if k != key}, typo: self.valid_parameters[key]}
        with pytest.raises(InvalidWorkflowError) as info:
            structure(bad, action.parameters)
        assert f"unknown key '{typo}'" in str(info.value)

    def test_validates_in_a_workflow(self, action: Action) -> None:
        workflow = Workflow(
            id="contract", steps=(WorkflowStep(id="s", action=self.action_name, parameters=self.valid_parameters),)
        )
        result = WorkflowValidator(hermetic_plugins(self.plugin)).validate(workflow)
        assert result.is_valid, [str(p) for p in result.errors]

    def test_returns_a_result_or_raises(self, action: Action, tmp_path: Any) -> None:
        """The action runs with a real context and the valid parameters without raising."""
        if action.side_effects and not getattr(self, "run_side_effects", False):
            pytest.skip("set run_side_effects = True to run an action with side effects here")
        params = self.valid_parameters
        if action.parameters is not None:
            params = structure(params, action.parameters)
        value = action.func(params, make_context(tmp_path, action=action.name))
        if isinstance(value, StepResult):
            assert isinstance(value.success, bool)
            assert value.success or value.error, "a failed StepResult needs an error message"


def secret_traces(data: str | bytes, secret: str, *, piece: int = 8) -> list[str]:
    """Traces of ``secret`` in ``data``: any ``piece`` characters in a row of any of its forms.

    The forms are those the run masks (:func:`wfe_core.model.secrets.secret_forms`: as
    is, escaped, JSON, percent-encoded, inside base64), so a cut or altered copy counts.
    ``data`` may be raw bytes (a SQLite file). Empty means no trace.
    """
    from wfe_core.model.secrets import secret_forms

    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    found = []
    for form, value in secret_forms(secret).items():
        haystack = text.upper() if form.startswith("url") else text  # %2f is %2F
        needle = value.upper() if form.startswith("url") else value
        for start in range(max(len(needle) - piece + 1, 0)):
            if needle[start : start + piece] in haystack:
                found.append(f"{form or 'plain'}: {value[start : start + piece]!r}")
                break
    return found


def cli_channels(*args: str, env: dict[str, str], cwd: Any, store: Any) -> dict[str, bytes]:
    """Everything a user can see of ``wfe ARGS`` (a ``run``/``resume``/... command line).

    Runs it twice as a real process (console and ``--reporter json``), then ``wfe runs
    --json`` and, for every run in ``store``, ``wfe runs show`` and ``--json``; adds the
    raw bytes of the SQLite files (main, ``-wal``, ``-shm``). Returns channel -> bytes.
    """
    import json as _json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, **env, "WFE_STORE": str(store)}

    def wfe(*argv: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "wfe_core", *argv], capture_output=True, env=env, cwd=cwd, timeout=300
        )

    out: dict[str, bytes] = {}
    runs: tuple[tuple[str, tuple[str, ...]], ...] = (("console", ()), ("json", ("--reporter", "json")))
    for name, extra in runs:
        done = wfe(*args, *extra)
        out[f"{name} stdout"], out[f"{name} stderr"] = done.stdout, done.stderr
    listing = wfe("runs", "--json", "--limit", "100")
    out["runs --json"] = listing.stdout + listing.stderr
    for row in _json.loads(listing.stdout or b"[]"):
        for extra in ((), ("--json",)):
            shown = wfe("runs", "show", row["run_id"], *extra)
            out[f"runs show {' '.join(extra)} {row['run_id'][:8]}"] = shown.stdout + shown.stderr
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{store}{suffix}")
        if path.exists():
            out[f"store{suffix or ' main'}"] = path.read_bytes()
    return out
