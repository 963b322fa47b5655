"""A run builds its dependency graph once: validation builds it, the plan of the same
workflow object takes it (a 10,000-step run built it two or three times). The graph is
kept per workflow object (weakly), never handed to another workflow, never changed by a
run (fan-out instances go into the run's own copies), and a graph that fails is not kept:
the plan's error still names the file."""

from __future__ import annotations

import gc

import pytest

from wfe_core import InvalidWorkflowError, Workflow, WorkflowStep
from wfe_core.plan.graph import graph_of
from wfe_core.plan.plan import Plan


def _workflow(*edges: tuple[str, tuple[str, ...]], wid: str = "w", **extra) -> Workflow:
    steps = [
        WorkflowStep(id=sid, action="variable.set", parameters={"name": sid, "value": 1}, dependencies=deps)
        for sid, deps in edges
    ]
    return Workflow(id=wid, steps=steps, **extra)


def test_the_plan_takes_the_graph_validation_built(engine):
    workflow = _workflow(("a", ()), ("b", ("a",)), ("c", ("a", "b")))
    assert engine.validate_workflow(workflow).is_valid
    graph = graph_of(workflow)
    plan = Plan.build(workflow, source="flow.yaml")
    assert plan.graph is graph
    assert plan.graph.order == ["a", "b", "c"]


def test_another_workflow_never_gets_the_kept_graph():
    first = _workflow(("a", ()), ("b", ("a",)))
    assert graph_of(first).order == ["a", "b"]
    equal_but_other = _workflow(("a", ()), ("b", ("a",)))
    assert graph_of(equal_but_other) is not graph_of(first)
    del first, equal_but_other
    gc.collect()
    reversed_ = _workflow(("b", ()), ("a", ("b",)))  # may reuse a freed address
    assert graph_of(reversed_).order == ["b", "a"]
    assert Plan.build(reversed_).graph.parents == {"b": (), "a": ("b",)}


def test_a_graph_that_fails_is_not_kept_and_the_plan_names_the_file():
    bad = _workflow(("a", ("b",)), ("b", ("a",)))
    with pytest.raises(InvalidWorkflowError) as first:
        graph_of(bad)
    assert first.value.problems[0].source is None
    with pytest.raises(InvalidWorkflowError) as caught:
        Plan.build(bad, source="flow.yaml")
    assert caught.value.problems[0].source == "flow.yaml"
    assert "a -> b -> a" in str(caught.value) or "b -> a -> b" in str(caught.value)


def test_runs_leave_the_shared_graph_as_it_was(engine):
    workflow = Workflow(
        id="fan",
        steps=[
            WorkflowStep(id="list", action="variable.set", parameters={"name": "n", "value": 1}),
            WorkflowStep(
                id="each",
                action="variable.set",
                parameters={"name": "v", "value": "{item}"},
                for_each=[1, 2, 3],
                dependencies=["list"],
            ),
            WorkflowStep(
                id="after", action="variable.set", parameters={"name": "w", "value": 2}, dependencies=["each"]
            ),
        ],
    )
    for _ in range(2):  # the second run plans with the same graph object
        stats = engine.run(workflow)
        assert stats.status.value == "succeeded", stats
        graph = graph_of(workflow)
        assert graph.nodes == ["list", "each", "after"]
        assert graph.children == {"list": ["each"], "each": ["after"], "after": []}
        assert set(graph.parents) == {"list", "each", "after"}
