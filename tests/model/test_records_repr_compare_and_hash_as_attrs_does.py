"""wfe's attrs classes share one ``__repr__``, ``__eq__`` and ``__hash__`` and behave as attrs' own.

attrs compiles these methods for every class it defines, most of what defining ~40
classes costs each ``wfe`` start. The shared functions (:mod:`wfe_core.model.records`)
must give the same text, the same equality and equal hashes for equal instances in every
case attrs handles (defaults, ``init=False``, ``repr=False``/``eq=False``/``hash=False``
fields, a custom field repr, an ``eq`` key, nesting, cycles, classes defined in a
function, subclasses, another class), and every attrs class a plain ``wfe run`` defines
in wfe_core uses them.
"""

from __future__ import annotations

import importlib
import inspect

import attrs
import pytest
from importtime import wfe_imports

from wfe_core.model.errors import Problem
from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.model.workflow import RunStats, RunStatus, StepRecord, StepStatus, WorkflowStep
from wfe_core.plugin.capabilities import Event
from wfe_core.plugin.facade import PluginInfo


def _pair(frozen: bool):
    """The same class twice: attrs' own ``__repr__``, and the shared one."""
    decorate = attrs.frozen if frozen else attrs.define

    @decorate
    class Theirs:
        a: int
        b: object = None
        c: str = attrs.field(default="c", repr=False)
        d: int = attrs.field(default=4, repr=lambda v: f"<{v}>")
        e: int = attrs.field(init=False, default=5)
        f: tuple[int, ...] = attrs.field(default=(), kw_only=True)

    @decorate
    class Ours:
        __repr__ = fields_repr

        a: int
        b: object = None
        c: str = attrs.field(default="c", repr=False)
        d: int = attrs.field(default=4, repr=lambda v: f"<{v}>")
        e: int = attrs.field(init=False, default=5)
        f: tuple[int, ...] = attrs.field(default=(), kw_only=True)

    return Theirs, Ours


@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize(
    "build",
    [
        lambda C: C(1),
        lambda C: C(1, "x", "hidden", 7, f=(1, 2)),
        lambda C: C(1, C(2, C(3))),  # nested
        lambda C: C(1, [C(2), {"k": C(3)}]),
        lambda C: C(0, None, d=None),
    ],
)
def test_the_shared_repr_is_the_text_attrs_gives(frozen, build):
    theirs, ours = _pair(frozen)
    text = repr(build(ours))
    assert text == repr(build(theirs)).replace("Theirs", "Ours")
    assert text.startswith("Ours(a=")  # the <locals> part of the qualified name is left out, as attrs does


def test_a_cycle_shows_as_dots_as_with_attrs():
    theirs, ours = _pair(frozen=False)
    mine, other = ours(1, []), theirs(1, [])
    mine.b.append(mine)
    other.b.append(other)
    assert repr(mine) == repr(other).replace("Theirs", "Ours") == "Ours(a=1, b=[...], d=<4>, e=5, f=())"
    assert repr(mine) == repr(mine)  # the guard is released afterwards


def test_a_subclass_reprs_its_own_fields():
    theirs, ours = _pair(frozen=True)

    @attrs.frozen
    class More(ours):  # type: ignore[misc,valid-type]
        g: int = 7

    @attrs.frozen
    class TheirMore(theirs):  # type: ignore[misc,valid-type]
        g: int = 7

    assert (
        repr(More(1)) == repr(TheirMore(1)).replace("TheirMore", "More") == "More(a=1, b=None, d=<4>, e=5, f=(), g=7)"
    )


