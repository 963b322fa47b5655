"""The http.security validator, run through the real WorkflowValidator."""

from __future__ import annotations

import warnings

import pytest

import wfe_http.plugin
from wfe_core.model.workflow import Workflow, WorkflowStep
from wfe_core.plugin.registry import PluginLoadWarning, load_plugins
from wfe_core.validate.validator import WorkflowValidator


@pytest.fixture(scope="module")
def validator():
    with warnings.catch_warnings():  # built-ins still being written must not fail these tests
        warnings.simplefilter("ignore", PluginLoadWarning)
        plugins = load_plugins(autoload=False, extra={"http": wfe_http.plugin})
    return WorkflowValidator(plugins=plugins)


def http_problems(validator, *steps, strict=False):
    workflow = Workflow(
        id="wf", steps=[WorkflowStep(id=f"s{i}", action=a, parameters=p) for i, (a, p) in enumerate(steps)]
    )
    result = validator.validate(workflow, strict=strict)
    # Only this plugin's findings: the core's own validators report errors, never warnings, here.
    return result, [p for p in result.problems if p.severity == "warning"]


def test_registers_actions_and_validator(validator):
    assert {"http.get", "http.post", "http.put", "http.patch", "http.delete", "http.head"} <= set(
        validator.plugins.actions
    )
    assert "http.security" in validator.plugins.validators


def test_insecure_http_flagged(validator):
    _, found = http_problems(
        validator,
        ("http.get", {"url": "https://ok.example.com"}),
        ("http.post", {"url": "http://api.example.com/data?token=abc"}),
    )
    assert [(str(p), p.severity, p.step_id) for p in found] == [
        (
            "warning: steps[1].parameters.url: step 's1': insecure HTTP: http://api.example.com/data?token=*** "
            "is not encrypted; use https://",
            "warning",
            "s1",
        ),
    ]


def test_verify_false_flagged(validator):
    _, found = http_problems(validator, ("http.get", {"url": "https://internal.example.com", "verify": False}))
    assert [str(p) for p in found] == [
        "warning: steps[0].parameters.verify: step 's0': TLS certificate verification is disabled (verify: false); "
        "use ca_bundle to trust a private CA instead",
    ]


def test_credentials_in_url_flagged(validator):
    _, found = http_problems(validator, ("http.get", {"url": "https://bob:hunter2@example.com/x"}))
    assert [str(p) for p in found] == [
        "warning: steps[0].parameters.url: step 's0': credentials embedded in URL https://***@example.com/x; "
        "use the auth parameter instead",
    ]
    assert "hunter2" not in str(found[0])


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8080/x", "http://127.0.0.1/", "http://127.3.4.5:1/", "http://[::1]:9000/", "http://LOCALHOST/"],
)
def test_loopback_http_not_flagged(validator, url):
    assert http_problems(validator, ("http.get", {"url": url}))[1] == []


@pytest.mark.parametrize(
    "parameters",
    [
        {"url": "http://{host}/x"},
        {"url": "https://{user}:{pw}@example.com"},
        {"url": "https://x", "verify": "{verify}"},
    ],
)
def test_templated_values_skipped(validator, parameters):
    assert http_problems(validator, ("http.get", parameters))[1] == []


def test_other_actions_ignored(validator):
    assert http_problems(validator, ("wait", {"url": "http://example.com", "seconds": 1}))[1] == []


def test_rollback_parameters_checked(validator):
    step = WorkflowStep(
        id="make",
        action="http.post",
        parameters={"url": "https://example.com/things"},
        rollback_action="http.delete",
        rollback_parameters={"url": "http://example.com/things/1"},
    )
    result = validator.validate(Workflow(id="wf", steps=[step]))
    assert [str(p) for p in result.problems if p.severity == "warning"] == [
        "warning: steps[0].rollback_parameters.url: step 'make': insecure HTTP: http://example.com/things/1 "
        "is not encrypted; use https://",
    ]


def test_strict_mode_turns_warnings_into_errors(validator):
    lenient, _ = http_problems(validator, ("http.get", {"url": "http://example.com"}))
    strict, found = http_problems(validator, ("http.get", {"url": "http://example.com"}), strict=True)
    assert found[0] in lenient.warnings and found[0] not in lenient.errors
    assert found[0] in strict.errors and not strict.is_valid
