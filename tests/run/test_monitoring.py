"""StatusReporter (levels, filtering, JSON-lines file, exports, masking) and the logging bridge."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import pytest
import yaml

from wfe_core import Event, WfeError
from wfe_core.monitoring import ReportLevel, StatusReporter, log_event


def test_the_seed_example_works_as_written(tmp_path):
    reporter = StatusReporter(log_file=tmp_path / "workflow.log")
    reporter.info("workflow_123", "Step completed successfully")
    out = reporter.export_reports(tmp_path / "report.json", format="json")
    data = json.loads(out.read_text())
    assert data["format"] == "wfe.status/1"
    assert [(e["level"], e["workflow_id"], e["message"]) for e in data["entries"]] == [
        ("INFO", "workflow_123", "Step completed successfully")
    ]
    line = json.loads((tmp_path / "workflow.log").read_text().splitlines()[0])
    assert line["message"] == "Step completed successfully" and line["level"] == "INFO"


def test_every_level_has_its_method_and_the_minimum_level_filters():
    reporter = StatusReporter(level="warning")
    for name in ("debug", "info", "warning", "error", "critical"):
        getattr(reporter, name)("wf", f"a {name} entry", n=1)
    assert [e["level"] for e in reporter.entries] == ["WARNING", "ERROR", "CRITICAL"]
    assert reporter.entries[0]["details"] == {"n": 1}
    assert ReportLevel.ERROR > ReportLevel.WARNING


def test_an_unknown_level_or_format_is_a_clear_error(tmp_path):
    with pytest.raises(WfeError, match="unknown report level 'loud'; known levels: DEBUG, INFO, WARNING"):
        StatusReporter(level="loud")
    reporter = StatusReporter()
    reporter.info("wf", "x")
    with pytest.raises(WfeError, match=r"unknown report format 'pdf'; known formats: json, yaml, text"):
        reporter.export_reports(tmp_path / "r.pdf", format="pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_yaml_and_text_exports(tmp_path):
    reporter = StatusReporter()
    reporter.error("wf", "step build failed", step_id="build", attempts=2)
    data = yaml.safe_load(reporter.export_reports(tmp_path / "r.yaml", format="yaml").read_text())
    assert data["entries"][0]["details"] == {"step_id": "build", "attempts": 2}
    text = reporter.export_reports(tmp_path / "r.txt", format="text").read_text()
    assert text.count("\n") == 1
    assert "ERROR" in text and "wf: step build failed step_id=build attempts=2" in text


def test_secrets_are_masked_in_messages_details_file_and_exports(tmp_path):
    token = "s3cr3t-t0ken-value"
    reporter = StatusReporter(log_file=tmp_path / "w.log", secrets={"TOKEN": token})
    reporter.warning("wf", f"calling with {token}", header=f"Bearer {token}", nested={"list": [token]})
    for fmt in ("json", "yaml", "text"):
        assert token not in reporter.export_reports(tmp_path / f"r.{fmt}", format=fmt).read_text()
    written = (tmp_path / "w.log").read_text()
    assert token not in written and "***" in written


def test_two_processes_appending_to_one_log_file_lose_and_tear_nothing(tmp_path):
    log = tmp_path / "shared.log"
    script = textwrap.dedent(f"""
        import sys
        from wfe_core.monitoring import StatusReporter
        r = StatusReporter(log_file={str(log)!r})
        for i in range(400):
            r.info("wf", "entry " + sys.argv[1] + " " + str(i), payload="x" * 5000)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    lines = log.read_text().splitlines()
    assert len(lines) == 800
    messages = {json.loads(line)["message"] for line in lines}  # every line whole JSON
    assert messages == {f"entry {n} {i}" for n in "ab" for i in range(400)}


def test_threads_appending_at_once_keep_every_entry(tmp_path):
    import threading

    reporter = StatusReporter(log_file=tmp_path / "t.log")
    threads = [
        threading.Thread(target=lambda k=k: [reporter.info("wf", f"{k}-{i}") for i in range(200)]) for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reporter.entries) == 800
    assert len((tmp_path / "t.log").read_text().splitlines()) == 800


def test_entries_also_reach_the_logging_module(caplog):
    with caplog.at_level(logging.INFO, logger="wfe"):
        StatusReporter().warning("wf-7", "disk almost full")
    record = next(r for r in caplog.records if r.name == "wfe.status")
    assert record.levelno == logging.WARNING and record.getMessage() == "wf-7: disk almost full"
    assert record.workflow_id == "wf-7"


def test_run_events_map_to_levels_and_carry_ids(caplog):
    events = [
        Event("run.started", "r1", "wf", None, {}),
        Event("step.succeeded", "r1", "wf", "a", {}),
        Event("step.retrying", "r1", "wf", "b", {"error": "boom"}),
        Event("step.failed", "r1", "wf", "b", {"error": "boom"}),
        Event("run.finished", "r1", "wf", None, {"status": "failed"}),
        Event("progress", "r1", "wf", None, {"completion_percentage": 50.0}),
    ]
    with caplog.at_level(logging.INFO, logger="wfe"):
        for event in events:
            log_event(event)
    got = [(r.name, r.levelname, r.step_id) for r in caplog.records]
    assert got == [
        ("wfe.run", "INFO", None),
        ("wfe.step", "INFO", "a"),
        ("wfe.step", "WARNING", "b"),
        ("wfe.step", "ERROR", "b"),
        ("wfe.run", "ERROR", None),
    ]
    assert all(r.run_id == "r1" and r.workflow_id == "wf" for r in caplog.records)
    assert caplog.records[3].getMessage() == "step b failed: boom"


def test_a_reporter_hears_run_events_as_entries():
    reporter = StatusReporter(level="INFO")
    reporter.on_event(Event("step.failed", "r1", "wf", "deploy", {"error": "exit 3", "attempts": 2}))
    reporter.on_event(Event("progress", "r1", "wf", None, {}))
    (entry,) = reporter.entries
    assert entry["level"] == "ERROR" and entry["message"] == "step deploy failed: exit 3"
    assert entry["details"]["run_id"] == "r1" and entry["details"]["attempts"] == 2
