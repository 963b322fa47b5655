"""``when`` expressions: the grammar accepts what the docs promise and refuses the rest."""

from __future__ import annotations

import pytest

from wfe_core.load.templating import Unknown
from wfe_core.plan.expressions import ExpressionError, Undecidable, evaluate, parse

VARIABLES = {"environment": "production", "count": 3, "config": {"region": "eu", "zones": ["a", "b"]}}
STEPS = {
    "test": {"output": {"failed": 0, "items": [1, 2]}, "status": "succeeded", "error": None},
    "lint": {"output": None, "status": "failed", "error": "boom"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("environment == 'production'", True),
        ("environment != 'production'", False),
        ("environment == 'production' and steps.test.output.failed == 0", True),
        ("steps.lint.status == 'failed' or count > 10", True),
        ("not (count >= 3)", False),
        ("count < 4 <= 5", True),
        ("config.region in ['eu', 'us']", True),
        ("'c' not in config.zones", True),
        ("config.zones[1] == 'b'", True),
        ("steps.test.output.items[1] == 2", True),
        ("steps.test.output.items == [1, 2]", True),
        ("steps.lint.error == 'boom'", True),
        ("steps.test.error == null and true and not false", True),
        ("count == -3", False),
    ],
)
def test_expressions_evaluate_as_documented(text, expected):
    assert evaluate(parse(text), VARIABLES, STEPS)[0] is expected


def test_evaluation_reports_every_value_it_looked_at_and_short_circuits():
    holds, seen = evaluate(parse("environment == 'dev' and steps.test.output.failed == 0"), VARIABLES, STEPS)
    assert holds is False
    assert seen == {"environment": "production"}  # 'and' stopped before the step's output


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("count == (1", "invalid syntax", 9),
        ("len(config)", "function calls are not allowed", 0),
        ("count + 1 == 4", "binop is not allowed", 0),
        ("count if true else 1", "ifexp is not allowed", 0),
        ("lambda: 1", "lambda is not allowed", 0),
        ("count == -environment", "'-' is allowed only before a number", 9),
        ("config[count] == 1", "only a literal string or number", 7),
        ("steps.test.outputs == 1", "not 'outputs'", 0),
        ("steps.test == 1", "names a step and a field", 0),
        ("count is None", "operator Is is not allowed", 0),
        ("[x for x in config]", "listcomp is not allowed", 0),
        ("", "expression is empty", 0),
        ("count ==\n 1", "one line", 8),
    ],
)
def test_anything_outside_the_grammar_is_refused_with_a_column(text, message, column):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert message in caught.value.message
    assert caught.value.column == column


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region == 'eu'", "name 'region' is not defined"),
        ("steps.deploy.status == 'succeeded'", "step 'deploy' has not finished"),
        ("steps.test.output.passed == 1", "steps.test.output has no key 'passed'"),
        ("steps.lint.output.failed == 1", "steps.lint.output has no key 'failed' (it is NoneType)"),
        ("config.zones[5] == 'a'", "config.zones has no key 5"),
        ("environment > 3", "cannot compare str 'production' > int 3"),
    ],
)
def test_an_undefined_name_or_key_is_an_error_not_false(text, message):
    with pytest.raises(ExpressionError) as caught:
        evaluate(parse(text), VARIABLES, STEPS)
    assert message in caught.value.message


def test_keys_are_looked_up_in_data_never_as_python_attributes():
    # 'count.real' would be 3 through getattr; here an int has no keys.
    with pytest.raises(ExpressionError, match="count has no key 'real'"):
        evaluate(parse("count.real == 3"), VARIABLES, STEPS)
    with pytest.raises(ExpressionError, match="has no key '__class__'"):
        evaluate(parse("config.__class__ == 1"), VARIABLES, STEPS)


def test_a_dry_run_cannot_decide_on_a_step_it_did_not_run():
    steps = {"test": {"output": Unknown("steps.test.output"), "status": "dry_run"}}
    with pytest.raises(Undecidable):
        evaluate(parse("steps.test.status == 'succeeded'"), {}, steps)
    with pytest.raises(Undecidable):
        evaluate(parse("steps.test.output.failed == 0"), {}, steps)


def test_the_parsed_expression_names_its_steps_and_variables():
    expression = parse("environment == 'x' and steps.a.status == 'y' or steps.b.output.n in config.zones")
    assert expression.steps == ("a", "b")
    assert expression.variables == ("environment", "config")
