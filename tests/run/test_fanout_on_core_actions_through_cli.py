"""``for_each`` / ``max_parallel`` / ``matrix`` / ``exclude`` through the real ``wfe``
process, on the core's own actions (``variable.set``, ``wait``): instances are steps of
their own in the run store, dependents see the list of outputs, ``max_parallel`` is
honoured (measured from the run's events), mistakes are validation errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest


def wfe(tmp_path, *args):
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def write(tmp_path, text, name="flow.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run_json(tmp_path, path, *args):
    """Run ``path`` with the JSON reporter; return (result, events, stored run)."""
    result = wfe(tmp_path, "run", str(path), "--reporter", "json", *args)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    run_id = events[0]["run_id"]
    shown = wfe(tmp_path, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return result, events, json.loads(shown.stdout)


def outputs(run):
    return {s["step_id"]: s["output"] for s in run["steps"]}


def stored_status(run):
    return {s["step_id"]: s["status"] for s in run["steps"]}


def test_a_static_list_runs_the_step_once_per_item_with_item_and_item_index(tmp_path):
    path = write(
        tmp_path,
        """\
        id: each
        steps:
          - id: greet
            action: variable.set
            parameters: {name: "greeted_{item_index}", value: "hello {item}"}
            for_each: [ann, bob, cy]
          - id: after
            action: variable.set
            parameters: {name: all, value: "{steps.greet.output}"}
            dependencies: [greet]
        """,
    )
    result, _, run = run_json(tmp_path, path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = outputs(run)
    # Each instance is a step of its own in the store, named after the item's index.
    assert out["greet[0]"] == "hello ann" and out["greet[1]"] == "hello bob" and out["greet[2]"] == "hello cy"
    # The step's output, what dependents see, is the list of outputs in item order.
    assert out["greet"] == out["after"] == ["hello ann", "hello bob", "hello cy"]
    assert run["variables"]["greeted_2"] == "hello cy"
    assert set(stored_status(run).values()) == {"succeeded"}


def test_a_list_produced_by_an_upstream_step_at_run_time(tmp_path):
    path = write(
        tmp_path,
        """\
        id: dynamic
        steps:
          - id: list
            action: variable.set
            parameters: {name: files, value: [a.txt, b.txt]}
          - id: each
            action: variable.set
            parameters: {name: "seen_{item_index}", value: "{item}"}
            for_each: "{steps.list.output}"
            dependencies: [list]
          - id: again
            action: variable.set
            parameters: {name: "again_{item_index}", value: "{item}!"}
            for_each: "{files}"
            dependencies: [list]
          - id: after
            action: variable.set
            parameters: {name: all, value: "{steps.again.output}"}
            dependencies: [each, again]
        """,
    )
    result, _, run = run_json(tmp_path, path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = outputs(run)
    assert out["each[0]"] == "a.txt" and out["each[1]"] == "b.txt"
    assert out["after"] == ["a.txt!", "b.txt!"]


@pytest.mark.parametrize("strategy", ["adaptive", "parallel"])
def test_max_parallel_limits_how_many_instances_run_at_once(tmp_path, strategy):
    path = write(
        tmp_path,
        """\
        id: limited
        steps:
          - id: nap
            action: wait
            parameters: {seconds: 0.4}
            for_each: [1, 2, 3, 4, 5]
            max_parallel: 2
          - {id: free, action: wait, parameters: {seconds: 0.4}}
        """,
    )
    result, events, _ = run_json(tmp_path, path, "--max-workers", "6", "--strategy", strategy)
    assert result.returncode == 0, result.stdout + result.stderr
    spans: dict[str, list[float]] = {}
    for event in events:
        if event["kind"] == "step.started":
            spans[event["step_id"]] = [event["time"]]
        elif event["kind"] == "step.succeeded" and event["step_id"] in spans:
            spans[event["step_id"]].append(event["time"])
    naps = [spans[f"nap[{i}]"] for i in range(5)]
    points = sorted([(s, 1) for s, _ in naps] + [(e, -1) for _, e in naps], key=lambda p: (p[0], p[1]))
    most = now = 0
    for _, delta in points:
        now += delta
        most = max(most, now)
    assert most == 2, f"instances running at once: {most} ({naps})"
    # The free step was not held back by the instances waiting for a slot.
    assert spans["free"][0] < min(e for _, e in naps)


def test_a_matrix_with_an_exclude_runs_the_remaining_combinations(tmp_path):
    path = write(
        tmp_path,
        """\
        id: matrix
        steps:
          - id: build
            action: variable.set
            parameters: {name: "built_{matrix.os}_{matrix.py}", value: "{matrix.os}/{matrix.py}"}
            matrix: {os: [linux, mac], py: ["3.11", "3.12"]}
            exclude: [{os: mac, py: "3.11"}]
          - id: after
            action: variable.set
            parameters: {name: all, value: "{steps.build.output}"}
            dependencies: [build]
        """,
    )
    result, _, run = run_json(tmp_path, path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = outputs(run)
    instances = sorted(sid for sid in out if sid.startswith("build["))
    assert instances == ["build[os=linux,py=3.11]", "build[os=linux,py=3.12]", "build[os=mac,py=3.12]"]
    assert out["after"] == ["linux/3.11", "linux/3.12", "mac/3.12"]


def test_an_empty_list_succeeds_with_an_empty_output(tmp_path):
    path = write(
        tmp_path,
        """\
        id: empty
        variables: {files: []}
        steps:
          - id: each
            action: wait
            parameters: {seconds: 5}
            for_each: "{files}"
          - id: after
            action: variable.set
            parameters: {name: seen, value: "{steps.each.output}"}
            dependencies: [each]
        """,
    )
    result, _, run = run_json(tmp_path, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(run)["each"] == [] and outputs(run)["after"] == []


def test_a_list_that_is_not_a_list_fails_the_step_saying_what_it_got(tmp_path):
    path = write(
        tmp_path,
        """\
        id: notalist
        variables: {files: "a.txt b.txt"}
        steps:
          - id: each
            action: wait
            parameters: {seconds: 0}
            for_each: "{files}"
        """,
    )
    result = wfe(tmp_path, "run", str(path), "--reporter", "plain")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "step 'each': for_each \"{files}\" must give a list, got str 'a.txt b.txt'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_failing_instance_of_a_critical_step_fails_the_run_and_cancels_instances_not_started(tmp_path):
    path = write(
        tmp_path,
        """\
        id: critical
        steps:
          - id: nap
            action: wait
            parameters: {seconds: "{item}"}
            for_each: [0, -1, 0, 0]
            max_parallel: 1
        """,
    )
    result, _, run = run_json(tmp_path, path)
    assert result.returncode == 1, result.stdout + result.stderr
    status = stored_status(run)
    assert status["nap[0]"] == "succeeded" and status["nap[1]"] == "failed"
    assert status["nap[2]"] == status["nap[3]"] == "cancelled" and status["nap"] == "failed"
    assert run["error"] == "critical step 'nap[1]' failed"


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        (
            "  - {id: a, action: variable.set, parameters: {name: x, value: '{item}'}}\n",
            "steps[0].parameters.value: step 'a': parameter 'value': undefined name 'item' "
            "('item' is defined only in a step with for_each)",
        ),
        (
            "  - {id: a, action: variable.set, parameters: {name: x, value: '{matrix.arch}'},"
            " matrix: {os: [linux], cpu: [x86]}}\n",
            "step 'a': parameter 'value': '{matrix.arch}': unknown matrix axis 'arch'",
        ),
        (
            "  - {id: a, action: variable.set, parameters: {name: x, value: '{item}'}, matrix: {os: [linux]}}\n",
            "undefined name 'item': a matrix step has {matrix.<axis>} (axes: os), not {item}",
        ),
        (
            "  - {id: a, action: wait, parameters: {seconds: 0}, matrix: {os: [linux, mac]},"
            " exclude: [{os: windows}]}\n",
            "steps[0].exclude[0].os: step 'a': exclude: 'windows' is not a value of matrix axis 'os'",
        ),
        (
            "  - {id: a, action: wait, parameters: {seconds: 0}, matrix: {os: [linux]}, exclude: [{oss: linux}]}\n",
            "step 'a': exclude names unknown matrix axis 'oss' (did you mean 'os'?)",
        ),
        (
            "  - {id: a, action: wait, parameters: {seconds: 0}, for_each: [1], matrix: {os: [linux]}}\n",
            "step 'a': use for_each or matrix, not both",
        ),
        ("  - {id: a, action: wait, parameters: {seconds: 0}, max_parallel: 2}\n", "this step has neither"),
        (
            "  - {id: a, action: wait, parameters: {seconds: 0}, for_each: 'files'}\n",
            "step 'a': for_each must be a list or one placeholder naming a list",
        ),
        (
            "  - {id: a, action: wait, parameters: {seconds: 0}, for_each: '{filez}'}\n",
            "steps[0].for_each: step 'a': for_each: undefined name 'filez' (did you mean 'files'?)",
        ),
        (
            "  - {id: a, action: wait, parameters: {seconds: 0}, for_each: [1, 2], when: 'item == 1'}\n",
            "steps[0].when: step 'a': when: 'item' is not defined there: a when is decided once for the whole step",
        ),
        (
            "  - {id: 'a[0]', action: wait, parameters: {seconds: 0}}\n"
            "  - {id: a, action: wait, parameters: {seconds: 0}, for_each: [1]}\n",
            "step id 'a[0]' is the name of an instance of fan-out step 'a'",
        ),
    ],
)
def test_fanout_mistakes_are_validation_errors_with_file_line_and_field(tmp_path, flow, message):
    path = write(tmp_path, "id: wf\nvariables: {files: [a]}\nsteps:\n" + flow)
    result = wfe(tmp_path, "validate", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}:4:" in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


FORMATS = {
    "json": '{"id": "fmt", "steps": [{"id": "e", "action": "variable.set", "for_each": [1, 2],'
    ' "max_parallel": 1, "parameters": {"name": "v{item_index}", "value": "{item}"}},'
    ' {"id": "m", "action": "variable.set", "matrix": {"os": ["linux", "mac"]}, "exclude": [{"os": "mac"}],'
    ' "parameters": {"name": "os", "value": "{matrix.os}"}}]}',
    "toml": 'id = "fmt"\n[[steps]]\nid = "e"\naction = "variable.set"\nfor_each = [1, 2]\nmax_parallel = 1\n'
    'parameters = {name = "v{item_index}", value = "{item}"}\n'
    '[[steps]]\nid = "m"\naction = "variable.set"\nmatrix = {os = ["linux", "mac"]}\nexclude = [{os = "mac"}]\n'
    'parameters = {name = "os", value = "{matrix.os}"}\n',
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_fanout_from_json_and_toml(tmp_path, fmt):
    path = tmp_path / f"flow.{fmt}"
    path.write_text(FORMATS[fmt])
    result, _, run = run_json(tmp_path, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(run)["e"] == [1, 2] and outputs(run)["m"] == ["linux"]
    assert run["variables"]["v1"] == 2 and run["variables"]["os"] == "linux"
