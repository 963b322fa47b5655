"""Secret masking, sealing for the store, and unsealing on resume."""

from __future__ import annotations

import pytest

from wfe_core import InvalidWorkflowError
from wfe_core.model.secrets import Redactor, mask_sealed, read_secrets, unseal


def test_mask_seal_unseal_round_trip():
    redact = Redactor({"TOKEN": "s3cr3t-value", "OTHER": "hunter22"})
    value = {"out": "got s3cr3t-value and hunter22", "list": ["s3cr3t-value", 5, None]}
    assert redact(value) == {"out": "got *** and ***", "list": ["***", 5, None]}
    sealed = redact.seal(value)
    assert sealed == {"out": "got <<secret:TOKEN>> and <<secret:OTHER>>", "list": ["<<secret:TOKEN>>", 5, None]}
    assert unseal(sealed, {"TOKEN": "s3cr3t-value", "OTHER": "hunter22"}) == value
    assert mask_sealed(sealed) == redact(value)
    assert unseal("<<secret:GONE>>", {}) == "***"  # a secret no longer declared stays masked


def test_an_empty_redactor_changes_nothing():
    redact = Redactor({})
    assert not redact and redact("x") == "x" and redact.seal({"a": "b"}) == {"a": "b"}


def test_read_secrets_reports_every_missing_or_short_one():
    with pytest.raises(InvalidWorkflowError) as info:
        read_secrets(["A", "B", "C"], {"B": "ab", "C": "long-enough"})
    assert str(info.value).splitlines() == [
        "secrets[0]: secret 'A' is not set in the environment",
        "secrets[1]: secret 'B' is shorter than 4 characters; it could not be told apart from ordinary text in logs",
    ]


def test_a_dry_run_needs_no_secret(monkeypatch):
    from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins

    monkeypatch.delenv("DEPLOY_TOKEN", raising=False)
    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=None)
    engine.register_custom_action("deploy", lambda p, c: None)
    workflow = Workflow(
        id="w",
        secrets=["DEPLOY_TOKEN"],
        steps=[WorkflowStep(id="d", action="deploy", parameters={"token": "{secrets.DEPLOY_TOKEN}"})],
    )
    stats = engine.run(workflow, execution_mode="dry_run")
    assert stats.succeeded
    assert stats.steps["d"].reason == "dry run: would run deploy with {'token': '<secrets.DEPLOY_TOKEN>'}"
    with pytest.raises(InvalidWorkflowError, match="secret 'DEPLOY_TOKEN' is not set in the environment"):
        engine.run(workflow)
