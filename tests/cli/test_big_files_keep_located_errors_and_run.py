"""A big generated workflow through the real ``wfe`` process: the quick paths a big file
takes (plain YAML read straight into data, steps built without cattrs when their values
already fit, the model's quick check, one dependency graph per run) keep every problem
located (file, line, path, step) exactly as for a small file, and a valid big file runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

STEPS = 1500


def wfe(tmp_path, *args):
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=300
    )


def big(tmp_path, extra=None):
    """A ``STEPS``-step chain with fan-in; ``extra``: step index -> lines added to it."""
    lines = ["id: big", "variables: {who: World}", "steps:"]
    for i in range(STEPS):
        lines += [
            f"  - id: s{i}",
            "    action: variable.set",
            f'    parameters: {{name: v{i}, value: "hi {{who}} {i}"}}',
        ]
        deps = [f"s{j}" for j in (i - 1, i - 7) if j >= 0]
        if deps:
            lines.append(f"    dependencies: [{', '.join(deps)}]")
        lines.append("    timeout: 30")
        lines += (extra or {}).get(i, [])
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def line_of(path, text, after=0):
    """1-based number of the first line at or after line ``after`` that contains ``text``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if number >= after and text in line:
            return number
    raise AssertionError(text)


def test_problems_in_a_big_file_are_each_named_with_line_path_and_step(tmp_path):
    path = big(
        tmp_path,
        {
            100: ["    max_retries: -1"],
            700: ["    retry_backoff: 0.5"],
            900: ["    timout: 5"],
            1200: ["    critical: 'false'"],
            1400: ["    trigger: allways"],
        },
    )
    # A value of the wrong type: the direct structuring declines it, cattrs words it.
    text = path.read_text().replace("  - id: s300\n", "  - id: s300\n    description: 7\n")
    path.write_text(text)
    result = wfe(tmp_path, "validate", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    step = lambda i: line_of(path, f"- id: s{i}")
    expected = [
        f"error: {path}:{line_of(path, 'max_retries', step(100))}: steps[100].max_retries: "
        "step 's100': max_retries must be a whole number >= 0, got -1",
        f"error: {path}:{step(300) + 1}: steps[300].description: expected a string, got integer 7",
        f"error: {path}:{line_of(path, 'retry_backoff', step(700))}: steps[700].retry_backoff: "
        "step 's700': retry_backoff must be a number >= 1, got 0.5",
        f"error: {path}:{line_of(path, 'timout', step(900))}: steps[900].timout: "
        "unknown key 'timout' (did you mean 'timeout'?)",
        f"error: {path}:{line_of(path, 'critical', step(1200))}: steps[1200].critical: "
        "expected true or false, got string 'false'",
        f"error: {path}:{line_of(path, 'trigger', step(1400))}: steps[1400].trigger: "
        "step 's1400': trigger must be one of on_success, on_failure, always, got 'allways' (did you mean 'always'?)",
    ]
    assert result.stderr.splitlines() == expected


def test_validators_problems_in_a_big_file_are_located_too(tmp_path):
    path = big(tmp_path, {500: ["    rollback_action: variable.sett"]})
    text = path.read_text().replace("dependencies: [s1099, s1093]", "dependencies: [s1099, s1039, nope]")
    text = text.replace('value: "hi {who} 1300"', 'value: "hi {whom} 1300"')
    path.write_text(text)
    result = wfe(tmp_path, "validate", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    errors = result.stderr.splitlines()
    assert (
        f"error: {path}:{line_of(path, 'variable.sett')}: steps[500].rollback_action: step 's500': unknown action "
        in (errors[0][: errors[0].index("unknown action ") + len("unknown action ")])
    )
    assert (
        f"error: {path}:{line_of(path, 'nope')}: steps[1100].dependencies: step 's1100' depends on unknown step 'nope'"
        in errors
    )
    assert not any("whom" in e for e in errors)  # the graph is broken: template references wait for it
    path.write_text(text.replace(", nope]", "]"))
    result = wfe(tmp_path, "validate", str(path))
    assert result.returncode == 2
    assert any(
        e.startswith(f"error: {path}:{line_of(path, 'whom')}: steps[1300].parameters.value: step 's1300': ")
        and "undefined name 'whom' (did you mean 'who'?)" in e
        for e in result.stderr.splitlines()
    ), result.stderr


def test_a_valid_big_file_validates_and_runs_with_the_store_on(tmp_path):
    path = big(tmp_path)
    checked = wfe(tmp_path, "validate", str(path))
    assert checked.returncode == 0, checked.stderr
    assert f"valid ({STEPS} steps)" in checked.stdout
    ran = wfe(tmp_path, "run", str(path), "--reporter", "json")
    assert ran.returncode == 0, ran.stderr[-2000:]
    events = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    succeeded = {e["step_id"] for e in events if e.get("kind") == "step.succeeded"}
    assert succeeded == {f"s{i}" for i in range(STEPS)}
