"""Resuming a stored run: succeeded steps keep their outputs and variables and do not run again;
a workflow whose succeeded steps changed is refused.

The CLI tests run ``wfe`` as a real process on a real store file in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from wfe_core import RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.cli.interrupt import run_interruptibly
from wfe_core.engine import ResumeError
from wfe_core.model.errors import ActionError
from wfe_core.model.workflow import StepResult
from wfe_core.store.runstore import RunStore
from wfe_core.testing import hermetic_plugins


def wfe(tmp_path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "WFE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_run_id(tmp_path) -> str:
    listed = wfe(tmp_path, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1, rows
    return rows[0]["run_id"]


def shown(tmp_path, run_id: str) -> dict:
    result = wfe(tmp_path, "runs", "show", run_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class Calls:
    """Custom actions that count their calls; ``use`` fails until ``healed``."""

    def __init__(self):
        self.produced = 0
        self.used: list[str] = []
        self.healed = False

    def produce(self, params: dict, context) -> dict:
        self.produced += 1
        return {"value": 42, "items": [{"name": "first"}, {"name": "second"}]}

    def use(self, params: dict, context) -> StepResult:
        if not self.healed:
            raise ActionError("downstream is not ready yet")
        self.used.append(params["text"])
        return StepResult(success=True, output=params["text"], variables={"final": params["text"]})

    def engine(self) -> WorkflowEngine:
        # A fresh engine per call: resume must need nothing but the store.
        engine = WorkflowEngine(plugins=hermetic_plugins())
        engine.register_custom_action("produce", self.produce)
        engine.register_custom_action("use", self.use, sets_variables=True)
        return engine


WORKFLOW = Workflow(
    id="outputs",
    variables={"suffix": "!"},
    steps=[
        WorkflowStep(id="a", action="produce"),
        WorkflowStep(id="v", action="variable.set", parameters={"name": "greeting", "value": "hello"}),
        WorkflowStep(
            id="c",
            action="use",
            dependencies=["a", "v"],
            parameters={"text": "{steps.a.output.value}-{steps.a.output.items.1.name}-{greeting}{suffix}"},
        ),
    ],
)


def test_resume_restores_outputs_and_variables_without_rerunning_succeeded_steps():
    calls = Calls()
    first = calls.engine().run(WORKFLOW)
    assert first.status is RunStatus.FAILED
    assert first.steps["c"].error == "downstream is not ready yet"
    assert calls.produced == 1

    calls.healed = True
    stats = calls.engine().resume(first.run_id)

    assert stats.status is RunStatus.SUCCEEDED, stats.error
    assert stats.run_id == first.run_id
    assert calls.produced == 1  # a was not run again
    assert calls.used == ["42-second-hello!"]  # its output and v's variable came from the store
    assert stats.steps["a"].output == {"value": 42, "items": [{"name": "first"}, {"name": "second"}]}
    assert stats.steps["a"].reason == "succeeded in an earlier attempt of this run"
    assert stats.steps["c"].attempts == 2  # attempt numbering goes on from the earlier run
    assert stats.variables == {"suffix": "!", "greeting": "hello", "final": "42-second-hello!"}

    stored = RunStore().run(first.run_id)
    assert stored["status"] == "succeeded" and stored["resumed"] == 1
    steps = {s["step_id"]: s for s in stored["steps"]}
    assert {sid: s["status"] for sid, s in steps.items()} == {"a": "succeeded", "v": "succeeded", "c": "succeeded"}
    assert steps["a"]["attempts"] == 1 and steps["c"]["attempts"] == 2
    assert [(a["number"], a["status"]) for a in steps["c"]["attempt_log"]] == [(1, "failed"), (2, "succeeded")]
    assert stored["variables"] == stats.variables
    # A fresh engine finds the run's status in the store by run id and by workflow id.
    for key in (first.run_id, "outputs"):
        status = WorkflowEngine(plugins=hermetic_plugins()).get_workflow_status(key)
        assert status["run_id"] == first.run_id and status["status"] == "succeeded"

    with pytest.raises(ResumeError, match="succeeded: there is nothing to resume"):
        calls.engine().resume(first.run_id)


def test_resume_of_a_changed_succeeded_step_is_refused_in_the_api():
    calls = Calls()
    first = calls.engine().run(WORKFLOW)
    changed = Workflow(
        id="outputs",
        variables={"suffix": "!"},
        steps=[
            WORKFLOW.steps[0],
            WorkflowStep(id="v", action="variable.set", parameters={"name": "greeting", "value": "bye"}),
            WORKFLOW.steps[2],
        ],
    )
    calls.healed = True
    with pytest.raises(ResumeError, match="step 'v' succeeded in run .* but its definition changed"):
        calls.engine().resume(first.run_id, changed)
    assert calls.used == [] and RunStore().run(first.run_id)["status"] == "failed"


RESUMABLE = """\
    id: resumable
    steps:
      - id: set
        action: variable.set
        parameters: {name: count, value: 1}
      - id: check
        action: validate.condition
        parameters: {value: "{count}", equals: 2}
        dependencies: [set]
