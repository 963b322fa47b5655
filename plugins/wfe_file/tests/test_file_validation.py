"""Security checks of file steps through the real WorkflowValidator and plugin registry."""

from __future__ import annotations

import warnings
from importlib import metadata

import pytest

import wfe_file.plugin
from wfe_core.model.errors import Problem
from wfe_core.model.workflow import Workflow, WorkflowStep
from wfe_core.plugin.registry import load_plugins
from wfe_core.validate.validator import WorkflowValidator


@pytest.fixture(scope="module")
def validator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # built-ins still being written may not import yet
        plugins = load_plugins(autoload=False, extra={"file": wfe_file.plugin})
    return WorkflowValidator(plugins=plugins)


def ours(result) -> list[Problem]:
    return [
        p
        for p in result.problems
        if p.step_id
        and p.message.startswith(f"step '{p.step_id}': ")
        and ("system path" in p.message or "mode " in p.message)
    ]


def workflow(*steps: WorkflowStep) -> Workflow:
    return Workflow(id="wf", steps=steps)


def test_registry_has_the_actions_and_validators(validator):
    plugins = validator.plugins
    assert {"file.read", "file.write", "file.delete", "file.copy"} <= set(plugins.actions)
    assert {"file.system-paths", "file.world-writable"} <= set(plugins.validators)


def test_entry_point_is_declared():
    points = {ep.name: ep.value for ep in metadata.entry_points(group="wfe")}
    assert points.get("file") == "wfe_file.plugin"


@pytest.mark.parametrize(
    "action, params, key, message",
    [
        (
            "file.write",
            {"path": "/etc/hosts", "content": "x"},
            "path",
            "step 'bad': file.write writes to system path '/etc/hosts' (under /etc)",
        ),
        (
            "file.delete",
            {"path": "/usr/bin/python3"},
            "path",
            "step 'bad': file.delete deletes system path '/usr/bin/python3' (under /usr)",
        ),
        (
            "file.copy",
            {"source": "k", "destination": "/boot/vmlinuz"},
            "destination",
            "step 'bad': file.copy copies into system path '/boot/vmlinuz' (under /boot)",
        ),
        (
            "file.write",
            {"path": "/tmp/../etc/passwd", "content": "x"},
            "path",
            "step 'bad': file.write writes to system path '/tmp/../etc/passwd' (under /etc)",
        ),
        (
            "file.write",
            {"path": "/dev/sda", "content": "x"},
            "path",
            "step 'bad': file.write writes to system path '/dev/sda' (under /dev)",
        ),
        (
            "file.write",
            {"path": "/proc/sys/kernel/x", "content": "x"},
            "path",
            "step 'bad': file.write writes to system path '/proc/sys/kernel/x' (under /proc)",
        ),
        (
            "file.write",
            {"path": "/sys/power/state", "content": "x"},
            "path",
            "step 'bad': file.write writes to system path '/sys/power/state' (under /sys)",
        ),
        (
            "file.write",
            {"path": "/bin/ls", "content": "x"},
            "path",
            "step 'bad': file.write writes to system path '/bin/ls' (under /bin)",
        ),
        (
            "file.write",
            {"path": "/sbin/init", "content": "x"},
            "path",
            "step 'bad': file.write writes to system path '/sbin/init' (under /sbin)",
        ),
        (
            "file.write",
            {"path": "/lib/x.so", "content": "x"},
            "path",
            "step 'bad': file.write writes to system path '/lib/x.so' (under /lib)",
        ),
    ],
)
def test_system_paths_are_flagged(validator, action, params, key, message):
    result = validator.validate(workflow(WorkflowStep(id="bad", action=action, parameters=params)))
    assert ours(result) == [Problem(message, path=f"steps[0].parameters.{key}", severity="warning", step_id="bad")]
    assert result.is_valid
    strict = validator.validate(workflow(WorkflowStep(id="bad", action=action, parameters=params)), strict=True)
    assert not strict.is_valid
    assert Problem(message, path=f"steps[0].parameters.{key}", severity="warning", step_id="bad") in strict.errors


@pytest.mark.parametrize(
    "params",
    [
        {"path": "/tmp/out.txt", "content": "x"},
        {"path": "etc/hosts", "content": "x"},  # relative: depends on the workdir
        {"path": "{target}/hosts", "content": "x"},  # templated: rendered later
        {"path": "/etcetera/x", "content": "x"},
    ],
)
def test_harmless_or_unknowable_paths_pass(validator, params):
    result = validator.validate(workflow(WorkflowStep(id="ok", action="file.write", parameters=params)), strict=True)
    assert ours(result) == []


def test_file_read_of_system_path_is_not_flagged(validator):
    step = WorkflowStep(id="r", action="file.read", parameters={"path": "/etc/os-release"})
    assert ours(validator.validate(workflow(step))) == []


def test_rollback_parameters_are_checked(validator):
    step = WorkflowStep(
        id="s",
        action="variable.set",
        parameters={"name": "a", "value": 1},
        rollback_action="file.delete",
        rollback_parameters={"path": "/etc/important"},
    )
    assert ours(validator.validate(workflow(step))) == [
        Problem(
            "step 's': file.delete deletes system path '/etc/important' (under /etc)",
            path="steps[0].rollback_parameters.path",
            severity="warning",
            step_id="s",
        )
    ]


@pytest.mark.parametrize(
    "mode, message",
    [
        ("0666", "step 'w': mode 0666 makes '/tmp/x' world-writable"),
        ("0o777", "step 'w': mode 0777 makes '/tmp/x' world-writable"),
        (0o646, "step 'w': mode 0646 makes '/tmp/x' world-writable"),
    ],
)
def test_world_writable_modes(validator, mode, message):
    step = WorkflowStep(id="w", action="file.write", parameters={"path": "/tmp/x", "content": "", "mode": mode})
    assert ours(validator.validate(workflow(step))) == [
        Problem(message, path="steps[0].parameters.mode", severity="warning", step_id="w")
    ]


def test_decimal_mode_that_was_meant_as_octal(validator):
    step = WorkflowStep(id="w", action="file.write", parameters={"path": "/tmp/x", "content": "", "mode": 644})
    assert ours(validator.validate(workflow(step))) == [
        Problem(
            "step 'w': mode 644 is octal 1204, which sets setuid, setgid or sticky bits; "
            "a number is taken as it is, so write an octal mode as a string such as '0644'",
            path="steps[0].parameters.mode",
            severity="warning",
            step_id="w",
        )
    ]


@pytest.mark.parametrize("mode", ["0644", 0o600, 420, "{mode}", None])
def test_safe_modes_pass(validator, mode):
    step = WorkflowStep(id="w", action="file.write", parameters={"path": "/tmp/x", "content": "", "mode": mode})
    assert ours(validator.validate(workflow(step), strict=True)) == []
