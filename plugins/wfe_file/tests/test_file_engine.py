"""file.* through the real engine: relative paths, templated content, dry run."""

from __future__ import annotations

import wfe_file.plugin
from wfe_core import RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.testing import hermetic_plugins


def engine(tmp_path) -> WorkflowEngine:
    return WorkflowEngine(plugins=hermetic_plugins(wfe_file.plugin), workdir=tmp_path)


WORKFLOW = Workflow(
    id="files",
    variables={"name": "report"},
    steps=[
        WorkflowStep(id="write", action="file.write", parameters={"path": "out/{name}.txt", "content": "v1\n"}),
        WorkflowStep(
            id="copy",
            action="file.copy",
            dependencies=["write"],
            parameters={"source": "out/{name}.txt", "destination": "out/{name}.bak"},
        ),
        WorkflowStep(id="read", action="file.read", dependencies=["copy"], parameters={"path": "out/{name}.bak"}),
    ],
)


def test_relative_paths_resolve_against_the_run_workdir(tmp_path):
    stats = engine(tmp_path).run(WORKFLOW)
    assert stats.status is RunStatus.SUCCEEDED, stats.error
    assert (tmp_path / "out" / "report.txt").read_bytes() == b"v1\n"
    assert stats.steps["read"].output == "v1\n"


def test_dry_run_writes_nothing_but_runs_reads(tmp_path):
    (tmp_path / "existing.txt").write_text("hello")
    workflow = Workflow(
        id="dry",
        steps=[
            WorkflowStep(id="read", action="file.read", parameters={"path": "existing.txt"}),
            WorkflowStep(
                id="write",
                action="file.write",
                dependencies=["read"],
                parameters={"path": "copy.txt", "content": "{steps.read.output}"},
            ),
            WorkflowStep(id="delete", action="file.delete", parameters={"path": "existing.txt"}),
        ],
    )
    stats = engine(tmp_path).run(workflow, execution_mode="dry_run")
    assert stats.status is RunStatus.SUCCEEDED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.txt"]
    assert stats.steps["read"].output == "hello"  # side-effect free: it really ran
    assert stats.steps["write"].reason.startswith(
        "dry run: would run file.write with {'path': 'copy.txt', 'content': 'hello'"
    )
    assert stats.steps["delete"].reason.startswith("dry run: would run file.delete")


def test_dry_run_does_not_read_what_an_unrun_step_would_have_written(tmp_path):
    workflow = Workflow(
        id="dry",
        steps=[
            WorkflowStep(id="write", action="file.write", parameters={"path": "new.txt", "content": "x"}),
            WorkflowStep(id="read", action="file.read", dependencies=["write"], parameters={"path": "new.txt"}),
        ],
    )
    stats = engine(tmp_path).run(workflow, execution_mode="dry_run")
    assert stats.status is RunStatus.SUCCEEDED, stats.error  # not "file not found" for new.txt
    assert stats.steps["read"].reason == "dry run: would run file.read with {'path': 'new.txt', 'encoding': 'utf-8'}"
    assert not (tmp_path / "new.txt").exists()


def test_a_typo_of_an_installed_action_is_not_sent_to_pip(tmp_path):
    from wfe_core import InvalidWorkflowError

    workflow = Workflow(
        id="typo", steps=[WorkflowStep(id="w", action="file.wrte", parameters={"path": "x", "content": "y"})]
    )
    try:
        engine(tmp_path).run(workflow)
    except InvalidWorkflowError as exc:
        assert str(exc) == "steps[0].action: step 'w': unknown action 'file.wrte' (did you mean 'file.write'?)"
    else:
        raise AssertionError("a misspelled action ran")
