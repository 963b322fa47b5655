"""``when:`` through the real ``wfe`` process: true runs, false skips with the values seen,
an undefined name fails (at validation when knowable), a syntax error exits 2 with a caret;
YAML, JSON and TOML alike."""

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


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


YAML = """\
    id: gated
    variables: {environment: production}
    steps:
      - id: test
        action: shell.execute
        parameters: {command: "echo 0"}
      - id: deploy
        action: shell.execute
        dependencies: [test]
        when: "environment == 'production' and steps.test.output.stdout == '0\\\\n'"
        parameters: {command: "echo deployed > {out}/deploy"}
"""


def test_a_true_when_runs_the_step_and_a_false_one_skips_it_with_the_values_it_saw(tmp_path):
    path = write(tmp_path, "gated.yaml", YAML)
    ran = wfe(tmp_path, "run", path, "--var", f"out={tmp_path}")
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert (tmp_path / "deploy").read_text() == "deployed\n"
    (tmp_path / "deploy").unlink()

    skipped = wfe(tmp_path, "run", path, "--var", f"out={tmp_path}", "--var", "environment=staging")
    assert skipped.returncode == 0, skipped.stderr + skipped.stdout
    assert not (tmp_path / "deploy").exists()
    assert "when \"environment == 'production' and steps.test.output.stdout == '0\\n'\" is false" in skipped.stdout
    assert "(environment='staging')" in skipped.stdout


def test_json_and_toml_files_take_when_too(tmp_path):
    steps = [
        {"id": "a", "action": "shell.execute", "parameters": {"command": "echo 5"}},
        {
            "id": "b",
            "action": "shell.execute",
            "dependencies": ["a"],
            "when": "steps.a.status == 'succeeded' and level in ['high']",
            "parameters": {"command": "echo ran"},
        },
    ]
    json_path = tmp_path / "w.json"
    json_path.write_text(json.dumps({"id": "w", "variables": {"level": "low"}, "steps": steps}, indent=2))
    toml_path = write(
        tmp_path,
        "w.toml",
        """\
        id = "w"
        [variables]
        level = "low"
        [[steps]]
        id = "a"
        action = "shell.execute"
        parameters = {command = "echo 5"}
        [[steps]]
        id = "b"
        action = "shell.execute"
        dependencies = ["a"]
        when = "steps.a.status == 'succeeded' and level in ['high']"
        parameters = {command = "echo ran"}
        """,
    )
    for path in (str(json_path), toml_path):
        low = wfe(tmp_path, "run", path, "--reporter", "json")
        assert low.returncode == 0, low.stderr
        events = [json.loads(line) for line in low.stdout.splitlines() if line.startswith("{")]
        skipped = [e for e in events if e["kind"] == "step.skipped"]
        assert [e["step_id"] for e in skipped] == ["b"], low.stdout
        assert "(steps.a.status='succeeded', level='low')" in skipped[0]["reason"]
        high = wfe(tmp_path, "run", path, "--var", "level=high")
        assert high.returncode == 0 and " b succeeded " in high.stdout, high.stdout


def test_a_syntax_error_exits_2_naming_file_line_and_pointing_a_caret(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        id: bad
        steps:
          - id: a
            action: wait
            parameters: {seconds: 0}
            when: "steps.a.status == ('x'"
        """,
    )
    for command in ("validate", "run"):
        result = wfe(tmp_path, command, path)
        assert result.returncode == 2, result.stdout
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        first = next(n for n, line in enumerate(lines) if "invalid syntax" in line)
        assert lines[first].startswith(f"error: {path}:6: steps[0].when: step 'a': when: invalid syntax")
        assert lines[first + 1] == "    steps.a.status == ('x'"
        assert lines[first + 2] == "    " + " " * len("steps.a.status == ") + "^"


def test_an_undefined_variable_is_a_validation_error_when_no_step_can_set_one(tmp_path):
    path = write(
        tmp_path,
        "undefined.yaml",
        """\
        id: undefined
        variables: {region: eu}
        steps:
          - id: a
            action: wait
            parameters: {seconds: 0}
            when: "regoin == 'eu'"
        """,
    )
    result = wfe(tmp_path, "validate", path)
    assert result.returncode == 2
    assert f"{path}:7: steps[0].when: step 'a': when: undefined name 'regoin' (did you mean 'region'?)" in result.stderr


def test_a_step_reference_must_be_upstream(tmp_path):
    path = write(
        tmp_path,
        "order.yaml",
        """\
        id: order
        steps:
          - id: a
            action: wait
            parameters: {seconds: 0}
          - id: b
            action: wait
            parameters: {seconds: 0}
            when: "steps.a.status == 'succeeded'"
        """,
    )
    result = wfe(tmp_path, "validate", path)
    assert result.returncode == 2
    assert "when refers to step 'a', which is not upstream of 'b'" in result.stderr


def test_an_undefined_name_known_only_at_run_time_fails_the_step_not_skips_it(tmp_path):
    path = write(
        tmp_path,
        "late.yaml",
        """\
        id: late
        steps:
          - id: set
            action: variable.set
            parameters: {name: colour, value: red}
          - id: use
            action: shell.execute
            dependencies: [set]
            when: "color == 'red'"
            parameters: {command: "echo never"}
        """,
    )
    assert wfe(tmp_path, "validate", path).returncode == 0  # an upstream step sets variables
    result = wfe(tmp_path, "run", path)
    assert result.returncode == 1, result.stdout
    assert " use failed when \"color == 'red'\": name 'color' is not defined\n" in result.stdout


def test_a_dry_run_reports_a_step_whose_when_depends_on_an_output_it_cannot_know(tmp_path):
    path = write(tmp_path, "gated.yaml", YAML)
    result = wfe(tmp_path, "run", "--dry-run", path, "--var", f"out={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert " deploy skipped (dry run: would run shell.execute" in result.stdout
    assert not (tmp_path / "deploy").exists()