"""


def test_cli_resume_refuses_a_changed_succeeded_step_and_accepts_a_changed_failed_one(tmp_path):
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(RESUMABLE))
    first = wfe(tmp_path, "run", "wf.yaml")
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = only_run_id(tmp_path)
    assert {s["step_id"]: s["status"] for s in shown(tmp_path, run_id)["steps"]} == {
        "set": "succeeded",
        "check": "failed",
    }

    # `set` succeeded: changing its parameters makes its recorded result meaningless.
    (tmp_path / "changed.yaml").write_text(textwrap.dedent(RESUMABLE).replace("value: 1", "value: 2"))
    refused = wfe(tmp_path, "resume", run_id, "changed.yaml")
    assert refused.returncode == 2
    assert f"step 'set' succeeded in run {run_id} but its definition changed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert shown(tmp_path, run_id)["status"] == "failed"  # nothing ran

    # `check` failed: fixing it is what resume is for.
    (tmp_path / "fixed.yaml").write_text(textwrap.dedent(RESUMABLE).replace("equals: 2", "equals: 1"))
    resumed = wfe(tmp_path, "resume", run_id, "fixed.yaml")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = shown(tmp_path, run_id)
    assert run["status"] == "succeeded" and run["resumed"] == 1
    steps = {s["step_id"]: s for s in run["steps"]}
    assert steps["set"]["attempts"] == 1 and steps["check"]["attempts"] == 2
    assert [r["run_id"] for r in json.loads(wfe(tmp_path, "runs", "--json").stdout)] == [run_id]


def test_cli_resume_of_an_unknown_run_is_a_clear_error(tmp_path):
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(RESUMABLE))
    assert wfe(tmp_path, "run", "wf.yaml").returncode == 1
    missing = wfe(tmp_path, "resume", "nosuchrun")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no run 'nosuchrun' in ")
    assert "Traceback" not in missing.stderr


def test_resume_by_run_id_prefix(tmp_path):
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(RESUMABLE))
    assert wfe(tmp_path, "run", "wf.yaml").returncode == 1
    run_id = only_run_id(tmp_path)
    (tmp_path / "fixed.yaml").write_text(textwrap.dedent(RESUMABLE).replace("equals: 2", "equals: 1"))
    resumed = wfe(tmp_path, "resume", run_id[:8], "fixed.yaml")
    assert resumed.returncode == 0, resumed.stderr
    assert shown(tmp_path, run_id[:8])["status"] == "succeeded"


LONG_AFTER_GATE = """\
    id: gated
    steps:
      - id: gate
        action: validate.condition
        parameters: {value: "{mode}", equals: go}
      - id: long
        action: wait
        parameters: {seconds: 300}
        dependencies: [gate]
