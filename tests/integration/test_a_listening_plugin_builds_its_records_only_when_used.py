"""A plugin imported for a hook every run needs builds its records only when one is used.

wfe-claude-flow implements ``wfe_event``, so every ``wfe run`` imports and registers it;
once the plugin index knows what it provides, its actions (and their parameter classes)
and its validator are built only when a workflow names one of its actions, or something
looks one up. Proven through the real ``wfe`` process: which modules it imported
(``-X importtime``), and that the deferred actions, schema and validator still work.
"""

from __future__ import annotations

import json

import pytest
from importtime import wfe_imports

pytest.importorskip("wfe_claude_flow", reason="wfe-claude-flow is not installed")

PLAIN = "id: plain\nsteps:\n  - {id: set, action: variable.set, parameters: {name: x, value: hello}}\n"
# A literal credential stored in claude-flow memory: its validator warns (an error with --strict).
STORES_A_KEY = """\
id: stores
steps:
  - id: keep
    action: claude_flow.memory_store
    parameters: {key: notes, value: "sk-ant-abcdefghijklmnopqrstuvwxyz0123"}
"""


def _warm(tmp_path) -> None:
    (tmp_path / "plain.yaml").write_text(PLAIN)
    first, modules = wfe_imports(tmp_path, "run", "plain.yaml")  # builds the index: collects every record
    assert first.returncode == 0, first.stderr
    assert "wfe_claude_flow.params" in modules


def test_a_run_registers_the_listener_without_building_its_actions(tmp_path):
    _warm(tmp_path)
    again, modules = wfe_imports(tmp_path, "run", "plain.yaml")
    assert again.returncode == 0, again.stderr
    assert "1 succeeded" in again.stdout
    assert "wfe_claude_flow.switch" in modules  # imported: it listens to the run's events
    built = ("wfe_claude_flow.params", "wfe_claude_flow.actions", "wfe_claude_flow.checks")
    assert sorted(m for m in built if m in modules) == []


def test_its_validator_still_runs_for_a_workflow_that_uses_its_action(tmp_path):
    _warm(tmp_path)
    (tmp_path / "stores.yaml").write_text(STORES_A_KEY)
    proc, modules = wfe_imports(tmp_path, "validate", "--strict", "stores.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "stores.yaml" in proc.stderr and "steps[0].parameters.value" in proc.stderr
    assert "claude-flow memory" in proc.stderr
    assert "wfe_claude_flow.params" in modules and "wfe_claude_flow.checks" in modules


def test_its_parameters_are_still_checked_and_published(tmp_path):
    _warm(tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "id: bad\nsteps:\n  - {id: s, action: claude_flow.swarm_init, parameters: {topology: meshh}}\n"
    )
    bad, _ = wfe_imports(tmp_path, "validate", "bad.yaml")
    assert bad.returncode == 2
    assert "unknown topology 'meshh'" in bad.stderr and "did you mean 'mesh'" in bad.stderr
    schema, _ = wfe_imports(tmp_path, "schema", "claude_flow.memory_store")
    assert schema.returncode == 0, schema.stderr
    assert "value" in json.loads(schema.stdout)["parameters"]["properties"]
    listing, _ = wfe_imports(tmp_path, "plugins", "--json")
    provided = {p["name"]: p["provides"] for p in json.loads(listing.stdout)["plugins"]}
    assert "claude_flow.swarm_init" in provided["claude_flow"]["actions"]
    assert provided["claude_flow"]["validators"] == ["claude_flow.memory-secrets"]
