"""Memory a workflow stores lives in claude-flow's state dir: other sessions and later runs see it."""

from __future__ import annotations

from cf_helpers import fresh_values, run_show

STORE = """
id: persist
steps:
  - id: swarm
    action: claude_flow.swarm_init
    parameters: {topology: mesh, max_agents: 3}
  - id: remember
    action: claude_flow.memory_store
    parameters:
      key: build
      value: {version: 7, swarm: "{steps.swarm.output.swarmId}", tags: [a, b]}
    dependencies: [swarm]
"""

READ_BACK = """
id: persist
steps:
  - id: recall
    action: claude_flow.memory_retrieve
    parameters: {key: build}
  - id: next
    action: claude_flow.memory_store
    parameters: {key: next_version, value: "{steps.recall.output.value.version}"}
    dependencies: [recall]
"""


def test_a_value_stored_by_wfe_run_is_read_back_by_an_independent_session(wfe, write, home, session):
    done = wfe("run", write("store.yaml", STORE))
    assert done.returncode == 0, done.stdout + done.stderr
    swarm_id = run_show(wfe)["by_id"]["swarm"]["output"]["swarmId"]
    # `session` is a server of its own, started by the MCP SDK on the same state dir.
    found = session("memory_retrieve", key="build", namespace="wfe:persist")
    assert found["found"] is True
    assert found["value"] == {"version": 7, "swarm": swarm_id, "tags": ["a", "b"]}


def test_a_second_run_sees_the_first_runs_memory(wfe, write, home):
    first = wfe("run", write("store.yaml", STORE))
    assert first.returncode == 0, first.stdout + first.stderr
    second = wfe("run", write("read.yaml", READ_BACK))
    assert second.returncode == 0, second.stdout + second.stderr
    steps = run_show(wfe)["by_id"]
    assert steps["recall"]["output"]["value"]["version"] == 7
    # A whole-value placeholder keeps the type: the number went back in as a number.
    assert steps["next"]["status"] == "succeeded"
    assert fresh_values(home, "wfe:persist", "next_version") == {"next_version": 7}


def test_memory_retrieve_of_a_missing_key_succeeds_with_found_false(wfe, write, home):
    done = wfe(
        "run",
        write(
            "miss.yaml",
            """
id: miss
steps:
  - id: recall
    action: claude_flow.memory_retrieve
    parameters: {key: never-stored, namespace: elsewhere}
""",
        ),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = run_show(wfe)["by_id"]["recall"]["output"]
    assert output["found"] is False and output["value"] is None
