"""The wfe command: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from wfe_core import __version__
from wfe_core.cli import main


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("WFE_DISABLE_PLUGIN_AUTOLOAD", "1")
    return CliRunner()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


GOOD = """\
    id: good
    variables: {greeting: hello}
    steps:
      - id: set
        action: variable.set
        parameters: {name: who, value: world}
      - id: get
        action: variable.get
        parameters: {name: who}
        dependencies: [set]
      - id: check
        action: validate.condition
        parameters: {value: "{greeting} {steps.get.output}", equals: hello world}
        dependencies: [get]
"""


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"wfe, version {__version__}\n"


def test_validate_valid(runner, tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(main, ["validate", path])
    assert result.exit_code == 0, result.output
    assert result.output == f"{path}: valid (3 steps)\n"


def test_validate_reports_every_problem_one_per_line_and_exits_2(runner, tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        id: bad
        steps:
          - id: a
            action: variable.sett
            parameters: {name: x, value: 1}
          - id: b
            action: wait
            dependecies: [a]
            timeout: abc
    """,
    )
    result = runner.invoke(main, ["validate", path])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"error: {path}:4: steps[0].action: step 'a': unknown action 'variable.sett' (did you mean 'variable.set'?)",
        f"error: {path}:6: steps[1].parameters.seconds: step 'b': is required but missing",
        f"error: {path}:8: steps[1].dependecies: unknown key 'dependecies' (did you mean 'dependencies'?)",
        f"error: {path}:9: steps[1].timeout: expected a number, got string 'abc'",
    ]
    assert "Traceback" not in result.output


