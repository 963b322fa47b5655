"""`wfe graph FILE`: the DAG before it runs, as Mermaid, Graphviz dot (checked by the real
`dot`) and HTML; bad files are one-line errors with exit code 2."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import wfe, write

FLOW = """\
id: release
steps:
  - id: checkout
    action: wait
    parameters: {seconds: 0}
  - id: "unit tests"
    action: wait
    parameters: {seconds: 0}
    dependencies: [checkout]
    parallel_group: tests
  - id: lint
    action: wait
    parameters: {seconds: 0}
    dependencies: [checkout]
    parallel_group: tests
    critical: false
  - id: package
    action: wait
    parameters: {seconds: 0}
    dependencies: ["unit tests", lint]
  - id: deploy
    action: wait
    parameters: {seconds: 0}
    dependencies: [package]
    conditions: {env: production}
"""


@pytest.fixture
def flow(tmp_path):
    return write(tmp_path / "release.yaml", FLOW)


def test_mermaid(flow, tmp_path):
    out = wfe("graph", str(flow), store=tmp_path / "s.sqlite").stdout
    assert out.startswith("graph TD\n")
    assert re.search(
        r'subgraph g0\["tests"\]\n    n1\["unit tests"\]:::pending\n'
        r'    n2\["lint"\]:::pending\n  end',
        out,
    )
    assert 'n4["? deploy"]' in out  # conditional
    assert "style n2 stroke-dasharray:5 5" in out  # non-critical
    assert out.count("-->") == 5
    assert "style n0 stroke:#111,stroke-width:4px" in out  # on the longest chain


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed (.ci/run installs it)")
def test_dot_is_valid_graphviz(flow, tmp_path):
    text = wfe("graph", str(flow), "--format", "dot", store=tmp_path / "s.sqlite").stdout
    assert 'subgraph cluster_0 {\n    label="parallel group tests"' in text
    assert '    { rank=same; "unit tests" "lint" }  // level 1' in text
    assert '"deploy" [label="? deploy"' in text and 'shape="diamond"' in text
    assert re.search(r'"lint" \[[^\]]*style="filled,dashed"', text)
    # The real dot reads it (and would exit non-zero, naming the line, if it could not).
    result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count('class="node"') == 5 and result.stdout.count('class="edge"') == 5
    assert result.stdout.count('class="cluster"') == 1


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed (.ci/run installs it)")
def test_dot_rejects_what_is_not_graphviz():
    """The check above can fail: dot refuses a broken graph."""
    result = subprocess.run(["dot", "-Tsvg"], input='digraph { "a" -> ; }', capture_output=True, text=True)
    assert result.returncode != 0 and "syntax error" in result.stderr


def test_html(flow, tmp_path):
    out = tmp_path / "graph.html"
    wfe("graph", str(flow), "-f", "html", "-o", str(out), store=tmp_path / "s.sqlite")
    page = out.read_text()
    assert page.count('<g class="node') == 5 and "level 1: unit tests, lint" in page
    assert "parallel group tests: unit tests, lint" in page
    assert not re.search(r"""(src|href)\s*=""", page)


def test_a_cycle_is_one_line_and_exit_2(tmp_path):
    bad = write(
        tmp_path / "bad.yaml",
        "id: x\nsteps:\n  - {id: a, action: wait, parameters: {seconds: 0}, "
        "dependencies: [b]}\n  - {id: b, action: wait, parameters: {seconds: 0}, "
        "dependencies: [a]}\n",
    )
    result = wfe("graph", str(bad), store=tmp_path / "s.sqlite", check=2)
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "a -> b -> a" in result.stderr and str(bad) in result.stderr


def test_an_unknown_dependency_names_file_step_and_field(tmp_path):
    bad = write(
        tmp_path / "bad.yaml",
        "id: x\nsteps:\n  - {id: a, action: wait, parameters: {seconds: 0}, dependencies: [nope]}\n",
    )
    result = wfe("graph", str(bad), store=tmp_path / "s.sqlite", check=2)
    assert result.stderr.startswith(f"error: {bad}") and "steps[0].dependencies" in result.stderr
    assert "step 'a' depends on unknown step 'nope'" in result.stderr and "Traceback" not in result.stderr
