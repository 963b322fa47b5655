"""shell.execute with real subprocesses: forms, exit codes, env, cwd, stdin, output limits."""

from __future__ import annotations

import os
import shlex

import pytest

import wfe_shell.plugin
from wfe_core.load.convert import structure
from wfe_core.model.errors import ActionError, InvalidWorkflowError
from wfe_shell.params import ShellParams
from wfe_shell.process import OUTPUT_LIMIT
from wfe_shell.quoting import ShellQuote

ACTION = {a.name: a for a in wfe_shell.plugin.wfe_actions()}["shell.execute"]


def test_string_command_runs_in_sh(run):
    assert run({"command": "echo hello; echo oops >&2"}) == {"exit_code": 0, "stdout": "hello\n", "stderr": "oops\n"}


def test_argv_command_runs_without_a_shell(run):
    out = run({"command": ["printf", "%s|", "a b", "$HOME", "*"]})
    assert out["stdout"] == "a b|$HOME|*|"


def test_non_zero_exit_fails_with_code_and_stderr_tail(run):
    with pytest.raises(ActionError) as info:
        run({"command": "echo out; for i in $(seq 1 30); do echo line$i >&2; done; exit 3"})
    tail = "\n".join(f"line{i}" for i in range(11, 31))
    assert str(info.value) == f"command exited with code 3 (expected 0); stderr:\n{tail}"


def test_failure_without_stderr(run):
    with pytest.raises(ActionError) as info:
        run({"command": "exit 1"})
    assert str(info.value) == "command exited with code 1 (expected 0)"


def test_expected_exit_codes(run):
    assert run({"command": "exit 3", "expected_exit_codes": [0, 3]})["exit_code"] == 3
    with pytest.raises(ActionError) as info:
        run({"command": "exit 0", "expected_exit_codes": [1, 2]})
    assert str(info.value) == "command exited with code 0 (expected one of 1, 2)"


def test_killed_by_signal(run):
    with pytest.raises(ActionError) as info:
        run({"command": "kill -KILL $$"})
    assert str(info.value) == "command was killed by signal SIGKILL (exit code -9, expected 0)"


def test_env_is_merged_onto_the_environment(run, monkeypatch):
    monkeypatch.setenv("WFE_TEST_INHERITED", "kept")
    monkeypatch.setenv("WFE_TEST_DROPPED", "x")
    out = run(
        {
            "command": 'echo "$WFE_TEST_INHERITED $GREETING ${WFE_TEST_DROPPED-unset}"',
            "env": {"GREETING": "hi there", "WFE_TEST_DROPPED": None},
        }
    )
    assert out["stdout"] == "kept hi there unset\n"


def test_cwd_is_relative_to_the_workdir(tmp_path, run):
    (tmp_path / "sub").mkdir()
    assert run({"command": "pwd", "cwd": "sub"})["stdout"] == f"{tmp_path / 'sub'}\n"
    assert run({"command": ["pwd"]})["stdout"] == f"{tmp_path}\n"


def test_missing_cwd(tmp_path, run):
    with pytest.raises(ActionError) as info:
        run({"command": "pwd", "cwd": "nope"})
    assert str(info.value) == f"cwd 'nope' is not a directory (resolved to '{tmp_path / 'nope'}')"


def test_missing_program(run):
    with pytest.raises(ActionError) as info:
        run({"command": ["wfe-no-such-program-xyz", "arg"]})
    assert str(info.value) == "cannot run 'wfe-no-such-program-xyz': no such file or command"


def test_input_is_fed_to_stdin(run):
    assert run({"command": "tr a-z A-Z", "input": "shout\n"})["stdout"] == "SHOUT\n"


def test_large_input_and_output_do_not_deadlock(run):
    text = "0123456789" * 50_000  # 500 kB each way: larger than any pipe buffer
    out = run({"command": "cat; cat >&2 < /dev/null", "input": text})
    assert out["stdout"] == text


def test_stdin_is_empty_without_input(run):
    assert run({"command": "cat"})["stdout"] == ""


def test_output_is_bounded_to_its_tail(run):
    # 1.5 MiB of 'a', then a final line that must survive the truncation.
    out = run({"command": "head -c 1572864 /dev/zero | tr '\\0' a; echo; echo THE-END"})
    stdout = out["stdout"]
    dropped = 1572864 + 1 + 8 - OUTPUT_LIMIT
    marker = f"[wfe-shell: output truncated, {dropped} earlier bytes dropped]\n"
    assert stdout.startswith(marker)
    assert stdout.endswith("a\nTHE-END\n")
    assert len(stdout) == len(marker) + OUTPUT_LIMIT


def test_invalid_utf8_is_replaced(run):
    assert run({"command": "printf 'ok\\377'"})["stdout"] == "ok\ufffd"


def test_action_declares_shell_quoting_for_command():
    # The quoter renders whole templates (values go through the environment); called
    # with one value, it still shell-quotes it.
    assert ACTION.quote == {"command": ShellQuote()}
    assert ACTION.quote["command"]("it's") == shlex.quote("it's")
    assert ACTION.parameters is ShellParams
    assert ACTION.side_effects is True


def test_quoted_injection_is_printed_literally(tmp_path, run):
    payload = f'"; touch {tmp_path}/pwned; echo "'
    out = run({"command": "echo " + shlex.quote(payload)})
    assert out["stdout"] == payload + "\n"
    assert not (tmp_path / "pwned").exists()


def test_dry_run_runs_nothing(tmp_path, make_context, run):
    out = run({"command": f"touch {tmp_path}/made"}, make_context(dry_run=True))
    assert out["dry_run"] is True
    assert not (tmp_path / "made").exists()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"command": ""}, "invalid value: command must not be empty"),
        ({"command": []}, "invalid value: command must not be an empty list"),
        ({"command": ["ls", 3]}, "invalid value: command[1] must be a string, got int"),
        ({"command": 5}, "invalid value: command must be a string or a list of strings, got int"),
        (
            {"command": "ls", "env": {"PORT": 8080}},
            "invalid value: env.PORT must be a string (or null to unset it), got int",
        ),
        ({"command": "ls", "timeout": 0}, "invalid value: timeout must be a positive number of seconds, got 0.0"),
        (
            {"command": "ls", "expected_exit_codes": []},
            "invalid value: expected_exit_codes must list at least one exit code",
        ),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(InvalidWorkflowError) as info:
        structure(params, ShellParams)
    assert str(info.value) == message


def test_unknown_parameter():
    with pytest.raises(InvalidWorkflowError) as info:
        structure({"command": "ls", "timout": 3}, ShellParams)
    assert str(info.value) == "timout: unknown key 'timout' (did you mean 'timeout'?)"


def test_environment_of_engine_is_not_changed(run):
    run({"command": "true", "env": {"WFE_SHOULD_NOT_LEAK": "1"}})
    assert "WFE_SHOULD_NOT_LEAK" not in os.environ
