"""Structural validation: the exact messages a user sees, and that nothing runs when
validation fails."""

from __future__ import annotations

import pytest

from wfe_core import Action, InvalidWorkflowError, Problem, StepResult, Workflow, WorkflowStep, WorkflowValidator


def wait(sid: str, *deps: str, **fields) -> WorkflowStep:
    fields.setdefault("parameters", {"seconds": 0})
    return WorkflowStep(id=sid, action="wait", dependencies=deps, **fields)


def setvar(sid: str, name: str, value, *deps: str) -> WorkflowStep:
    return WorkflowStep(id=sid, action="variable.set", parameters={"name": name, "value": value}, dependencies=deps)


@pytest.fixture
def ran(engine):
    """Steps of action ``mark`` record that they ran: proof that nothing did."""
    calls: list[str] = []
    engine.register_custom_action(
        "mark", lambda p, c: calls.append(c.step.id), side_effects=False, sets_variables=False
    )
    return calls


def invalid(engine, *steps: WorkflowStep, variables=None, run_variables=None, **options) -> str:
    workflow = Workflow(
        id="w", variables=variables or {"message": "hi"}, steps=[WorkflowStep(id="first", action="mark"), *steps]
    )
    with pytest.raises(InvalidWorkflowError) as info:
        engine.run(workflow, variables=run_variables, **options)
    assert info.value.problems
    return str(info.value)


# --- actions and parameters --------------------------------------------------------------------


def test_unknown_action_with_did_you_mean(engine, ran):
    message = invalid(engine, WorkflowStep(id="a", action="variable.sett", parameters={"name": "x", "value": 1}))
    assert message == "steps[1].action: step 'a': unknown action 'variable.sett' (did you mean 'variable.set'?)"
    assert ran == []


def test_unknown_action_without_a_close_match(engine, ran):
    assert (
        invalid(engine, WorkflowStep(id="a", action="frobnicate"))
        == "steps[1].action: step 'a': unknown action 'frobnicate'"
    )


@pytest.mark.parametrize(
    ("action", "dist"),
    [
        ("file.write", "wfe-file"),
        ("shell.execute", "wfe-shell"),
        ("http.get", "wfe-http"),
        ("claude_flow.swarm_init", "wfe-claude-flow"),
    ],
)
def test_unknown_first_party_action_names_its_distribution(engine, ran, action, dist):
    message = invalid(engine, WorkflowStep(id="a", action=action))
    assert message == (
        f"steps[1].action: step 'a': unknown action '{action}'; it is provided by the "
        f"{dist} distribution (pip install {dist})"
    )
    assert ran == []


def test_unknown_rollback_action(engine, ran):
    message = invalid(engine, wait("a", rollback_action="file.delete"))
    assert message == (
        "steps[1].rollback_action: step 'a': unknown action 'file.delete'; it is provided by the "
        "wfe-file distribution (pip install wfe-file)"
    )


def test_bad_parameter_types_of_built_in_actions(engine, ran):
    assert invalid(engine, wait("a", parameters={"seconds": "abc"})) == (
        "steps[1].parameters.seconds: step 'a': expected a number, got string 'abc'"
    )
    assert invalid(engine, wait("a", parameters={"seconds": True})) == (
        "steps[1].parameters.seconds: step 'a': expected a number, got boolean true"
    )
    assert invalid(engine, wait("a", parameters={"seconds": -1})) == (
        "steps[1].parameters: step 'a': invalid value: seconds must be >= 0, got -1.0"
    )
    assert invalid(engine, WorkflowStep(id="s", action="variable.set", parameters={"name": 5, "value": 1})) == (
        "steps[1].parameters.name: step 's': expected a string, got integer 5"
    )
    assert invalid(engine, WorkflowStep(id="s", action="variable.set", parameters={"name": "x"})) == (
        "steps[1].parameters.value: step 's': is required but missing"
    )
    assert invalid(
        engine, WorkflowStep(id="c", action="validate.condition", parameters={"value": 1, "equals": 1, "matches": "x"})
    ) == (
        "steps[1].parameters: step 'c': invalid value: give exactly one of equals, not_equals, one_of, matches, "
        "truthy (got equals, matches)"
    )
    assert ran == []