"""


def test_ctrl_c_cancels_a_resume_started_with_a_run_id_prefix(tmp_path):
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(LONG_AFTER_GATE))
    assert wfe(tmp_path, "run", "wf.yaml", "--var", "mode=stop").returncode == 1
    run_id = only_run_id(tmp_path)
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "WFE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "resume", run_id[:8], "--var", "mode=go"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the gate passed: `long` is about to wait 300 s
            steps = {s["step_id"]: s["status"] for s in RunStore(tmp_path / "runs.sqlite").run(run_id)["steps"]}
            if steps["gate"] == "succeeded":
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the resumed gate never succeeded")
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=20)  # one Ctrl-C is enough: no 300 s wait
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "stopped at once" not in err
    run = shown(tmp_path, run_id)
    assert run["status"] == "cancelled"
    assert {s["step_id"]: s["status"] for s in run["steps"]} == {"gate": "succeeded", "long": "cancelled"}


def test_ctrl_c_while_the_run_is_still_being_prepared_cancels_it_once_it_starts():
    # The first SIGINT can arrive before the run exists (secrets, validation, planning):
    # the cancel must still reach the run once it is there, not be lost.
    registered = threading.Event()
    cancels: list[bool] = []
    cancelled = threading.Event()

    def cancel() -> None:
        cancels.append(registered.is_set())
        if registered.is_set():
            cancelled.set()

    def start() -> str:
        os.kill(os.getpid(), signal.SIGINT)  # handled on the main thread
        deadline = time.monotonic() + 10
        while not cancels and time.monotonic() < deadline:
            time.sleep(0.01)
        registered.set()  # only now is there a run to cancel
        return "cancelled" if cancelled.wait(10) else "ran to the end"

    result, code = run_interruptibly(start, cancel)
    assert code == 130
    assert cancels[0] is False
    assert result == "cancelled"


def test_resume_does_not_hand_a_masked_secret_to_later_steps(monkeypatch):
    monkeypatch.setenv("API_TOKEN", "s3cr3t-value")
    seen: list[str] = []
    healed = [False]

    def use(params: dict, context) -> None:
        if not healed[0]:
            raise ActionError("not yet")
        seen.append(params["token"])

    def engine() -> WorkflowEngine:
        e = WorkflowEngine(plugins=hermetic_plugins())
        e.register_custom_action("use", use)
        return e

    workflow = Workflow(
        id="secretive",
        secrets=["API_TOKEN"],
        steps=[
            WorkflowStep(
                id="remember", action="variable.set", parameters={"name": "token", "value": "{secrets.API_TOKEN}"}
            ),
            WorkflowStep(id="use", action="use", parameters={"token": "{token}"}, dependencies=["remember"]),
        ],
    )
    first = engine().run(workflow)
    assert first.status is RunStatus.FAILED
    healed[0] = True
    assert engine().resume(first.run_id).status is RunStatus.SUCCEEDED
    assert seen == ["s3cr3t-value"]  # sealed in the store, unsealed from the environment


def test_a_run_that_crashes_is_recorded_failed_and_can_be_resumed(tmp_path):
    """An internal error (here: a plugin strategy that raises) never leaves the run 'running'."""
    from wfe_core import Strategy, hookimpl, load_plugins

    class Broken:
        def __init__(self, plan, workers):
            self.workers = 1
            self.pushed = []

        def push(self, step_id):
            self.pushed.append(step_id)

        def pop(self, running):
            if self.pushed and self.pushed[0] == "b":
                raise RuntimeError("strategy bug")
            out, self.pushed = self.pushed[:1], self.pushed[1:]
            return out if not running else []

    class Plugin:
        @hookimpl
        def wfe_strategies(self):
            return [Strategy("broken", Broken, "raises on step b")]

    store = tmp_path / "crash.sqlite"
    engine = WorkflowEngine(plugins=load_plugins(autoload=False, extra={"broken": Plugin()}), store=store)
    workflow = Workflow(
        id="crashy",
        steps=[
            WorkflowStep(id="a", action="variable.set", parameters={"name": "x", "value": 1}),
            WorkflowStep(id="b", action="variable.get", parameters={"name": "x"}, dependencies=["a"]),
        ],
    )
    with pytest.raises(RuntimeError, match="strategy bug"):
        engine.run(workflow, strategy="broken", run_id="crashed-run")
    row = engine.runs()[0]
    assert (row["run_id"], row["status"]) == ("crashed-run", "failed")
    assert row["error"] == "internal error: RuntimeError: strategy bug"
    stats = engine.resume("crashed-run", strategy="sequential")
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.steps["a"].attempts == 1 and stats.steps["b"].output == 1
