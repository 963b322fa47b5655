""":func:`structure` builds plain data without cattrs, and gives exactly what cattrs gives.

A whole workflow (its steps included) and parameter classes whose values already have
their fields' types are built directly, so a plain ``wfe run`` never imports cattrs;
anything else goes through the strict cattrs converter (:mod:`wfe_core.load.strict`),
whose result or located error is the contract. Here the two are compared on generated
data, field by field and type by type, and the error path is shown to be unchanged.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wfe_core.load.convert as convert
from wfe_core.load.convert import _NOT_DIRECT, _direct_for, structure
from wfe_core.model.errors import InvalidWorkflowError
from wfe_core.model.workflow import Workflow
from wfe_core.plugin.builtins.condition import ConditionParams


def _cattrs_alone() -> Any:
    """A second copy of :mod:`wfe_core.load.strict` whose attrs hook has no quick path:
    cattrs alone. (The module itself tries the quick function first, so comparing with it
    would compare the quick path with itself.)"""
    saved = convert._direct_structure_fn
    convert._direct_structure_fn = lambda cls: None
    try:
        spec = importlib.util.find_spec("wfe_core.load.strict")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        convert._direct_structure_fn = saved
    return module


structure_strictly = _cattrs_alone().structure_strictly


@attrs.frozen
class Item:
    name: str
    size: int = 0


@attrs.frozen
class Kinds:
    """One field of each quick kind a sequence or an optional can have."""

    names: list[str] = attrs.field(factory=list)
    codes: list[int] = attrs.field(factory=list)
    tags: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    anything: list[Any] = attrs.field(factory=list)
    maybe_list: list[Any] | None = None
    maybe_bool: bool | None = None
    maybe_float: float | None = None
    items: tuple[Item, ...] = ()
    item_list: list[Item] = attrs.field(factory=list)


@attrs.frozen
class Tree:
    """A class holding a list of itself: no quick form (cattrs builds it)."""

    name: str
    children: tuple[Tree, ...] = ()


VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False),
    st.sampled_from(["", "a", "b"]),
    st.lists(st.one_of(st.sampled_from(["a", "b"]), st.integers(-1, 1), st.booleans(), st.none()), max_size=3),
    st.tuples(st.sampled_from(["a"])),
    st.lists(st.fixed_dictionaries({"name": st.sampled_from(["x", 1])}, optional={"size": st.integers()}), max_size=2),
    st.dictionaries(st.sampled_from(["name", "k"]), st.integers(0, 1), max_size=2),
)
KINDS_DATA = st.dictionaries(st.sampled_from([f.name for f in attrs.fields(Kinds)] + ["nope"]), VALUE, max_size=6)


def _outcome(build, data, cls):
    try:
        return build(data, cls)
    except InvalidWorkflowError as exc:
        return [str(p) for p in exc.problems]


def _same(ours, theirs):
    assert ours == theirs
    if attrs.has(type(ours)):
        assert type(ours) is type(theirs)
        for field in attrs.fields(type(ours)):
            mine, other = getattr(ours, field.name), getattr(theirs, field.name)
            assert type(mine) is type(other), field.name
            if isinstance(mine, (list, tuple)):
                assert [type(x) for x in mine] == [type(x) for x in other], field.name


@settings(max_examples=800, deadline=None)
@given(KINDS_DATA)
def test_each_quick_kind_builds_what_cattrs_builds_or_leaves_it_to_cattrs(data):
    _same(_outcome(structure, data, Kinds), _outcome(structure_strictly, data, Kinds))


STEP = st.fixed_dictionaries(
    {"id": st.sampled_from(["s1", "s2", "", 3]), "action": st.sampled_from(["variable.set", None])},
    optional={
        "dependencies": st.one_of(st.sampled_from(["s1", "s2"]), st.lists(st.sampled_from(["s1", "s2", 4]))),
        "timeout": st.one_of(st.integers(-1, 5), st.floats(0.5, 3), st.sampled_from(["30", True])),
        "parameters": st.one_of(st.just({"name": "x"}), st.just([])),
        "critical": st.one_of(st.booleans(), st.just("false")),
        "typo": st.just(1),
    },
)
WORKFLOW = st.fixed_dictionaries(
    {"id": st.sampled_from(["w", "", 5])},
    optional={
        "steps": st.one_of(st.lists(STEP, max_size=3), st.just("s1"), st.lists(st.just("step"), max_size=1)),
        "secrets": st.one_of(st.just("TOKEN"), st.lists(st.sampled_from(["A", 1]), max_size=2)),
        "variables": st.one_of(st.just({"who": "you"}), st.just([])),
        "resources": st.one_of(st.just({"db": 1}), st.just({"db": "x"})),
        "metadata": st.just({"k": [1]}),
        "name": st.sampled_from(["n", None]),
    },
)


@settings(max_examples=600, deadline=None)
@given(WORKFLOW)
def test_a_whole_workflow_builds_as_cattrs_builds_it_with_the_same_located_errors(data):
    _same(_outcome(structure, data, Workflow), _outcome(structure_strictly, data, Workflow))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["value", "one_of", "truthy", "matches", "message", "x"]), VALUE, max_size=4))
def test_the_condition_parameters_build_as_cattrs_builds_them(data):
    _same(_outcome(structure, data, ConditionParams), _outcome(structure_strictly, data, ConditionParams))


def test_the_quick_path_covers_a_workflow_and_refuses_what_it_cannot_word():
    build = _direct_for(Workflow)
    assert build is not None
    made = build({"id": "w", "steps": [{"id": "a", "action": "x", "dependencies": "b"}, {"id": "b", "action": "x"}]})
    assert made is not _NOT_DIRECT and made.steps[0].dependencies == ("b",)
    assert build({"id": "w", "steps": [{"id": "a", "action": "x", "timeout": "3"}]}) is _NOT_DIRECT
    assert _direct_for(Tree) is None  # it would never end: cattrs builds it
    assert structure({"name": "a", "children": [{"name": "b"}]}, Tree) == Tree("a", (Tree("b"),))


def test_a_located_error_for_a_bad_step_still_names_its_path():
    with pytest.raises(InvalidWorkflowError) as caught:
        structure(
            {"id": "w", "steps": [{"id": "a", "action": "x"}, {"id": "b", "action": "x", "timeout": "3"}]}, Workflow
        )
    assert [str(p) for p in caught.value.problems] == ["steps[1].timeout: expected a number, got string '3'"]


def test_loading_a_plain_file_imports_no_cattrs_and_a_bad_one_still_gets_its_line(tmp_path):
    (tmp_path / "ok.yaml").write_text(
        "id: w\nsteps:\n  - {id: a, action: variable.set, parameters: {name: x, value: 1}}\n"
    )
    (tmp_path / "bad.yaml").write_text("id: w\nsteps:\n  - id: a\n    action: variable.set\n    timeout: '30'\n")
    code = (
        "import sys\n"
        "from wfe_core.load.loader import WorkflowLoader\n"
        "from wfe_core.model.errors import InvalidWorkflowError\n"
        "WorkflowLoader().load_from_file('ok.yaml')\n"
        "print('cattrs' in sys.modules)\n"
        "try:\n    WorkflowLoader().load_from_file('bad.yaml')\n"
        "except InvalidWorkflowError as e:\n    print(e)\n"
        "from wfe_core.load.convert import converter\n"
        "print(type(converter).__module__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "False",
        "bad.yaml:5: steps[0].timeout: expected a number, got string '30'",
        "cattrs.converters",
    ]


@attrs.frozen
class Scalars:
    name: str
    size: int = 0
    ratio: float = 0.0
    on: bool = False
    codes: list[int] = attrs.field(factory=list)


class _Text(str):
    pass


_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.floats(allow_nan=False), st.sampled_from(["a", _Text("a")])
)


@settings(max_examples=500, deadline=None)
@given(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["x", _Text("x"), 1])},
        optional={"size": _SCALAR, "ratio": _SCALAR, "on": _SCALAR, "codes": st.lists(_SCALAR, max_size=3)},
    )
)
def test_plain_scalar_fields_build_as_cattrs_alone_builds_them(data):
    # bool is not an int here, a str subclass not a str field's value as is: as cattrs says.
    _same(_outcome(structure, data, Scalars), _outcome(structure_strictly, data, Scalars))
