"""A fan-out run as the real ``wfe`` process reports it: totals count an expanded fan-out
step as its instances (summary, ``wfe runs show``, report summary, JUnit test cases);
the report DAG hangs the instances between the step's dependencies and the step (edges
checked in the JSON, the Mermaid text and the HTML drawn by headless Chromium); the
critical path goes through the instance that ended last; instances held back by
``max_parallel`` are said to have waited for it, not for a worker."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from conftest import Recorded, last_run_id, wfe, write
from devtools import Browser, chromium

# With max_parallel 2: [0] and [1] start first; [2] starts when [1] ends, [3] when [2]
# ends, so [3] ends last although [0] is the longest instance.
FLOW = """\
    id: fanreport
    steps:
      - {id: first, action: wait, parameters: {seconds: 0.2}}
      - id: build
        action: wait
        parameters: {seconds: "{item}"}
        for_each: [0.9, 0.1, 0.2, 0.6]
        max_parallel: 2
        dependencies: [first]
      - {id: after, action: wait, parameters: {seconds: 0.1}, dependencies: [build]}
"""
INSTANCES = ["build[0]", "build[1]", "build[2]", "build[3]"]


@pytest.fixture(scope="module")
def fanned(tmp_path_factory) -> tuple[Recorded, str]:
    root = tmp_path_factory.mktemp("fanout")
    store = root / "runs.sqlite"
    workflow = write(root / "fan.yaml", FLOW)
    ran = wfe("run", str(workflow), "--max-workers", "4", "--reporter", "plain", store=store)
    return Recorded(store, last_run_id(store, "fanreport"), workflow), ran.stdout


@pytest.fixture(scope="module")
def data(fanned):
    return json.loads(fanned[0].report("--format", "json").stdout)


def test_the_summary_and_runs_show_count_the_fan_out_step_as_its_instances(fanned):
    recorded, summary = fanned
    # 2 plain steps + 4 instances; the fan-out step itself is not a seventh.
    assert "6 succeeded, 0 failed, 0 skipped, 0 cancelled (of 6; build counts as its 4 instances)" in summary
    shown = wfe("runs", "show", recorded.run_id, store=recorded.store).stdout
    assert "steps: 6 succeeded (of 6; build counts as its 4 instances)" in shown
    assert "build[3]" in shown and "\n  build " in shown  # every row is still listed


def test_the_report_summary_and_junit_count_instances_not_their_step(fanned, data):
    assert data["summary"] == {"total": 6, "succeeded": 6, "fanned_out": {"build": 4}}
    suite = ET.fromstring(fanned[0].report("--format", "junit").stdout)
    assert suite.get("tests") == "6"
    cases = [c.get("name") for c in suite.iter("testcase")]
    assert sorted(cases) == sorted(["first", "after", *INSTANCES])
    markdown = fanned[0].report("--format", "markdown").stdout
    assert "6 steps (build counts as its 4 instances): 6 succeeded." in markdown


def test_instances_hang_between_the_step_dependencies_and_the_step(fanned, data):
    steps = {s["id"]: s for s in data["steps"]}
    for iid in INSTANCES:
        assert steps[iid]["dependencies"] == ["first"]
    assert sorted(steps["build"]["dependencies"]) == INSTANCES
    assert steps["after"]["dependencies"] == ["build"]
    mermaid = fanned[0].report("--format", "markdown").stdout.split("```mermaid")[1]
    ids = {
        line.split('["')[1].split('"]')[0]: line.split("[")[0].strip() for line in mermaid.splitlines() if '["' in line
    }
    edges = {tuple(line.split(" --> ")) for line in (x.strip() for x in mermaid.splitlines()) if " --> " in line}
    for iid in INSTANCES:
        assert (ids["first"], ids[iid]) in edges and (ids[iid], ids["build"]) in edges
    assert (ids["build"], ids["after"]) in edges


def test_the_critical_path_goes_through_the_instance_that_ended_last(data):
    steps = {s["id"]: s for s in data["steps"]}
    last = max(INSTANCES, key=lambda i: steps[i]["finished_at"])
    longest = max(INSTANCES, key=lambda i: steps[i]["span"])
    path = data["analytics"]["critical_path"]["steps"]
    assert path == ["first", last, "build", "after"]
    assert [s for s in path if s in INSTANCES] == [last]
    if longest != last:  # as designed: build[0] is longest, build[3] ends last
        assert longest not in path


def test_instances_held_back_by_max_parallel_waited_for_it_not_for_a_worker(fanned, data):
    steps = {s["id"]: s for s in data["steps"]}
    by_start = sorted(INSTANCES, key=lambda i: steps[i]["attempts"][0]["started_at"])
    held = set(by_start[2:])  # started after max_parallel (2) siblings
    bottlenecks = data["analytics"]["bottlenecks"]
    assert {w["step"] for w in bottlenecks["waited_max_parallel"]} == held
    assert not {w["step"] for w in bottlenecks["waited"]} & set(INSTANCES)
    assert data["analytics"]["limiter"] != "workers"
    text = fanned[0].report("--format", "text").stdout
    assert "waited for max_parallel: " in text
    assert "waited for a worker" not in text


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (.ci/run installs it)")
def test_the_html_dag_draws_instances_between_the_step_dependencies_and_the_step(fanned, data, tmp_path):
    page = tmp_path / "report.html"
    fanned[0].report("--format", "html", "-o", str(page))
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        dom = browser.evaluate("""(() => {
            const q = s => Array.from(document.querySelectorAll(s));
            return {
              edges: q('svg.dag path.edge').map(e => [e.dataset.from, e.dataset.to, e.classList.contains('cp'),
                                                     e.getBoundingClientRect().width > 0]),
              nodes: q('svg.dag g.node').map(n => n.dataset.step),
              critical: q('svg.dag g.node[data-critical-path]').map(n => n.dataset.step),
              // textContent, not innerText: sections render lazily (content-visibility:
              // auto), and innerText leaves out those not rendered yet.
              text: document.body.textContent,
              analytics: q('#analytics li').map(li => li.textContent),
            };
        })()""")
        problems = browser.problems()
    assert problems == []
    edges = {(a, b): (cp, drawn) for a, b, cp, drawn in dom["edges"]}
    assert set(edges) == {("first", i) for i in INSTANCES} | {(i, "build") for i in INSTANCES} | {("build", "after")}
    assert all(drawn for _, drawn in edges.values())
    steps = {s["id"]: s for s in data["steps"]}
    last = max(INSTANCES, key=lambda i: steps[i]["finished_at"])
    assert sorted(dom["critical"]) == sorted(["first", last, "build", "after"])
    assert {e for e, (cp, _) in edges.items() if cp} == {("first", last), (last, "build"), ("build", "after")}
    analytics = dom["analytics"]
    assert any(li.startswith("waited for max_parallel (a sibling instance to end): ") for li in analytics), analytics
    # Under load a plain step may wait for a worker for real; no instance is said to.
    worker_waits = [line for line in analytics if line.startswith("waited for a free worker")]
    assert not [i for i in INSTANCES if any(i in line for line in worker_waits)], worker_waits
    assert "6 steps (build counts as its 4 instances)" in dom["text"]
