"""Credentials written into http steps: ``wfe validate`` warns, ``--strict`` refuses (exit 2).

Each form through the real ``wfe`` process; the message names the file, line, step and
field, and never repeats the credential.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LITERAL = "Sup3rS3cretV4lue"


def _validate(tmp_path, parameters: dict, *, variables: dict | None = None, strict: bool = True):
    workflow = {
        "id": "wf",
        "secrets": ["TOKEN"],
        "variables": variables or {},
        "steps": [
            {"id": "call", "action": "http.post", "parameters": {"url": "https://api.example.com", **parameters}}
        ],
    }
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow, indent=2))
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", "validate", *(["--strict"] if strict else []), str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


FORMS = [
    (
        {"headers": {"Authorization": f"Bearer {LITERAL}"}},
        "parameters.headers.Authorization",
        "the Authorization header is written out",
    ),
    ({"headers": {"X-Api-Key": LITERAL}}, "parameters.headers.X-Api-Key", "header 'X-Api-Key' is written out"),
    ({"json": {"user": "me", "password": LITERAL}}, "parameters.json.password", "'password' is written out"),
    (
        {"json": {"login": {"credentials": [{"api_key": LITERAL}]}}},
        "parameters.json.login.credentials[0].api_key",
        "'api_key' is written out",
    ),
    ({"data": {"user": "me", "passwd": LITERAL}}, "parameters.data.passwd", "'passwd' is written out"),
    ({"data": f"user=me&password={LITERAL}"}, "parameters.data", "'password' is written out in the form body"),
    ({"params": {"access_token": LITERAL}}, "parameters.params.access_token", "'access_token' is written out"),
    ({"auth": {"username": "me", "password": LITERAL}}, "parameters.auth.password", "auth password is written out"),
    ({"auth": {"token": LITERAL}}, "parameters.auth.token", "auth token is written out"),
]


@pytest.mark.parametrize(("parameters", "field", "what"), FORMS, ids=[f[1] for f in FORMS])
def test_a_credential_written_in_a_step_is_refused_under_strict(tmp_path, parameters, field, what):
    strict = _validate(tmp_path, parameters)
    assert strict.returncode == 2, strict.stdout + strict.stderr
    assert f"steps[0].{field}: step 'call': hardcoded credential: {what}; use a secret" in strict.stderr
    assert strict.stderr.startswith("error: wf.json:") or "wf.json:" in strict.stderr
    assert LITERAL not in strict.stdout + strict.stderr and "Traceback" not in strict.stderr
    relaxed = _validate(tmp_path, parameters, strict=False)
    assert relaxed.returncode == 0 and "warning:" in relaxed.stderr and field in relaxed.stderr


def test_a_secret_named_variable_with_a_literal_value_is_refused_under_strict(tmp_path):
    done = _validate(
        tmp_path,
        {"headers": {"X-Trace": "{trace}", "X-Key": "{api_token}"}},
        variables={"api_token": LITERAL, "trace": "t-1"},
    )
    assert done.returncode == 2, done.stderr
    assert (
        "variables.api_token: step 'call': uses variable 'api_token', a credential written in the workflow; "
        "declare it under secrets: and use {secrets.api_token} instead"
    ) in done.stderr
    assert "trace" not in done.stderr and LITERAL not in done.stderr


@pytest.mark.parametrize(
    "parameters",
    [
        {"headers": {"Authorization": "Bearer {secrets.TOKEN}", "X-Api-Key": "{secrets.TOKEN}"}},
        {"json": {"user": "me", "password": "{secrets.TOKEN}", "author": "Jane"}},
        {"data": "user=me&password={secrets.TOKEN}"},
        {"auth": {"username": "me", "password": "{secrets.TOKEN}"}},
        {"headers": {"Accept": "application/json"}, "params": {"q": "tokens"}},
    ],
)
def test_secrets_and_ordinary_values_pass_strict_validation(tmp_path, parameters):
    done = _validate(tmp_path, parameters)
    assert done.returncode == 0, done.stderr
