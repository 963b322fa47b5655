"""Strict mode from the command line: dangerous commands warn, or refuse to run."""

from __future__ import annotations

import subprocess
import sys


def wfe(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


WORKFLOW = """\
id: risky
steps:
  - id: cleanup
    action: shell.execute
    parameters: {command: "rm -rf / --no-preserve-root; touch ran"}
    critical: false
"""

FINDING = "steps[0].parameters.command: step 'cleanup': dangerous command: recursive delete of '/'"


def test_validate_warns_and_strict_validate_refuses(tmp_path):
    (tmp_path / "risky.yaml").write_text(WORKFLOW)
    relaxed = wfe(tmp_path, "validate", "risky.yaml")
    assert relaxed.returncode == 0
    assert f"risky.yaml:5: warning: {FINDING}" in relaxed.stderr  # line 5: the command
    strict = wfe(tmp_path, "validate", "--strict", "risky.yaml")
    assert strict.returncode == 2
    assert strict.stderr.startswith(f"error: risky.yaml:5: {FINDING}")


def test_strict_run_refuses_to_start(tmp_path):
    (tmp_path / "risky.yaml").write_text(WORKFLOW)
    result = wfe(tmp_path, "run", "--strict", "--no-store", "risky.yaml")
    assert result.returncode == 2
    assert FINDING in result.stderr
    assert not (tmp_path / "ran").exists()
