"""Fan-out through the Python API: progress observers count a fan-out step once (when its
last instance ends), and a dry run's plan lists each step's expansion."""

from __future__ import annotations

from wfe_core import Workflow, WorkflowStep


def flow() -> Workflow:
    return Workflow(
        id="api",
        steps=[
            WorkflowStep(id="list", action="variable.set", parameters={"name": "xs", "value": [1, 2, 3]}),
            WorkflowStep(
                id="each",
                action="variable.set",
                parameters={"name": "last", "value": "{item}"},
                for_each="{steps.list.output}",
                max_parallel=2,
                dependencies=["list"],
            ),
            WorkflowStep(id="m", action="wait", parameters={"seconds": 0}, matrix={"os": ["linux", "mac"]}),
        ],
    )


def test_progress_counts_a_fanout_step_once_and_ends_at_100(engine):
    seen: list[float] = []
    engine.progress_tracker.add_observer(lambda workflow_id, data: seen.append(data["completion_percentage"]))
    stats = engine.run(flow())
    assert stats.succeeded and stats.steps["each"].output == [1, 2, 3]
    assert max(seen) == seen[-1] == 100.0 and seen == sorted(seen)


def test_a_dry_run_plan_lists_the_expansion_where_known(engine):
    stats = engine.run(flow(), "dry_run")
    assert stats.plan["fanout"] == {
        "each": "expands at run time over {steps.list.output}",
        "m": ["m[os=linux]", "m[os=mac]"],
    }
