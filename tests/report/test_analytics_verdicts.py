"""What limited a run, on real `wfe run`s shaped to be limited by one thing each; and the
parallel efficiency a report prints is RunStats' number."""

from __future__ import annotations

import json

import pytest
from conftest import last_run_id, wfe, write


def _analytics(tmp_path, text: str, *args: str) -> dict:
    store = tmp_path / "runs.sqlite"
    workflow = write(tmp_path / "wf.yaml", text)
    wfe("run", str(workflow), *args, store=store, check=None)
    run_id = last_run_id(store, "wf")
    return json.loads(wfe("report", run_id, "-f", "json", store=store).stdout)["analytics"]


def _waits(n: int, seconds: float, **extra: str) -> str:
    body = "".join(
        f"  - id: s{i}\n    action: wait\n    parameters: {{seconds: {seconds}}}\n"
        + "".join(f"    {k}: {v}\n" for k, v in extra.items())
        for i in range(n)
    )
    return "id: wf\nsteps:\n" + body


def test_a_chain(tmp_path):
    text = "id: wf\nsteps:\n" + "".join(
        f"  - id: s{i}\n    action: wait\n    parameters: {{seconds: 0.25}}\n"
        + (f"    dependencies: [s{i - 1}]\n" if i else "")
        for i in range(4)
    )
    a = _analytics(tmp_path, text)
    assert a["limiter"] == "chain", a["verdict"]
    assert a["verdict"].startswith("a chain: the critical path s0 -> s1 -> s2 -> s3 took")
    assert a["critical_path"]["steps"] == ["s0", "s1", "s2", "s3"]


def test_the_worker_limit(tmp_path):
    a = _analytics(tmp_path, _waits(6, 0.4), "--max-workers", "2")
    assert a["limiter"] == "workers", a["verdict"]
    assert a["workers"] == 2 and a["peak_concurrency"] == 2
    assert "for one of 2 workers" in a["verdict"]
    assert len(a["bottlenecks"]["waited"]) == 4  # two ran at once, four waited their turn
    assert a["parallel_efficiency"] > 0.5


def test_one_slow_step(tmp_path):
    text = _waits(3, 0.05) + "  - id: big\n    action: wait\n    parameters: {seconds: 1.2}\n"
    a = _analytics(tmp_path, text)
    assert a["limiter"] == "slow_step", a["verdict"]
    assert a["verdict"].startswith("one slow step: 'big' took 1.2")


def test_retries(tmp_path):
    text = (
        "id: wf\nsteps:\n  - id: shaky\n    action: wait\n    parameters: {seconds: 1}\n    timeout: 0.2\n"
        "    max_retries: 2\n    retry_delay: 0.3\n    critical: false\n"
    )
    a = _analytics(tmp_path, text)
    assert a["limiter"] == "retries", a["verdict"]
    assert a["bottlenecks"]["retries"][0]["step"] == "shaky" and a["bottlenecks"]["retries"][0]["attempts"] == 3
    assert a["bottlenecks"]["retries"][0]["cost"] >= 0.4 + 0.3  # two failed attempts and the backoff


def test_efficiency_in_a_report_is_runstats_efficiency(tmp_path):
    from wfe_core import WorkflowEngine, WorkflowLoader, load_plugins
    from wfe_core.report.data import open_store, read_run
    from wfe_core.report.report import build_report

    workflow = WorkflowLoader().load_from_string(_waits(5, 0.2), "yaml")
    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=tmp_path / "api.sqlite", max_concurrent_steps=3)
    try:
        stats = engine.run(workflow)
    finally:
        engine.cleanup()
    db = open_store(tmp_path / "api.sqlite")
    a = build_report(read_run(db, stats.run_id)).analytics
    db.close()
    assert (a.workers, a.workers_source) == (stats.workers, "recorded")
    assert a.wall_time == stats.total_execution_time and a.busy_time == pytest.approx(stats.busy_time, abs=1e-9)
    assert a.parallel_efficiency == pytest.approx(stats.parallel_efficiency, abs=1e-9)
    assert 0 < a.parallel_efficiency < 1
