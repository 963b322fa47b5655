"""Ctrl-C while wfe loads or validates exits 130 (not 1 with "Aborted!"); a dry run
does not spend time in `wait`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    # 40,000 chained steps: loading and validating take many seconds, so the signal lands there.
    steps = [{"id": f"s{i}", "action": "variable.set", "parameters": {"name": f"v{i}", "value": "x" * 100},
              "dependencies": [f"s{i - 1}"] if i else []} for i in range(40_000)]
    path = tmp_path_factory.mktemp("big") / "big.json"
    path.write_text(json.dumps({"id": "big", "steps": steps}))
    return str(path)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_ctrl_c_while_validating_a_big_file_exits_130(big_file, tmp_path, command):
    proc = subprocess.Popen([sys.executable, "-m", "wfe_core", command, "--store", str(tmp_path / "s.sqlite"),
                             big_file] if command == "run" else [sys.executable, "-m", "wfe_core", command, big_file],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-1000:]
    assert "Aborted!" not in err and "Traceback" not in err
    assert err.strip().endswith("interrupted")


def test_a_dry_run_does_not_wait(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("id: w\nsteps:\n  - id: pause\n    action: wait\n    parameters: {seconds: 60}\n"
                    "  - id: after\n    action: variable.set\n    parameters: {name: x, value: 1}\n"
                    "    dependencies: [pause]\n")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "wfe_core", "run", "--dry-run", str(flow)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 40  # generous: the wait alone would take 60 s
    assert "pause" in proc.stdout
