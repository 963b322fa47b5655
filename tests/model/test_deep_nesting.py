"""Values nested deeply (lists in lists…) never end a run or a later command with a
RecursionError: files and step outputs are bounded at MAX_NESTING levels with a clear
error, and walks over stored data are iterative."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from wfe_core.model.nesting import MAX_NESTING


def nested(levels: int, inner: object = "end") -> object:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


def wfe(tmp_path, *args):
    env = {**os.environ, "TOKEN": "s3cr3t-value", "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def flow(tmp_path, wrap: int, levels: int = MAX_NESTING - 2) -> str:
    """A run variable ``levels`` deep (holding the secret), and a step wrapping it ``wrap`` more times."""
    doc = {
        "id": "deep",
        "secrets": ["TOKEN"],
        "variables": {"deep": nested(levels, "{secrets.TOKEN}")},
        "steps": [
            {
                "id": "wrap",
                "action": "variable.set",
                "parameters": {"name": "wrapped", "value": nested(wrap, "{deep}")},
            },
            {
                "id": "gate",
                "action": "validate.condition",
                "parameters": {"value": "{ok}", "equals": "yes"},
                "dependencies": ["wrap"],
            },
        ],
    }
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(doc))
    return str(path)


def last_run(tmp_path) -> str:
    return json.loads(wfe(tmp_path, "runs", "--json").stdout)[0]["run_id"]


def test_a_file_nested_too_deeply_is_refused_with_its_path(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(json.dumps({"id": "w", "variables": {"v": nested(500)}, "steps": []}))
    proc = wfe(tmp_path, "validate", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(
        f"error: {path}:1: variables.v{'[0]' * (MAX_NESTING - 1)}: nested more than {MAX_NESTING} levels deep"
    )


def test_an_output_nested_too_deeply_fails_its_step_clearly_and_the_run_stays_readable(tmp_path):
    path = flow(tmp_path, wrap=5)
    proc = wfe(tmp_path, "run", "--var", "ok=yes", path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"output is nested more than {MAX_NESTING} levels deep" in proc.stdout + proc.stderr
    run_id = last_run(tmp_path)
    for command in (["runs", "show", run_id], ["runs", "show", run_id, "--json"]):
        shown = wfe(tmp_path, *command)
        assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    resumed = wfe(tmp_path, "resume", run_id, "--var", "ok=yes")
    assert resumed.returncode == 1 and "Traceback" not in resumed.stderr, resumed.stderr


def test_a_deep_value_within_the_limit_runs_masked_stored_and_resumes(tmp_path):
    path = flow(tmp_path, wrap=1)
    first = wfe(tmp_path, "run", "--var", "ok=no", path)
    assert first.returncode == 1 and "Traceback" not in first.stderr, first.stderr
    run_id = last_run(tmp_path)
    shown = wfe(tmp_path, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert "s3cr3t-value" not in shown.stdout
    assert "s3cr3t-value" not in (tmp_path / "runs.sqlite").read_bytes().decode("latin-1")
    resumed = wfe(tmp_path, "resume", run_id, "--var", "ok=yes")
    assert resumed.returncode == 0, resumed.stderr


def test_a_store_holding_an_output_900_levels_deep_can_be_shown_and_resumed(tmp_path):
    # Written before outputs were bounded: the walks over stored data must not recurse.
    path = flow(tmp_path, wrap=1)
    assert wfe(tmp_path, "run", "--var", "ok=no", path).returncode == 1
    run_id = last_run(tmp_path)
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    db.execute("UPDATE steps SET output=? WHERE step_id='wrap'", (json.dumps(nested(900, "<<secret:TOKEN>>")),))
    db.commit()
    db.close()
    for command in (["runs", "show", run_id], ["runs", "show", run_id, "--json"]):
        shown = wfe(tmp_path, *command)
        assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr[-3000:]
    resumed = wfe(tmp_path, "resume", run_id, "--var", "ok=yes")
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr[-3000:]
