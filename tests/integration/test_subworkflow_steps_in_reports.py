"""``wfe report`` of a parent run lists its sub-workflows' steps under the step that ran
them (ids ``deploy/build``, recursively ``deploy/inner/leaf``) with their status,
durations, attempts, errors and output tails, in every format (json, markdown, junit,
html, text). The parent's analytics count its own steps only: a ``workflow.run`` step's
span already covers its child, whose steps are listed, not counted twice."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest


def write(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(textwrap.dedent(text))


def last_run(wfe) -> str:
    return json.loads(wfe("runs", "--json").stdout)[0]["run_id"]


@pytest.fixture
def succeeded(tmp_path, wfe) -> str:
    """parent: deploy (child: build -> inner (grand: leaf)) -> after; all succeed."""
    write(
        tmp_path,
        "grand.yaml",
        """\
        id: grand
        steps:
          - id: leaf
            action: shell.execute
            parameters: {command: "echo leaf-printed"}
        """,
    )
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        steps:
          - id: build
            action: shell.execute
            parameters: {command: "sleep 0.3; echo built"}
          - id: inner
            action: workflow.run
            dependencies: [build]
            parameters: {path: grand.yaml}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
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
    wfe("run", "parent.yaml")
    return last_run(wfe)


@pytest.fixture
def failed(tmp_path, wfe) -> str:
    """parent: deploy (child: build, then check that prints and fails twice) fails."""
    write(
        tmp_path,
        "child.yaml",
        """\
        id: child
        steps:
          - id: build
            action: shell.execute
            parameters: {command: "echo built"}
          - id: check
            action: shell.execute
            dependencies: [build]
            max_retries: 1
            retry_delay: 0.1
            parameters: {command: "echo checking widgets; echo widget 7 broken >&2; exit 4"}
        """,
    )
    write(
        tmp_path,
        "parent.yaml",
        """\
        id: parent
        steps:
          - id: deploy
            action: workflow.run
            parameters: {path: child.yaml}
        """,
    )
    wfe("run", "parent.yaml", check=1)
    return last_run(wfe)


def test_json_nests_child_and_grandchild_steps_under_their_steps(succeeded, wfe):
    report = json.loads(wfe("report", succeeded, "--format", "json").stdout)
    steps = {s["id"]: s for s in report["steps"]}
    assert list(steps) == ["deploy", "after"]  # the parent's own steps, as before
    child = steps["deploy"]["sub_workflow"]
    assert child["run_id"] == f"{succeeded}/deploy" and child["workflow_id"] == "child"
    assert child["status"] == "succeeded" and child["summary"] == {"total": 2, "succeeded": 2}
    inner = {s["id"]: s for s in child["steps"]}
    assert list(inner) == ["deploy/build", "deploy/inner"]
    build = inner["deploy/build"]
    assert build["status"] == "succeeded" and build["output_tail"] == ["stdout| built"]
    assert build["span"] >= 0.3 and len(build["attempts"]) == 1 and build["attempts"][0]["duration"] >= 0.3
    assert inner["deploy/inner"]["dependencies"] == ["deploy/build"]
    grand = inner["deploy/inner"]["sub_workflow"]
    assert grand["run_id"] == f"{succeeded}/deploy/inner"
    assert [(s["id"], s["status"], s["output_tail"]) for s in grand["steps"]] == [
        ("deploy/inner/leaf", "succeeded", ["stdout| leaf-printed"])
    ]
    # The child's steps are inside the parent step's time, and not counted again.
    assert steps["deploy"]["span"] >= build["span"]
    a = report["analytics"]
    assert a["critical_path"]["steps"] == ["deploy", "after"]
    assert a["busy_time"] == pytest.approx(steps["deploy"]["busy_time"] + steps["after"]["busy_time"])
    assert {s["step"] for s in a["bottlenecks"]["slowest"]} <= {"deploy", "after"}
    assert "not counted" in a["sub_workflows"]
    # The child's own analytics, with nested ids.
    assert child["analytics"]["critical_path"]["steps"] == ["deploy/build", "deploy/inner"]


def test_json_gives_a_failed_child_steps_error_attempts_and_output_tail(failed, wfe):
    report = json.loads(wfe("report", failed, "--format", "json").stdout)
    deploy = report["steps"][0]
    assert deploy["status"] == "failed" and "check" in deploy["error"]
    check = {s["id"]: s for s in deploy["sub_workflow"]["steps"]}["deploy/check"]
    assert check["status"] == "failed" and "exited with code 4" in check["error"]
    assert [t["status"] for t in check["attempts"]] == ["failed", "failed"]
    assert "stdout| checking widgets" in check["output_tail"]
    assert "stderr| widget 7 broken" in check["output_tail"]


def test_markdown_lists_nested_rows_after_their_step(succeeded, failed, wfe):
    text = wfe("report", succeeded, "--format", "markdown").stdout
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    ids = [row.split("`")[1] for row in rows]
    assert ids == ["deploy", "deploy/build", "deploy/inner", "deploy/inner/leaf", "after"]
    assert "↳ `deploy/inner/leaf`" in text and "its time is part of the step that ran it" in text
    bad = wfe("report", failed, "--format", "markdown").stdout
    row = next(line for line in bad.splitlines() if "`deploy/check`" in line)
    assert "failed" in row and "| 2 |" in row and "widget 7 broken" in row


def test_junit_has_a_testcase_per_nested_step_counted_in_the_totals(succeeded, failed, wfe):
    suite = ET.fromstring(wfe("report", succeeded, "--format", "junit").stdout).find("testsuite")
    cases = [(c.get("name"), c.get("classname")) for c in suite.iter("testcase")]
    assert cases == [
        ("deploy", "parent"),
        ("deploy/build", "child"),
        ("deploy/inner", "child"),
        ("deploy/inner/leaf", "grand"),
        ("after", "parent"),
    ]
    assert suite.get("tests") == "5" and suite.get("failures") == "0"
    suite = ET.fromstring(wfe("report", failed, "--format", "junit").stdout).find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")  # deploy and deploy/check
    check = next(c for c in suite.iter("testcase") if c.get("name") == "deploy/check")
    assert "exited with code 4" in check.find("failure").get("message")
    assert "widget 7 broken" in check.find("system-out").text


def test_text_lists_nested_rows(succeeded, wfe):
    lines = wfe("report", succeeded).stdout.splitlines()
    start = lines.index(next(x for x in lines if "STEP" in x)) + 1
    table = [line.split()[0] for line in lines[start:] if line.startswith("  ")]
    assert table == ["deploy", "deploy/build", "deploy/inner", "deploy/inner/leaf", "after"]
    assert "not counted twice" in lines[-1]


def test_html_has_nested_rows_with_tails(failed, wfe, tmp_path):
    page = wfe("report", failed, "--format", "html").stdout
    assert 'data-step="deploy/check" data-parent="deploy"' in page
    assert "stderr| widget 7 broken" in page


def test_stats_lists_child_steps_nested_across_runs(succeeded, wfe):
    wfe("run", "parent.yaml")
    history = json.loads(wfe("stats", "parent", "--json").stdout)
    steps = {s["step"]: s for s in history["steps"]}
    assert list(steps) == ["deploy", "deploy/build", "deploy/inner", "deploy/inner/leaf", "after"]
    assert steps["deploy/build"]["runs"] == 2 and steps["deploy/build"]["p50"] >= 0.3
    assert steps["deploy/inner/leaf"]["failure_rate"] == 0.0
    assert len(history["run_ids"]) == 2  # the child runs are not runs of the parent
    text = wfe("stats", "parent").stdout
    assert "deploy/inner/leaf" in text
