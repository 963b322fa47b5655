"""``wfe resume`` with the new keys: a ``when`` sees the restored output of a step that is
not run again; changing a finished step's ``when`` / ``trigger`` / ``resources`` is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

FLOW = """\
    id: resumable
    resources: {database: 1}
    steps:
      - id: a
        action: shell.execute
        parameters: {command: "echo run >> {out}/a-runs; echo 0"}
        resources: [database]
      - id: b
        action: shell.execute
        dependencies: [a]
        when: "steps.a.output.stdout == '0\\\\n'"
        parameters: {command: "test -f {out}/ready && echo b-ran > {out}/b"}
      - id: cleanup
        action: shell.execute
        dependencies: [b]
        trigger: always
        parameters: {command: "echo x >> {out}/cleanups"}
"""


def wfe(tmp_path, *args):
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_resume_keeps_the_output_a_when_decides_on_and_does_not_rerun_it(tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(FLOW))
    first = wfe(tmp_path, "run", str(path), "--var", f"out={tmp_path}", "--reporter", "json")
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = json.loads(first.stdout.splitlines()[0])["run_id"]
    assert (tmp_path / "cleanups").read_text() == "x\n"  # cleanup ran after b failed
    (tmp_path / "ready").touch()
    second = wfe(tmp_path, "resume", run_id, "--var", f"out={tmp_path}")
    assert second.returncode == 0, second.stdout + second.stderr
    assert (tmp_path / "a-runs").read_text() == "run\n"  # a was not run again
    assert (tmp_path / "b").read_text() == "b-ran\n"  # its when saw a's restored output


def test_resume_refuses_a_finished_step_whose_resources_changed(tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(FLOW))
    first = wfe(tmp_path, "run", str(path), "--var", f"out={tmp_path}", "--reporter", "json")
    run_id = json.loads(first.stdout.splitlines()[0])["run_id"]
    changed = tmp_path / "changed.yaml"
    changed.write_text(textwrap.dedent(FLOW).replace("    resources: [database]\n", "", 1))
    result = wfe(tmp_path, "resume", run_id, str(changed), "--var", f"out={tmp_path}")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "step 'a' succeeded in run" in result.stderr and "definition changed" in result.stderr
