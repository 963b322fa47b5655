"""``action: workflow.run`` through the real ``wfe`` process: a child's files, outputs that
flow to a later parent step, nested steps in ``wfe runs show``, a failing child that fails
the run naming its step and rolls back its finished steps, the parent's rollback
compensating a finished child, resume keeping finished child steps, a timeout and Ctrl-C
that leave no child process, and include cycles / missing files refused at validation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def last_run(wfe) -> str:
    return json.loads(wfe("runs", "--json").stdout)[0]["run_id"]


def shown_steps(wfe, run_id: str) -> dict[str, dict]:
    run = json.loads(wfe("runs", "show", run_id, "--json").stdout)
    return {s["step_id"]: s for s in run["steps"]}


CHILD_JSON = """\
    {"id": "build", "variables": {"release": "none"}, "steps": [
      {"id": "compile", "action": "shell.execute",
       "parameters": {"command": "echo compiled {release} > compiled.txt; echo artifact-{release}"}},
      {"id": "record", "action": "file.write", "dependencies": ["compile"],
       "parameters": {"path": "release.txt", "content": "{release}"}}
    ]}
"""


def test_child_runs_writes_files_and_its_outputs_reach_a_later_parent_step(tmp_path, wfe):
    write(tmp_path, "sub/build.json", CHILD_JSON)
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        variables: {version: "1.2"}
        steps:
          - id: build
            action: workflow.run
            parameters: {path: sub/build.json, variables: {release: "v{version}"}}
          - id: publish
            action: file.write
            dependencies: [build]
            parameters:
              path: published.txt
              content: "{steps.build.output.steps.compile.stdout}{steps.build.output.variables.release}"
        """,
    )
    done = wfe("run", "parent.yaml")
    assert (tmp_path / "compiled.txt").read_text() == "compiled v1.2\n"
    assert (tmp_path / "release.txt").read_text() == "v1.2"
    assert (tmp_path / "published.txt").read_text() == "artifact-v1.2\nv1.2"
    assert " build succeeded" in done.stdout
    run_id = last_run(wfe)
    steps = shown_steps(wfe, run_id)
    assert list(steps) == ["build", "build/compile", "build/record", "publish"]
    assert steps["build/record"]["status"] == "succeeded"
    assert steps["build/compile"]["run_id"] == f"{run_id}/build"
    text = wfe("runs", "show", run_id[:8]).stdout  # an abbreviation still names the parent alone
    assert "build/compile" in text and "build/record" in text
    # The child run is listed under its parent, not as a run of its own.
    assert [r["run_id"] for r in json.loads(wfe("runs", "--json").stdout)] == [run_id]


def test_a_template_runs_as_a_child_from_a_toml_parent(tmp_path, wfe):
    write(
        tmp_path,
        "parent.toml",
        """\
        id = "parent"

        [[steps]]
        id = "files"
        action = "workflow.run"
        parameters = { template = "simple_file_workflow", variables = { base_dir = "made", message = "hi", cleanup = false } }
        """,
    )
    wfe("run", "parent.toml")
    assert (tmp_path / "made").is_dir()
    assert (tmp_path / "made" / "output" / "message.txt").read_text().strip() == "hi"


FAILING_CHILD = """\
    id: release
    steps:
      - id: config
        action: file.write
        parameters: {path: config.txt, content: new config}
      - id: notes
        action: file.write
        dependencies: [config]
        parameters: {path: notes.txt, content: notes}
      - id: migrate
        action: shell.execute
        dependencies: [notes]
        parameters: {command: "test -f gate || { echo migration failed >&2; exit 3; }"}
"""


