"""An integer too big for a float (``10**400``) where a number is expected is a located
error naming file, step and field, or a failed step when a template produced it: never
a crash of the loader, a validator or the run."""

from __future__ import annotations

import os
import subprocess
import sys

HUGE = "1" + "0" * 400


def wfe(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_step_field_too_big_for_a_float_names_its_line_and_field(tmp_path):
    (tmp_path / "big.yaml").write_text(
        f"id: w\nsteps:\n  - id: a\n    action: wait\n    parameters: {{seconds: 0}}\n    timeout: {HUGE}\n"
    )
    done = wfe(tmp_path, "validate", "big.yaml")
    assert done.returncode == 2, done.stderr
    assert "big.yaml:6: steps[0].timeout: invalid value (OverflowError" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_parameter_too_big_for_a_float_names_its_line_and_field(tmp_path):
    (tmp_path / "wait.yaml").write_text(
        f"id: w\nsteps:\n  - id: a\n    action: wait\n    parameters:\n      seconds: {HUGE}\n"
    )
    done = wfe(tmp_path, "run", "--no-store", "wait.yaml")
    assert done.returncode == 2, done.stderr
    assert "wait.yaml:6: steps[0].parameters.seconds: step 'a': invalid value (OverflowError" in done.stderr
    assert "crashed" not in done.stderr and "Traceback" not in done.stderr


def test_a_templated_parameter_too_big_for_a_float_fails_its_step_not_the_run(tmp_path):
    (tmp_path / "tmpl.yaml").write_text(
        f"id: w\nvariables:\n  n: {HUGE}\nsteps:\n"
        "  - id: a\n    action: wait\n    critical: false\n    parameters:\n      seconds: '{n}'\n"
        "  - id: b\n    action: wait\n    parameters:\n      seconds: 0\n"
    )
    done = wfe(tmp_path, "run", "--no-store", "tmpl.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded with 1 non-critical failure" in done.stdout
    assert "OverflowError" in done.stdout and "Traceback" not in done.stderr
