"""While a sub-workflow runs, the parent's reporters show its steps with nested ids
(``deploy/build started``, ``deploy/inner/leaf succeeded``), in order, secrets masked, and
reporters are only ever called from one thread (the top-level run's scheduler)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def nested(tmp_path: Path) -> Path:
    """parent: deploy (workflow.run child.yaml) -> after; child: build -> inner (grand.yaml)."""
    write(
        tmp_path,
        "grand.yaml",
        """\
        id: grand
        steps:
          - id: leaf
            action: shell.execute
            parameters: {command: "echo leaf"}
        """,
    )
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        steps:
          - id: build
            action: shell.execute
            parameters: {command: "sleep 0.2; echo built"}
          - id: inner
            action: workflow.run
            dependencies: [build]
            parameters: {path: grand.yaml}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: deploy
            action: workflow.run
            parameters: {path: child.yaml}
          - id: after
            action: shell.execute
            dependencies: [deploy]
            parameters: {command: "echo after"}
        """,
    )
    return tmp_path


def _body(line: str) -> str:
    """A plain line without its timestamp (``02:55:13 deploy started``)."""
    return line.split(" ", 1)[1] if line[:2].isdigit() else line


def test_plain_lines_show_child_and_grandchild_steps_nested_and_in_order(nested, wfe):
    lines = [_body(x) for x in wfe("run", "parent.yaml").stdout.splitlines()]
    starts = [x for x in lines if x.endswith(" started")]
    assert starts == [
        "deploy started",
        "deploy/build started",
        "deploy/inner started",
        "deploy/inner/leaf started",
        "after started",
    ]
    done = [x.split(" succeeded")[0] for x in lines if " succeeded " in x and not x.startswith("run ")]
    # A child's steps finish before the step that runs it; a grandchild's before its parent step.
    assert done == ["deploy/build", "deploy/inner/leaf", "deploy/inner", "deploy", "after"]
    build = next(x for x in lines if x.startswith("deploy/build succeeded"))
    assert float(build.split()[2].rstrip("s")) >= 0.2  # its own duration, not the parent's
    # The summary still counts the parent's own steps only.
    assert any(x.startswith("run ") and "(of 2)" in x for x in lines)


def test_json_reporter_gives_child_events_under_the_parent_run_with_nested_ids(nested, wfe):
    events = [json.loads(x) for x in wfe("run", "parent.yaml", "--reporter", "json").stdout.splitlines()]
    run_ids = {e["run_id"] for e in events}
    assert len(run_ids) == 1  # every event is the parent run's
    steps = [(e["kind"], e.get("step_id")) for e in events if e["kind"].startswith("step.")]
    assert ("step.started", "deploy/build") in steps
    assert ("step.succeeded", "deploy/inner/leaf") in steps
    assert steps.index(("step.succeeded", "deploy/build")) < steps.index(("step.succeeded", "deploy"))
    leaf = next(e for e in events if e["kind"] == "step.succeeded" and e.get("step_id") == "deploy/inner/leaf")
    assert leaf["duration"] >= 0 and "leaf" in leaf["output_summary"]
    # Children's run events are not the parent's: one run.started and one run.finished.
    assert [e["kind"] for e in events].count("run.started") == 1
    assert [e["kind"] for e in events].count("run.finished") == 1


