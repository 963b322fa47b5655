"""Credentials written into shell commands: ``wfe validate`` warns, ``--strict`` refuses (exit 2).

Each form through the real ``wfe`` process; the message names the file, line, step and
field, and never repeats the credential.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LITERAL = "SuperSecret123"


def _validate(tmp_path, command, *, variables: dict | None = None, strict: bool = True):
    workflow = {
        "id": "wf",
        "secrets": ["DB_PW"],
        "variables": variables or {},
        "steps": [{"id": "dump", "action": "shell.execute", "parameters": {"command": command}}],
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
    (f"mysqldump -uroot -p{LITERAL} shop > dump.sql", "mysqldump -p<password>"),
    (["mysql", "-uroot", f"-p{LITERAL}", "shop"], "mysql -p<password>"),
    (f"PGPASSWORD={LITERAL} psql -h db -c 'select 1'", "PGPASSWORD=..."),
    (f"export API_TOKEN={LITERAL}; ./deploy", "API_TOKEN=..."),
    (
        f"curl -H 'Authorization: Bearer {LITERAL}' https://api.example.com",
        "an Authorization header with a literal token",
    ),
    (f"curl -u admin:{LITERAL} https://api.example.com", "curl -u user:password"),
    (f"git clone https://bot:{LITERAL}@git.example.com/repo.git", "a password in a URL (user:password@host)"),
    (f"vault login --password {LITERAL}", "--password ..."),
    (f"tool --api-key={LITERAL}", "--api-key=..."),
    (f"sshpass -p {LITERAL} ssh host true", "sshpass -p <password>"),
]


@pytest.mark.parametrize(("command", "what"), FORMS, ids=[f[1] for f in FORMS])
def test_a_credential_in_a_command_is_refused_under_strict(tmp_path, command, what):
    strict = _validate(tmp_path, command)
    assert strict.returncode == 2, strict.stdout + strict.stderr
    assert (
        f"steps[0].parameters.command: step 'dump': hardcoded credential in the command: {what}; "
        "pass it in as a secret ({secrets.NAME}) through env instead"
    ) in strict.stderr
    assert "wf.json:" in strict.stderr
    assert LITERAL not in strict.stdout + strict.stderr and "Traceback" not in strict.stderr
    relaxed = _validate(tmp_path, command, strict=False)
    assert relaxed.returncode == 0 and "warning:" in relaxed.stderr


def test_a_secret_named_variable_with_a_literal_value_is_refused_under_strict(tmp_path):
    done = _validate(tmp_path, "mysql -p{db_password} shop", variables={"db_password": LITERAL, "shop": "x"})
    assert done.returncode == 2, done.stderr
    assert (
        "variables.db_password: step 'dump': uses variable 'db_password', a credential written in the workflow; "
        "declare it under secrets: and use {secrets.db_password} instead"
    ) in done.stderr
    assert LITERAL not in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        'mysql -uroot -p"$DB_PW" shop',  # from the environment
        "mysql -uroot -p shop",  # prompts
        "mysql -uroot -p{secrets.DB_PW} shop",  # a declared secret
        "docker login --password-stdin < token.txt",
        "curl -H 'Authorization: Bearer $TOKEN' https://api.example.com",
        "echo 'the password policy changed'",
    ],
)
def test_commands_without_a_written_credential_pass_strict_validation(tmp_path, command):
    done = _validate(tmp_path, command)
    assert done.returncode == 0, done.stderr
