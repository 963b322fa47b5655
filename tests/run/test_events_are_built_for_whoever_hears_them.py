"""A run builds a step's ``started``/``succeeded``/``progress`` events only when someone
hears them; whoever does (logging at that level, a listener, a hook) still hears all.

Real runs of real actions through the engine, the real ``logging`` module; no mocks.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys

from wfe_core import ActionError, RunStatus, StepResult, Workflow, WorkflowEngine, WorkflowStep, load_plugins
from wfe_core.monitoring import logs_kind
from wfe_core.plan.graph import DependencyGraph
from wfe_core.plugin.capabilities import Action
from wfe_core.run.attempt import Attempt
from wfe_core.run.state import RunState, Write


def ok(parameters, context):
    return "fine"


def broken(parameters, context):
    raise ActionError("disk on fire")


def no_hooks() -> object:
    """The built-in plugins only: an installed plugin with a ``wfe_event`` hook hears
    every event, and these tests are about runs that only logging may hear."""
    plugins = load_plugins(autoload=False)
    assert not plugins.has_listeners
    return plugins


def engine() -> WorkflowEngine:
    made = WorkflowEngine(store=None, plugins=no_hooks())
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
        stats = WorkflowEngine(store=None, workdir=tmp_path, plugins=no_hooks()).run(parent, listeners=(heard.append,))
    assert stats.succeeded, stats.error
    steps = [(e.kind, e.step_id) for e in heard if e.step_id]
    assert steps == [
        ("step.started", "sub"),
        ("step.started", "sub/pick"),
        ("step.succeeded", "sub/pick"),
        ("step.succeeded", "sub"),
    ]


# -- the state's side: what is built, what is recorded, what asks for a commit ------------------
QUIET = frozenset({"step.started", "step.succeeded", "progress"})


def stored_state(deps: dict[str, list[str]]) -> RunState:
    graph = DependencyGraph(deps)
    steps = [WorkflowStep(id=sid, action="noop", dependencies=parents) for sid, parents in deps.items()]
    state = RunState(steps, graph.parents, graph.children, graph.order, recording=True, emitting=True)
    state.listen(lambda kind: kind not in QUIET)
    state.begin(0.0)
    state.ready.clear()
    return state


def finish(state: RunState, sid: str, success: bool) -> None:
    action = Action("noop", lambda params, context: None, side_effects=False)
    attempt = Attempt(sid, 1, action, None, None, 60.0, submitted=0.0, wall_started=0.0)
    state.start(attempt, 0.0)
    attempt.started, attempt.ended = 0.0, 1.0
    attempt.result = StepResult(success=success, error=None if success else "boom")
    state.finish(attempt, 1.0, 1.0)


def test_unheard_events_are_not_built_but_every_write_is_recorded():
    state = stored_state({"a": [], "b": []})
    finish(state, "a", True)
    finish(state, "b", False)
    assert [(kind, sid) for kind, sid, _ in state.events] == [("step.failed", "b")]
    assert [w[0] for w in state.writes] == [
        Write.STEP_STARTED,
        Write.ATTEMPT_FINISHED,
        Write.STEP_FINISHED,
        Write.STEP_STARTED,
        Write.ATTEMPT_FINISHED,
        Write.STEP_FINISHED,
    ]


def test_an_unheard_success_still_asks_for_a_prompt_commit_unless_it_may_wait():
    state = stored_state({"a": [], "b": []})
    state.early = frozenset({"b"})  # side-effect free: its outcome may ride with a later commit
    finish(state, "b", True)
    assert not state.commit_soon
    finish(state, "a", True)
    assert state.commit_soon  # as its step.succeeded event would have asked


def test_a_stored_fanout_instance_is_committed_before_the_next_starts_though_nobody_listens(tmp_path, caplog):
    store = tmp_path / "runs.sqlite"
    seen: dict[str, list[tuple[str, str]]] = {}

    def look(params, context):  # side effects (the default): each outcome is committed at once
        with sqlite3.connect(store) as db:
            seen[context.step.id] = db.execute(
                "SELECT step_id, status FROM steps WHERE run_id=? AND step_id LIKE 'each[%' ORDER BY step_id",
                (context.run_id,),
            ).fetchall()
        return None

    engine = WorkflowEngine(store=str(store), max_concurrent_steps=1, plugins=no_hooks())
    # Inline (on the scheduler thread): no idle moment between two instances in which the
    # loop would commit anyway; only the prompt commit a success asks for makes it durable.
    engine.register_custom_action("look", look, inline=True)
    flow = Workflow(id="fan", steps=[WorkflowStep(id="each", action="look", for_each=[1, 2, 3])])
    with caplog.at_level(logging.CRITICAL, logger="wfe"):
        assert engine.run(flow).succeeded
    assert seen["each[1]"][0] == ("each[0]", "succeeded")
    assert seen["each[2]"][:2] == [("each[0]", "succeeded"), ("each[1]", "succeeded")]
