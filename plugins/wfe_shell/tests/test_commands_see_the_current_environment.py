"""Each command gets this process's environment as it is when the command starts.

wfe-shell reuses its decoded copy of the environment while the environment is unchanged;
a change made between two commands (set, changed, removed) must still reach the next.
"""

from __future__ import annotations

import os


def test_a_variable_set_changed_and_removed_between_commands(run, monkeypatch):
    command = {"command": 'printf "%s" "${WFE_TEST_SEEN-unset}"'}
    assert run(command)["stdout"] == "unset"
    monkeypatch.setenv("WFE_TEST_SEEN", "one")
    assert run(command)["stdout"] == "one"
    monkeypatch.setenv("WFE_TEST_SEEN", "two")
    assert run(command)["stdout"] == "two"
    monkeypatch.delenv("WFE_TEST_SEEN")
    assert run(command)["stdout"] == "unset"


def test_bytes_that_are_not_utf8_reach_the_command_unchanged(run, monkeypatch):
    monkeypatch.setitem(os.environb, b"WFE_TEST_RAW", b"a\xffb")
    out = run({"command": 'printf "%s" "$WFE_TEST_RAW" | od -An -tx1'})
    assert out["stdout"].split() == ["61", "ff", "62"]


def test_the_step_env_overrides_and_removes_process_variables(run, monkeypatch):
    monkeypatch.setenv("WFE_TEST_A", "process")
    monkeypatch.setenv("WFE_TEST_B", "process")
    out = run(
        {
            "command": 'printf "%s/%s" "$WFE_TEST_A" "${WFE_TEST_B-unset}"',
            "env": {"WFE_TEST_A": "step", "WFE_TEST_B": None},
        }
    )
    assert out["stdout"] == "step/unset"
    assert run({"command": 'printf "%s" "$WFE_TEST_A"'})["stdout"] == "process"