def test_validate_semantic_problems(runner, tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        id: bad
        steps:
          - {id: a, action: variable.sett, parameters: {name: x, value: 1}}
          - {id: b, action: file.write, parameters: {path: x, content: y}}
          - {id: c, action: wait, parameters: {seconds: 1}, dependencies: [d]}
          - {id: d, action: wait, parameters: {seconds: 1}, dependencies: [c]}
    """,
    )
    result = runner.invoke(main, ["validate", path])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"error: {path}:3: steps[0].action: step 'a': unknown action 'variable.sett' (did you mean 'variable.set'?)",
        f"error: {path}:4: steps[1].action: step 'b': unknown action 'file.write'; it is provided by the "
        "wfe-file distribution (pip install wfe-file)",
        f"error: {path}:2: steps: dependency cycle: c -> d -> c",
    ]


def test_missing_file(runner, tmp_path):
    result = runner.invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {tmp_path / 'nope.yaml'}: file not found")


def test_run_success_prints_steps_and_a_summary(runner, tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(main, ["run", path, "--strategy", "sequential"])
    assert result.exit_code == 0, result.output
    # Not a terminal: plain lines, each stamped HH:MM:SS, then the summary.
    first, *lines = result.output.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d run [0-9a-f]{32} of good: 3 steps, sequential on 1 workers", first)
    steps = [line for line in lines if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert [line[9:].split()[:2] for line in steps] == [
        [sid, what] for sid in ("set", "get", "check") for what in ("started", "succeeded")
    ]
    summary = lines[len(steps)]
    assert re.fullmatch(
        r"run [0-9a-f]{12} succeeded: 3 succeeded, 0 failed, 0 skipped, 0 cancelled \(of 3\) in .*", summary
    )
    assert "\x1b" not in result.output  # no escape codes


def test_run_failure_exits_1(runner, tmp_path):
    path = write(
        tmp_path,
        "fail.yaml",
        """\
        id: fail
        steps:
          - {id: check, action: validate.condition, parameters: {value: "{x}", equals: "yes"}}
          - {id: after, action: wait, parameters: {seconds: 0}, dependencies: [check]}
    """,
    )
    result = runner.invoke(main, ["run", path, "--var", "x=no"])
    assert result.exit_code == 1
    assert " check failed condition failed: 'no' does not equal 'yes'\n" in result.output
    assert " after cancelled (not started: critical step 'check' failed)\n" in result.output


def test_run_undefined_variable_is_invalid_input(runner, tmp_path):
    path = write(
        tmp_path,
        "typo.yaml",
        """\
        id: typo
        variables: {message: hi}
        steps:
          - {id: show, action: variable.set, parameters: {name: out, value: "say {mesage}"}}
    """,
    )
    result = runner.invoke(main, ["run", path])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {path}:4: steps[0].parameters.value: step 'show': parameter 'value': undefined name 'mesage' "
        "(did you mean 'message'?); defined variables: message\n"
    )


def test_run_dry_run_prints_the_plan(runner, tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(main, ["run", path, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("dry run of good: 3 steps in 3 levels\n  level 0: set\n")


def test_run_bad_var_and_unknown_strategy(runner, tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(main, ["run", path, "--var", "novalue"])
    assert result.exit_code == 2 and "expected NAME=VALUE, got 'novalue'" in result.output
    result = runner.invoke(main, ["run", path, "--strategy", "paralel"])
    assert result.exit_code == 2
    assert result.output == (
        "error: unknown strategy 'paralel' (did you mean 'parallel'?); known: adaptive, hybrid, parallel, sequential\n"
    )


def test_json_reporter(runner, tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(main, ["run", path, "--reporter", "json"])
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.output.splitlines()]
    assert events[0]["kind"] == "run.started" and events[-1]["kind"] == "run.finished"
    assert {e["step_id"] for e in events if e["kind"] == "step.succeeded"} == {"set", "get", "check"}


def test_plugins_lists_builtins(runner):
    result = runner.invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    names = {p["name"]: p for p in data["plugins"]}
    assert names["wfe.variables"]["provides"]["actions"] == ["variable.set", "variable.get"]
    assert names["wfe.variables"]["distribution"] == "wfe-core"
    text = runner.invoke(main, ["plugins"]).output
    assert "    actions: variable.set, variable.get" in text


def test_help_imports_no_plugin():
    """`wfe --help` stays fast: the plugin registry is not even built."""
    code = (
        "import sys; sys.argv = ['wfe', '--help']\n"
        "from wfe_core.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('wfe_core.plugin.builtins', 'wfe_file', 'wfe_http', "
        "'wfe_shell', 'requests'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_console_script_runs_as_a_real_process(tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    proc = subprocess.run([sys.executable, "-m", "wfe_core", "run", path], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "succeeded: 3 succeeded, 0 failed, 0 skipped, 0 cancelled (of 3)" in proc.stdout


def test_a_reader_that_goes_away_does_not_break_the_run(tmp_path):
    """`wfe run … | head -1`: the run finishes and records normally, with no traceback."""
    steps = "".join(f"  - {{id: s{i}, action: wait, parameters: {{seconds: 0.05}}}}\n" for i in range(5))
    path = write(tmp_path, "w.yaml", "id: piped\nsteps:\n" + steps)
    env = {**__import__("os").environ, "WFE_DISABLE_PLUGIN_AUTOLOAD": "1", "WFE_STORE": str(tmp_path / "runs.sqlite")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", "--strategy", "sequential", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.readline()
    proc.stdout.close()  # the reader leaves after the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    listed = subprocess.run(
        [sys.executable, "-m", "wfe_core", "runs", "--json"], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(listed.stdout)[0]["status"] == "succeeded"


def test_history_commands_without_a_store_say_so(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "none-yet.sqlite"))
    for args in (["runs"], ["runs", "show", "abc"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2
        assert result.output == f"error: no run store at {tmp_path / 'none-yet.sqlite'} (no run recorded yet)\n"


def test_runs_lists_and_shows_a_recorded_run(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    path = write(tmp_path, "good.yaml", GOOD)
    assert runner.invoke(main, ["run", path]).exit_code == 0
    listing = runner.invoke(main, ["runs"])
    assert listing.exit_code == 0
    header, row = listing.output.splitlines()
    assert header.split() == ["RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION"]
    run_id, workflow, status = row.split()[:3]
    assert (workflow, status) == ("good", "succeeded")
    shown = runner.invoke(main, ["runs", "show", run_id[:6]])
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert lines[0].startswith(f"run {run_id}") and lines[0].endswith("workflow good  succeeded")
    assert [line.split()[:4] for line in lines[2:]] == [
        [sid, "succeeded", "attempts", "1"] for sid in ("set", "get", "check")
    ]


def test_schema_publishes_parameter_classes(runner):
    one = runner.invoke(main, ["schema", "wait"])
    assert one.exit_code == 0
    assert json.loads(one.output) == {
        "title": "wait",
        "description": "Wait a number of seconds.",
        "side_effects": False,
        "parameters": {
            "type": "object",
            "properties": {"seconds": {"type": "number"}},
            "additionalProperties": False,
            "required": ["seconds"],
            "description": "seconds: how long to wait (wakes early if the step is cancelled or times out).",
        },
    }
    every = json.loads(runner.invoke(main, ["schema"]).output)
    assert set(every) == {"variable.set", "variable.get", "wait", "validate.condition", "workflow.run"}
    assert every["variable.set"]["parameters"]["required"] == ["name", "value"]
    assert every["validate.condition"]["parameters"]["properties"]["one_of"]["default"] is None
    bad = runner.invoke(main, ["schema", "wiat"])
    assert bad.exit_code == 2 and bad.output == "error: unknown action 'wiat' (did you mean 'wait'?)\n"


def test_help_imports_neither_engine_nor_storage_nor_parsers():
    """Start-up: `wfe --help` loads no engine, SQLite, YAML, asyncio or cattrs."""
    code = (
        "import sys; sys.argv = ['wfe', '--help']\n"
        "from wfe_core.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('wfe_core.engine', 'wfe_core.run', 'wfe_core.store.runstore', 'sqlite3', 'yaml', 'asyncio', "
        "'cattrs', 'pluggy')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_public_names_resolve_lazily_and_completely():
    import wfe_core

    for name in wfe_core.__all__:
        assert getattr(wfe_core, name) is not None, name
    assert set(wfe_core.__all__) <= set(dir(wfe_core))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        wfe_core.Nope  # noqa: B018
