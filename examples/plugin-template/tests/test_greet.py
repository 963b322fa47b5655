"""The template's tests: the shared action contract, then a real run."""

from __future__ import annotations

import wfe_greet.plugin
from wfe_core import RunStatus, StepStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.testing import ActionContract, hermetic_plugins


class TestGreetContract(ActionContract):
    plugin = wfe_greet.plugin
    action_name = "greet.say"
    valid_parameters = {"name": "Ada", "punctuation": "!"}


def test_greets_through_the_engine():
    engine = WorkflowEngine(plugins=hermetic_plugins(wfe_greet.plugin))
    workflow = Workflow(
        id="w",
        variables={"user": "Ada"},
        steps=[
            WorkflowStep(id="hello", action="greet.say", parameters={"name": "{user}"}),
            WorkflowStep(id="blank", action="greet.say", parameters={"name": " "}, critical=False),
        ],
    )
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.steps["hello"].output == "Hello, Ada."
    assert stats.steps["blank"].status is StepStatus.FAILED
    assert stats.steps["blank"].error == "name must not be blank"


def test_is_discovered_through_its_entry_point():
    from wfe_core import load_plugins

    registry = load_plugins()
    assert registry.provided["actions"]["greet.say"].plugin.distribution == "wfe-greet"