def test_unknown_parameter_key_with_did_you_mean(engine, ran):
    assert invalid(engine, wait("a", parameters={"seconds": 1, "secnds": 2})) == (
        "steps[1].parameters.secnds: step 'a': unknown key 'secnds' (did you mean 'seconds'?)"
    )
    # Templated parameters: keys are checked now, values once rendered.
    assert invalid(engine, wait("a", parameters={"secnds": "{message}"})) == (
        "steps[1].parameters.secnds: step 'a': unknown key 'secnds' (did you mean 'seconds'?)\n"
        "steps[1].parameters: step 'a': parameter 'seconds' is required but missing"
    )


# --- the graph -------------------------------------------------------------------------------------


def test_a_cycle_is_named_whole(engine, ran):
    message = invalid(engine, wait("a", "c"), wait("b", "a"), wait("c", "b"), wait("d", "a"))
    assert message == "steps: dependency cycle: a -> b -> c -> a"
    assert ran == []


def test_unknown_dependency_with_did_you_mean(engine, ran):
    message = invalid(engine, wait("build"), wait("test", "buidl", "zzz"))
    assert message == (
        "steps[2].dependencies: step 'test' depends on unknown step 'buidl' (did you mean 'build'?)\n"
        "steps[2].dependencies: step 'test' depends on unknown step 'zzz'"
    )


def test_every_problem_is_reported_at_once(engine, ran):
    message = invalid(
        engine, WorkflowStep(id="a", action="variable.sett"), wait("b", "zz", parameters={"seconds": "x"})
    )
    assert message.splitlines() == [
        "steps[1].action: step 'a': unknown action 'variable.sett' (did you mean 'variable.set'?)",
        "steps[2].parameters.seconds: step 'b': expected a number, got string 'x'",
        "steps[2].dependencies: step 'b' depends on unknown step 'zz'",
    ]


# --- template references ----------------------------------------------------------------------------


def test_undefined_template_name(engine, ran):
    assert invalid(engine, setvar("show", "out", "say {mesage}", "first")) == (
        "steps[1].parameters.value: step 'show': parameter 'value': undefined name 'mesage' (did you mean 'message'?); "
        "defined variables: message"
    )
    assert ran == []


def test_undefined_name_in_rollback_parameters(engine, ran):
    step = WorkflowStep(
        id="a",
        action="variable.set",
        parameters={"name": "x", "value": 1},
        rollback_action="variable.set",
        rollback_parameters={"name": "x", "value": "{steps.a.output} {nope}"},
    )
    assert invalid(engine, step) == (
        "steps[1].rollback_parameters.value: step 'a': rollback parameter 'value': undefined name 'nope'; "
        "defined variables: message"
    )


def test_a_step_that_is_not_upstream_is_rejected(engine, ran):
    message = invalid(engine, setvar("a", "x", 1), setvar("b", "y", "{steps.a.output}"))
    assert message == (
        "steps[2].parameters.value: step 'b': parameter 'value': '{steps.a.output}' refers to step 'a', which is not upstream "
        "of 'b' (add it to dependencies, or the value would depend on timing)"
    )
    assert ran == []


def test_a_variable_set_by_a_step_that_is_not_upstream_is_rejected(engine, ran):
    assert invalid(engine, setvar("a", "x", 1), setvar("b", "y", "{x}")) == (
        "steps[2].parameters.value: step 'b': parameter 'value': variable 'x' is set by step 'a', which is not upstream of 'b' "
        "(add it to dependencies)"
    )


def test_bad_step_references(engine, ran):
    assert invalid(engine, setvar("fetch", "x", 1), setvar("b", "y", "{steps.fecth.output}", "fetch")) == (
        "steps[2].parameters.value: step 'b': parameter 'value': '{steps.fecth.output}' refers to unknown step 'fecth' "
        "(did you mean 'fetch'?)"
    )
    assert invalid(engine, setvar("fetch", "x", 1), setvar("b", "y", "{steps.fetch.outptu}", "fetch")) == (
        "steps[2].parameters.value: step 'b': parameter 'value': '{steps.fetch.outptu}': a step has output, status, error, "
        "not 'outptu' (did you mean 'output'?)"
    )
    assert invalid(engine, setvar("fetch", "x", 1), setvar("b", "y", "{steps.fetch}", "fetch")) == (
        "steps[2].parameters.value: step 'b': parameter 'value': '{steps.fetch}' must name a step and a field, "
        "e.g. {steps.<id>.output}"
    )


