"""`wfe graph FILE` shows each step's `when`, `trigger` and `resources` in every format
it has: Mermaid (lines of the label), Graphviz dot (label lines and tooltip; the real
`dot` reads it) and the HTML page (SVG tooltip, data attributes and a list in words)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import wfe, write

FLOW = """\
id: language
resources: {database: 1, gpu: 2}
steps:
  - id: test
    action: wait
    parameters: {seconds: 0}
  - id: migrate
    action: wait
    parameters: {seconds: 0}
    dependencies: [test]
    resources: [database]
    when: "environment == 'production' and steps.test.status == 'succeeded'"
  - id: train
    action: wait
    parameters: {seconds: 0}
    dependencies: [test]
    resources: {gpu: 2, database: 1}
  - id: cleanup
    action: wait
    parameters: {seconds: 0}
    dependencies: [migrate, train]
    trigger: always
  - id: plain
    action: wait
    parameters: {seconds: 0}
"""

WHEN = "when: environment == 'production' and steps.test.status == 'succeeded'"


@pytest.fixture
def flow(tmp_path):
    return write(tmp_path / "language.yaml", FLOW)


def test_mermaid_labels_carry_when_trigger_resources(flow, tmp_path):
    result = wfe("graph", str(flow), store=tmp_path / "s.sqlite")
    assert result.returncode == 0, result.stderr
    lines = {line.split("[", 1)[0].strip(): line for line in result.stdout.splitlines() if '["' in line}
    by_step = {line.split('["', 1)[1].split("<br/>")[0].split('"')[0]: line for line in lines.values()}
    assert f'["? migrate<br/>{WHEN}<br/>uses: database"]' in by_step["? migrate"]
    assert '["train<br/>uses: gpu x2, database"]' in by_step["train"]
    assert '["cleanup<br/>trigger: always"]' in by_step["cleanup"]
    assert '["plain"]' in by_step["plain"]  # nothing to say: nothing added


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed (.ci/run installs it)")
def test_dot_labels_and_tooltips(flow, tmp_path):
    text = wfe("graph", str(flow), "--format", "dot", store=tmp_path / "s.sqlite").stdout
    assert f'"migrate" [label="? migrate\\n{WHEN}\\nuses: database"' in text
    assert '"cleanup" [label="cleanup\\ntrigger: always"' in text
    assert 'tooltip="wait (pending); uses: gpu x2, database"' in text
    result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "trigger: always" in result.stdout  # the real dot drew the line


def test_dot_text_without_graphviz(flow, tmp_path):
    text = wfe("graph", str(flow), "--format", "dot", store=tmp_path / "s.sqlite").stdout
    assert '"train" [label="train\\nuses: gpu x2, database"' in text
    assert '"plain" [label="plain",' in text


def test_html_page(flow, tmp_path):
    page = wfe("graph", str(flow), "--format", "html", store=tmp_path / "s.sqlite").stdout
    assert re.search(r'data-step="cleanup"[^>]* data-trigger="always">', page)
    assert re.search(r'data-step="migrate"[^>]* data-when="environment == &#x27;production&#x27; and ', page)
    assert re.search(r'data-step="train"[^>]* data-resources="gpu x2, database"', page)
    assert "<title>cleanup · wait · pending · trigger: always</title>" in page
    assert '<li class="step-notes" data-step="train">train: uses: gpu x2, database</li>' in page
    assert 'data-step="plain">' not in page.split("<ul>", 1)[1]  # no notes, not listed
