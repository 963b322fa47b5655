"""A step whose output or variables nest past MAX_NESTING fails with a message naming
which one and where, whether the other one is plain or deep too (real runs, no mocks)."""

from __future__ import annotations

from wfe_core import StepResult, StepStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.model.nesting import MAX_NESTING


def deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


def run_returning(result: StepResult):
    engine = WorkflowEngine(store=None)
    engine.register_custom_action("give", lambda p, c: result, sets_variables=True)
    stats = engine.run(Workflow(id="deep", steps=[WorkflowStep(id="a", action="give")]))
    return stats.steps["a"]


def test_variables_nested_too_deeply_fail_the_step_and_say_so():
    record = run_returning(StepResult(success=True, output="plain", variables={"v": deep(MAX_NESTING + 5)}))
    assert record.status is StepStatus.FAILED
    assert f"the step's variables it sets is nested more than {MAX_NESTING} levels deep" in record.error
    assert "at ['v'][0][0]" in record.error


def test_a_deep_output_is_named_before_deep_variables():
    deep_value = deep(MAX_NESTING + 5)
    record = run_returning(StepResult(success=True, output=deep_value, variables={"v": deep_value}))
    assert record.status is StepStatus.FAILED
    assert f"the step's output is nested more than {MAX_NESTING} levels deep" in record.error


def test_values_within_the_limit_succeed():
    record = run_returning(StepResult(success=True, output=deep(10), variables={"v": deep(10)}))
    assert record.status is StepStatus.SUCCEEDED
