"""Model constructors refuse what cannot run, with every reason at once."""

from __future__ import annotations

import pytest

from wfe_core import DEFAULT_TIMEOUT, InvalidWorkflowError, StepResult, Workflow, WorkflowStep


def test_defaults_a_user_expects():
    step = WorkflowStep(id="a", action="wait")
    assert (step.name, step.critical, step.max_retries, step.timeout) == ("a", True, 0, DEFAULT_TIMEOUT)
    assert step.dependencies == () and step.parameters == {}
    assert WorkflowStep(id="b", action="x", dependencies="a").dependencies == ("a",)


def test_step_problems_are_all_reported():
    with pytest.raises(InvalidWorkflowError) as info:
        WorkflowStep(id="a", action="", timeout=-1, max_retries=-2, dependencies=["a"])
    assert str(info.value).splitlines() == [
        "action: step 'a': action must be a non-empty string",
        "timeout: step 'a': timeout must be a positive number of seconds, got -1",
        "max_retries: step 'a': max_retries must be a whole number >= 0, got -2",
        "dependencies: step 'a' depends on itself",
    ]


def test_empty_id_and_duplicate_ids():
    with pytest.raises(InvalidWorkflowError, match="id: step id must be a non-empty string"):
        WorkflowStep(id=" ", action="wait")
    with pytest.raises(InvalidWorkflowError) as info:
        Workflow(id="w", steps=[WorkflowStep(id="a", action="wait"), WorkflowStep(id="a", action="wait")])
    assert str(info.value) == "steps[1].id: duplicate step id 'a' (first used by steps[0])"
    with pytest.raises(InvalidWorkflowError, match="workflow id must be a non-empty string"):
        Workflow(id="")


def test_workflows_are_frozen_and_comparable():
    a = Workflow(id="w", steps=[WorkflowStep(id="s", action="wait", parameters={"seconds": 1})])
    b = Workflow(id="w", steps=[WorkflowStep(id="s", action="wait", parameters={"seconds": 1})])
    assert a == b and a.step("s").parameters == {"seconds": 1}
    with pytest.raises(AttributeError):
        a.id = "other"


def test_step_result_as_in_the_seed():
    result = StepResult(success=True, output="Custom result")
    assert result.success and result.output == "Custom result" and result.error is None
