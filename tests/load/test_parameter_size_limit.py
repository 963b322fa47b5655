"""A string value over the documented limit (1 MiB of characters) is refused before
any validator looks at it, with the file, line, step and field."""

from __future__ import annotations

import json
import subprocess
import sys

from wfe_core.load.loader import MAX_STRING_CHARS


def test_a_parameter_over_the_limit_is_refused_naming_file_line_step_and_field(tmp_path):
    flow = tmp_path / "flow.json"
    doc = {
        "id": "w",
        "steps": [
            {"id": "ok", "action": "wait", "parameters": {"seconds": 0}},
            {
                "id": "huge",
                "action": "variable.set",
                "parameters": {"name": "v", "value": "x" * (MAX_STRING_CHARS + 1)},
            },
        ],
    }
    flow.write_text(json.dumps(doc, indent=1))
    proc = subprocess.run(
        [sys.executable, "-m", "wfe_core", "validate", str(flow)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"error: {flow}:16: steps[1].parameters.value: step 'huge': string of 1,048,577 characters is longer "
        "than the limit of 1,048,576; put large data in a file and read it in a step"
    )


def test_a_value_at_the_limit_is_accepted(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("id: w\nvariables: {v: " + "y" * MAX_STRING_CHARS + "}\nsteps: []\n")
    proc = subprocess.run(
        [sys.executable, "-m", "wfe_core", "validate", str(flow)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-500:]
