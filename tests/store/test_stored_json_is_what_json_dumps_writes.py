"""What the run store writes as JSON (step values, attempt logs, fingerprints, the run's
definition) comes from encoders built once and from shortcuts for common values: the text
is exactly what ``json.dumps`` (and the first implementations) wrote, so fingerprints of
runs recorded before stay the same and resume still trusts them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe_core.load.loader import definition_json
from wfe_core.model.workflow import Workflow, WorkflowStep
from wfe_core.store.encoding import compact_json, quoted
from wfe_core.store.journal import fingerprint


class Opaque:
    """Not JSON: ``default=repr`` makes it text."""

    def __repr__(self) -> str:
        return "Opaque(✓)"


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.just(Opaque())
)


def nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    )


values = nested(scalars)
plain = nested(scalars.filter(lambda v: not isinstance(v, Opaque)))  # what a definition can hold


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.booleans())
def test_compact_json_is_json_dumps(value: Any, sort_keys: bool) -> None:
    expected = json.dumps(value, default=repr, separators=(",", ":"), sort_keys=sort_keys)
    encode = compact_json(sort_keys=sort_keys)
    assert encode(value) == expected
    assert encode(value) == expected  # built once, used again


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_a_quoted_string_is_its_json(text: str) -> None:
    assert quoted(text) == json.dumps(text)


def first_fingerprint(step: WorkflowStep) -> str:
    """The fingerprint as runs recorded before these encoders have it (new keys unset)."""
    names = ("action", "parameters", "dependencies", "conditions", "rollback_action", "rollback_parameters")
    text = json.dumps({n: getattr(step, n) for n in names}, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


parameters = st.dictionaries(st.text(max_size=8), values, max_size=5)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parameters,
    parameters,
    st.lists(st.text(min_size=1, max_size=5).filter(lambda d: d != "s"), max_size=3, unique=True),
)
def test_fingerprints_are_those_of_recorded_runs(params: dict[str, Any], undo: dict[str, Any], deps: list[str]) -> None:
    step = WorkflowStep(
        id="s", action="x.do", parameters=params, dependencies=deps, rollback_action="x.undo", rollback_parameters=undo
    )
    assert fingerprint(step) == first_fingerprint(step)


def first_unstructure(obj: Any) -> dict[str, Any]:
    """The definition's fields as first written: every default made anew and compared."""
    out: dict[str, Any] = {}
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory(obj) if default.takes_self else default.factory()
        if default is not attrs.NOTHING and value == default:
            continue
        out[field.name] = [first_unstructure(s) for s in value] if field.name == "steps" else value
    return out


optional_fields = st.fixed_dictionaries(
    {},
    optional={
        "parameters": st.dictionaries(st.text(max_size=8), plain, max_size=5),
        "conditions": st.just({}) | st.dictionaries(st.sampled_from(["a", "b"]), st.text(max_size=3), max_size=2),
        "resources": st.just({}) | st.just({"db": 1}),
        "rollback_parameters": st.just({}),
        "timeout": st.sampled_from([300, 300.0, 5]),
        "max_retries": st.sampled_from([0, 2]),
        "critical": st.booleans(),
        "name": st.text(max_size=5),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(optional_fields, min_size=1, max_size=4), st.dictionaries(st.text(max_size=4), plain, max_size=3))
def test_the_stored_definition_leaves_out_what_it_always_did(fields: list[dict[str, Any]], variables: Any) -> None:
    steps = [WorkflowStep(id=f"s{n}", action="x.do", **f) for n, f in enumerate(fields)]
    workflow = Workflow(id="w", steps=steps, variables=variables, resources={"db": 2})
    expected = json.dumps(first_unstructure(workflow), ensure_ascii=False, separators=(",", ":"))
    assert definition_json(workflow) == expected
