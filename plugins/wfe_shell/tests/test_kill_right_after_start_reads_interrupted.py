"""A step killed with `kill -9` a moment after it started reads `interrupted` in
`wfe runs show`, not `pending`: its "running" row reaches the store soon after it starts
(a long step costs one extra commit; short steps ride along with their completion)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKFLOW = """\
id: killed-early
steps:
  - id: slow
    action: shell.execute
    parameters:
      command: "touch {marker} && sleep 30"
"""


def _wfe(*args: str, store: Path) -> str:
    env = {**os.environ, "WFE_STORE": str(store)}
    result = subprocess.run([sys.executable, "-m", "wfe_core", *args], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("after", [0.1, 0.15])
def test_kill_9_soon_after_a_step_starts_reads_interrupted(tmp_path: Path, after: float) -> None:
    store, marker = tmp_path / "runs.sqlite", tmp_path / "started"
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(WORKFLOW.replace("{marker}", str(marker)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", str(workflow)],
        env={**os.environ, "WFE_STORE": str(store)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # kill -9 the whole group: wfe and its shell
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, "the step never started"
            assert proc.poll() is None, "wfe ended before the step started"
            time.sleep(0.005)
        time.sleep(after)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    (run,) = json.loads(_wfe("runs", "--json", store=store))
    assert run["status"] == "interrupted"
    shown = _wfe("runs", "show", run["run_id"], store=store)
    (line,) = [line for line in shown.splitlines() if line.split()[:1] == ["slow"]]
    assert line.split()[1] == "interrupted", shown