def test_a_failing_child_fails_the_run_naming_its_step_and_rolls_back_its_finished_steps(tmp_path, wfe):
    write(tmp_path, "release.yaml", FAILING_CHILD)
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: deploy
            action: workflow.run
            parameters: {path: release.yaml}
        """,
    )
    (tmp_path / "config.txt").write_text("old config")
    done = wfe("run", "parent.yaml", check=1)
    assert "sub-workflow release.yaml failed at step 'migrate'" in done.stdout
    assert "exited with code 3" in done.stdout
    # The child's finished steps were compensated: the old file is back, the new one gone.
    assert (tmp_path / "config.txt").read_text() == "old config"
    assert not (tmp_path / "notes.txt").exists()
    steps = shown_steps(wfe, last_run(wfe))
    assert steps["deploy"]["status"] == "failed"
    assert steps["deploy/config"]["status"] == "rolled_back"
    assert steps["deploy/notes"]["status"] == "rolled_back"
    assert steps["deploy/migrate"]["status"] == "failed"


def test_the_parents_rollback_compensates_a_finished_child_last_step_first(tmp_path, wfe):
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        steps:
          - id: first
            action: file.write
            parameters: {path: shared.txt, content: by first}
          - id: second
            action: file.write
            dependencies: [first]
            parameters: {path: shared.txt, content: by second}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: sub
            action: workflow.run
            parameters: {path: child.yaml}
          - id: boom
            action: shell.execute
            dependencies: [sub]
            parameters: {command: "exit 1"}
        """,
    )
    (tmp_path / "shared.txt").write_text("original")
    done = wfe("run", "parent.yaml", check=1)
    assert " sub rolled back" in done.stdout
    # Undone in reverse: second restores "by first", then first restores the original.
    assert (tmp_path / "shared.txt").read_text() == "original"
    steps = shown_steps(wfe, last_run(wfe))
    assert steps["sub"]["status"] == "rolled_back"
    assert steps["sub/first"]["status"] == steps["sub/second"]["status"] == "rolled_back"


