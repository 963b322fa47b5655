"""Workflow ``resources`` through the real ``wfe`` process: ``database: 1`` serialises the
steps holding it under every parallel strategy while unrelated steps still overlap; an
undeclared resource is a validation error with did-you-mean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

FLOW = """\
    id: pool
    resources: {database: 1}
    steps:
      - {id: db1, action: wait, parameters: {seconds: 0.5}, resources: [database]}
      - {id: db2, action: wait, parameters: {seconds: 0.5}, resources: [database]}
      - {id: db3, action: wait, parameters: {seconds: 0.5}, resources: {database: 1}}
      - {id: db4, action: wait, parameters: {seconds: 0.5}, resources: [database]}
      - {id: free1, action: wait, parameters: {seconds: 1.5}}
      - {id: free2, action: wait, parameters: {seconds: 1.5}}
"""


def wfe(tmp_path, *args):
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def intervals(result):
    started, ended = {}, {}
    for line in result.stdout.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event["kind"] == "step.started":
            started[event["step_id"]] = event["time"]
        elif event["kind"] == "step.succeeded":
            ended[event["step_id"]] = event["time"]
    return {sid: (started[sid], ended[sid]) for sid in started}


@pytest.mark.parametrize("strategy", ["parallel", "adaptive"])
def test_a_resource_of_one_serialises_its_holders_while_other_steps_overlap(tmp_path, strategy):
    path = tmp_path / "pool.yaml"
    path.write_text(textwrap.dedent(FLOW))
    result = wfe(tmp_path, "run", str(path), "--max-workers", "6", "--strategy", strategy, "--reporter", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    spans = intervals(result)
    db = sorted(spans[s] for s in ("db1", "db2", "db3", "db4"))
    for (_, end), (start, _) in zip(db, db[1:], strict=False):
        assert start >= end - 0.01, f"two holders of 'database' overlapped: {db}"
    assert db[-1][1] - db[0][0] >= 2.0  # four 0.5 s steps, one at a time
    # The free steps did not wait for the database: they ran alongside its holders.
    for free in ("free1", "free2"):
        assert spans[free][0] < db[0][1], f"{free} waited: {spans}"
    assert spans["free1"][0] < spans["free2"][1] and spans["free2"][0] < spans["free1"][1]


def test_an_undeclared_resource_is_a_validation_error_with_did_you_mean(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            id: typo
            resources: {database: 1}
            steps:
              - id: a
                action: wait
                parameters: {seconds: 0}
                resources: [databse]
              - id: b
                action: wait
                parameters: {seconds: 0}
                resources: {database: 2}
            """
        )
    )
    for command in ("validate", "run"):
        result = wfe(tmp_path, command, str(path))
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert (
            f"{path}:7: steps[0].resources: step 'a': undeclared resource 'databse' (did you mean 'database'?); "
            "declared resources: database" in result.stderr
        )
        assert (
            f"{path}:11: steps[1].resources.database: step 'b': needs 2 of resource 'database', but only 1 exist"
            in (result.stderr)
        )


def test_resources_in_toml_and_json(tmp_path):
    toml = tmp_path / "pool.toml"
    toml.write_text(
        textwrap.dedent(
            """\
            id = "pool"
            [resources]
            database = 1
            [[steps]]
            id = "a"
            action = "wait"
            parameters = {seconds = 0.3}
            resources = ["database"]
            [[steps]]
            id = "b"
            action = "wait"
            parameters = {seconds = 0.3}
            resources = {database = 1}
            """
        )
    )
    data = {
        "id": "pool",
        "resources": {"database": 1},
        "steps": [
            {"id": "a", "action": "wait", "parameters": {"seconds": 0.3}, "resources": ["database"]},
            {"id": "b", "action": "wait", "parameters": {"seconds": 0.3}, "resources": ["database"]},
        ],
    }
    js = tmp_path / "pool.json"
    js.write_text(json.dumps(data, indent=2))
    for path in (toml, js):
        result = wfe(tmp_path, "run", str(path), "--strategy", "parallel", "--reporter", "json")
        assert result.returncode == 0, result.stdout + result.stderr
        (a0, a1), (b0, b1) = sorted(intervals(result).values())
        assert b0 >= a1 - 0.01
