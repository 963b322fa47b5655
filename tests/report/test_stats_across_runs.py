"""`wfe stats WORKFLOW_ID`: per step p50/p95, failure rate, flaky steps and trend over real runs."""

from __future__ import annotations

import json

import pytest
from conftest import wfe, write

from wfe_core.report.history import percentile

FLOW = """\
id: nightly
variables: {mode: go}
steps:
  - id: build
    action: wait
    parameters: {seconds: 0.1}
  - id: gate
    action: validate.condition
    parameters: {value: "{mode}", equals: go}
    dependencies: [build]
  - id: publish
    action: wait
    parameters: {seconds: 0.05}
    dependencies: [gate]
"""


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    store = root / "runs.sqlite"
    flow = write(root / "nightly.yaml", FLOW)
    wfe("run", str(flow), store=store)
    wfe("run", str(flow), store=store)
    wfe("run", str(flow), "--var", "mode=stop", store=store, check=1)  # gate fails
    run_id = json.loads(wfe("runs", "--json", store=store).stdout)[0]["run_id"]
    wfe("resume", run_id, "--var", "mode=go", store=store)  # gate passes on attempt 2
    wfe("run", str(flow), "--var", "mode=stop", store=store, check=1)
    return store


def test_stats_json(history):
    data = json.loads(wfe("stats", "nightly", "--json", store=history).stdout)
    assert data["schema"] == "wfe.stats/1" and len(data["run_ids"]) == 4
    assert data["statuses"] == {"succeeded": 3, "failed": 1}
    steps = {s["step"]: s for s in data["steps"]}
    assert [s["step"] for s in data["steps"]] == ["build", "gate", "publish"]
    assert steps["build"]["runs"] == 4 and steps["build"]["failure_rate"] == 0
    assert 0.09 <= steps["build"]["p50"] <= steps["build"]["p95"]
    assert steps["gate"]["failure_rate"] == pytest.approx(1 / 4)  # the last run's failure
    assert steps["gate"]["flaky_runs"] == 1  # the resumed run: succeeded on attempt 2
    assert steps["publish"]["runs"] == 3  # cancelled in the last run: did not run
    assert steps["build"]["trend"] == pytest.approx(steps["build"]["latest"] / 0.1, rel=0.5)


def test_stats_last_n_and_table(history):
    data = json.loads(wfe("stats", "nightly", "--last", "2", "--json", store=history).stdout)
    assert len(data["run_ids"]) == 2 and data["statuses"] == {"succeeded": 1, "failed": 1}
    out = wfe("stats", "nightly", store=history).stdout
    assert out.startswith("workflow nightly: 4 runs (1 failed, 3 succeeded); wall p50 ")
    assert any(line.split()[:2] == ["gate", "4"] and line.split()[5] == "1" for line in out.splitlines())


def test_stats_of_an_unknown_workflow(history):
    result = wfe("stats", "nope", store=history, check=2)
    assert result.stderr == "error: no recorded run of workflow 'nope'\n"


def test_percentiles():
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
