"""An OSError a file action does not word itself reaches the user as words that name
the step, the path and the cause, never as ``OSError: [Errno 36] ...``."""

from __future__ import annotations

import subprocess
import sys


def test_a_file_name_too_long_is_worded_with_step_path_and_cause(tmp_path):
    target = tmp_path / ("n" * 300)
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        f"id: w\nsteps:\n  - id: save\n    action: file.write\n    parameters: {{path: '{target}', content: x}}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", "--store", str(tmp_path / "s.sqlite"), str(flow)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "Errno" not in output and "OSError" not in output and "Traceback" not in output
    line = next(line for line in output.splitlines() if "could not use" in line)
    assert "save" in line  # the step
    assert f"file.write could not use '{target}': file name too long" in line
