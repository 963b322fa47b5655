"""A chain of fast shell steps does not wait a polling interval per step."""

from __future__ import annotations

from wfe_cli import run_finished, wfe, write_workflow


def test_fifty_sequential_true_steps_take_well_under_10_ms_each(tmp_path):
    # Before: run_process slept a whole 50 ms poll interval whenever the pipes closed
    # before the child was reaped, so each step took ~51 ms. The bound is generous (a
    # shared, loaded machine); the duration is the run's own, without interpreter start.
    steps = [
        {
            "id": f"s{i}",
            "action": "shell.execute",
            "parameters": {"command": "true"},
            **({"dependencies": [f"s{i - 1}"]} if i else {}),
        }
        for i in range(50)
    ]
    path = write_workflow(tmp_path, steps)
    durations = []
    for _ in range(3):
        done = wfe("run", "--no-store", "--reporter", "json", str(path), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        finished = run_finished(done.stdout)
        assert finished["completed_steps"] == 50
        durations.append(finished["duration"])
    assert min(durations) / 50 < 0.010, durations
