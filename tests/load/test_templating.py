"""Templates: ``{name}``, ``{steps.<id>.output…}``, escapes, types, quoting, and the
messages a user sees when a name is undefined (at validation and at run time)."""

from __future__ import annotations

import shlex

import pytest

from wfe_core import (
    Action,
    InvalidWorkflowError,
    RunStatus,
    StepResult,
    StepStatus,
    TemplateError,
    Workflow,
    WorkflowEngine,
    WorkflowStep,
    hookimpl,
    load_plugins,
)
from wfe_core.load.templating import Unknown, has_placeholders, placeholders, render, render_value

SCOPE = {
    "message": "hi",
    "name": "wfe",
    "n": 3,
    "ratio": 0.5,
    "flag": True,
    "nothing": None,
    "items": [1, 2],
    "cfg": {"a": [1, {"b": "deep"}]},
    "steps": {"fetch": {"output": {"json": {"items": [{"id": 7}]}}, "status": "succeeded"}},
}


def error_of(text: str, scope=SCOPE) -> str:
    with pytest.raises(TemplateError) as info:
        render_value(text, scope)
    return str(info.value)


# --- rendering ------------------------------------------------------------------------------


def test_names_and_item_access():
    assert render_value("{message}, {name}!", SCOPE) == "hi, wfe!"
    assert render_value("{steps.fetch.output.json.items.0.id}", SCOPE) == 7
    assert render_value("{cfg.a.1.b}", SCOPE) == "deep"
    assert render_value("id={steps.fetch.output.json.items.0.id}", SCOPE) == "id=7"


def test_a_single_placeholder_keeps_its_type():
    assert render_value("{n}", SCOPE) == 3
    assert render_value("{ratio}", SCOPE) == 0.5
    assert render_value("{flag}", SCOPE) is True
    assert render_value("{nothing}", SCOPE) is None
    assert render_value("{cfg}", SCOPE) == {"a": [1, {"b": "deep"}]}
    assert render_value("{items}", SCOPE) == [1, 2]
    assert render_value("{n!raw}", SCOPE) == 3


def test_values_inside_text_become_text():
    assert render_value("{n} {flag} {items} {cfg}", SCOPE) == '3 true [1, 2] {"a": [1, {"b": "deep"}]}'


def test_double_braces_escape():
    assert render_value("{{message}}", SCOPE) == "{message}"
    assert render_value("{{ {n} }}", SCOPE) == "{ 3 }"
    assert render_value("}} and {{", SCOPE) == "} and {"


def test_shell_and_json_text_is_left_alone():
    for text in ("${HOME}", "echo ${name}", "awk '{print $1}'", '{"a": 1}', "{}", "{ n }", "{1abc}", "a } b { c"):
        assert render_value(text, SCOPE) == text
    assert render_value("awk '{print $1}' {message} ${HOME}", SCOPE) == "awk '{print $1}' hi ${HOME}"


def test_render_walks_nested_parameters():
    params = {"list": ["{n}", {"deep": "x{n}"}], "plain": 5, "text": "no braces"}
    assert render(params, SCOPE) == {"list": [3, {"deep": "x3"}], "plain": 5, "text": "no braces"}


def test_quote_is_applied_inside_text_and_raw_opts_out():
    scope = {"arg": "a b; rm -rf /"}
    quote = {"command": shlex.quote}
    rendered = render({"command": "echo {arg} {arg!raw}", "other": "echo {arg}"}, scope, quote)
    assert rendered == {"command": "echo 'a b; rm -rf /' a b; rm -rf /", "other": "echo a b; rm -rf /"}


def test_placeholders_finds_every_reference():
    found = [(p.text, p.raw) for p in placeholders({"a": "{x} {{y}} {steps.s.output!raw}", "b": ["{z}"], "c": 1})]
    assert found == [("x", False), ("steps.s.output", True), ("z", False)]
    assert has_placeholders({"a": ["{x}"]}) and not has_placeholders({"a": [1, "plain"]})


# --- what a user sees when a template is wrong ----------------------------------------------


def test_undefined_name_names_it_lists_what_is_defined_and_suggests():
    assert error_of("say {mesage}") == (
        "undefined name 'mesage' (did you mean 'message'?); "
        "defined variables: cfg, flag, items, message, n, name, nothing, ratio"
    )
    assert error_of("{zzz}", {"a": 1}) == "undefined name 'zzz'; defined variables: a"
    assert error_of("{zzz}", {}) == "undefined name 'zzz'; defined variables: none"


