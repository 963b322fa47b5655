"""The shell checks skip exactly what the run will template — by the core's real template
grammar (``wfe_core.plugin.is_templated``), not a look-alike regex — so shell syntax in
braces is judged: ``rm -rf /{usr,etc}`` (brace expansion) and ``rm -rf ${HOME}`` were
taken as templates and never flagged. Proven through the real ``wfe validate``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def wfe(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k != "WFE_BLOCK_PLUGINS"}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def workflow(command: str, env: str = "{}") -> str:
    return f"""\
id: w
variables: {{target: build}}
steps:
  - id: clean
    action: shell.execute
    parameters: {{command: '{command}', env: {env}}}
"""


@pytest.mark.parametrize(
    "command, finding",
    [
        ("rm -rf /{usr,etc}", "recursive delete of '/{usr,etc}'"),
        ("rm -rf /{srv,}", "recursive delete of '/{srv,}'"),  # expands to /srv and /
        ('bash -c "rm -rf /{tmp/x,boot}"', "recursive delete of '/{tmp/x,boot}'"),
        ("rm -rf ${HOME}", "recursive delete of '${HOME}'"),
    ],
)
def test_shell_braces_are_judged(tmp_path, command, finding):
    (tmp_path / "w.yaml").write_text(workflow(command))
    relaxed = wfe(tmp_path, "validate", "w.yaml")
    assert relaxed.returncode == 0, relaxed.stderr
    assert (
        f"w.yaml:6: warning: steps[0].parameters.command: step 'clean': dangerous command: {finding}" in relaxed.stderr
    )
    strict = wfe(tmp_path, "validate", "--strict", "w.yaml")
    assert strict.returncode == 2 and finding in strict.stderr


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf /{target}",  # a real placeholder: judged when rendered, not before
        "rm -rf /srv/{a,b}",  # brace expansion into harmless paths
        "rm -rf /{target!raw}/cache",
        "rm -rf ./{usr,etc}",
    ],
)
def test_templates_and_harmless_braces_pass(tmp_path, command):
    (tmp_path / "w.yaml").write_text(workflow(command))
    checked = wfe(tmp_path, "validate", "--strict", "w.yaml")
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""


@pytest.mark.parametrize(
    "env, flagged",
    [
        ("{DB_PASS: hunter22}", True),
        ("{GITHUB_TOKEN: ghp_abc}", True),
        ("{X_API_KEY: k-1}", True),
        ("{DB_PASS: '{secrets.DB}'}", False),  # templated: passed in, not written out
        ("{DB_PASS: '${DB_PASS_FROM_ENV}'}", True),  # shell syntax, not a template: the value is written out
        ("{SORT_KEY: name}", False),  # a key, not a credential
        ("{PASSENGER_COUNT: '3'}", False),
    ],
)
def test_credential_names_are_the_core_looks_secret(tmp_path, env, flagged):
    (tmp_path / "w.yaml").write_text(
        workflow("true", env).replace("variables: {target: build}", "variables: {target: build}\nsecrets: [DB]")
    )
    checked = wfe(tmp_path, "validate", "w.yaml")
    assert checked.returncode == 0, checked.stderr
    assert ("looks like a credential" in checked.stderr) is flagged, checked.stderr
