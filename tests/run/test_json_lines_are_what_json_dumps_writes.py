"""The JSON text of events (``wfe run --reporter json``, output summaries) comes from a C
encoder built once: it is exactly what ``json.dumps(value, default=str)`` writes, also
after an encoding failed, and through the real ``wfe`` process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfe_core.plugin.builtins.reporters.json_lines import JsonReporter
from wfe_core.plugin.capabilities import Event
from wfe_core.run.output import as_json


class Opaque:
    """Not JSON: ``default=str`` makes it text."""

    def __str__(self) -> str:
        return "opaque ✓"


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.just(Opaque())
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers() | st.booleans() | st.none(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_the_text_is_json_dumps_text(value):
    assert as_json(value) == json.dumps(value, default=str)


keys = st.sampled_from(["kind", "run_id", "workflow_id", "time", "step_id", "attempt", "error", "é"]) | st.text(
    max_size=4
)
events = st.builds(
    Event,
    kind=st.sampled_from(["step.started", "step.succeeded", "progress"]) | st.text(max_size=6),
    run_id=st.sampled_from(["r1", "r2"]) | st.text(max_size=6),
    workflow_id=st.sampled_from(["w", "wö"]),
    step_id=st.none() | st.text(max_size=6),
    data=st.dictionaries(keys, values, max_size=4) | st.dictionaries(keys, scalars, max_size=3).map(MappingProxyType),
    time=st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.just(1796025962.6764925),
)


def reference_line(event: Event) -> str:
    """The line as the JSON reporter first wrote it: one record, json.dumps(default=str)."""
    record = {"kind": event.kind, "run_id": event.run_id, "workflow_id": event.workflow_id, "time": event.time}
    if event.step_id is not None:
        record["step_id"] = event.step_id
    record.update(event.data)
    return json.dumps(record, default=str)


@settings(max_examples=500, deadline=None)
@given(st.lists(events, min_size=1, max_size=6))
def test_each_json_reporter_line_is_the_record_as_json_dumps_writes_it(run):
    reporter = JsonReporter(io.StringIO())
    for event in run:  # one reporter for several events: what it encodes once must follow them
        assert reporter.line(event) == reference_line(event)
    reporter.handle(run[0])
    assert reporter.stream.getvalue() == reference_line(run[0]) + "\n"


def test_a_failed_encoding_leaves_no_trace_for_the_next():
    shared = [1, 2]
    loop: list = [shared]
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        as_json({"a": loop})
    # `shared` was being encoded when the failure came: it must not read as circular now.
    assert as_json({"x": shared, "y": [shared]}) == '{"x": [1, 2], "y": [[1, 2]]}'


class Slow:
    """Not JSON, and its text takes a moment: another thread runs meanwhile."""

    def __str__(self) -> str:
        time.sleep(0.001)
        return "slow"


def test_threads_encoding_the_same_value_at_once_do_not_disturb_each_other():
    shared = {"items": [Slow(), {"deeper": Slow()}]}
    expected = json.dumps({"x": shared}, default=str)
    seen: list[object] = []

    def encode_often() -> None:
        for _ in range(30):
            try:
                seen.append(as_json({"x": shared}))
            except Exception as exc:  # e.g. a false "Circular reference detected"
                seen.append(exc)

    threads = [threading.Thread(target=encode_often) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [expected] * 120


WORKFLOW = """\
    id: lines
    secrets: [LINES_TOKEN]
    variables: {who: "Wörld", ratio: 0.1}
    steps:
      - id: greet
        action: variable.set
        parameters: {name: greeting, value: "hello {who} {ratio}"}
      - id: token
        action: variable.set
        dependencies: [greet]
        parameters: {name: token, value: "{secrets.LINES_TOKEN}"}
      - id: broken
        action: variable.set
        critical: false
        dependencies: [greet]
        parameters: {name: x, value: "{steps.greet.output.nokey}"}
"""


def test_every_line_of_the_json_reporter_is_json_dumps_text(tmp_path):
    path = tmp_path / "lines.yaml"
    path.write_text(textwrap.dedent(WORKFLOW))
    secret = "s3cr3t-v4lue"
    ran = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", str(path), "--reporter", "json", "--store", str(tmp_path / "r.db")],
        capture_output=True,
        text=True,
        env={**os.environ, "LINES_TOKEN": secret},
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr + ran.stdout
    lines = ran.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    # Written as json.dumps writes it (key order, separators, ASCII escapes, float text).
    assert lines == [json.dumps(record) for record in records]
    assert "\\u00f6" in ran.stdout and secret not in ran.stdout
    kinds = [(r["kind"], r.get("step_id")) for r in records]
    assert kinds[0] == ("run.started", None) and kinds[-1] == ("run.finished", None)
    succeeded = {r["step_id"]: r for r in records if r["kind"] == "step.succeeded"}
    assert succeeded["greet"]["output_summary"] == '"hello W\\u00f6rld 0.1"'
    assert succeeded["token"]["output_summary"] == '"***"'
    failed = next(r for r in records if r["kind"] == "step.failed")
    assert failed["step_id"] == "broken" and "it has no 'nokey'" in failed["error"]
