"""file.* rollback through the engine and the ``wfe`` command: previous bytes come back exactly.

Real files in ``tmp_path``, a real run store (``$WFE_STORE``), ``wfe`` as a real process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import wfe_file.plugin
from wfe_core import RunStatus, StepStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.store.runstore import RunStore
from wfe_core.testing import hermetic_plugins

#: Not valid UTF-8, NULs, CR/LF: anything a text round trip would damage.
AWKWARD = bytes(range(256)) + b"\r\n\x00\xff\xfe tail"


def snapshot(root) -> dict[str, tuple[bytes | None, int]]:
    """Every path under ``root`` (the store aside): its bytes (None for a directory) and mode."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.name.startswith("runs.sqlite") or path.name == "wf.yaml":
            continue
        info = path.lstat()
        out[str(path.relative_to(root))] = (None if path.is_dir() else path.read_bytes(), stat.S_IMODE(info.st_mode))
    return out


def prepare_files(tmp_path) -> dict:
    data = tmp_path / "data.bin"
    data.write_bytes(AWKWARD)
    data.chmod(0o640)
    (tmp_path / "log.txt").write_bytes(b"line 1\r\nline 2 \xe2\x82\xac\n")
    return snapshot(tmp_path)


FILES = Workflow(
    id="files",
    steps=[
        WorkflowStep(id="overwrite", action="file.write", parameters={"path": "data.bin", "content": "replaced"}),
        # The same file again: undone in reverse order, the first write's bytes come back
        # first and then the original ones (the other order would leave "replaced").
        WorkflowStep(
            id="overwrite_again",
            action="file.write",
            dependencies=["overwrite"],
            parameters={"path": "data.bin", "content": "replaced twice", "mode": "0600"},
        ),
        WorkflowStep(
            id="append", action="file.write", parameters={"path": "log.txt", "content": "line 3\n", "append": True}
        ),
        WorkflowStep(id="create", action="file.write", parameters={"path": "made/deeper/new.txt", "content": "new"}),
        WorkflowStep(
            id="boom",
            action="validate.condition",
            dependencies=["overwrite_again", "append", "create"],
            parameters={"value": 1, "equals": 2, "message": "deliberate failure"},
        ),
    ],
)


def test_a_critical_failure_restores_previous_bytes_exactly_and_removes_new_files(tmp_path):
    before = prepare_files(tmp_path)
    engine = WorkflowEngine(plugins=hermetic_plugins(wfe_file.plugin), workdir=tmp_path)
    events = []
    stats = engine.run(FILES, listeners=(events.append,))

    assert stats.status is RunStatus.FAILED and stats.error == "critical step 'boom' failed"
    assert stats.rollback == "complete"
    assert snapshot(tmp_path) == before  # bytes, modes, and no new file or directory left
    assert (tmp_path / "data.bin").read_bytes() == AWKWARD
    undone = [e.step_id for e in events if e.kind == "step.rolled_back"]
    assert sorted(undone) == ["append", "create", "overwrite", "overwrite_again"]
    assert undone.index("overwrite_again") < undone.index("overwrite")
    done = [e.step_id for e in events if e.kind == "step.succeeded"]
    assert undone == list(reversed(done))
    assert {sid: r.status for sid, r in stats.steps.items()} == {
        "overwrite": StepStatus.ROLLED_BACK,
        "overwrite_again": StepStatus.ROLLED_BACK,
        "append": StepStatus.ROLLED_BACK,
        "create": StepStatus.ROLLED_BACK,
        "boom": StepStatus.FAILED,
    }
    stored = RunStore().run(stats.run_id)
    assert stored["rollback"] == "complete"
    assert {s["step_id"]: s["status"] for s in stored["steps"]} == {
        sid: r.status.value for sid, r in stats.steps.items()
    }


def wfe(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


FILES_YAML = """\
    id: files
    steps:
      - id: overwrite
        action: file.write
        parameters: {path: data.bin, content: replaced}
      - id: overwrite_again
        action: file.write
        parameters: {path: data.bin, content: replaced twice, mode: "0600"}
        dependencies: [overwrite]
      - id: append
        action: file.write
        parameters: {path: log.txt, content: "line 3\\n", append: true}
      - id: create
        action: file.write
        parameters: {path: made/deeper/new.txt, content: new}
      - id: boom
        action: validate.condition
        parameters: {value: 1, equals: 2, message: deliberate failure}
        dependencies: [overwrite_again, append, create]
"""


def test_no_rollback_then_wfe_rollback_restores_the_files(tmp_path):
    before = prepare_files(tmp_path)
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(FILES_YAML))

    ran = wfe(tmp_path, "run", "--no-rollback", "wf.yaml")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "rollback" not in ran.stdout  # nothing was compensated...
    assert (tmp_path / "data.bin").read_bytes() == b"replaced twice"  # ...so the changes stay
    assert (tmp_path / "log.txt").read_bytes().endswith(b"line 3\n")
    assert (tmp_path / "made" / "deeper" / "new.txt").read_bytes() == b"new"
    [row] = json.loads(wfe(tmp_path, "runs", "--json").stdout)
    run_id = row["run_id"]
    assert row["status"] == "failed" and row["rollback"] is None

    undo = wfe(tmp_path, "rollback", run_id)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    lines = undo.stdout.splitlines()
    assert sorted(lines) == [
        "append: rolled_back",
        "create: rolled_back",
        "overwrite: rolled_back",
        "overwrite_again: rolled_back",
    ]
    assert lines.index("overwrite_again: rolled_back") < lines.index("overwrite: rolled_back")
    assert snapshot(tmp_path) == before
    assert (tmp_path / "data.bin").read_bytes() == AWKWARD

    run = json.loads(wfe(tmp_path, "runs", "show", run_id, "--json").stdout)
    assert run["status"] == "failed" and run["rollback"] == "complete"
    assert {s["step_id"]: s["status"] for s in run["steps"]} == {
        "overwrite": "rolled_back",
        "overwrite_again": "rolled_back",
        "append": "rolled_back",
        "create": "rolled_back",
        "boom": "failed",
    }
    # Undone steps are not succeeded any more: a second rollback has nothing to do.
    again = wfe(tmp_path, "rollback", run_id)
    assert again.returncode == 0 and again.stdout == "nothing to roll back\n"
    assert snapshot(tmp_path) == before
