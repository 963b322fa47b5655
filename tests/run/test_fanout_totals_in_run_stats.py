"""``RunStats`` totals through the Python API: an expanded fan-out step counts as its
instances, not itself; one that never expanded counts as one step."""

from __future__ import annotations

from wfe_core import Workflow, WorkflowStep


def test_an_expanded_fan_out_step_counts_as_its_instances(engine):
    flow = Workflow(
        id="totals",
        steps=[
            WorkflowStep(id="first", action="wait", parameters={"seconds": 0}),
            WorkflowStep(
                id="each", action="wait", parameters={"seconds": 0}, for_each=[1, 2, 3], dependencies=["first"]
            ),
            WorkflowStep(id="none", action="wait", parameters={"seconds": 0}, for_each=[]),
        ],
    )
    stats = engine.run(flow)
    assert stats.succeeded
    # first + each[0..2] + none (an empty list: no instances, so the step itself counts)
    assert (stats.total_steps, stats.completed_steps) == (5, 5)
    assert stats.fanned_out == {"each": 3}
    assert {"each", "each[0]", "none"} <= set(stats.steps)  # every record is still there


def test_a_fan_out_step_skipped_before_it_expanded_counts_once(engine):
    flow = Workflow(
        id="skipped",
        steps=[
            WorkflowStep(id="each", action="wait", parameters={"seconds": 0}, for_each=[1, 2], when="go == 'yes'"),
        ],
        variables={"go": "no"},
    )
    stats = engine.run(flow)
    assert (stats.total_steps, stats.skipped_steps, stats.fanned_out) == (1, 1, {})
