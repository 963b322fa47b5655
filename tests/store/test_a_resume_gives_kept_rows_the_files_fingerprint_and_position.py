"""On resume the rows a run already has take the fingerprint and position of the file it
is resumed with: a step fixed and moved that then succeeds is listed where the file has
it, and resuming again with that file accepts it (a stale fingerprint would read as a
changed definition)."""

from __future__ import annotations

from wfe_core import RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.report.data import open_store, read_run
from wfe_core.store.journal import fingerprint
from wfe_core.store.runstore import RunStore
from wfe_core.testing import hermetic_plugins


def _engine(path, broken: set[str]) -> WorkflowEngine:
    engine = WorkflowEngine(plugins=hermetic_plugins(), store=path, max_concurrent_steps=1)

    def act(params, context):
        if params.get("mode") in broken:
            raise RuntimeError("broken")
        return params.get("mode")

    engine.register_custom_action("act", act, side_effects=True)
    return engine


def test_a_resume_after_an_edit_gives_kept_rows_the_new_fingerprint_and_position(tmp_path):
    path = tmp_path / "runs.sqlite"
    first = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="a", action="act", parameters={"mode": "ok"}),
            WorkflowStep(id="b", action="act", parameters={"mode": "old"}, dependencies=("a",)),
            WorkflowStep(id="z", action="act", parameters={"mode": "ok"}, dependencies=("b",)),
        ],
    )
    assert _engine(path, {"old"}).run(first, run_id="r").status is RunStatus.FAILED

    # b (failed) is fixed and moved after z; z (cancelled) is changed to fail this time.
    b = WorkflowStep(id="b", action="act", parameters={"mode": "new"}, dependencies=("a",))
    z = WorkflowStep(id="z", action="act", parameters={"mode": "bad"}, dependencies=("b",))
    second = Workflow(id="w", steps=[first.steps[0], z, b])
    assert _engine(path, {"bad"}).resume("r", second).status is RunStatus.FAILED

    store = RunStore(path)
    try:
        rows = {s["step_id"]: s for s in store.run("r")["steps"]}
    finally:
        store.close()
    assert rows["b"]["status"] == "succeeded"
    assert rows["b"]["fingerprint"] == fingerprint(b)  # stale ("old") without the UPDATE
    reader = open_store(path)
    try:
        assert [s.id for s in read_run(reader, "r").steps] == ["a", "z", "b"]  # the file resumed with
    finally:
        reader.close()

    # b succeeded with its new definition: resuming again with that file is accepted.
    fixed = Workflow(id="w", steps=[first.steps[0], WorkflowStep(id="z", action="act", dependencies=("b",)), b])
    assert _engine(path, set()).resume("r", fixed).status is RunStatus.SUCCEEDED
