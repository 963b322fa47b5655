"""`wfe run --executor dask` runs the steps on the cluster's worker processes, in
dependency order, with outputs flowing between steps; `wfe runs show` names the worker
of each attempt; driver-only actions stay in wfe."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import wfe

WORKFLOW = """
id: on-dask
name: on dask
steps:
  - id: first
    name: first
    action: shell.execute
    parameters:
      command: "echo $PPID; sleep 0.3; echo first >> {order}"
  - id: remember
    name: remember
    action: variable.set
    parameters: {{name: seen, value: "{{steps.first.output.stdout}}"}}
    dependencies: [first]
  - id: left
    name: left
    action: shell.execute
    parameters:
      command: "echo $PPID; echo left >> {order}"
    dependencies: [remember]
  - id: right
    name: right
    action: shell.execute
    parameters:
      command: "echo $PPID; echo right >> {order}"
    dependencies: [remember]
  - id: last
    name: last
    action: shell.execute
    parameters:
      command: "echo got {{seen}} and {{steps.left.output.stdout}}; echo last >> {order}"
    dependencies: [left, right]
"""


def _worker_pids(stdout: str) -> set[int]:
    return {int(line.split()[0]) for line in stdout.splitlines() if line.strip()}


def test_steps_run_on_workers_in_order_with_outputs(tmp_path: Path, local_cluster) -> None:
    order = tmp_path / "order.log"
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(order=order))
    store = str(tmp_path / "runs.sqlite")
    done = wfe(
        "run",
        "wf.yaml",
        "--executor",
        "dask",
        "--scheduler",
        local_cluster.scheduler_address,
        "--strategy",
        "parallel",
        "--reporter",
        "json",
        cwd=tmp_path,
        WFE_STORE=store,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    lines = order.read_text().split()
    assert lines[0] == "first" and lines[-1] == "last" and sorted(lines[1:3]) == ["left", "right"]

    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    run_id = events[0]["run_id"]
    shown = wfe("runs", "show", run_id, "--json", cwd=tmp_path, WFE_STORE=store)
    steps = {s["step_id"]: s for s in json.loads(shown.stdout)["steps"]}
    # Each shell step's shell is a child of a Dask worker process, not of wfe.
    worker_pids = {int(local_cluster.workers[w].process.pid) for w in local_cluster.workers}
    for sid in ("first", "left", "right"):
        parent = int(steps[sid]["output"]["stdout"].split()[0])
        assert parent != os.getpid()
        cmdline = Path(f"/proc/{parent}/cmdline").read_bytes() if Path(f"/proc/{parent}").exists() else b""
        assert parent in worker_pids or b"distributed" in cmdline or b"multiprocessing" in cmdline, (sid, parent)
    # Outputs flowed: last saw first's output (through a variable set on the driver) and left's.
    first_out = steps["first"]["output"]["stdout"].strip()
    assert steps["last"]["output"]["stdout"].startswith(f"got {first_out.splitlines()[0]}")
    # The store records where each remote attempt ran; the driver-only step has none.
    addresses = set(local_cluster.scheduler_info["workers"])
    for sid in ("first", "left", "right", "last"):
        assert steps[sid]["attempt_log"][-1]["worker"] in addresses
    assert "worker" not in steps["remember"]["attempt_log"][-1]
    text = wfe("runs", "show", run_id, cwd=tmp_path, WFE_STORE=store).stdout
    assert any(f"on #1 {a}" in text for a in addresses)


def test_local_cluster_started_by_wfe(tmp_path: Path) -> None:
    """Without --scheduler, wfe starts (and stops) a LocalCluster of worker processes."""
    (tmp_path / "wf.yaml").write_text(
        "id: t\nname: t\nsteps:\n  - id: s\n    name: s\n    action: shell.execute\n"
        "    parameters: {command: 'echo $PPID'}\n"
    )
    done = wfe("run", "wf.yaml", "--executor", "dask", "--reporter", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout


def test_plugins_lists_the_dask_executor(tmp_path: Path) -> None:
    listed = json.loads(wfe("plugins", "--json", cwd=tmp_path).stdout)["plugins"]
    provides = {p["name"]: p["provides"] for p in listed}
    assert provides["dask"]["executors"] == ["dask"]
    assert provides["wfe.executor.threads"]["executors"] == ["threads"]


def test_missing_plugin_names_the_distribution(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(
        "id: t\nname: t\nsteps:\n  - id: s\n    name: s\n    action: wait\n    parameters: {seconds: 0}\n"
    )
    done = wfe("run", "wf.yaml", "--executor", "dask", cwd=tmp_path, WFE_BLOCK_PLUGINS="dask")
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "error: executor 'dask' is provided by the wfe-dask distribution (pip install wfe-dask)"
    )


def test_unreachable_scheduler_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(
        "id: t\nname: t\nsteps:\n  - id: s\n    name: s\n    action: wait\n    parameters: {seconds: 0}\n"
    )
    address = "tcp://127.0.0.1:9"  # discard port: nothing listens
    done = wfe("run", "wf.yaml", "--executor", "dask", "--scheduler", address, cwd=tmp_path, WFE_DASK_TIMEOUT="3")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert address in done.stderr and "Traceback" not in done.stderr