def test_render_errors_name_the_parameter():
    with pytest.raises(TemplateError) as info:
        render({"cmd": ["ok", {"k": "{zzz}"}]}, {"a": 1})
    assert str(info.value) == "parameter 'cmd[1].k': undefined name 'zzz'; defined variables: a"


def test_item_access_errors():
    assert error_of("{cfg.x}") == "'cfg.x': cfg has no key 'x' (keys: a)"
    assert error_of("{cfg.a.5}") == "'cfg.a.5': index 5 is out of range (cfg.a has 2 items)"
    assert error_of("{cfg.a.0.x}") == "'cfg.a.0.x': cfg.a.0 is int, it has no 'x'"
    assert error_of("{steps.nope.output}") == (
        "'steps.nope.output': step 'nope' has not finished or is not upstream (finished: fetch)"
    )
    assert error_of("{steps.fetch.outptu}") == (
        "'steps.fetch.outptu': steps.fetch has no key 'outptu' (did you mean 'output'?) (keys: output, status)"
    )


def test_no_attribute_access_to_python_internals():
    assert error_of("{message.__class__}") == "'message.__class__': message is str, it has no '__class__'"
    assert error_of("{n.real}") == "'n.real': n is int, it has no 'real'"
    assert error_of("x {cfg.__class__}") == "'cfg.__class__': cfg has no key '__class__' (keys: a)"


def test_unknown_values_stay_unknown_deeper_down():
    scope = {"steps": {"a": {"output": Unknown("steps.a.output")}}}
    assert render_value("{steps.a.output.json.id}", scope) == "<steps.a.output.json.id>"


# --- templates in real runs ------------------------------------------------------------------


@pytest.fixture
def echo(engine):
    """``echo`` returns its rendered parameters as its output."""
    engine.register_custom_action(
        "echo", lambda parameters, context: parameters, side_effects=False, sets_variables=False
    )
    return engine


def test_step_outputs_flow_downstream(echo):
    echo.register_custom_action(
        "produce", lambda p, c: {"json": {"items": [{"id": 7}, {"id": 8}]}, "n": 0.01}, side_effects=False
    )
    workflow = Workflow(
        id="flow",
        variables={"who": "wfe"},
        steps=[
            WorkflowStep(id="fetch", action="produce"),
            WorkflowStep(
                id="use",
                action="echo",
                dependencies=["fetch"],
                parameters={
                    "second": "{steps.fetch.output.json.items.1.id}",
                    "whole": "{steps.fetch.output}",
                    "text": "{who} got {steps.fetch.output.json.items.0.id} ({steps.fetch.status})",
                    "literal": "{{who}} ${HOME} {print $1}",
                },
            ),
            # A single placeholder keeps its type, so a typed parameter accepts it.
            WorkflowStep(
                id="pause", action="wait", dependencies=["fetch"], parameters={"seconds": "{steps.fetch.output.n}"}
            ),
        ],
    )
    stats = echo.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED, stats.steps
    assert stats.steps["use"].output == {
        "second": 8,
        "whole": {"json": {"items": [{"id": 7}, {"id": 8}]}, "n": 0.01},
        "text": "wfe got 7 (succeeded)",
        "literal": "{who} ${HOME} {print $1}",
    }
    assert stats.steps["pause"].output == 0.01


def test_undefined_name_is_caught_at_validation_before_anything_runs(echo):
    called = []
    echo.register_custom_action("mark", lambda p, c: called.append(c.step.id), side_effects=False, sets_variables=False)
    workflow = Workflow(
        id="typo",
        variables={"message": "hi"},
        steps=[
            WorkflowStep(id="first", action="mark"),
            WorkflowStep(id="show", action="echo", dependencies=["first"], parameters={"text": "say {mesage}"}),
        ],
    )
    with pytest.raises(InvalidWorkflowError) as info:
        echo.run(workflow)
    assert str(info.value) == (
        "steps[1].parameters.text: step 'show': parameter 'text': undefined name 'mesage' "
        "(did you mean 'message'?); defined variables: message"
    )
    assert info.value.problems[0].step_id == "show"
    assert called == []


