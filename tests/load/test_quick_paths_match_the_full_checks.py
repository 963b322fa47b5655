"""The quick paths a big file takes give exactly what the full checks give.

- A step mapping whose values already have their fields' types is built directly, not
  through cattrs' generated function: same object, same field types; anything else
  goes through cattrs (its errors and paths are the contract).
- A step the model finds nothing wrong with quickly (``_plainly_valid``) is one the full
  check (``_all_step_problems``) finds nothing wrong with either.
- The YAML reader's "plain" verdict (values a string, number, boolean or null, short
  ASCII strings, shallow nesting) is never given to data the loader's own shape pass
  would look closer at.
"""

from __future__ import annotations

import math

import attrs
import pytest
import yaml
from cattrs.gen import make_dict_structure_fn
from hypothesis import given, settings
from hypothesis import strategies as st

from wfe_core.load.convert import _NOT_DIRECT, _direct_structure_fn, converter, structure
from wfe_core.load.loader import MAX_NESTING, MAX_STRING_CHARS, _plainly_fine
from wfe_core.load.yaml_reading import _parse_yaml_lean
from wfe_core.model.errors import InvalidWorkflowError
from wfe_core.model.workflow import WorkflowStep, _all_step_problems, _plainly_valid

FIELDS = [f.name for f in attrs.fields(WorkflowStep)]
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.integers(),  # unbounded: one too big for a float must take the full path
    st.sampled_from([10**400, -(10**400)]),
    st.floats(allow_nan=True),
    st.sampled_from(["", " ", "s1", "s2", "on_success", "always", "nope", "{x}", "a == 1", "a =="]),
    st.lists(st.sampled_from(["s1", "s2", "s3", 1, None]), max_size=3),
    st.tuples(st.sampled_from(["s1", "s2"])),
    st.dictionaries(st.sampled_from(["db", "x", ""]), st.one_of(st.integers(-1, 2), st.text(max_size=2)), max_size=2),
)
STEP_DATA = st.fixed_dictionaries(
    {"id": st.sampled_from(["s1", "s2", "", 5]), "action": st.sampled_from(["variable.set", " ", None])},
    optional={name: ANY_VALUE for name in [*FIELDS[2:], "nmae", 3]},  # type: ignore[dict-item]
)


def _cattrs_way(data):
    """What cattrs' generated function alone makes of ``data`` (or the problems it raises)."""
    base = make_dict_structure_fn(WorkflowStep, converter)
    try:
        return base(data, WorkflowStep)
    except Exception as exc:
        return type(exc)


@settings(max_examples=600, deadline=None)
@given(STEP_DATA)
def test_a_step_built_directly_is_the_step_cattrs_builds(data):
    direct = _direct_structure_fn(WorkflowStep)
    assert direct is not None  # every field of a step has a quick form
    made = direct(data)
    if made is _NOT_DIRECT:
        return  # cattrs does it, as before
    theirs = _cattrs_way(data)
    assert made == theirs
    for name in FIELDS:
        assert type(getattr(made, name)) is type(getattr(theirs, name)), name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "a", "action": "x", "timeout": "30"}, "timeout: expected a number, got string '30'"),
        ({"id": "a", "action": "x", "critical": "false"}, "critical: expected true or false"),
        ({"id": "a", "action": "x", "dependencies": ["b", 3]}, "dependencies[1]: expected a string, got integer 3"),
        ({"id": "a", "action": "x", "timout": 3}, "timout: unknown key 'timout' (did you mean 'timeout'?)"),
        ({"id": "a", "action": "x", "timeout": -1}, "timeout must be a positive number"),
        ({"action": "x"}, "id: is required but missing"),
    ],
)
def test_a_step_the_quick_way_refuses_gets_its_located_error(data, message):
    with pytest.raises(InvalidWorkflowError) as caught:
        structure({"id": "w", "steps": [{"id": "ok", "action": "x"}, data]}, _workflow())
    assert any(message in str(p) and p.path.startswith("steps[1]") for p in caught.value.problems), caught.value


def _workflow():
    from wfe_core.model.workflow import Workflow

    return Workflow


def _bare_step(values):
    """A WorkflowStep with ``values``, bypassing its constructor's checks."""
    step = object.__new__(WorkflowStep)
    defaults = {f.name: f.default for f in attrs.fields(WorkflowStep)}
    for name in FIELDS:
        default = defaults[name]
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = values.get("id") if default.takes_self else default.factory()
        object.__setattr__(step, name, values.get(name, default))
    return step


STEP_VALUES = st.fixed_dictionaries(
    {"id": st.sampled_from(["s1", "", " ", None, 3]), "action": st.sampled_from(["a.b", "", None])},
    optional={
        "timeout": st.one_of(st.floats(allow_nan=True), st.integers(-1, 3), st.booleans(), st.none()),
        "max_retries": st.one_of(st.integers(-1, 3), st.booleans(), st.floats(0, 2)),
        "retry_delay": st.one_of(st.floats(allow_nan=True), st.integers(-1, 2), st.booleans()),
        "retry_max_delay": st.one_of(st.floats(allow_nan=True), st.integers(-1, 2)),
        "retry_backoff": st.one_of(st.floats(allow_nan=True), st.integers(0, 3), st.booleans()),
        "resources": st.one_of(st.just({}), st.just({"db": 1}), st.just({"db": 0}), st.just([])),
        "trigger": st.sampled_from(["on_success", "always", "on_failure", "nope", 1]),
        "when": st.sampled_from([None, "a == 1", "a =="]),
        "for_each": st.sampled_from([None, [1, 2], "{xs}", 5]),
        "matrix": st.sampled_from([None, {"os": ["a"]}]),
        "exclude": st.sampled_from([None, [{"os": "a"}]]),
        "max_parallel": st.sampled_from([None, 1, 0, True]),
        "dependencies": st.lists(st.sampled_from(["s1", "s2", "s3"]), max_size=3).map(tuple),
    },
)