def test_public_model_classes_repr_as_before():
    # The texts the attrs-generated reprs gave before the classes shared one.
    assert repr(Problem("m", path="p", line=3)) == (
        "Problem(message='m', path='p', source=None, line=3, column=None, severity='error', step_id=None)"
    )
    assert repr(WorkflowStep(id="a", action="x.y", parameters={"k": [1, "2"]}, dependencies=("b",))) == (
        "WorkflowStep(id='a', action='x.y', name='a', description='', parameters={'k': [1, '2']}, "
        "dependencies=('b',), timeout=3600.0, max_retries=0, retry_delay=1.0, retry_backoff=2.0, "
        "retry_max_delay=60.0, critical=True, parallel_group=None, conditions={}, trigger='on_success', "
        "resources={}, when=None, for_each=None, matrix=None, exclude=None, max_parallel=None, "
        "rollback_action=None, rollback_parameters={})"
    )
    assert repr(RunStats("r", "w", RunStatus.SUCCEEDED, 2, steps={"a": StepRecord("a", StepStatus.FAILED)})) == (
        "RunStats(run_id='r', workflow_id='w', status=<RunStatus.SUCCEEDED: 'succeeded'>, total_steps=2, "
        "completed_steps=0, failed_steps=0, skipped_steps=0, cancelled_steps=0, total_execution_time=0.0, "
        "busy_time=0.0, parallel_efficiency=0.0, steps={'a': StepRecord(step_id='a', "
        "status=<StepStatus.FAILED: 'failed'>, attempts=0, output=None, error=None, reason=None, "
        "started_at=None, finished_at=None, duration=0.0)}, variables={}, error=None, strategy='', workers=0, "
        "dry_run=False, metadata={}, rollback=None, store=None, plan=None, fanned_out={})"
    )
    assert repr(Event("step.started", "r", "w", "a", {"d": 1}, time=1.5)) == (
        "Event(kind='step.started', run_id='r', workflow_id='w', step_id='a', data={'d': 1}, time=1.5)"
    )
    assert repr(PluginInfo("p", None, None, "m", {"actions": ("a",)})) == (
        "PluginInfo(name='p', distribution=None, version=None, module='m', provides={'actions': ('a',)})"
    )


def test_every_attrs_class_a_plain_run_defines_in_wfe_core_shares_the_repr(tmp_path):
    (tmp_path / "flow.yaml").write_text(
        "id: plain\nsteps:\n  - {id: a, action: variable.set, parameters: {name: x, value: 1}}\n"
        "  - {id: b, action: wait, parameters: {seconds: 0}, dependencies: [a]}\n"
    )
    wfe_imports(tmp_path, "run", "flow.yaml")  # builds the plugin index (imports every plugin)
    proc, modules = wfe_imports(tmp_path, "run", "flow.yaml")
    assert proc.returncode == 0, proc.stderr
    own = sorted(m for m in modules if m.startswith("wfe_core."))
    assert "wfe_core.model.workflow" in own and "wfe_core.plugin.facade" in own  # the listing is real
    classes = [
        cls
        for name in own
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass)
        if attrs.has(cls) and cls.__module__ == name
    ]
    assert len(classes) >= 25
    assert [c.__qualname__ for c in classes if c.__dict__.get("__repr__") is not fields_repr] == []
    # Equality where attrs would give it: the shared one (and, for frozen classes, the hash).
    compared = [c for c in classes if c.__eq__ is not object.__eq__]
    assert len(compared) >= 15
    assert [c.__qualname__ for c in compared if c.__dict__.get("__eq__") is not fields_eq] == []
    frozen = [c for c in compared if c.__setattr__ is not object.__setattr__ and c.__hash__ is not None]
    assert [c.__qualname__ for c in frozen if c.__dict__.get("__hash__") is not fields_hash] == []


def test_first_party_parameter_classes_repr_as_before():
    file_params = pytest.importorskip("wfe_file.params")
    shell_params = pytest.importorskip("wfe_shell.params")
    assert file_params.WriteParams.__repr__ is fields_repr
    assert file_params.WriteParams(path="p", content="c") == file_params.WriteParams(path="p", content="c")
    assert hash(file_params.ReadParams(path="p")) == hash(file_params.ReadParams(path="p"))
    assert repr(file_params.WriteParams(path="p", content="c")) == (
        "WriteParams(path='p', content='c', encoding='utf-8', append=False, create_dirs=True, mode=None)"
    )
    assert repr(shell_params.ShellParams(command="true")) == (
        "ShellParams(command='true', cwd=None, env={}, timeout=None, expected_exit_codes=[0], input=None)"
    )


