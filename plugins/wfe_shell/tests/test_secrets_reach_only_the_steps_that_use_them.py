"""A declared secret's environment variable reaches only the shell steps that use it
(``{secrets.NAME}``, ``$NAME`` in the command, or the step's own ``env``), through the
real ``wfe`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SECRET = "tok-9f8e7d6c5b4a"

WORKFLOW = {
    "id": "secret_scope",
    "secrets": ["WFE_SCOPE_TOKEN"],
    "steps": [
        {
            "id": "unrelated",
            "action": "shell.execute",
            "parameters": {"command": "env | grep -c '^WFE_SCOPE_TOKEN=' || true"},
        },
        {
            "id": "templated",
            "action": "shell.execute",
            "parameters": {"command": "printf '%s' {secrets.WFE_SCOPE_TOKEN} | wc -c"},
        },
        {
            "id": "by_name",
            "action": "shell.execute",
            "parameters": {"command": "printf '%s' \"$WFE_SCOPE_TOKEN\" | wc -c"},
        },
    ],
}


def test_only_steps_that_use_a_secret_see_it(tmp_path):
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(WORKFLOW))
    env = {**os.environ, "WFE_SCOPE_TOKEN": SECRET, "WFE_STORE": str(tmp_path / "s.sqlite")}
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", "--reporter", "json", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = {}
    for line in done.stdout.splitlines():
        event = json.loads(line)
        if event.get("kind") == "step.succeeded":
            outputs[event["step_id"]] = event
    shown = subprocess.run(
        [sys.executable, "-m", "wfe_core", "runs", "show", "--json", "latest"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if shown.returncode != 0:  # no "latest" alias: take the only run
        listing = json.loads(
            subprocess.run(
                [sys.executable, "-m", "wfe_core", "runs", "--json"],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=True,
            ).stdout
        )
        shown = subprocess.run(
            [sys.executable, "-m", "wfe_core", "runs", "show", "--json", listing[0]["run_id"]],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
    steps = {s["step_id"]: s for s in json.loads(shown.stdout)["steps"]}
    assert steps["unrelated"]["output"]["stdout"].strip() == "0"  # not in its environment
    assert steps["templated"]["output"]["stdout"].strip() == str(len(SECRET))
    assert steps["by_name"]["output"]["stdout"].strip() == str(len(SECRET))
    assert SECRET not in done.stdout + done.stderr + shown.stdout