def test_steps_is_a_reserved_variable_name(engine, ran):
    assert invalid(engine, variables={"steps": 1}) == (
        "variables: 'steps' is reserved for step outputs and cannot be a variable name"
    )


def test_what_will_be_defined_is_accepted(engine, ran):
    workflow = Workflow(
        id="ok",
        variables={"message": "hi"},
        steps=[
            setvar("a", "x", "{message}"),
            setvar("b", "y", "{x} {steps.a.output} {steps.a.status} {given}", "a"),
            setvar("c", "z", "{y}", "b"),  # an indirect ancestor's variable
        ],
    )
    stats = engine.run(workflow, variables={"given": "g"})  # run variables count as defined
    assert stats.succeeded
    assert stats.variables["z"] == "hi hi succeeded g"


def test_an_action_declaring_sets_variables_defers_the_check_to_run_time(engine):
    engine.register_custom_action(
        "dyn", lambda p, c: StepResult(success=True, variables={"late": 1}), side_effects=False, sets_variables=True
    )
    engine.register_custom_action("static", lambda p, c: None, side_effects=False, sets_variables=False)
    deferred = Workflow(id="d", steps=[WorkflowStep(id="a", action="dyn"), setvar("b", "y", "{late}", "a")])
    assert engine.validate_workflow(deferred).is_valid
    assert engine.run(deferred).variables["y"] == 1
    static = Workflow(id="s", steps=[WorkflowStep(id="a", action="static"), setvar("b", "y", "{late}", "a")])
    result = engine.validate_workflow(static)
    assert not result.is_valid
    assert [str(p) for p in result.errors] == [
        "steps[1].parameters.value: step 'b': parameter 'value': undefined name 'late'; defined variables: none"
    ]


# --- the result API -------------------------------------------------------------------------------


def test_validate_workflow_returns_problems_with_paths(engine):
    workflow = Workflow(id="w", steps=[WorkflowStep(id="a", action="variable.sett")])
    result = engine.validate_workflow(workflow)
    assert not result.is_valid
    assert result.errors == [
        Problem(
            "step 'a': unknown action 'variable.sett' (did you mean 'variable.set'?)",
            path="steps[0].action",
            step_id="a",
        )
    ]


def test_the_seed_validator_api(plugins):
    result = WorkflowValidator(plugins).validate(Workflow(id="w", steps=[wait("a"), wait("b", "a")]), strict=True)
    assert result.is_valid and result.problems == ()


def test_the_source_prefixes_messages(engine, ran):
    message = invalid(engine, WorkflowStep(id="a", action="variable.sett"), source="flow.yaml")
    assert (
        message == "flow.yaml: steps[1].action: step 'a': unknown action 'variable.sett' (did you mean 'variable.set'?)"
    )


def test_suggest_improvements(plugins):
    from wfe_core import WorkflowValidator

    validator = WorkflowValidator(
        plugins, actions={"deploy": Action("deploy", lambda p, c: None, side_effects=True, description="x")}
    )
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="a", action="variable.set", parameters={"name": "x", "value": 1}, critical=False),
            WorkflowStep(id="b", action="deploy", dependencies=["a"], parallel_group="g"),
            WorkflowStep(id="c", action="wait", parameters={"seconds": 0}, dependencies=["b"], parallel_group="g"),
        ],
    )
    assert validator.suggest_improvements(workflow) == [
        "step 'b' (deploy) changes things outside the run but nothing can undo it: give it a rollback_action "
        "so a later critical failure can compensate it",
        "step 'a' is not critical, yet 'b' depends on it: if it fails, that step is skipped while the run still "
        "succeeds",
        "the 3 steps form one chain: check that every dependency is real; independent steps run in parallel",
        "parallel group 'g' has members that depend on each other (c): they cannot run together",
    ]
    assert (
        validator.suggest_improvements(
            Workflow(id="quiet", steps=[WorkflowStep(id="a", action="wait", parameters={"seconds": 0})])
        )
        == []
    )
