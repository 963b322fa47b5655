"""The loader's quick YAML construction gives exactly what PyYAML's safe loader gives.

Plain documents (mappings, sequences, scalars) are built straight from the parser's
events (``_parse_yaml_lean``) or, with anchors, in one loop over the node tree
(``_parse_yaml``); aliases, merge keys and collection tags take PyYAML's general
constructor. Every way, the data is ``yaml.safe_load``'s.
"""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wfe_core.load.yaml_reading import _parse_yaml, _parse_yaml_lean
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
    expected = yaml.safe_load(text)
    assert _parse_yaml_lean(text, "<t>")[0] == expected
    assert _parse_yaml(text, "<t>")[0] == expected


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
    theirs = yaml.safe_load(text)
    for parse in (_parse_yaml_lean, _parse_yaml):
        mine = parse(text, "<t>")[0]
        assert mine.keys() == theirs.keys()
        for key in theirs:
            value, expected = mine[key], theirs[key]
            assert _same(value, expected) or value == expected, key
        if "again" in text:  # an alias is still one shared object
            assert mine["base"] is mine["again"]


@pytest.mark.parametrize("parse", [_parse_yaml_lean, _parse_yaml])
def test_a_complex_key_is_refused_with_pyyaml_s_message_and_its_line(parse):
    with pytest.raises(InvalidWorkflowError) as caught:
        parse("id: w\n? [complex, key]\n: value\n", "<t>")
    assert str(caught.value) == "<t>:2:3: invalid YAML: found unhashable key"


@pytest.mark.parametrize(
    ("text", "line"), [("id: w\n", 1), ("\n\n- a\n", 3), ("# c\n---\nx: &a 1\ny: *a\n", 3), ("", None)]
)
def test_the_root_line_is_where_the_document_starts(text, line):
    assert _parse_yaml_lean(text, "<t>")[1] == line


def test_a_second_document_is_refused_as_before():
    with pytest.raises(InvalidWorkflowError, match="^<t>:2:1: invalid YAML: but found another document$"):
        _parse_yaml_lean("a: 1\n---\nb: 2\n", "<t>")
