"""Each step outcome a coordinated run stores in claude-flow memory carries a summary of
what the step produced: bounded, secrets masked. Read back by an independent MCP session."""

from __future__ import annotations

import json

SECRET = "pw-QzKxWvTrLpMn"  # no hex run: a piece of it cannot match a run id by chance

WORKFLOW = """
id: outputs
secrets: [CF_TEST_TOKEN]
steps:
  - id: greet
    action: variable.set
    parameters: {name: greeting, value: "hello from greet"}
  - id: leak
    action: variable.set
    parameters: {name: header, value: "token={secrets.CF_TEST_TOKEN}"}
  - id: big
    action: variable.set
    parameters: {name: big, value: "BIG"}
"""


def test_outcomes_carry_a_bounded_masked_output_summary(wfe, write, home, session):
    path = write("outputs.yaml", WORKFLOW.replace('"BIG"', '"' + "x" * 5000 + '"'))
    done = wfe("run", path, "--claude-flow", env={"CF_TEST_TOKEN": SECRET})
    assert done.returncode == 0, done.stdout + done.stderr
    stored = {
        sid: session("memory_retrieve", key=f"step/{sid}", namespace="wfe:outputs")["value"]
        for sid in ("greet", "leak", "big")
    }
    assert stored["greet"]["output_summary"] == '"hello from greet"'
    assert stored["leak"]["output_summary"] == '"token=***"'
    assert len(stored["big"]["output_summary"]) <= 501 and stored["big"]["output_summary"].endswith("…")
    # Not in the outcome, nor anywhere else the run put in memory.
    run_id = json.loads(wfe("runs", "--json").stdout)[0]["run_id"]
    summary = session("memory_retrieve", key=f"run/{run_id}", namespace="wfe:outputs")["value"]
    assert summary["steps"]["leak"]["output_summary"] == '"token=***"'
    everything = json.dumps([stored, summary])
    assert SECRET not in everything and SECRET[3:11] not in everything
