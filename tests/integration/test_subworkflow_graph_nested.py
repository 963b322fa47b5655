"""``wfe graph`` draws a ``workflow.run`` step's child workflow (a literal path) nested:
a Mermaid subgraph, a Graphviz cluster, an SVG section of the HTML page, with its steps
named ``deploy/build`` and grandchildren nested inside; a templated path is not drawn."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    for name, text in {
        "sub/grand.yaml": """\
            id: grand
            steps:
              - {id: leaf, action: shell.execute, parameters: {command: "echo leaf"}}
            """,
        "sub/child.yaml": """\
            id: child
            steps:
              - {id: build, action: shell.execute, parameters: {command: "echo build"}}
              - id: inner
                action: workflow.run
                dependencies: [build]
                parameters: {path: grand.yaml}
              - {id: lint, action: shell.execute, critical: false, parameters: {command: "true"}}
            """,
        "parent.yaml": """\
            id: parent
            variables: {which: child}
            steps:
              - id: deploy
                action: workflow.run
                parameters: {path: sub/child.yaml}
              - id: later
                action: workflow.run
                dependencies: [deploy]
                parameters: {path: "sub/{which}.yaml"}
            """,
    }.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def _block(text: str, start: str) -> str:
    """The lines from ``start`` to its matching ``end`` (Mermaid subgraphs nest)."""
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if line.strip().startswith(start))
    depth, out = 0, []
    for line in lines[i:]:
        out.append(line)
        if line.strip().startswith("subgraph "):
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            if depth == 0:
                break
    return "\n".join(out)


def test_mermaid_draws_the_child_and_grandchild_as_nested_subgraphs(files, wfe):
    text = wfe("graph", "parent.yaml").stdout
    child = _block(text, 'subgraph s0["deploy runs sub/child.yaml"]')
    assert '"build"' in child and '"inner"' in child and '"lint"' in child
    grand = _block(child, 'subgraph s1["deploy/inner runs grand.yaml"]')
    assert '"leaf"' in grand
    build, inner = (re.search(rf'(\S+)\["{name}"\]', child).group(1) for name in ("build", "inner"))
    assert f"{build} --> {inner}" in text  # the child's own edge
    parent_node = re.search(r'(n\d+)\["deploy \(runs sub/child.yaml\)"\]', text).group(1)
    assert f"{parent_node} -.-> s0" in text
    # A path known only at run time is not drawn: just labelled.
    assert "later (runs sub/{which}.yaml)" in text and text.count("subgraph ") == 2


def test_dot_draws_clusters_graphviz_accepts(files, wfe, tmp_path):
    text = wfe("graph", "parent.yaml", "--format", "dot").stdout
    assert 'subgraph "cluster_sub_0"' in text and 'label="deploy runs sub/child.yaml"' in text
    assert '"deploy/build" -> "deploy/inner";' in text
    assert '"deploy" -> "deploy/build" [style=dotted, lhead="cluster_sub_0"];' in text
    # The grandchild's cluster is inside the child's.
    child = text[text.index('subgraph "cluster_sub_0"') :]
    assert child.index('subgraph "cluster_sub_1"') < child.index('"deploy" -> "deploy/build"')
    if shutil.which("dot") is None:
        pytest.skip("graphviz is not installed")
    svg = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=True).stdout
    clusters = re.findall(r'<g id="clust\d+" class="cluster">\s*<title>([^<]+)</title>', svg)
    assert sorted(clusters) == ["cluster_sub_0", "cluster_sub_1"]
    assert ">deploy runs sub/child.yaml<" in svg and ">leaf<" in svg


def test_html_page_has_a_section_per_child_with_its_dag(files, wfe):
    page = wfe("graph", "parent.yaml", "--format", "html").stdout
    assert '<section class="sub-workflow" data-step="deploy">' in page
    assert '<section class="sub-workflow" data-step="deploy/inner">' in page
    child = page[page.index('data-step="deploy">') :]
    assert 'data-step="deploy/build"' in child and 'data-step="deploy/inner/leaf"' in child


def test_a_template_child_is_drawn_as_a_subgraph(tmp_path, wfe):
    (tmp_path / "parent.toml").write_text(
        textwrap.dedent(
            """\
            id = "parent"

            [[steps]]
            id = "files"
            action = "workflow.run"
            parameters = { template = "simple_file_workflow", variables = { base_dir = "made", message = "hi" } }
            """
        )
    )
    text = wfe("graph", "parent.toml").stdout
    block = _block(text, "subgraph s0[\"files runs template 'simple_file_workflow'\"]")
    assert block.count(":::pending") >= 2  # the template's own steps, inside the subgraph
    assert not (tmp_path / "made").exists()  # drawing runs nothing
