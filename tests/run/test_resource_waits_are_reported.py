"""A step waiting for a resource says so, once per wait, through the real ``wfe``
process: a ``step.waiting`` event in the JSON reporter, a line in the plain reporter
("db2 waiting for resource database (1/1 held by db1)"), and in the run store
(``wfe runs show``: the attempt that started late, and why)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

FLOW = """\
    id: pool
    resources: {database: 1}
    steps:
      - {id: db1, action: wait, parameters: {seconds: 0.4}, resources: [database]}
      - {id: db2, action: wait, parameters: {seconds: 0.4}, resources: [database]}
      - {id: db3, action: wait, parameters: {seconds: 0.4}, resources: [database]}
      - {id: free, action: wait, parameters: {seconds: 0.1}}
"""

WAIT = re.compile(r"waiting for resource database \(1/1 held by (db[123])\)")


def wfe(tmp_path, *args):
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_each_wait_is_one_event_and_is_stored(tmp_path):
    path = tmp_path / "pool.yaml"
    path.write_text(textwrap.dedent(FLOW))
    result = wfe(tmp_path, "run", str(path), "--strategy", "parallel", "--max-workers", "4", "--reporter", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    waits = [e for e in events if e["kind"] == "step.waiting"]
    # One step got the unit; the other two waited, each announced once although the
    # last one was turned away twice (when the first holder left, the second took it).
    assert sorted(e["step_id"] for e in waits) == sorted({"db1", "db2", "db3"} - {_first(events)}), waits
    for event in waits:
        holder = WAIT.fullmatch(event["reason"])
        assert holder and holder.group(1) != event["step_id"], event
        assert event["holders"] == [holder.group(1)] and (event["held"], event["capacity"]) == (1, 1)
    assert not any(e["kind"] == "step.waiting" and e["step_id"] == "free" for e in events)

    run_id = events[0]["run_id"]
    shown = json.loads(wfe(tmp_path, "runs", "show", run_id, "--json").stdout)
    stored = {s["step_id"]: s["attempt_log"][0].get("waited") for s in shown["steps"]}
    assert stored["free"] is None and stored[_first(events)] is None
    assert {sid: stored[sid] for sid in stored if stored[sid]} == {e["step_id"]: e["reason"] for e in waits}
    text = wfe(tmp_path, "runs", "show", run_id).stdout
    assert len(WAIT.findall(text)) == 2, text


def _first(events):
    return next(e["step_id"] for e in events if e["kind"] == "step.started" and e["step_id"].startswith("db"))


def test_plain_reporter_prints_the_wait(tmp_path):
    path = tmp_path / "pool.yaml"
    path.write_text(textwrap.dedent(FLOW))
    result = wfe(tmp_path, "run", str(path), "--strategy", "parallel", "--max-workers", "4", "--reporter", "plain")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if " waiting " in line]
    assert len(lines) == 2, result.stdout
    for line in lines:
        assert re.fullmatch(r"\d\d:\d\d:\d\d (db[123]) " + WAIT.pattern, line), line
