"""The times a run store keeps say what happened: an attempt's recorded end is not after
the start of a step its end released, even when the loop writes the end to the store
only after it has started that step (side-effect-free steps release their dependents
before their own rows are written). Reports derive concurrency from these times: a
2-worker run must not read as having run 3 steps at once.

The real ``wfe`` process and its SQLite file, read through a second connection.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from wfe_core.store.rows import attempt_log


def _run(tmp_path, text: str, *args: str) -> sqlite3.Connection:
    (tmp_path / "wf.yaml").write_text(text)
    store = tmp_path / "runs.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", "wf.yaml", "--store", str(store), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return sqlite3.connect(store)


def _attempts(db: sqlite3.Connection) -> dict[str, dict]:
    """Each step's last attempt as the store's readers spell its log out (one attempt that
    ended as its row did is kept as ``rows.ONE_ATTEMPT``: the row's times are its times)."""
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT step_id, attempt_log, status, started_at, finished_at FROM steps").fetchall()
    return {row["step_id"]: attempt_log(row["attempt_log"], row)[-1] for row in rows}


def test_a_chain_step_ends_before_the_next_one_starts(tmp_path):
    steps = "".join(
        f"  - {{id: s{i}, action: wait, parameters: {{seconds: 0.001}}"
        + (f", dependencies: [s{i - 1}]}}\n" if i else "}\n")
        for i in range(30)
    )
    attempts = _attempts(_run(tmp_path, "id: wf\nsteps:\n" + steps))
    for i in range(1, 30):
        parent, child = attempts[f"s{i - 1}"], attempts[f"s{i}"]
        assert parent["finished_at"] <= child["started_at"], (i, parent, child)


def test_two_workers_never_read_as_three(tmp_path):
    steps = "".join(f"  - {{id: s{i}, action: wait, parameters: {{seconds: 0.05}}}}\n" for i in range(12))
    attempts = _attempts(_run(tmp_path, "id: wf\nsteps:\n" + steps, "--max-workers", "2"))
    points = sorted(
        [(a["started_at"], 1) for a in attempts.values()] + [(a["finished_at"], -1) for a in attempts.values()]
    )
    running = peak = 0
    for _, delta in points:  # an end sorts before a start at the same instant
        running += delta
        peak = max(peak, running)
    assert peak == 2
