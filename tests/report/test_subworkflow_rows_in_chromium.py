"""The HTML report of a run with a sub-workflow, rendered by a real headless Chromium:
the child's and grandchild's steps are table rows under the step that ran them, indented,
with their status, attempts and what a failed one printed."""

from __future__ import annotations

import pytest
from conftest import last_run_id, wfe, write
from devtools import Browser, chromium

pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium is not installed (.ci/run installs it)")
# The steps print and fail through wfe-shell: this runs in nox's `all` session, where every
# plugin is installed (the core session has none).
pytest.importorskip("wfe_shell", reason="needs wfe-shell (installed in the nox `all` session)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("subflow-html")
    store = root / "runs.sqlite"
    write(
        root / "grand.yaml",
        """\
        id: grand
        steps:
          - id: leaf
            action: shell.execute
            parameters: {command: "echo leaf; echo leaf went wrong >&2; exit 2"}
            critical: false
        """,
    )
    write(
        root / "child.yaml",
        """\
        id: child
        steps:
          - id: build
            action: shell.execute
            parameters: {command: "echo built"}
          - id: inner
            action: workflow.run
            dependencies: [build]
            parameters: {path: grand.yaml}
        """,
    )
    write(
        root / "parent.yaml",
        """\
        id: parent
        steps:
          - id: deploy
            action: workflow.run
            parameters: {path: child.yaml}
          - id: after
            action: shell.execute
            dependencies: [deploy]
            parameters: {command: "echo after"}
        """,
    )
    wfe("run", "parent.yaml", store=store, cwd=root)
    run_id = last_run_id(store, "parent")
    page = root / "report.html"
    wfe("report", run_id, "--format", "html", "-o", str(page), store=store)
    with Browser(root / "profile") as browser:
        browser.open(page.as_uri())
        bars = browser.evaluate("""(() => Array.from(document.querySelectorAll('svg.gantt rect.bar')).map(b => {
            const r = b.getBoundingClientRect();
            return [b.dataset.step, b.dataset.status, r.left, r.right, b.closest('svg').classList.contains('nested')];
        }))()""")
        dom = browser.evaluate("""(() => {
            const rows = Array.from(document.querySelectorAll('#steps tbody tr'));
            return rows.map(r => ({
              step: r.dataset.step, parent: r.dataset.parent || null, nested: r.classList.contains('nested'),
              status: r.cells[3].textContent, attempts: r.cells[4].textContent,
              indent: parseFloat(getComputedStyle(r.cells[1]).paddingLeft),
              visible: r.getBoundingClientRect().height > 0,
              detail: r.cells[8].textContent,  // not innerText: sections render lazily
            }));
        })()""")
        yield {"rows": dom, "bars": bars, "problems": browser.problems()}


def test_nested_rows_follow_their_step_indented_by_depth(rendered):
    rows = rendered["rows"]
    assert [(r["step"], r["parent"]) for r in rows] == [
        ("deploy", None),
        ("deploy/build", "deploy"),
        ("deploy/inner", "deploy"),
        ("deploy/inner/leaf", "deploy/inner"),
        ("after", None),
    ]
    indent = {r["step"]: r["indent"] for r in rows}
    assert indent["deploy"] < indent["deploy/build"] < indent["deploy/inner/leaf"]
    assert all(r["visible"] for r in rows)
    assert not rendered["problems"]


def test_a_failed_grandchild_step_shows_its_error_and_output(rendered):
    leaf = next(r for r in rendered["rows"] if r["step"] == "deploy/inner/leaf")
    assert leaf["status"] == "failed" and leaf["attempts"] == "1"
    assert "exited with code 2" in leaf["detail"]
    assert "stderr| leaf went wrong" in leaf["detail"]
    assert "stdout| leaf" in leaf["detail"]


def test_sub_workflow_attempts_are_bars_inside_their_steps_bar(rendered):
    bars = {step: (status, left, right, nested) for step, status, left, right, nested in rendered["bars"]}
    assert [s for s, (*_, nested) in bars.items() if nested] == ["deploy/build", "deploy/inner", "deploy/inner/leaf"]
    assert bars["deploy/inner/leaf"][0] == "failed"
    deploy, leaf = bars["deploy"], bars["deploy/inner/leaf"]
    # Same time axis: the grandchild's attempt lies within the step that ran it (1px rounding).
    assert deploy[1] - 1 <= leaf[1] and leaf[2] <= deploy[2] + 1
