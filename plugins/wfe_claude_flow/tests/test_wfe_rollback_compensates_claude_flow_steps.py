"""`wfe rollback RUN_ID` (a separate process, after the run) compensates claude-flow steps."""

from __future__ import annotations

from cf_helpers import fresh_values, run_show, server_pids


def test_wfe_rollback_deletes_a_created_key_and_restores_an_overwritten_one(wfe, write, home, session):
    session("memory_store", key="kept", value="old", namespace="wfe:later")
    done = wfe(
        "run",
        write(
            "l.yaml",
            """
id: later
steps:
  - id: overwrite
    action: claude_flow.memory_store
    parameters: {key: kept, value: new}
  - id: create
    action: claude_flow.memory_store
    parameters: {key: fresh, value: 1}
""",
        ),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert session("memory_retrieve", key="kept", namespace="wfe:later")["value"] == "new"
    run_id = run_show(wfe)["run_id"]
    undone = wfe("rollback", run_id)
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert server_pids(home) == []
    assert fresh_values(home, "wfe:later", "kept", "fresh") == {"kept": "old", "fresh": None}