def _eq_pair(frozen: bool):
    """The same class twice: attrs' own ``__eq__``/``__hash__``, and the shared ones."""
    decorate = attrs.frozen if frozen else attrs.define

    @decorate
    class Theirs:
        a: object
        b: object = None
        c: object = attrs.field(default=0, eq=False)
        d: str = attrs.field(default="x", eq=str.lower)
        e: object = attrs.field(default=1, hash=False)

    @decorate
    class Ours:
        __eq__ = fields_eq
        if frozen:
            __hash__ = fields_hash

        a: object
        b: object = None
        c: object = attrs.field(default=0, eq=False)
        d: str = attrs.field(default="x", eq=str.lower)
        e: object = attrs.field(default=1, hash=False)

    return Theirs, Ours


NAN = float("nan")
PAIRS = [
    ((1,), (1,)),
    ((1,), (2,)),
    ((1, 2), (1, 3)),
    ((1, None, "ignored"), (1, None, "differs")),  # c is not compared
    ((1, None, 0, "ABC"), (1, None, 0, "abc")),  # d compared by its key
    ((1, None, 0, "ABC"), (1, None, 0, "abd")),
    ((1, None, 0, "x", 5), (1, None, 0, "x", 6)),  # e compared, not hashed
    ((NAN,), (NAN,)),  # the same NaN object: == is False, as attrs' a == b gives
    (([1],), ([1],)),
]


@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_the_shared_equality_is_the_equality_attrs_gives(frozen, left, right):
    theirs, ours = _eq_pair(frozen)
    assert (ours(*left) == ours(*right)) == (theirs(*left) == theirs(*right))
    assert (ours(*left) != ours(*right)) == (theirs(*left) != theirs(*right))
    assert (ours(*left) == theirs(*left)) is False  # another class: never equal
    assert ours(*left).__eq__(theirs(*left)) is NotImplemented
    if frozen and ours(*left) == ours(*right):
        try:
            assert hash(ours(*left)) == hash(ours(*right))
        except TypeError:  # an unhashable field: attrs' hash raises as well
            with pytest.raises(TypeError):
                hash(theirs(*left))
    if not frozen:  # attrs makes a mutable class with equality unhashable
        assert ours.__hash__ is None and theirs.__hash__ is None


def test_a_subclass_instance_is_not_equal_to_its_base_as_with_attrs():
    theirs, ours = _eq_pair(frozen=True)

    @attrs.frozen
    class Sub(ours):  # type: ignore[misc,valid-type]
        pass

    @attrs.frozen
    class TheirSub(theirs):  # type: ignore[misc,valid-type]
        pass

    assert (Sub(1) == ours(1)) is (TheirSub(1) == theirs(1)) is False
    assert Sub(1) == Sub(1) and {Sub(1), Sub(1)} == {Sub(1)}


def test_public_model_equality_and_hashing_as_before():
    a, b = WorkflowStep(id="a", action="x"), WorkflowStep(id="a", action="x")
    assert a == b and (a != b) is False and a != WorkflowStep(id="b", action="x") and a != "a"
    with pytest.raises(TypeError):  # a step holds mappings: unhashable, as before
        hash(a)
    assert {Problem("m", line=1), Problem("m", line=1)} == {Problem("m", line=1)}
    assert Problem("m") != Problem("m", line=1)
    assert RunStats("r", "w", RunStatus.SUCCEEDED, 1) == RunStats("r", "w", RunStatus.SUCCEEDED, 1)
    assert RunStats.__hash__ is None  # mutable with equality: unhashable, as attrs made it
