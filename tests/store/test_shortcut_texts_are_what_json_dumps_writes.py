"""The run store's shortcuts for its most common values write exactly what ``json.dumps``
writes: a step's attempt log of one finished attempt, and the fingerprint text of a step
that sets none of the keys added later (with or without conditions, dependencies and
rollback), so the fingerprints of runs recorded before stay the same."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe_core.model.workflow import WorkflowStep
from wfe_core.store.encoding import log_json
from wfe_core.store.journal import _FINGERPRINTED_IF_SET, fingerprint, fingerprinted

times = st.floats(allow_nan=True, allow_infinity=True) | st.none() | st.integers()
entries = st.fixed_dictionaries(
    {
        "number": st.integers(min_value=1, max_value=5) | st.booleans(),
        "status": st.sampled_from(["succeeded", "failed", "running", "é\n"]),
        "started_at": times,
        "finished_at": times,
        "error": st.none() | st.text(max_size=10),
    }
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries, max_size=3), st.booleans())
def test_an_attempt_log_is_its_json(log: list[dict[str, Any]], reordered: bool) -> None:
    if reordered and log:  # an entry made by attempt_finished alone has another key order
        first = log[0]
        log[0] = {"number": first["number"], "started_at": first["started_at"], **first}
    expected = json.dumps(log, default=repr, separators=(",", ":")) if log else None
    assert log_json(log) == expected


def first_fingerprint(step: WorkflowStep) -> str:
    names = ("action", "parameters", "dependencies", "conditions", "rollback_action", "rollback_parameters")
    text = json.dumps({n: getattr(step, n) for n in names}, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
mappings = st.dictionaries(st.text(max_size=6), values, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mappings,
    mappings,
    mappings,
    st.none() | st.sampled_from(["x.undo", "é.undo"]),
    st.lists(st.sampled_from(["a", "b", "z", "é"]), max_size=3, unique=True),
)
def test_a_plain_steps_fingerprint_is_that_of_recorded_runs(
    params: dict[str, Any], conditions: dict[str, Any], undo: dict[str, Any], rollback: str | None, deps: list[str]
) -> None:
    step = WorkflowStep(
        id="s",
        action="x.do",
        parameters=params,
        conditions=conditions,
        dependencies=deps,
        rollback_action=rollback,
        rollback_parameters=undo if rollback else {},
    )
    assert fingerprint(step) == first_fingerprint(step)


#: A value for each key hashed only when set (``_FINGERPRINTED_IF_SET``), other than its default.
SET_VALUES: dict[str, Any] = {
    "when": "x == 1",
    "trigger": "always",
    "resources": {"db": 1},
    "for_each": ["a", "b"],
    "matrix": {"os": ["linux"]},
    "exclude": [{"os": "linux"}],
    "max_parallel": 2,
}


def test_a_step_setting_a_later_key_has_the_fingerprint_of_its_keys() -> None:
    """The shortcut's test for "sets none of the later keys" covers every one of them."""
    assert SET_VALUES.keys() == _FINGERPRINTED_IF_SET.keys()
    plain = WorkflowStep(id="s", action="x.do", parameters={"a": 1})
    assert fingerprint(plain) == first_fingerprint(plain)
    needs = {"exclude": {"matrix": {"os": ["linux", "mac"]}}, "max_parallel": {"for_each": ["a"]}}
    for name, value in SET_VALUES.items():
        step = WorkflowStep(id="s", action="x.do", parameters={"a": 1}, **needs.get(name, {}), **{name: value})
        text = json.dumps(fingerprinted(step), sort_keys=True, default=repr, separators=(",", ":"))
        expected = hashlib.sha256(text.encode()).hexdigest()[:16]
        assert fingerprint(step) == expected != fingerprint(plain), name
