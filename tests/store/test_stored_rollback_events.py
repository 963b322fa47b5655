"""`wfe rollback RUN_ID` reports to `wfe_event` hooks, as a run does: masked, and each event
only once the store has committed what it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, hookimpl, load_plugins
from wfe_core.model.errors import ActionError

SECRET = "s3cr3t-undo-token"

# A third-party plugin, installed as a real distribution (module + dist-info on the path).
# Its wfe_event hook logs each event with the step's status as *another* connection to
# the store sees it at that moment: what a crash right then would leave behind.
PLUGIN = """
import json, os, sqlite3
from wfe_core.plugin import hookimpl

@hookimpl
def wfe_event(event):
    seen = None
    if event.step_id is not None:
        db = sqlite3.connect(os.environ["WFE_STORE"])
        row = db.execute("SELECT status FROM steps WHERE run_id=? AND step_id=?",
                         (event.run_id, event.step_id)).fetchone()
        db.close()
        seen = row and row[0]
    with open(os.environ["EVENT_LOG"], "a") as log:
        log.write(json.dumps([event.kind, event.step_id, dict(event.data), seen]) + "\\n")
"""

WORKFLOW = """\
id: undo-me
secrets: [UNDO_TOKEN]
steps:
  - id: a
    action: variable.set
    parameters: {name: x, value: 1}
    rollback_action: wait
    rollback_parameters: {seconds: 0}
  - id: b
    action: variable.set
    parameters: {name: y, value: 2}
    dependencies: [a]
    rollback_action: validate.condition
    rollback_parameters: {value: 1, equals: 2, message: "refused {secrets.UNDO_TOKEN}"}
  - id: c
    action: validate.condition
    parameters: {value: 1, equals: 2}
    dependencies: [b]
"""


def _install_plugin(root) -> None:
    (root / "event_log_plugin.py").write_text(PLUGIN)
    info = root / "wfe_event_log-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wfe-event-log\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[wfe]\nevent_log = event_log_plugin\n")


def _wfe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _events(path) -> list[list]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_wfe_rollback_delivers_masked_events_to_the_event_hook_after_each_commit(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    flow = tmp_path / "undo.yaml"
    flow.write_text(WORKFLOW)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "WFE_STORE": str(tmp_path / "runs.sqlite"),
        "UNDO_TOKEN": SECRET,
        "EVENT_LOG": str(tmp_path / "run-events.jsonl"),
    }

    ran = _wfe("run", "--no-rollback", str(flow), env=env)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    run_id = json.loads(_wfe("runs", "--json", env=env).stdout)[0]["run_id"]
    # The hook is loaded in the run too (what makes the comparison below meaningful).
    assert ["step.succeeded", "a"] in [e[:2] for e in _events(tmp_path / "run-events.jsonl")]

    env["EVENT_LOG"] = str(tmp_path / "rollback-events.jsonl")
    undone = _wfe("rollback", run_id[:8], env=env)
    assert undone.returncode == 1, undone.stdout + undone.stderr  # b's compensation failed
    assert undone.stdout.splitlines() == ["b: rollback_failed: refused ***", "a: rolled_back"]

    # Last completed first; each event arrives once the store says the same thing.
    assert _events(tmp_path / "rollback-events.jsonl") == [
        ["step.rollback_failed", "b", {"error": "rollback failed: refused ***"}, "rollback_failed"],
        ["step.rolled_back", "a", {"error": None}, "rolled_back"],
    ]
    assert SECRET not in (tmp_path / "rollback-events.jsonl").read_text()
    assert SECRET not in undone.stdout + undone.stderr


def test_engine_rollback_of_a_stored_run_reaches_event_hooks_and_listeners_alike(tmp_path, monkeypatch):
    hooked, listened = [], []

    class Hook:
        @hookimpl
        def wfe_event(self, event):
            hooked.append((event.kind, event.step_id, dict(event.data)))

    def undo(params, context):
        raise ActionError(f"undo refused {params['token']}")

    engine = WorkflowEngine(
        plugins=load_plugins(autoload=False, extra={"hook": Hook()}),
        enable_rollback=False,
        store=tmp_path / "runs.sqlite",
    )
    engine.register_custom_action("ok", lambda p, ctx: "done")
    engine.register_custom_action("undo", undo)
    monkeypatch.setenv("UNDO_TOKEN", SECRET)
    stats = engine.run(
        Workflow(
            id="w",
            secrets=["UNDO_TOKEN"],
            steps=[
                WorkflowStep(
                    id="a", action="ok", rollback_action="undo", rollback_parameters={"token": "{secrets.UNDO_TOKEN}"}
                ),
                WorkflowStep(
                    id="b", action="validate.condition", parameters={"value": 1, "equals": 2}, dependencies=["a"]
                ),
            ],
        )
    )
    assert hooked and stats.status.value == "failed"
    hooked.clear()
    engine.rollback(stats.run_id, listeners=(lambda e: listened.append((e.kind, e.step_id, dict(e.data))),))
    expected = [("step.rollback_failed", "a", {"error": "rollback failed: undo refused ***"})]
    assert hooked == expected and listened == expected
