"""The run store keeps a bounded amount per value, and `wfe runs` reads no outputs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

FLOW = """\
id: big
steps:
  - id: copy
    action: variable.set
    parameters: {name: copied, value: "{big}"}
  - id: echo
    action: variable.get
    parameters: {name: copied}
    dependencies: [copy]
  - id: gate
    action: validate.condition
    parameters: {value: "{ok}", equals: "yes"}
    dependencies: [echo]
  - id: last
    action: variable.set
    parameters: {name: tail, value: "{copied}"}
    dependencies: [gate]
"""


def wfe(*args, limit="20000", **kwargs):
    env = {**os.environ, "WFE_STORE_VALUE_LIMIT": limit}
    return subprocess.run([sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, **kwargs)


@pytest.fixture
def flow(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(FLOW)
    return str(path)


def test_a_value_over_the_limit_is_stored_as_a_marker_and_the_run_still_gets_all_of_it(tmp_path, flow):
    store = str(tmp_path / "runs.sqlite")
    big = "x" * 100_000
    proc = wfe("run", "--store", store, "--var", f"big={big}", "--var", "ok=yes", "--var", "small=kept", flow)
    assert proc.returncode == 0, proc.stderr
    assert os.path.getsize(store) < 400_000  # four copies of 100 kB would not fit
    run_id = json.loads(wfe("runs", "--store", store, "--json").stdout)[0]["run_id"]
    run = json.loads(wfe("runs", "--store", store, "show", run_id, "--json").stdout)
    steps = {s["step_id"]: s for s in run["steps"]}
    marker = "<<wfe:not stored: 100,002 characters of JSON, over the store limit of 20,000 (WFE_STORE_VALUE_LIMIT)>>"
    assert steps["echo"]["output"] == marker
    assert steps["copy"]["variables"] == {"copied": marker}
    assert run["variables"]["big"] == marker and run["variables"]["small"] == "kept"
    # The run itself had the whole value: the last step copied all of it.
    assert run["variables"]["tail"] == marker


def test_resume_refuses_to_feed_a_marker_to_a_step_and_accepts_the_value_given_again(tmp_path, flow):
    store = str(tmp_path / "runs.sqlite")
    big = "y" * 50_000
    first = wfe("run", "--store", store, "--var", f"big={big}", "--var", "ok=no", flow)
    assert first.returncode == 1
    run_id = json.loads(wfe("runs", "--store", store, "--json").stdout)[0]["run_id"]
    refused = wfe("resume", "--store", store, run_id, "--var", "ok=yes")
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    assert "step 'last' uses variable 'copied', which was too big to keep in the run store" in refused.stderr
    resumed = wfe("resume", "--store", store, run_id, "--var", "ok=yes", "--var", f"copied={big}")
    assert resumed.returncode == 0, resumed.stderr


def test_no_limit_keeps_the_whole_value(tmp_path, flow):
    store = str(tmp_path / "runs.sqlite")
    proc = wfe("run", "--store", store, "--var", "big=" + "z" * 30_000, "--var", "ok=yes", flow, limit="0")
    assert proc.returncode == 0, proc.stderr
    run_id = json.loads(wfe("runs", "--store", store, "--json").stdout)[0]["run_id"]
    run = json.loads(wfe("runs", "--store", store, "show", run_id, "--json").stdout)
    assert run["variables"]["tail"] == "z" * 30_000


def _peak_rss_mb(args):
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "wfe_core", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out) / 1024


def test_listing_runs_reads_no_variables_or_outputs(tmp_path, flow):
    store = str(tmp_path / "runs.sqlite")
    assert wfe("run", "--store", store, "--var", "big=b", "--var", "ok=yes", flow).returncode == 0
    # A store written by an older wfe (no limit): 150 MB of variables in the run's row.
    db = sqlite3.connect(store)
    db.execute("UPDATE runs SET variables=?", (json.dumps({"big": "v" * 150_000_000}),))
    db.commit()
    db.close()
    assert _peak_rss_mb(["runs", "--store", store]) < 120  # it was over 300 MB reading them


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    variables=st.dictionaries(st.text(max_size=10), _JSON_VALUES, max_size=6) | _JSON_VALUES,
    limit=st.sampled_from([0, 1, 8, 40, 200]),
)
def test_each_variable_is_bounded_on_its_own_and_the_text_is_the_encoders(variables, limit):
    # One pass encodes each value once and joins the object: the same text as encoding the
    # bounded values whole, which is what the store always wrote.
    from wfe_core.store.encoding import bounded_vars, cut_marker

    def bounded(value):
        if value is None or isinstance(value, (bool, int, float)):  # kept whole
            return value
        text = json.dumps(value, separators=(",", ":"))
        return cut_marker(len(text), limit) if limit and len(text) > limit else value

    if isinstance(variables, dict):
        expected = {name: bounded(value) for name, value in variables.items()}
    else:
        expected = bounded(variables)
    assert bounded_vars(variables, limit) == (None if expected is None else json.dumps(expected, separators=(",", ":")))


def test_variables_with_keys_that_are_not_strings_are_stored_as_the_encoder_writes_them():
    from wfe_core.store.encoding import bounded_vars

    nested = {1: {"1": "a", 1: "b"}, 2.5: [1, 2], None: "x"}
    assert bounded_vars(nested, 1000) == '{"1":{"1":"a","1":"b"},"2.5":[1,2],"null":"x"}'
    assert bounded_vars({1: "y" * 50}, 10).startswith('{"1":"<<wfe:not stored: 52 characters')
