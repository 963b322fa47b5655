"""With the dask executor, what cannot be pickled is a clear error naming the step: a
parameter at validation (before anything connects to a cluster), an output when the step
ends (the step fails with one line naming it and the type; the run goes on as for any
failure)."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import wfe

from wfe_core import Workflow, WorkflowEngine, WorkflowStep
from wfe_core.model.errors import InvalidWorkflowError

NOWHERE = {"address": "tcp://127.0.0.1:9"}  # nothing listens: validation must not connect


def _workflow(tmp_path: Path) -> tuple[Workflow, object]:
    handle = open(tmp_path / "f.txt", "w")
    steps = [
        WorkflowStep(id="plain", action="wait", parameters={"seconds": 0}),
        WorkflowStep(id="fn", action="py.call", parameters={"callback": lambda: 1}),
        WorkflowStep(id="fh", action="py.call", parameters={"log": handle}),
        # Runs on the driver: nothing is sent, nothing to refuse.
        WorkflowStep(id="var", action="variable.set", parameters={"name": "x", "value": threading.Lock()}),
    ]
    return Workflow(id="py", steps=steps), handle


def _call(parameters: dict, context: object) -> str:
    """A Python API action taking any object: it calls the callback, or writes to the file."""
    if "callback" in parameters:
        return str(parameters["callback"]())
    parameters["log"].write("written\n")
    return "logged"


def test_parameters_that_cannot_be_pickled_fail_validation(tmp_path: Path) -> None:
    workflow, handle = _workflow(tmp_path)
    try:
        dask = WorkflowEngine(store=None, executor="dask", executor_options=NOWHERE)
        dask.register_custom_action("py.call", _call)
        errors = [str(p) for p in dask.validate_workflow(workflow).errors]
        assert len(errors) == 2, errors
        fn, fh = sorted(errors)
        assert fn.startswith("steps[1].parameters.callback: step 'fn': parameter 'callback' cannot be sent to a Dask")
        assert "not picklable" in fn and "lambda" in fn
        assert fh.startswith("steps[2].parameters.log: step 'fh': parameter 'log' cannot be sent to a Dask worker")
        assert "TextIOWrapper" in fh
        # The run refuses before it starts (it would otherwise fail to reach the address).
        with pytest.raises(InvalidWorkflowError) as caught:
            dask.run(workflow)
        assert "parameter 'callback'" in str(caught.value) and "parameter 'log'" in str(caught.value)
        # The thread pool runs the same workflow: the check is the executor's.
        threads = WorkflowEngine(store=None)
        threads.register_custom_action("py.call", _call)
        assert threads.validate_workflow(workflow).is_valid
        assert threads.run(workflow).succeeded
    finally:
        handle.close()


def test_validate_command_knows_the_executor(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text("id: t\nsteps:\n  - id: s\n    action: wait\n    parameters: {seconds: 0}\n")
    ok = wfe("validate", "wf.yaml", "--executor", "dask", cwd=tmp_path)
    assert ok.returncode == 0 and "valid (1 step)" in ok.stdout, ok.stderr
    missing = wfe("validate", "wf.yaml", "--executor", "dask", cwd=tmp_path, WFE_BLOCK_PLUGINS="dask")
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == "error: executor 'dask' is provided by the wfe-dask distribution (pip install wfe-dask)"
    )


PLUGIN = """
from wfe_core.plugin import Action, hookimpl


def numbers(parameters, context):
    return (n for n in range(3))  # a generator: it cannot travel back from a worker


@hookimpl
def wfe_actions():
    return [Action("gen.numbers", numbers, side_effects=False, description="Return a generator.")]
"""


def test_an_output_that_cannot_be_pickled_fails_its_step(tmp_path: Path) -> None:
    """Through the CLI, on a LocalCluster wfe starts: the workers find the test plugin as
    wfe does (an installed distribution on PYTHONPATH)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "gen_actions.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "wfe_gen_test-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wfe-gen-test\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[wfe]\ngen = gen_actions\n")
    (tmp_path / "wf.yaml").write_text(
        "id: t\nsteps:\n"
        "  - id: gen\n    action: gen.numbers\n    critical: false\n"
        "  - id: other\n    action: shell.execute\n    parameters: {command: 'echo still ran'}\n"
    )
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = wfe("run", "wf.yaml", "--executor", "dask", "--reporter", "plain", cwd=tmp_path, PYTHONPATH=path)
    assert done.returncode == 0, done.stdout + done.stderr  # a non-critical failure
    assert "Traceback" not in done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if " gen failed " in line]
    assert len(failed) == 1, done.stdout
    assert failed[0].endswith(
        "step 'gen': its output cannot be sent back from the Dask worker "
        "(not picklable: TypeError: cannot pickle 'generator' object)"
    ), failed[0]
    assert any(" other succeeded" in line for line in done.stdout.splitlines()), done.stdout
    assert sys.executable  # (the CLI ran under this interpreter: see conftest.wfe)
