"""``workflow.run`` with wfe-core alone (built-in actions only), through the ``wfe`` process:
a child's variables reach the parent, the store nests the child's steps, and include
cycles are refused (the nox ``core`` session runs these)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def wfe(tmp_path: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "WFE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, done.stdout + done.stderr
    return done


def write(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(textwrap.dedent(text))


def test_a_childs_variables_and_outputs_reach_the_parent(tmp_path):
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        variables: {base: 0}
        steps:
          - id: pick
            action: variable.set
            parameters: {name: chosen, value: "{base}-picked"}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: sub
            action: workflow.run
            parameters: {path: child.yaml, variables: {base: 7}}
          - id: use
            action: variable.set
            dependencies: [sub]
            parameters: {name: got, value: "{steps.sub.output.variables.chosen}/{steps.sub.output.steps.pick}"}
        """,
    )
    wfe(tmp_path, "run", "parent.yaml")
    runs = json.loads(wfe(tmp_path, "runs", "--json").stdout)
    assert len(runs) == 1  # the child is not listed on its own
    shown = json.loads(wfe(tmp_path, "runs", "show", runs[0]["run_id"], "--json").stdout)
    steps = {s["step_id"]: s for s in shown["steps"]}
    assert list(steps) == ["sub", "sub/pick", "use"]
    assert steps["use"]["output"] == "7-picked/7-picked"
    assert steps["sub/pick"]["run_id"] == runs[0]["run_id"] + "/sub"


def test_include_cycles_are_refused_before_anything_runs(tmp_path):
    write(tmp_path, "a.yaml", "id: a\nsteps:\n  - id: go\n    action: workflow.run\n    parameters: {path: b.yaml}\n")
    write(tmp_path, "b.yaml", "id: b\nsteps:\n  - id: back\n    action: workflow.run\n    parameters: {path: a.yaml}\n")
    for command in ("validate", "run"):
        done = wfe(tmp_path, command, "a.yaml", code=2)
        assert done.stderr == (
            "error: b.yaml:5: steps[0].parameters.path: step 'back': include cycle: a.yaml → b.yaml → a.yaml\n"
        )
    assert not (tmp_path / "runs.sqlite").exists() or json.loads(wfe(tmp_path, "runs", "--json").stdout) == []


def test_wfe_graph_names_what_a_workflow_run_step_runs(tmp_path):
    write(tmp_path, "child.yaml", "id: c\nsteps:\n  - id: s\n    action: wait\n    parameters: {seconds: 0}\n")
    write(
        tmp_path, "p.yaml", "id: p\nsteps:\n  - id: sub\n    action: workflow.run\n    parameters: {path: child.yaml}\n"
    )
    assert '["sub (runs child.yaml)"]' in wfe(tmp_path, "graph", "p.yaml").stdout


def test_nesting_through_templated_paths_stops_at_the_depth_limit(tmp_path):
    # Twenty distinct files, each running the next through a templated path: validation
    # cannot follow them, so the depth limit (16) stops the run, naming the chain.
    for i in range(20):
        write(
            tmp_path,
            f"f{i}.yaml",
            f"id: f{i}\nvariables: {{next: f{i + 1}.yaml}}\nsteps:\n"
            '  - id: deeper\n    action: workflow.run\n    parameters: {path: "{next}"}\n',
        )
    write(tmp_path, "f20.yaml", "id: f20\nsteps:\n  - id: end\n    action: wait\n    parameters: {seconds: 0}\n")
    done = wfe(tmp_path, "run", "f0.yaml", code=1)
    # f1 … f16 run (16 levels below f0); f16's step, which would start f17, fails.
    assert "sub-workflows nested more than 16 deep: f0.yaml → f1.yaml → f2.yaml" in done.stdout
    assert "f15.yaml → f16.yaml → f17.yaml\n" in done.stdout