def test_a_failing_child_step_is_shown_nested_with_its_error(tmp_path, wfe):
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        steps:
          - id: build
            action: shell.execute
            parameters: {command: "echo boom >&2; exit 3"}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: deploy
            action: workflow.run
            parameters: {path: child.yaml}
        """,
    )
    lines = [_body(x) for x in wfe("run", "parent.yaml", check=1).stdout.splitlines()]
    failed = [x for x in lines if x.startswith("deploy/build failed")]
    assert failed and "exit" in failed[0]
    assert lines.index(failed[0]) < next(i for i, x in enumerate(lines) if x.startswith("deploy failed"))


def test_secrets_of_parent_and_child_are_masked_in_the_forwarded_events(tmp_path):
    parent_secret, child_secret = "qzwxyt-jklm-uvrs-pqz", "plokiju-ytrew-mnbvc"
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        secrets: [CHILD_ONLY]
        variables: {token: none}
        steps:
          - id: use
            action: shell.execute
            parameters: {command: "echo token={token} own={secrets.CHILD_ONLY}; exit 1"}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        secrets: [PARENT_TOKEN]
        steps:
          - id: sub
            action: workflow.run
            parameters: {path: child.yaml, variables: {token: "{secrets.PARENT_TOKEN}"}}
        """,
    )
    env = {
        **os.environ,
        "WFE_STORE": str(tmp_path / "runs.sqlite"),
        "PARENT_TOKEN": parent_secret,
        "CHILD_ONLY": child_secret,
    }
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", "parent.yaml", "--reporter", "json", "--output"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    events = [json.loads(x) for x in done.stdout.splitlines()]
    use = next(e for e in events if e["kind"] == "step.failed" and e.get("step_id") == "sub/use")
    assert "token=*** own=***" in json.dumps(use)
    printed = [e["text"] for e in events if e["kind"] == "step.output" and e["step_id"] == "sub/use"]
    assert printed == ["token=*** own=***"]
    for text in (done.stdout, done.stderr):
        assert parent_secret not in text and child_secret not in text


def test_listeners_hear_child_events_on_one_thread_and_the_live_display_lists_them(nested):
    from wfe_core import WorkflowEngine
    from wfe_core.load.loader import WorkflowLoader

    heard: list[tuple[str, str | None, int]] = []
    running: list[str] = []
    engine = WorkflowEngine(max_concurrent_steps=2, workdir=nested)
    engine.progress_tracker.follow = True  # as the live display does (it draws snapshot()["running"])

    def listen(event):
        heard.append((event.kind, event.step_id, threading.get_ident()))
        if event.kind == "step.succeeded" and event.step_id == "deploy/build":
            # Heard before the tracker: the display's running list still has the step.
            running.extend(engine.progress_tracker.snapshot(event.run_id)["running"])

    workflow = WorkflowLoader().load_from_file(nested / "parent.yaml")
    stats = engine.run(workflow, listeners=(listen,), source=str(nested / "parent.yaml"))
    assert stats.status.value == "succeeded"
    assert ("step.succeeded", "deploy/inner/leaf") in [(k, s) for k, s, _ in heard]
    assert len({t for _, _, t in heard}) == 1
    assert sorted(running) == ["deploy", "deploy/build"]


def test_output_flag_prints_child_and_grandchild_lines_with_nested_ids(nested, wfe):
    out = wfe("run", "parent.yaml", "--output").stdout.splitlines()
    assert "deploy/build| built" in out
    assert "deploy/inner/leaf| leaf" in out
    assert "after| after" in out
    events = [json.loads(x) for x in wfe("run", "parent.yaml", "--output", "--reporter", "json").stdout.splitlines()]
    lines = [(e["step_id"], e["text"]) for e in events if e["kind"] == "step.output"]
    assert ("deploy/inner/leaf", "leaf") in lines and ("deploy/build", "built") in lines


def test_a_timed_out_childs_cancel_and_compensation_are_shown_nested(tmp_path, wfe):
    write(
        tmp_path,
        "slow.yaml",
        """\
        id: slow
        steps:
          - {id: write, action: file.write, parameters: {path: state.txt, content: new}}
          - {id: nap, action: shell.execute, dependencies: [write], parameters: {command: "sleep 30"}}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - {id: sub, action: workflow.run, timeout: 1, parameters: {path: slow.yaml}}
        """,
    )
    lines = [_body(x) for x in wfe("run", "parent.yaml", check=1).stdout.splitlines()]
    # Said by the child after the parent's step had timed out: still reported, in order.
    timed_out = next(i for i, x in enumerate(lines) if x.startswith("sub timed out"))
    assert lines.index("sub/nap cancelled (run cancelled)") > timed_out
    assert any(x.startswith("sub/write rolled back") for x in lines[timed_out:])
