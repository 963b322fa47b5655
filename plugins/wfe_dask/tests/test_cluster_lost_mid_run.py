"""A cluster that disappears mid-run: the running steps fail with one line naming the
scheduler's address, the run ends failed with the ``wfe resume`` hint, and once a cluster
is back at the same address ``wfe resume RUN_ID --executor dask --scheduler ...``
finishes the run without running the finished steps again (marker files)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import BOUND, ExternalCluster, sleepers, wfe

TAG = "4431"  # an unusual duration: a `sleep 4431` is ours

FLOW = """\
id: lost
steps:
  - id: first
    action: shell.execute
    parameters: {{command: "echo first >> {marks}"}}
  - id: slow
    action: shell.execute
    dependencies: [first]
    parameters: {{command: "if [ -f {back} ]; then echo slow >> {marks}; else sleep {tag}; fi"}}
  - id: last
    action: shell.execute
    dependencies: [slow]
    parameters: {{command: "echo last >> {marks}"}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cluster_lost_mid_run_then_resumed_on_a_new_cluster(tmp_path: Path) -> None:
    marks, back = tmp_path / "marks", tmp_path / "back"
    (tmp_path / "wf.yaml").write_text(FLOW.format(marks=marks, back=back, tag=TAG))
    store = str(tmp_path / "runs.sqlite")
    port = _free_port()
    cluster = ExternalCluster(tmp_path, workers=1, port=port)
    try:
        address = cluster.address
        assert address == f"tcp://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "wfe_core", "run", "wf.yaml", "--executor", "dask", "--scheduler", address],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "WFE_STORE": store, "WFE_DASK_TIMEOUT": "5"},
        )
        deadline = time.monotonic() + BOUND
        while not sleepers(TAG):
            assert time.monotonic() < deadline and proc.poll() is None, "step 'slow' never started"
            time.sleep(0.1)
        cluster.kill_all()
        out, err = proc.communicate(timeout=BOUND)
        assert proc.returncode == 1, out + err
        assert "Traceback" not in err, err
        lost = f"step 'slow': lost the Dask scheduler at {address} while it ran"
        lines = [line for line in out.splitlines() if lost in line]
        assert len(lines) == 1, out  # one line, naming the address
        hint = re.search(r"continue with: wfe resume ([0-9a-f]{32})", out)
        assert hint, out
        # A SIGKILLed worker cannot stop what it ran: that is a lost host's fate, not
        # wfe's doing. Clear it, so the resumed run is all that writes markers.
        for pid in sleepers(TAG):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        cluster.start(workers=1, port=port)  # the cluster is back at the same address
        assert cluster.address == address
        back.touch()
        resumed = wfe(
            "resume", hint.group(1), "--executor", "dask", "--scheduler", address, cwd=tmp_path, WFE_STORE=store
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        # Finished steps ran once; the lost one and what depended on it ran on resume.
        assert marks.read_text().split() == ["first", "slow", "last"]
    finally:
        cluster.close()
    assert sleepers(TAG) == []
