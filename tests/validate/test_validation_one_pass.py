"""`wfe validate` and `wfe run` report structure problems and action/parameter problems
of a file together, in one pass (they came in two rounds: fix one, be told the next)."""

from __future__ import annotations

import subprocess
import sys

import pytest

FLOW = """\
id: multi
steps:
  - id: a
    action: wait
    parameters: {seconds: 0}
    dependecies: []
  - id: b
    action: no.such.action
    timeout: "30"
  - id: c
    action: wait
    parameters: {secs: 1}
    dependencies: [a, zz]
  - id: d
    action: [1]
  - id: e
    action: variable.get
    parameters: {name: x}
    dependencies: [d]
"""

EXPECTED = [
    "{f}:6: steps[0].dependecies: unknown key 'dependecies' (did you mean 'dependencies'?)",
    "{f}:8: steps[1].action: step 'b': unknown action 'no.such.action'",
    "{f}:9: steps[1].timeout: expected a number, got string '30'",
    "{f}:12: steps[2].parameters.seconds: step 'c': is required but missing",
    "{f}:12: steps[2].parameters.secs: step 'c': unknown key 'secs' (did you mean 'seconds'?)",
    "{f}:13: steps[2].dependencies: step 'c' depends on unknown step 'zz'",
    "{f}:15: steps[3].action: expected a string, got a list",
]


@pytest.mark.parametrize("command", [["validate"], ["run", "--no-store"]])
def test_every_problem_of_a_file_in_one_pass(tmp_path, command):
    path = tmp_path / "multi.yaml"
    path.write_text(FLOW)
    proc = subprocess.run(
        [sys.executable, "-m", "wfe_core", *command, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    # Step 'd' has no usable action and is left out of the second look: 'e' depending
    # on it is not reported as depending on an unknown step.
    assert proc.stderr.splitlines() == ["error: " + line.format(f=path) for line in EXPECTED]


def test_a_file_that_cannot_be_parsed_is_reported_once(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: w\nsteps: [\n")
    proc = subprocess.run([sys.executable, "-m", "wfe_core", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "invalid YAML" in proc.stderr