@settings(max_examples=800, deadline=None)
@given(STEP_VALUES)
def test_a_step_passed_quickly_has_no_problem_the_full_check_finds(values):
    step = _bare_step(values)
    if _plainly_valid(step):
        assert _all_step_problems(step) == []


BORDERLINE = {
    "id": ["s1", "", " ", None, 3],
    "action": ["a.b", "", " ", None],
    "timeout": [0, 0.0, -1, 1e-9, 1, True, False, math.nan, math.inf, None, "3"],
    "max_retries": [0, -1, 3, True, 1.0, None],
    "retry_delay": [0, 0.0, -0.1, math.nan, True, None],
    "retry_max_delay": [0, -1, math.inf, False],
    "retry_backoff": [1, 1.0, 0.99, 0, True, math.nan, None],
    "resources": [{}, {"db": 1}, [], None],
    "trigger": ["on_success", "always", "on_failure", "onsuccess", 1, None],
    "when": [None, "a == 1", "a =="],
    "for_each": [None, [1], "{xs}", 5],
    "matrix": [None, {"os": ["a"]}, 3],
    "exclude": [None, [{"os": "a"}]],
    "max_parallel": [None, 1, 0, True],
    "dependencies": [(), ("s0",), ("s1",), ("s0", "s0"), ("s0", "s2")],
}


@pytest.mark.parametrize(
    ("field", "value"), [(field, value) for field, values in BORDERLINE.items() for value in values]
)
def test_one_borderline_value_passes_quickly_only_if_the_full_check_passes_it(field, value):
    step = _bare_step({"id": "s1", "action": "a.b", field: value})
    if _plainly_valid(step):
        assert _all_step_problems(step) == []


def test_the_quick_check_passes_the_usual_step():
    step = WorkflowStep(id="s1", action="a.b", dependencies=["s0", "s2"], timeout=30, parameters={"x": 1})
    assert _plainly_valid(step)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "x" * 50 + "\n",
        "a: [1, 2.5, true, null, ~, '3', {b: c}]\n",
        "a: café\n",
        "1: int key\n",
        "a: 2001-12-14\n",
        "a: !!binary aGk=\n",
        "a: " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "\n",
        "a: " + "[" * MAX_NESTING + "]" * MAX_NESTING + "\n",
    ],
)
def test_the_reader_calls_plain_only_what_the_shape_pass_finds_fine(text):
    data, _, plain = _parse_yaml_lean(text, "<t>", MAX_STRING_CHARS, MAX_NESTING)
    assert data == yaml.safe_load(text)
    if plain:
        assert _plainly_fine(data)


def test_the_reader_looks_closer_at_long_and_non_ascii_strings_and_deep_nesting():
    assert _parse_yaml_lean("a: xxxx\n", "<t>", 3, 5)[2] is False
    assert _parse_yaml_lean("a: xxx\n", "<t>", 3, 5)[2] is True
    assert _parse_yaml_lean("a: café\n", "<t>", 10, 5)[2] is False
    assert _parse_yaml_lean("a: 2001-12-14\n", "<t>", 10, 5)[2] is False
    assert _parse_yaml_lean("1: x\n", "<t>", 10, 5)[2] is False
    assert _parse_yaml_lean("a: [[[[]]]]\n", "<t>", 10, 4)[2] is True  # the innermost list is 4 deep
    assert _parse_yaml_lean("a: [[[[[]]]]]\n", "<t>", 10, 4)[2] is False


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8), st.dates()
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(DATA, st.integers(0, 6), st.integers(0, 6))
def test_plain_data_is_data_the_shape_pass_finds_fine(data, max_string, max_depth):
    text = yaml.safe_dump({"doc": data}, allow_unicode=True)
    parsed, _, plain = _parse_yaml_lean(text, "<t>", max_string, max_depth)
    if not plain:
        return
    assert all(len(s) <= max_string for s in _strings(parsed))
    assert _depth(parsed) <= max_depth
    assert _plainly_fine(parsed)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _depth(value, at=0):
    """How deep the deepest list or mapping lies (the root is 0; -1 for a scalar)."""
    if isinstance(value, dict):
        return max([at, *(_depth(v, at + 1) for v in value.values())])
    if isinstance(value, list):
        return max([at, *(_depth(v, at + 1) for v in value)])
    return -1


def test_repeated_scalars_are_resolved_and_built_once_but_read_as_pyyaml_reads_them():
    text = "".join(f"- {{t: 30, n: null, b: yes, f: 1.5, s: '30', name: n{i}}}\n" for i in range(50))
    data = _parse_yaml_lean(text, "<t>")[0]
    assert data == yaml.safe_load(text)
    assert all(type(d["t"]) is int and type(d["f"]) is float and d["s"] == "30" and d["b"] is True for d in data)
    assert not math.isnan(data[0]["f"])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="{}$!.ab_0 raw", max_size=30))
def test_placeholder_texts_finds_what_placeholders_finds(text):
    from wfe_core.load.templating import placeholder_texts, placeholders

    assert [(path, bool(raw)) for path, raw in placeholder_texts(text)] == [
        (ph.text, ph.raw) for ph in placeholders(text)
    ]
