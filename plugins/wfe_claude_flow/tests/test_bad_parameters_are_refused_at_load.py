"""Bad claude_flow.* parameters and secrets bound for memory are reported by `wfe validate`
before anything runs: one line each naming file, step path and field; exit code 2."""

from __future__ import annotations

import pytest


def _validate(wfe, write, body: str, *flags: str):
    path = write("wf.yaml", "id: bad\nsecrets: [API_TOKEN]\nsteps:\n" + body)
    return wfe("validate", path, *flags, env={"API_TOKEN": "t0ken-value"}), path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  - {id: s, action: claude_flow.swarm_init, parameters: {topology: meshh}}\n",
            "steps[0].parameters.topology: step 's': unknown topology 'meshh' (did you mean 'mesh'?); "
            "allowed: hierarchical, mesh, ring, star",
        ),
        (
            "  - {id: s, action: claude_flow.swarm_init, parameters: {max_agents: 0}}\n",
            "steps[0].parameters.max_agents: step 's': must be between 1 and 100, got 0",
        ),
        (
            "  - {id: s, action: claude_flow.swarm_init, parameters: {max_agents: '3'}}\n",
            "steps[0].parameters.max_agents",
        ),
        (
            "  - {id: a, action: claude_flow.agent_spawn, parameters: {type: coder, swarmId: x}}\n",
            "steps[0].parameters.swarmId: step 'a': unknown key 'swarmId' (did you mean 'swarm_id'?)",
        ),
        (
            "  - {id: t, action: claude_flow.task_orchestrate, parameters: {task: x, priority: urgent}}\n",
            "steps[0].parameters.priority: step 't': unknown priority 'urgent'; allowed: low, normal, high, critical",
        ),
        (
            "  - {id: m, action: claude_flow.memory_store, parameters: {key: k, value: 1, ttl: -5}}\n",
            "steps[0].parameters.ttl: step 'm': must be a positive number of seconds, got -5\n",
        ),
        (
            "  - {id: m, action: claude_flow.memory_store, parameters: {value: 1}}\n",
            "steps[0].parameters.key: step 'm': is required but missing",
        ),
    ],
)
def test_bad_parameters_are_one_line_errors_with_exit_code_2(wfe, write, body, expected):
    done, path = _validate(wfe, write, body)
    assert done.returncode == 2, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert expected in out, out
    assert path in out and "Traceback" not in out


def test_a_secret_stored_in_memory_is_a_warning_and_an_error_under_strict(wfe, write):
    body = (
        "  - id: leak\n    action: claude_flow.memory_store\n"
        "    parameters: {key: creds, value: {token: '{secrets.API_TOKEN}'}}\n"
    )
    done, _ = _validate(wfe, write, body)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert (
        "warning: steps[0].parameters.value.token: step 'leak': secret API_TOKEN would be stored in "
        "claude-flow memory" in out
    ), out
    strict, _ = _validate(wfe, write, body, "--strict")
    assert strict.returncode == 2
    assert "secret API_TOKEN" in strict.stdout + strict.stderr


@pytest.mark.parametrize(
    "value",
    ["{password: hunter2}", "'sk-ant-abcdefghijklmnopqrstuvwxyz'", "{note: 'ghp_abcdefghijklmnopqrstuvwxyz0123'}"],
)
def test_credential_looking_literals_bound_for_memory_are_flagged(wfe, write, value):
    body = f"  - id: leak\n    action: claude_flow.memory_store\n    parameters: {{key: k, value: {value}}}\n"
    done, _ = _validate(wfe, write, body, "--strict")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "would be stored in claude-flow memory" in done.stdout + done.stderr


def test_a_secret_sent_through_call_to_memory_store_is_flagged_too(wfe, write):
    body = (
        "  - id: leak\n    action: claude_flow.call\n"
        "    parameters: {tool: memory_store, arguments: {key: k, value: '{secrets.API_TOKEN}'}}\n"
    )
    done, _ = _validate(wfe, write, body, "--strict")
    assert done.returncode == 2
    assert "steps[0].parameters.arguments.value" in done.stdout + done.stderr


def test_ordinary_values_are_not_flagged(wfe, write):
    body = (
        "  - id: ok\n    action: claude_flow.memory_store\n"
        "    parameters: {key: token_count, value: {tokens: 42, note: 'a plain note'}}\n"
    )
    done, _ = _validate(wfe, write, body, "--strict")
    assert done.returncode == 0, done.stdout + done.stderr
