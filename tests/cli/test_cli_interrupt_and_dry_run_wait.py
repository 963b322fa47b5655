"""Ctrl-C while wfe loads or validates exits 130 (not 1 with "Aborted!"); a dry run
does not spend time in `wait`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    # 60,000 chained steps of YAML (~4 MB, under the 10 MB input limit): loading and
    # validating take seconds of CPU, so the signal lands there. (A 40,000-step JSON file
    # took only ~0.8 s once loading got faster: the run could end before the signal.)
    lines = ["id: big", "steps:"]
    for i in range(60_000):
        lines.append(f"  - id: s{i}\n    action: variable.set\n    parameters: {{name: v{i}, value: xxxxxxxxxx}}")
        if i:
            lines.append(f"    dependencies: [s{i - 1}]")
    path = tmp_path_factory.mktemp("big") / "big.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _wait_for_cpu(pid: int, seconds: float) -> None:
    import os

    tick = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / tick >= seconds:  # utime + stime
            return
        time.sleep(0.01)
    raise AssertionError("the wfe process did not get going within 60 s")


def _sigint_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_ctrl_c_while_validating_a_big_file_exits_130(big_file, tmp_path, command):
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", command, "--store", str(tmp_path / "s.sqlite"), big_file]
        if command == "run"
        else [sys.executable, "-m", "wfe_core", command, big_file],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test run started in the background of a script (`cmd &`)
        # has SIGINT ignored, its children inherit that and Python then keeps ignoring it.
        preexec_fn=_sigint_as_from_a_terminal,
    )
    # Not a fixed sleep: on a loaded machine the process may not have reached loading yet,
    # on a fast one it may be past validation. Start-up costs ~0.3 s of CPU; loading and
    # validating 60,000 steps costs seconds of it: signal once 0.8 s of CPU is spent.
    _wait_for_cpu(proc.pid, 0.8)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-1000:]
    assert "Aborted!" not in err and "Traceback" not in err
    assert err.strip().endswith("interrupted")


def test_a_dry_run_does_not_wait(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "id: w\nsteps:\n  - id: pause\n    action: wait\n    parameters: {seconds: 60}\n"
        "  - id: after\n    action: variable.set\n    parameters: {name: x, value: 1}\n"
        "    dependencies: [pause]\n"
    )
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", "--dry-run", str(flow)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 40  # generous: the wait alone would take 60 s
    assert "pause" in proc.stdout
