"""Dangerous-command and credential checks through the real WorkflowValidator."""

from __future__ import annotations

import warnings
from importlib import metadata

import pytest

import wfe_shell.plugin
from wfe_core.model.errors import Problem
from wfe_core.model.workflow import Workflow, WorkflowStep
from wfe_core.plugin.registry import load_plugins
from wfe_core.validate.validator import WorkflowValidator


@pytest.fixture(scope="module")
def validator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # built-ins still being written may not import yet
        plugins = load_plugins(autoload=False, extra={"shell": wfe_shell.plugin})
    return WorkflowValidator(plugins=plugins)


def ours(result) -> list[Problem]:
    return [p for p in result.problems if ": dangerous command: " in p.message or "credential" in p.message]


def one_step(command, step_id: str = "cleanup", **params) -> Workflow:
    step = WorkflowStep(id=step_id, action="shell.execute", parameters={"command": command, **params})
    return Workflow(id="wf", steps=[step])


def test_registry_and_entry_point(validator):
    assert "shell.execute" in validator.plugins.actions
    assert {"shell.dangerous-commands", "shell.hardcoded-credentials"} <= set(validator.plugins.validators)
    points = {ep.name: ep.value for ep in metadata.entry_points(group="wfe")}
    assert points.get("shell") == "wfe_shell.plugin"


@pytest.mark.parametrize(
    "command, finding",
    [
        ("rm -rf /", "recursive delete of '/' (rm -rf /)"),
        ("rm -fr ~", "recursive delete of '~' (rm -fr ~)"),
        ("rm -rf /*", "recursive delete of '/*' (rm -rf /*)"),
        ("rm -rf --no-preserve-root /", "recursive delete of '/' (rm -rf --no-preserve-root /)"),
        ('sudo rm -r "$HOME"', "recursive delete of '$HOME' (sudo rm -r $HOME)"),
        ("cd /tmp && rm -Rf /usr", "recursive delete of '/usr' (rm -Rf /usr)"),
        ("mkfs.ext4 /dev/sdb1", "creating a filesystem (mkfs.ext4 /dev/sdb1)"),
        ("mkfs -t xfs /dev/vdb", "creating a filesystem (mkfs -t xfs /dev/vdb)"),
        ("dd if=/dev/zero of=/dev/sda bs=1M", "dd onto block device '/dev/sda' (dd if=/dev/zero of=/dev/sda bs=1M)"),
        ("echo oops > /dev/sda", "write to block device '/dev/sda' (> /dev/sda)"),
        ("cat image >>/dev/nvme0n1", "write to block device '/dev/nvme0n1' (>> /dev/nvme0n1)"),
        (
            "curl -fsSL https://example.com/install.sh | sh",
            "piping a download into a shell (curl -fsSL https://example.com/install.sh | sh)",
        ),
        (
            "wget -qO- http://example.com/x | sudo bash",
            "piping a download into a shell (wget -qO- http://example.com/x | sudo bash)",
        ),
        (":(){ :|:& };:", "fork bomb (:(){ :|:& };:)"),
        ("chmod -R 777 /", "recursive chmod of '/' (chmod -R 777 /)"),
        ("chown -R nobody /etc", "recursive chown of '/etc' (chown -R nobody /etc)"),
        ("shutdown -h now", "shutting down or rebooting the machine (shutdown -h now)"),
        ("make install; reboot", "shutting down or rebooting the machine (reboot)"),
        ("systemctl poweroff", "shutting down or rebooting the machine (systemctl poweroff)"),
        ("bash -c 'rm -rf /'", "recursive delete of '/' (rm -rf /)"),
        ("echo $(rm -rf /)", "recursive delete of '/' (rm -rf /)"),
        (["rm", "-rf", "/"], "recursive delete of '/' (rm -rf /)"),
        (["sh", "-c", "halt"], "shutting down or rebooting the machine (halt)"),
    ],
)
def test_dangerous_commands_are_flagged(validator, command, finding):
    expected = Problem(
        f"step 'cleanup': dangerous command: {finding}",
        path="steps[0].parameters.command",
        severity="warning",
        step_id="cleanup",
    )
    result = validator.validate(one_step(command))
    assert ours(result) == [expected]
    assert result.is_valid and expected in result.warnings
    strict = validator.validate(one_step(command), strict=True)
    assert not strict.is_valid and expected in strict.errors


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf /tmp/build",
        "rm -rf ./dist ~/.cache/wfe-test",
        "rm -f /",  # not recursive: rm refuses a directory
        "rm -rf {target}",  # rendered (and quoted) later
        "echo rm -rf / is a bad idea",
        "dd if=/dev/zero of=disk.img bs=1M count=1",
        "ls > /dev/null 2>&1",
        "curl -fsSL https://example.com -o install.sh",
        "chmod -R 755 ./public",
        "chmod -r notes.txt",
        "echo 'unbalanced",
        ["echo", "rm -rf /"],
    ],
)
def test_ordinary_commands_pass(validator, command):
    assert ours(validator.validate(one_step(command), strict=True)) == []


def test_several_findings_in_one_command(validator):
    result = validator.validate(one_step("rm -rf / ~; reboot", step_id="nuke"))
    assert [p.message for p in ours(result)] == [
        "step 'nuke': dangerous command: recursive delete of '/' (rm -rf / ~)",
        "step 'nuke': dangerous command: recursive delete of '~' (rm -rf / ~)",
        "step 'nuke': dangerous command: shutting down or rebooting the machine (reboot)",
    ]


def test_rollback_command_is_checked(validator):
    step = WorkflowStep(
        id="deploy",
        action="shell.execute",
        parameters={"command": "true"},
        rollback_action="shell.execute",
        rollback_parameters={"command": "rm -rf /"},
    )
    assert ours(validator.validate(Workflow(id="wf", steps=[step]))) == [
        Problem(
            "step 'deploy': dangerous command: recursive delete of '/' (rm -rf /)",
            path="steps[0].rollback_parameters.command",
            severity="warning",
            step_id="deploy",
        )
    ]


def test_hardcoded_credential_in_env(validator):
    workflow = one_step(
        "deploy", step_id="ship", env={"DB_PASSWORD": "hunter2", "API_TOKEN": "{token}", "MODE": "prod"}
    )
    assert ours(validator.validate(workflow)) == [
        Problem(
            "step 'ship': env 'DB_PASSWORD' holds a hardcoded value that looks like a credential; "
            "pass it in through a variable or secret instead",
            path="steps[0].parameters.env.DB_PASSWORD",
            severity="warning",
            step_id="ship",
        )
    ]
