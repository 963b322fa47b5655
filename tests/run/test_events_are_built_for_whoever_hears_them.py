"""A run builds a step's ``started``/``succeeded``/``progress`` events only when someone
hears them; whoever does (logging at that level, a listener, a hook) still hears all.

Real runs of real actions through the engine, the real ``logging`` module; no mocks.
"""

from __future__ import annotations

import logging
import subprocess
import sys

from wfe_core import ActionError, RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.monitoring import logs_kind


def ok(parameters, context):
    return "fine"


def broken(parameters, context):
    raise ActionError("disk on fire")


def engine() -> WorkflowEngine:
    made = WorkflowEngine(store=None)
    made.register_custom_action("ok", ok)
    made.register_custom_action("broken", broken)
    return made


def workflow() -> Workflow:
    return Workflow(
        id="heard",
        steps=[
            WorkflowStep(id="a", action="ok"),
            WorkflowStep(id="b", action="ok", dependencies=("a",)),
            WorkflowStep(id="c", action="broken", dependencies=("b",), critical=False),
        ],
    )


def step_story(caplog) -> list[tuple[str, str | None, str]]:
    return [(r.levelname, r.step_id, r.getMessage()) for r in caplog.records if r.name == "wfe.step"]


def test_logging_at_info_hears_every_step_start_and_success(caplog):
    with caplog.at_level(logging.INFO, logger="wfe"):
        stats = engine().run(workflow())
    assert stats.status is RunStatus.SUCCEEDED  # c is not critical
    assert step_story(caplog) == [
        ("INFO", "a", "step a started"),
        ("INFO", "a", "step a succeeded"),
        ("INFO", "b", "step b started"),
        ("INFO", "b", "step b succeeded"),
        ("INFO", "c", "step c started"),
        ("ERROR", "c", "step c failed: disk on fire"),
    ]


def test_logging_at_warning_hears_the_failure_and_not_the_successes(caplog):
    with caplog.at_level(logging.WARNING, logger="wfe"):
        engine().run(workflow())
    assert step_story(caplog) == [("ERROR", "c", "step c failed: disk on fire")]


def test_a_listener_hears_every_event_while_logging_is_silent(caplog):
    heard = []
    with caplog.at_level(logging.CRITICAL, logger="wfe"):
        assert not logs_kind("step.started") and not logs_kind("step.succeeded")
        engine().run(workflow(), listeners=(heard.append,))
    kinds = [(e.kind, e.step_id) for e in heard if e.kind != "progress"]
    assert kinds == [
        ("run.started", None),
        ("step.started", "a"),
        ("step.succeeded", "a"),
        ("step.started", "b"),
        ("step.succeeded", "b"),
        ("step.started", "c"),
        ("step.failed", "c"),
        ("run.finished", None),
    ]
    progress = [e.data["finished"] for e in heard if e.kind == "progress"]
    assert progress == [1, 2, 3]
    assert not step_story(caplog)


def test_logs_kind_follows_the_loggers_levels():
    step = logging.getLogger("wfe.step")
    before = step.level
    try:
        step.setLevel(logging.INFO)
        assert logs_kind("step.started") and logs_kind("step.succeeded")
        step.setLevel(logging.ERROR)
        assert not logs_kind("step.succeeded") and not logs_kind("step.retrying")
        assert logs_kind("step.failed")  # ERROR when critical
        assert not logs_kind("progress")  # never logged
    finally:
        step.setLevel(before)


def test_a_process_configuring_logging_at_info_sees_each_step(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(
        "import logging\n"
        "from wfe_core import Workflow, WorkflowEngine, WorkflowStep\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s %(levelname)s %(message)s')\n"
        "engine = WorkflowEngine(store=None)\n"
        "engine.register_custom_action('ok', lambda p, c: 'fine')\n"
        "steps = [WorkflowStep(id=f's{i}', action='ok', dependencies=(f's{i - 1}',) if i else ()) for i in range(3)]\n"
        "assert engine.run(Workflow(id='app', steps=steps)).succeeded\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("wfe.step")]
    assert lines == [f"wfe.step INFO step s{i} {what}" for i in range(3) for what in ("started", "succeeded")]


def test_a_parent_listener_hears_a_sub_workflows_step_events_while_logging_is_silent(tmp_path, caplog):
    (tmp_path / "child.yaml").write_text(
        "id: child\nsteps:\n  - id: pick\n    action: variable.set\n    parameters: {name: chosen, value: x}\n"
    )
    parent = Workflow(
        id="parent",
        steps=[WorkflowStep(id="sub", action="workflow.run", parameters={"path": str(tmp_path / "child.yaml")})],
    )
    heard = []
    with caplog.at_level(logging.CRITICAL, logger="wfe"):
        stats = WorkflowEngine(store=None, workdir=tmp_path).run(parent, listeners=(heard.append,))
    assert stats.succeeded, stats.error
    steps = [(e.kind, e.step_id) for e in heard if e.step_id]
    assert steps == [
        ("step.started", "sub"),
        ("step.started", "sub/pick"),
        ("step.succeeded", "sub/pick"),
        ("step.succeeded", "sub"),
    ]
