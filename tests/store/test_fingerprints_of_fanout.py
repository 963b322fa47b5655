"""Resume compares fingerprints: the fan-out keys change what a step does, so each is
fingerprinted; an instance's row is fingerprinted ``<its step's>:<digest of its item>``,
so resume refuses it when the step changed and runs it again when only its item did."""

from __future__ import annotations

from wfe_core.model.secrets import Redactor
from wfe_core.model.workflow import WorkflowStep
from wfe_core.plan.fanout import expand
from wfe_core.store.journal import Journal, fingerprint
from wfe_core.store.runstore import RunStore

BASE = {"id": "a", "action": "wait", "parameters": {"seconds": 1}}


def test_each_fanout_key_changes_the_fingerprint():
    plain = fingerprint(WorkflowStep(**BASE))
    variants = [
        WorkflowStep(**BASE, for_each=[1, 2]),
        WorkflowStep(**BASE, for_each=[1, 3]),
        WorkflowStep(**BASE, for_each="{files}"),
        WorkflowStep(**BASE, for_each=[1, 2], max_parallel=1),
        WorkflowStep(**BASE, matrix={"os": ["linux"]}),
        WorkflowStep(**BASE, matrix={"os": ["linux", "mac"]}, exclude=[{"os": "mac"}]),
    ]
    prints = [fingerprint(v) for v in variants]
    assert plain not in prints and len(set(prints)) == len(prints)


def test_instance_rows_carry_the_step_fingerprint_and_the_item_digest(tmp_path):
    step = WorkflowStep(**BASE, for_each=["x", "y"])
    store = RunStore(tmp_path / "runs.sqlite")
    journal = Journal(store, "r1", Redactor({}))
    store.start_run(
        run_id="r1",
        workflow_id="w",
        workflow_name="w",
        source=None,
        definition=None,
        strategy="parallel",
        dry_run=False,
        variables={},
        step_ids=[("before", "f0"), ("a", fingerprint(step)), ("after", "f2")],
    )
    instances = expand(step, {}, {})
    journal.steps_added(step, [(i.id, i.digest) for i in instances])
    store.commit()
    rows = store.run("r1")["steps"]
    assert [r["step_id"] for r in rows] == ["before", "a", "a[0]", "a[1]", "after"]  # listed after their step
    by_id = {r["step_id"]: r["fingerprint"] for r in rows}
    assert by_id["a[1]"] == f"{fingerprint(step)}:{instances[1].digest}"
    store.close()
