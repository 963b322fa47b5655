"""shell.execute through the real engine: the seed's Quick Start, quoting, timeouts, dry run."""

from __future__ import annotations

import asyncio
import time

from test_shell_processes import assert_group_gone, read_pid

import wfe_shell.plugin
from wfe_core import RunStatus, StepStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.testing import hermetic_plugins


def engine(tmp_path) -> WorkflowEngine:
    return WorkflowEngine(plugins=hermetic_plugins(wfe_shell.plugin), workdir=tmp_path)


def test_seed_quick_start_runs_with_only_the_import_line_changed(capsys):
    # The seed README's Quick Start, verbatim but for `from wfe_core import ...`.
    from wfe_core import Workflow, WorkflowEngine, WorkflowStep

    workflow = Workflow(
        id="hello_world",
        name="Hello World Workflow",
        description="A simple example workflow",
        steps=[
            WorkflowStep(
                id="greet",
                name="Say Hello",
                action="variable.set",
                parameters={"name": "message", "value": "Hello, World!"},
            ),
            WorkflowStep(
                id="display",
                name="Display Message",
                action="shell.execute",
                parameters={"command": "echo {message}"},
                dependencies=["greet"],
            ),
        ],
    )

    async def run_workflow():
        engine = WorkflowEngine()
        stats = await engine.execute_workflow(workflow)
        print(f"Completed {stats.completed_steps}/{stats.total_steps} steps")
        engine.cleanup()
        return stats

    stats = asyncio.run(run_workflow())
    assert capsys.readouterr().out == "Completed 2/2 steps\n"
    assert stats.steps["display"].output["stdout"] == "Hello, World!\n"
    assert stats.total_execution_time > 0 and 0 <= stats.parallel_efficiency <= 1


def test_substituted_values_are_quoted_and_never_executed(tmp_path):
    evil = '"; touch pwned; echo "'
    workflow = Workflow(
        id="w",
        variables={"name": evil},
        steps=[
            WorkflowStep(id="say", action="shell.execute", parameters={"command": "echo {name}"}),
            WorkflowStep(id="argv", action="shell.execute", parameters={"command": ["echo", "{name}"]}),
        ],
    )
    stats = engine(tmp_path).run(workflow)
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.steps["say"].output["stdout"] == evil + "\n"
    assert stats.steps["argv"].output["stdout"] == evil + "\n"  # argv items are not shell-quoted
    assert not (tmp_path / "pwned").exists()


def test_raw_opt_out_passes_a_trusted_fragment(tmp_path):
    workflow = Workflow(
        id="w",
        variables={"flags": "-n hi"},
        steps=[
            WorkflowStep(id="say", action="shell.execute", parameters={"command": "echo {flags!raw}"}),
        ],
    )
    assert engine(tmp_path).run(workflow).steps["say"].output["stdout"] == "hi"


def test_step_timeout_kills_the_process_tree(tmp_path):
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(
                id="hang",
                action="shell.execute",
                timeout=0.5,
                parameters={"command": "echo $$ > pgid; sleep 300 & sleep 300"},
            ),
        ],
    )
    started = time.monotonic()
    stats = engine(tmp_path).run(workflow)
    assert time.monotonic() - started < 5
    record = stats.steps["hang"]
    assert record.status is StepStatus.TIMED_OUT and record.error == "timed out after 0.5s"
    pgid = read_pid(tmp_path / "pgid")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the action kills the group as it notices the flag
        try:
            assert_group_gone(pgid)
            break
        except AssertionError:
            time.sleep(0.05)
    assert_group_gone(pgid)


def test_dry_run_runs_no_command(tmp_path):
    workflow = Workflow(
        id="w",
        variables={"target": "made"},
        steps=[
            WorkflowStep(id="touch", action="shell.execute", parameters={"command": "touch {target}"}),
        ],
    )
    stats = engine(tmp_path).run(workflow, execution_mode="dry_run")
    assert not (tmp_path / "made").exists()
    assert (
        stats.steps["touch"].reason == "dry run: would run shell.execute with {'command': 'touch made', "
        "'cwd': None, 'env': {}, 'timeout': None, 'expected_exit_codes': [0], 'input': None}"
    )


def test_output_feeds_later_steps(tmp_path):
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="count", action="shell.execute", parameters={"command": "printf 3"}),
            WorkflowStep(
                id="use",
                action="shell.execute",
                dependencies=["count"],
                parameters={"command": "echo $(( {steps.count.output.stdout} + 1 ))"},
            ),
        ],
    )
    assert engine(tmp_path).run(workflow).steps["use"].output["stdout"] == "4\n"