def test_undefined_name_fails_the_step_at_run_time_when_validation_cannot_know(echo):
    # "login" may set variables (a custom action, sets_variables=True), so validation
    # leaves "{token}" to run time; it does not set "token", so the step fails there.
    echo.register_custom_action(
        "login",
        lambda p, c: StepResult(success=True, variables={"session": "s1"}),
        side_effects=False,
        sets_variables=True,
    )
    calls = []
    echo.register_custom_action("use", lambda p, c: calls.append(p), side_effects=False)
    workflow = Workflow(
        id="late",
        variables={"host": "h"},
        steps=[
            WorkflowStep(id="login", action="login"),
            WorkflowStep(id="call", action="use", dependencies=["login"], parameters={"auth": "Bearer {tokn}"}),
            WorkflowStep(id="after", action="wait", parameters={"seconds": 0}, dependencies=["call"]),
        ],
    )
    assert echo.validate_workflow(workflow).is_valid
    stats = echo.run(workflow)
    assert calls == []  # never called with an empty string in place of the name
    record = stats.steps["call"]
    assert record.status is StepStatus.FAILED
    assert record.error == "step 'call': parameter 'auth': undefined name 'tokn'; defined variables: host, session"
    assert stats.status is RunStatus.FAILED
    assert stats.error == "critical step 'call' failed"
    assert stats.steps["after"].status is StepStatus.CANCELLED


def test_a_variable_set_at_run_time_by_an_upstream_action_resolves(echo):
    echo.register_custom_action(
        "login",
        lambda p, c: StepResult(success=True, variables={"token": "t0k"}),
        side_effects=False,
        sets_variables=True,
    )
    workflow = Workflow(
        id="late",
        steps=[
            WorkflowStep(id="login", action="login"),
            WorkflowStep(id="call", action="echo", dependencies=["login"], parameters={"auth": "Bearer {token}"}),
        ],
    )
    stats = echo.run(workflow)
    assert stats.steps["call"].output == {"auth": "Bearer t0k"}


def test_a_variable_set_upstream_by_variable_set_resolves_with_its_type(echo):
    workflow = Workflow(
        id="set",
        steps=[
            WorkflowStep(id="s", action="variable.set", parameters={"name": "cfg", "value": {"port": 8080}}),
            WorkflowStep(
                id="e", action="echo", dependencies=["s"], parameters={"port": "{cfg.port}", "url": ":{cfg.port}"}
            ),
        ],
    )
    stats = echo.run(workflow)
    assert stats.steps["e"].output == {"port": 8080, "url": ":8080"}


class QuotingPlugin:
    """A plugin whose action quotes values substituted into ``command``."""

    @hookimpl
    def wfe_actions(self):
        return [
            Action("demo.shell", lambda p, c: p["command"], None, side_effects=False, quote={"command": shlex.quote})
        ]


def test_an_actions_quote_function_is_applied_and_raw_opts_out():
    engine = WorkflowEngine(plugins=load_plugins(autoload=False, extra={"quoting": QuotingPlugin()}))
    workflow = Workflow(
        id="q",
        variables={"arg": "a b; rm -rf /", "flags": "-l -a"},
        steps=[
            WorkflowStep(id="quoted", action="demo.shell", parameters={"command": "ls {arg}"}),
            WorkflowStep(id="raw", action="demo.shell", parameters={"command": "ls {flags!raw} {arg}"}),
        ],
    )
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED
    assert stats.steps["quoted"].output == "ls 'a b; rm -rf /'"
    assert stats.steps["raw"].output == "ls -l -a 'a b; rm -rf /'"


def test_dry_run_shows_outputs_it_did_not_produce_as_placeholders(echo):
    echo.register_custom_action("effect", lambda p, c: pytest.fail("called in a dry run"))
    workflow = Workflow(
        id="dry",
        steps=[
            WorkflowStep(id="a", action="effect"),
            WorkflowStep(id="text", action="echo", dependencies=["a"], parameters={"x": "got {steps.a.output.id}"}),
            # Regression: a typed side-effect-free action got its raw dict and crashed.
            WorkflowStep(id="typed", action="wait", dependencies=["a"], parameters={"seconds": "{steps.a.output}"}),
        ],
    )
    stats = echo.run(workflow, execution_mode="dry_run")
    assert stats.status is RunStatus.SUCCEEDED, stats.steps
    assert stats.steps["a"].reason == "dry run: would run effect with {}"
    assert stats.steps["text"].status is StepStatus.SKIPPED
    assert stats.steps["text"].reason == "dry run: would run echo with {'x': 'got <steps.a.output.id>'}"
    assert stats.steps["typed"].reason == "dry run: would run wait with {'seconds': '<steps.a.output>'}"