def test_resume_keeps_the_finished_steps_of_a_child(tmp_path, wfe):
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        steps:
          - id: one
            action: shell.execute
            parameters: {command: "echo one >> marker.log"}
          - id: two
            action: shell.execute
            dependencies: [one]
            parameters: {command: "test -f gate && echo two >> marker.log"}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: before
            action: shell.execute
            parameters: {command: "echo before >> marker.log"}
          - id: sub
            action: workflow.run
            dependencies: [before]
            parameters: {path: child.yaml}
        """,
    )
    wfe("run", "--no-rollback", "parent.yaml", check=1)
    assert (tmp_path / "marker.log").read_text() == "before\none\n"
    run_id = last_run(wfe)
    (tmp_path / "gate").touch()
    wfe("resume", run_id)
    assert (tmp_path / "marker.log").read_text() == "before\none\ntwo\n"
    steps = shown_steps(wfe, run_id)
    assert steps["sub/one"]["attempts"] == 1 and steps["sub/two"]["attempts"] == 2
    assert all(s["status"] == "succeeded" for s in steps.values())


def _tagged_processes(tag: str) -> list[int]:
    """Processes whose command line carries ``tag`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if tag.encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_steps_timeout_stops_the_child_and_leaves_no_process(tmp_path, wfe):
    tag = f"wfe-subflow-timeout-{os.getpid()}"
    # `sh -c 'sleep 60' TAG`: the tag (the inner shell's $0) shows in /proc/PID/cmdline.
    write(
        tmp_path,
        "slow.yaml",
        f"""\
        id: slow
        steps:
          - id: write
            action: file.write
            parameters: {{path: state.txt, content: new}}
          - id: nap
            action: shell.execute
            dependencies: [write]
            parameters: {{command: "sh -c 'sleep 60' {tag}"}}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: sub
            action: workflow.run
            timeout: 2
            parameters: {path: slow.yaml}
        """,
    )
    (tmp_path / "state.txt").write_text("old")
    started = time.monotonic()
    done = wfe("run", "parent.yaml", check=1)
    assert time.monotonic() - started < 50  # well under the child's 60 s sleep
    assert " sub timed out" in done.stdout
    assert _tagged_processes(tag) == []
    # The timeout reached the child: its running step was cancelled (recorded before wfe
    # exited) and, a timeout being a failure, its finished step was compensated.
    steps = shown_steps(wfe, last_run(wfe))
    assert steps["sub"]["status"] == "timed_out"
    assert steps["sub/nap"]["status"] == "cancelled"
    assert steps["sub/write"]["status"] == "rolled_back"
    assert (tmp_path / "state.txt").read_text() == "old"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_cancels_the_child_and_leaves_no_process(tmp_path, wfe):
    tag = f"wfe-subflow-ctrlc-{os.getpid()}"
    write(
        tmp_path,
        "slow.yaml",
        f"""\
        id: slow
        steps:
          - id: nap
            action: shell.execute
            parameters: {{command: "touch started; sh -c 'sleep 60' {tag}"}}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: sub
            action: workflow.run
            parameters: {path: slow.yaml}
        """,
    )
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", "parent.yaml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "started").exists(), "the child's step never started"
        while not _tagged_processes(tag) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _tagged_processes(tag), "the child's sleep never showed up in /proc"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert _tagged_processes(tag) == []
    assert "cancelled" in out
    steps = shown_steps(wfe, last_run(wfe))
    assert steps["sub"]["status"] == "cancelled"
    assert steps["sub/nap"]["status"] == "cancelled"


def test_dry_run_shows_the_childs_plan_and_changes_nothing(tmp_path, wfe):
    write(tmp_path, "sub/build.json", CHILD_JSON)
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: build
            action: workflow.run
            parameters: {path: sub/build.json, variables: {release: v9}}
        """,
    )
    done = wfe("run", "--dry-run", "parent.yaml")
    assert "step build runs sub/build.json: 2 steps in 2 levels" in done.stdout
    assert "level 0: build/compile" in done.stdout and "level 1: build/record" in done.stdout
    assert not (tmp_path / "compiled.txt").exists() and not (tmp_path / "release.txt").exists()
    assert not (tmp_path / "runs.sqlite").exists() or json.loads(wfe("runs", "--json").stdout) == []


# -- validation -----------------------------------------------------------------------------


def _cycle_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """\
        id: a
        steps:
          - id: start
            action: variable.set
            parameters: {name: x, value: 1}
          - id: to_b
            action: workflow.run
            parameters: {path: b.yaml}
        """,
    )
    write(
        tmp_path,
        "b.yaml",
        """\
        id: b
        steps:
          - id: back_to_a
            action: workflow.run
            parameters:
              path: a.yaml
        """,
    )


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_two_file_include_cycle_is_named_with_the_file_and_line_of_the_step_closing_it(tmp_path, wfe, command):
    _cycle_files(tmp_path)
    done = wfe(command, "a.yaml", check=2)
    assert (
        "b.yaml:6: steps[0].parameters.path: step 'back_to_a': include cycle: a.yaml → b.yaml → a.yaml" in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs.sqlite").exists() or json.loads(wfe("runs", "--json").stdout) == []


def test_a_self_include_is_named(tmp_path, wfe):
    write(
        tmp_path,
        "self.json",
        """\
        {"id": "self", "steps": [
          {"id": "again", "action": "workflow.run", "parameters": {"path": "self.json"}}
        ]}
        """,
    )
    done = wfe("validate", "self.json", check=2)
    assert "self.json:2: steps[0].parameters.path: step 'again': include cycle: self.json → self.json" in done.stderr


def test_a_cycle_through_a_templated_path_is_caught_when_the_step_runs(tmp_path, wfe):
    write(
        tmp_path,
        "loop.yaml",
        """\
        id: loop
        variables: {next: loop.yaml}
        steps:
          - id: again
            action: workflow.run
            parameters: {path: "{next}"}
        """,
    )
    done = wfe("run", "loop.yaml", check=1)
    assert "include cycle: loop.yaml → loop.yaml" in done.stdout


def test_a_missing_child_file_names_the_parent_file_step_and_field(tmp_path, wfe):
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: deploy
            action: workflow.run
            parameters: {path: nowhere/deploy.yaml}
        """,
    )
    for command in ("validate", "run"):
        done = wfe(command, "parent.yaml", check=2)
        assert (
            "parent.yaml:5: steps[0].parameters.path: step 'deploy': sub-workflow file 'nowhere/deploy.yaml' not found"
            in done.stderr
        )


def test_a_childs_own_problems_carry_the_childs_file_and_line(tmp_path, wfe):
    write(
        tmp_path,
        "sub/broken.yaml",
        """\
        id: broken
        steps:
          - id: ok
            action: wait
            parameters: {seconds: 0}
          - id: typo
            action: file.wrte
            parameters: {path: x}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: wrap
            action: workflow.run
            parameters: {path: sub/broken.yaml}
        """,
    )
    done = wfe("validate", "parent.yaml", check=2)
    assert "sub/broken.yaml:7: steps[1].action: step 'typo': unknown action 'file.wrte'" in done.stderr
    assert "(sub-workflow of step 'wrap')" in done.stderr


def test_path_and_template_together_is_a_parameter_error(tmp_path, wfe):
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: both
            action: workflow.run
            parameters: {path: x.yaml, template: simple_file_workflow}
        """,
    )
    done = wfe("validate", "parent.yaml", check=2)
    assert "step 'both'" in done.stderr and "give exactly one of 'path'" in done.stderr


def test_the_workflow_schema_describes_workflow_run(wfe):
    schema = json.loads(wfe("schema", "workflow.run").stdout)
    assert set(schema["parameters"]["properties"]) == {"path", "template", "variables"}
    whole = json.loads(wfe("schema", "--workflow").stdout)
    params = whole["$defs"]["workflow.run.parameters"]["properties"]
    assert "relative to this workflow's file" in params["path"]["description"]


def test_wfe_rollback_of_a_finished_parent_undoes_its_childs_files(tmp_path, wfe):
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        steps:
          - id: make
            action: file.write
            parameters: {path: made.txt, content: made}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: sub
            action: workflow.run
            parameters: {path: child.yaml}
        """,
    )
    wfe("run", "parent.yaml")
    assert (tmp_path / "made.txt").read_text() == "made"
    run_id = last_run(wfe)
    done = wfe("rollback", run_id)
    assert "sub: rolled_back" in done.stdout
    assert not (tmp_path / "made.txt").exists()
    assert shown_steps(wfe, run_id)["sub/make"]["status"] == "rolled_back"


def test_the_parents_secrets_stay_masked_in_the_child(tmp_path, wfe):
    secret = "qzwxyt-jklm-uvrs-pqz"  # no hex runs: a run id in the output cannot look like a piece of it
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        variables: {token: none}
        steps:
          - id: use
            action: shell.execute
            parameters: {command: "echo token={token}"}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        secrets: [SUBFLOW_TOKEN]
        steps:
          - id: sub
            action: workflow.run
            parameters: {path: child.yaml, variables: {token: "{secrets.SUBFLOW_TOKEN}"}}
        """,
    )
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "SUBFLOW_TOKEN": secret}
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", "parent.yaml", "--output"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = last_run(wfe)
    shown = wfe("runs", "show", run_id, "--json").stdout
    assert "token=***" in shown
    store = (tmp_path / "runs.sqlite").read_bytes() + (
        (tmp_path / "runs.sqlite-wal").read_bytes() if (tmp_path / "runs.sqlite-wal").exists() else b""
    )
    for text in (done.stdout, done.stderr, shown, store.decode("latin-1")):
        assert secret not in text


def test_a_retry_of_the_step_resumes_the_child_keeping_its_finished_steps(tmp_path, wfe):
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        steps:
          - id: one
            action: shell.execute
            parameters: {command: "echo one >> marker.log"}
          - id: flaky
            action: shell.execute
            dependencies: [one]
            parameters: {command: "test -f gate || { touch gate; exit 1; }; echo flaky >> marker.log"}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: sub
            action: workflow.run
            max_retries: 1
            retry_delay: 0.1
            parameters: {path: child.yaml}
        """,
    )
    wfe("run", "parent.yaml")
    assert (tmp_path / "marker.log").read_text() == "one\nflaky\n"
    steps = shown_steps(wfe, last_run(wfe))
    assert steps["sub"]["attempts"] == 2
    assert steps["sub/one"]["attempts"] == 1 and steps["sub/flaky"]["attempts"] == 2
