"""Fan-out (``for_each`` / ``matrix``) through the real ``wfe`` process on shell steps:
dry runs show the expansion, ``wfe resume`` keeps the instances that finished (a marker
file per instance counts the runs), rollback undoes instances in reverse completion order
(in the run and through ``wfe rollback`` later, with ``{item}`` in the rollback command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap


def wfe(tmp_path, *args):
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def write(tmp_path, text, name="flow.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run_id_of(result):
    return json.loads(result.stdout.splitlines()[0])["run_id"]


def statuses(tmp_path, run_id):
    shown = wfe(tmp_path, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return {s["step_id"]: s["status"] for s in json.loads(shown.stdout)["steps"]}


RESUMABLE = """\
    id: resumable
    steps:
      - id: build
        action: shell.execute
        parameters:
          command: "echo run >> {out}/runs-{item}; (test {item} != b || test -f {out}/fixed) && echo built-{item}"
        for_each: [a, b, c, d]
        max_parallel: 1
      - id: report
        action: shell.execute
        parameters: {command: "echo {steps.build.output.3.stdout} > {out}/report"}
        dependencies: [build]
"""


def test_resume_keeps_instances_that_succeeded_and_runs_the_rest(tmp_path):
    path = write(tmp_path, RESUMABLE)
    first = wfe(tmp_path, "run", str(path), "--var", f"out={tmp_path}", "--reporter", "json")
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = run_id_of(first)
    before = statuses(tmp_path, run_id)
    assert before["build[0]"] == "succeeded" and before["build[1]"] == "failed"
    assert before["build[2]"] == before["build[3]"] == "cancelled" and before["build"] == "failed"
    (tmp_path / "fixed").touch()
    second = wfe(tmp_path, "resume", run_id, "--reporter", "plain")
    assert second.returncode == 0, second.stdout + second.stderr
    runs = {item: (tmp_path / f"runs-{item}").read_text().count("run") for item in "abcd"}
    assert runs == {"a": 1, "b": 2, "c": 1, "d": 1}  # a was not run again
    assert (tmp_path / "report").read_text().split() == ["built-d"]  # {steps.build.output.3} after resume
    after = statuses(tmp_path, run_id)
    assert all(status == "succeeded" for status in after.values()), after


def test_resume_refuses_when_a_finished_instance_step_changed(tmp_path):
    path = write(tmp_path, RESUMABLE)
    first = wfe(tmp_path, "run", str(path), "--var", f"out={tmp_path}", "--reporter", "json")
    run_id = run_id_of(first)
    changed = write(tmp_path, RESUMABLE.replace("max_parallel: 1", "max_parallel: 2"), "changed.yaml")
    refused = wfe(tmp_path, "resume", run_id, str(changed))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "step 'build' (instance build[0]) succeeded in run" in refused.stderr
    assert "definition changed" in refused.stderr


UNDOABLE = """\
    id: undoable
    steps:
      - id: prep
        action: shell.execute
        parameters: {command: "true"}
        rollback_action: shell.execute
        rollback_parameters: {command: "echo undo-prep >> {out}/undo"}
      - id: deploy
        action: shell.execute
        parameters: {command: "echo {matrix.region}"}
        matrix: {region: [eu, us, ap]}
        max_parallel: 1
        dependencies: [prep]
        rollback_action: shell.execute
        rollback_parameters: {command: "echo undo-{matrix.region}-{steps.deploy.output.stdout} >> {out}/undo"}
      - id: verify
        action: shell.execute
        parameters: {command: "exit 3"}
        dependencies: [deploy]
"""


def test_a_critical_failure_rolls_back_instances_last_completed_first_before_their_upstream(tmp_path):
    path = write(tmp_path, UNDOABLE)
    result = wfe(tmp_path, "run", str(path), "--var", f"out={tmp_path}", "--reporter", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    # {steps.deploy.output} in a rollback command is the instance's own output.
    assert (tmp_path / "undo").read_text().split() == ["undo-ap-ap", "undo-us-us", "undo-eu-eu", "undo-prep"]
    status = statuses(tmp_path, run_id_of(result))
    assert status["deploy[region=eu]"] == "rolled_back" and status["prep"] == "rolled_back"


def test_wfe_rollback_of_a_stored_run_undoes_its_instances_with_their_items(tmp_path):
    path = write(tmp_path, UNDOABLE.replace('"exit 3"', '"true"'))
    result = wfe(tmp_path, "run", str(path), "--var", f"out={tmp_path}", "--reporter", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    undone = wfe(tmp_path, "rollback", run_id_of(result))
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert (tmp_path / "undo").read_text().split() == ["undo-ap-ap", "undo-us-us", "undo-eu-eu", "undo-prep"]


def test_a_dry_run_shows_the_expansion_where_known_and_what_expands_at_run_time(tmp_path):
    path = write(
        tmp_path,
        """\
        id: dry
        steps:
          - {id: list, action: shell.execute, parameters: {command: "true"}}
          - id: build
            action: wait
            parameters: {seconds: 9}
            for_each: [a, b, c, d, e]
          - id: each
            action: wait
            parameters: {seconds: 9}
            for_each: "{steps.list.output.files}"
            dependencies: [list]
          - id: m
            action: wait
            parameters: {seconds: 9}
            matrix: {os: [linux, mac]}
        """,
    )
    result = wfe(tmp_path, "run", str(path), "--dry-run", "--reporter", "plain")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  build: build[0] … build[4] (5 instances)" in result.stdout
    assert "  each: expands at run time over {steps.list.output.files}" in result.stdout
    assert "  m: m[os=linux], m[os=mac] (2 instances)" in result.stdout
    assert "each skipped (dry run: expands at run time over {steps.list.output.files})" in result.stdout
