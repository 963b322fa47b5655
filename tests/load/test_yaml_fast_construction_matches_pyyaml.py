"""The loader's one-loop YAML construction gives exactly what PyYAML's safe loader gives.

Plain documents (mappings, sequences, scalars) take the quick path; documents with
aliases, merge keys or collection tags take PyYAML's general constructor. Either way the
data is the same as ``yaml.safe_load``'s.
"""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wfe_core.load.loader import _parse_yaml
from wfe_core.model.errors import InvalidWorkflowError

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["yes", "No", "on", "OFF", "~", "null", "0x1F", "0o17", "1_000", ".inf", "-.Inf", "2001-12-14"]),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=25,
)


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(DATA, st.sampled_from([None, False, True]))
def test_any_dumped_document_loads_as_pyyaml_loads_it(data, flow):
    text = yaml.safe_dump({"doc": data}, default_flow_style=flow, allow_unicode=True)
    assert _parse_yaml(text, "<t>")[0] == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: yes\nb: no\nc: On\nd: ~\ne:\nf: .nan\ng: 0b101\nh: 1:30\ni: 2001-12-14t21:59:43.10-05:00\n",
        "a: !!str 123\nb: !!float 1\nc: !!binary aGk=\nd: '123'\ne: \"true\"\n'': empty key\n",
        "1: int key\n~: null key\ntrue: bool key\n3.5: float key\n",
        "dup: 1\ndup: 2\nlist: [1, [2, [3, {x: y}]]]\n",
        "base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\nagain: *b\n",
        "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\np: !!pairs [{a: 1}]\n",
        "= : value key\n",
    ],
)
def test_tricky_documents_load_as_pyyaml_loads_them(text):
    mine = _parse_yaml(text, "<t>")[0]
    theirs = yaml.safe_load(text)
    assert mine.keys() == theirs.keys()
    for key in theirs:
        value, expected = mine[key], theirs[key]
        assert _same(value, expected) or value == expected, key
    if "again" in text:  # an alias is still one shared object
        assert mine["base"] is mine["again"]


def test_a_complex_key_is_refused_with_pyyaml_s_message_and_its_line():
    with pytest.raises(InvalidWorkflowError) as caught:
        _parse_yaml("id: w\n? [complex, key]\n: value\n", "<t>")
    assert str(caught.value) == "<t>:2:3: invalid YAML: found unhashable key"
