"""Creating and migrating a run store is safe when several processes do it at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

WORKFLOW = "id: w\nsteps:\n  - id: a\n    action: variable.set\n    parameters: {name: x, value: 1}\n"

OPEN_AT = """
import sys, time
from wfe_core.store.runstore import RunStore, StoreError
path, at = sys.argv[1], float(sys.argv[2])
while time.time() < at:  # start together, to the millisecond
    pass
try:
    RunStore(path).close()
except StoreError as exc:
    print(exc)
    sys.exit(3)
"""


def _wfe(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, **kwargs)


def test_wfe_run_waits_for_a_store_another_process_is_creating(tmp_path):
    # A process that created the file and holds its first write transaction: SQLite
    # refused the switch to WAL at once ("database is locked"), without waiting.
    store = tmp_path / "fresh.sqlite"
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW)
    other = sqlite3.connect(store, isolation_level=None)
    other.execute("CREATE TABLE other_tool (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO other_tool VALUES (1)")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", "--store", str(store), str(flow)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    other.execute("COMMIT")
    other.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "locked" not in err
    listed = _wfe("runs", "--store", str(store), "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"status": "succeeded"' in listed.stdout


def test_many_processes_creating_one_fresh_store_all_succeed(tmp_path):
    failures = []
    for round_ in range(3):
        path = tmp_path / f"store-{round_}.sqlite"
        at = time.time() + 2.0  # every child has imported wfe_core by then
        children = [
            subprocess.Popen([sys.executable, "-c", OPEN_AT, str(path), str(at)], stdout=subprocess.PIPE, text=True)
            for _ in range(12)
        ]
        for child in children:
            out = child.communicate(timeout=120)[0]
            if child.returncode:
                failures.append(out.strip())
    assert failures == []


def test_concurrent_wfe_runs_on_a_fresh_store_are_all_recorded(tmp_path):
    store = tmp_path / "runs.sqlite"
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "wfe_core", "run", "--store", str(store), str(flow)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    errors = []
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        if proc.returncode:
            errors.append(err)
    assert errors == []
    listed = _wfe("runs", "--store", str(store), "--json", "--limit", "50")
    assert listed.stdout.count('"status": "succeeded"') == 8
