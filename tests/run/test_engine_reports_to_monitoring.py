"""Every run reaches `logging` and, when given one, the engine's StatusReporter.

Real runs (custom actions, a real rollback), the real `logging` module; no mocks.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from wfe_core import ActionError, RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.monitoring import StatusReporter


def made(parameters, context):
    return "made"


def undo(parameters, context):
    return "undone"


def broken(parameters, context):
    raise ActionError("disk on fire")


def rolled_back_workflow() -> Workflow:
    return Workflow(
        id="story",
        steps=[
            WorkflowStep(id="build", action="made", rollback_action="undo"),
            WorkflowStep(id="deploy", action="broken", dependencies=("build",)),
        ],
    )


def engine_with_actions(**kwargs) -> WorkflowEngine:
    engine = WorkflowEngine(**{"store": None, **kwargs})
    for name, fn in (("made", made), ("undo", undo), ("broken", broken)):
        engine.register_custom_action(name, fn)
    return engine


def test_a_failing_rolled_back_run_tells_its_story_to_logging(caplog):
    engine = engine_with_actions()
    with caplog.at_level(logging.INFO, logger="wfe"):
        stats = engine.run(rolled_back_workflow())
    assert stats.status is RunStatus.FAILED
    story = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name in ("wfe.run", "wfe.step")]
    assert ("wfe.step", "ERROR", "step deploy failed: disk on fire") in story
    assert ("wfe.step", "INFO", "step build rolled back") in story
    assert story[0][:2] == ("wfe.run", "INFO") and story[-1][:2] == ("wfe.run", "ERROR")
    assert all(r.run_id == stats.run_id for r in caplog.records if r.name in ("wfe.run", "wfe.step"))
    assert {r.step_id for r in caplog.records if r.name == "wfe.step"} == {"build", "deploy"}


def test_basic_config_alone_shows_a_run_in_a_real_process(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(
        "import logging\n"
        "from wfe_core import Workflow, WorkflowEngine, WorkflowStep\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s %(levelname)s %(message)s')\n"
        "WorkflowEngine(store=None).run(Workflow(id='w', steps=[WorkflowStep(id='s', action='wait',"
        " parameters={'seconds': 0})]))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wfe.step INFO step s succeeded" in done.stderr
    assert "wfe.run INFO run " in done.stderr and "finished: succeeded" in done.stderr


def test_an_engines_status_reporter_hears_every_run_and_step_event(tmp_path):
    reporter = StatusReporter(log_file=tmp_path / "status.log")
    engine = engine_with_actions(status_reporter=reporter)
    stats = engine.run(rolled_back_workflow())
    events = [(e["details"]["event"], e["details"].get("step_id")) for e in reporter.entries]
    assert events[0] == ("run.started", None) and events[-1] == ("run.finished", None)
    for expected in [("step.succeeded", "build"), ("step.failed", "deploy"), ("step.rolled_back", "build")]:
        assert expected in events
    assert {e["details"]["run_id"] for e in reporter.entries} == {stats.run_id}
    levels = {e["details"]["event"]: e["level"] for e in reporter.entries}
    assert levels["step.failed"] == "ERROR" and levels["run.finished"] == "ERROR"
    lines = [json.loads(line) for line in (tmp_path / "status.log").read_text().splitlines()]
    assert len(lines) == len(reporter.entries)
    exported = json.loads(reporter.export_reports(tmp_path / "story.json", format="json").read_text())
    assert exported["format"] == "wfe.status/1"
    assert [e["message"] for e in exported["entries"]] == [e["message"] for e in reporter.entries]


def test_run_report_formats_delegate_to_the_exporters_of_wfe_report(tmp_path):
    import os
    import xml.etree.ElementTree as ET

    store = tmp_path / "runs.sqlite"
    reporter = StatusReporter()
    stats = engine_with_actions(status_reporter=reporter, store=store).run(rolled_back_workflow())
    junit = ET.parse(reporter.export_reports(tmp_path / "r.xml", format="junit"))
    cases = {case.get("name"): case for case in junit.iter("testcase")}
    assert set(cases) == {"build", "deploy"}
    assert "disk on fire" in ET.tostring(cases["deploy"], encoding="unicode")
    assert stats.run_id in reporter.export_reports(tmp_path / "r.html", format="html").read_text()
    # The same renderer as the command line: byte for byte what `wfe report` writes.
    markdown = reporter.export_reports(tmp_path / "r.md", format="markdown", run_id=stats.run_id).read_text()
    env = {**os.environ, "WFE_STORE": str(store)}
    cli = [sys.executable, "-m", "wfe_core", "report", stats.run_id, "--format", "markdown"]
    assert subprocess.run(cli, capture_output=True, text=True, env=env, check=True).stdout == markdown


def test_a_run_report_needs_a_recorded_run(tmp_path):
    import pytest

    from wfe_core import WfeError

    reporter = StatusReporter()
    reporter.info("wf", "x")
    with pytest.raises(WfeError, match=r"a html report renders a recorded run, and this reporter has heard no run yet"):
        reporter.export_reports(tmp_path / "r.html", format="html")
    stats = engine_with_actions(status_reporter=reporter).run(rolled_back_workflow())  # store=None
    with pytest.raises(
        WfeError, match=rf"report of run {stats.run_id}: it was not recorded \(the engine had no run store\)"
    ):
        reporter.export_reports(tmp_path / "r.xml", format="junit")
    with pytest.raises(
        WfeError, match=r"unknown report format 'pdf'; known formats: json, yaml, text, html, junit, markdown"
    ):
        reporter.export_reports(tmp_path / "r.pdf", format="pdf")
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.xml").exists()
