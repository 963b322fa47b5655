"""Property-based fuzzing of the loader and validator: bad input is an
InvalidWorkflowError (exit 2 through `wfe`), never another exception or a traceback.

The corpus mixes malformed YAML/JSON/TOML text, YAML tags with values that do not fit
them, wrong types for every key of a workflow and a step, deep nesting, huge numbers and
NUL bytes. Budgets are small (the whole module runs in well under 30 s) but the
examples are aimed: each strategy produces mostly the kind of input that once crashed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import tomli_w
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe_core import load_plugins
from wfe_core.load.loader import WorkflowLoader
from wfe_core.model.errors import InvalidWorkflowError
from wfe_core.validate.validator import WorkflowValidator

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True, database=None
)

TAGS = [
    "!!bool",
    "!!int",
    "!!float",
    "!!timestamp",
    "!!binary",
    "!!set",
    "!!omap",
    "!!pairs",
    "!!str",
    "!!null",
    "!!map",
    "!!seq",
    "!custom",
    "!!python/object:os.system",
    "!!merge",
    "!!value",
]
ATOMS = [
    "x",
    "''",
    '""',
    "0x",
    "0b",
    "0o",
    "-",
    ".",
    "1e999",
    "-1e999",
    ".nan",
    "9" * 60,
    "9" * 5000,
    "2020-13-45",
    "2020-01-01",
    "2020-01-01T25:00:00",
    "yes",
    "~",
    "null",
    "true",
    "[]",
    "{}",
    "[1, 2]",
    "{a: 1}",
    "&a x",
    "*a",
    "*b",
    "<<: *a",
    "\x00",
    "\u0085",
    "\ud7ff",
    "\t",
    "é",
    "{x}",
    "{steps.a.output}",
]
SYNTAX = [
    "[",
    "]",
    "{",
    "}",
    ",",
    ": ",
    "- ",
    "? ",
    "|",
    ">",
    "#",
    "'",
    '"',
    "\\",
    "\n",
    "\n  ",
    "\n    ",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "&a ",
    "*a ",
    "!!",
    "\x00",
    "\r",
]
STEP_KEYS = [
    "id",
    "action",
    "name",
    "description",
    "parameters",
    "dependencies",
    "timeout",
    "max_retries",
    "retry_delay",
    "retry_backoff",
    "retry_max_delay",
    "critical",
    "parallel_group",
    "conditions",
    "rollback_action",
    "rollback_parameters",
    "unknown_key",
]
WORKFLOW_KEYS = ["id", "name", "description", "metadata", "variables", "secrets", "steps", "unknown_key"]
# Plugin actions are exercised when their distribution is installed (nox "all"), refused otherwise.
ACTIONS = [
    "variable.set",
    "variable.get",
    "wait",
    "validate.condition",
    "no.such",
    "condition",
    "shell.execute",
    "http.get",
    "file.write",
]

_plugins = load_plugins()
_validator = WorkflowValidator(_plugins)
_loader = WorkflowLoader()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**300, -(10**300), 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["\x00", "a\x00b", "{x}", "{steps.a.output}", "{secrets.T}", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(STEP_KEYS)), inner, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def steps(draw):
    step = {
        "id": draw(st.sampled_from(["a", "b", "c"])),
        "action": draw(st.sampled_from(ACTIONS)),
        "parameters": draw(
            st.sampled_from(
                [
                    {},
                    {"name": "v", "value": 1},
                    {"seconds": 0},
                    {"name": "{x}"},
                    {"command": "rm -rf /"},
                    {"command": "x" * 5000},
                    {"command": ["sh", "-c", "echo {x}"]},
                    {"url": "http://user:pw@example.com"},
                    {"path": "/etc/x", "content": "y", "mode": 4095},
                    {"env": {"PASSWORD": "hunter22"}, "command": "true"},
                ]
            )
        ),
    }
    for key in draw(st.lists(st.sampled_from(STEP_KEYS), max_size=3)):
        step[key] = draw(values)
    return step


@st.composite
def workflows(draw):
    doc = {"id": "w", "steps": draw(st.lists(steps(), max_size=3))}
    for key in draw(st.lists(st.sampled_from(WORKFLOW_KEYS), max_size=3)):
        doc[key] = draw(values)
    return doc


def _to_toml(value):
    if value is None:
        return "null"
    if isinstance(value, dict):
        return {str(k): _to_toml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_toml(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def _render(doc, fmt):
    if fmt == "json":
        return json.dumps(doc)
    if fmt == "yaml":
        return yaml.safe_dump(doc)
    return tomli_w.dumps(_to_toml(doc))


def check(text: str, fmt: str) -> None:
    """Load and validate ``text``; anything but InvalidWorkflowError fails the test."""
    try:
        workflow = _loader.load_from_string(text, fmt, source="fuzz")
    except InvalidWorkflowError as exc:
        for problem in exc.problems:
            str(problem).encode("utf-8")  # printable: no lone surrogates in messages
        return
    result = _validator.validate(workflow, strict=True)
    crashed = [p for p in result.problems if "crashed" in p.message]
    assert not crashed, crashed


@FUZZ
@given(st.sampled_from(["a", "b"]), st.sampled_from(STEP_KEYS), st.sampled_from(TAGS), st.sampled_from(ATOMS))
def test_yaml_tags_with_any_value_are_invalid_input_not_crashes(where, key, tag, atom):
    field = f"    {key}: {tag} {atom}\n"
    text = f"id: w\nsteps:\n  - id: {where}\n    action: variable.set\n{field}"
    check(text, "yaml")


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(TAGS + ATOMS + SYNTAX + STEP_KEYS), st.text(max_size=3)), max_size=25))
def test_random_yaml_text_never_crashes(parts):
    check("id: w\nsteps:\n  - " + " ".join(parts), "yaml")
    check("".join(parts), "yaml")


@FUZZ
@given(workflows(), st.sampled_from(["json", "yaml", "toml"]))
def test_wrong_types_for_every_key_never_crash(doc, fmt):
    try:
        text = _render(doc, fmt)
    except (ValueError, TypeError, OverflowError):  # the writer cannot say it in this format
        return
    check(text, fmt)


@FUZZ
@given(
    st.text(alphabet="{}[]:,\"0123456789.eE-+ \n\\u\x00tfnrl=#'ab", max_size=60),
    st.sampled_from(["json", "toml", "yaml"]),
)
def test_malformed_text_in_every_format_never_crashes(text, fmt):
    check(text, fmt)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    st.integers(min_value=1, max_value=20000),
    st.sampled_from(["json-list", "json-map", "yaml-flow", "yaml-block", "toml"]),
)
def test_deep_nesting_never_crashes(depth, shape):
    if shape == "json-list":
        text, fmt = '{"id": "w", "variables": {"v": ' + "[" * depth + "]" * depth + '}, "steps": []}', "json"
    elif shape == "json-map":
        text, fmt = '{"id": "w", "metadata": ' + '{"a": ' * depth + "1" + "}" * depth + ', "steps": []}', "json"
    elif shape == "yaml-flow":
        text, fmt = "id: w\nsteps: []\nvariables: {v: " + "[" * depth + "]" * depth + "}\n", "yaml"
    elif shape == "yaml-block":
        depth = min(depth, 3000)
        text = "id: w\nsteps: []\nmetadata:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(depth))
        fmt = "yaml"
    else:
        text, fmt = 'id = "w"\nsteps = []\n[variables]\nv = ' + "[" * depth + "]" * depth + "\n", "toml"
    check(text, fmt)


# -- through the `wfe` process ------------------------------------------------------------------

CLI_SAMPLES = [
    ("bool-tag.yaml", "id: w\nname: !!bool x\nsteps: []\n"),
    ("int-tag.yaml", "id: w\nname: !!int ''\nsteps: []\n"),
    ("timestamp-tag.yaml", "id: w\nname: !!timestamp x\nsteps: []\n"),
    ("float-tag.yaml", "id: w\nsteps:\n  - id: a\n    action: wait\n    timeout: !!float x\n"),
    ("huge-int.yaml", "id: w\nsteps:\n  - id: a\n    action: wait\n    timeout: !!int " + "9" * 5000 + "\n"),
    ("huge-int.json", '{"id": "w", "steps": [{"id": "a", "action": "wait", "timeout": ' + "9" * 5000 + "}]}"),
    ("deep.json", '{"id": "w", "variables": {"v": ' + "[" * 100000 + "]" * 100000 + '}, "steps": []}'),
    ("deep.yaml", "id: w\nsteps: []\nvariables: {v: " + "[" * 100000 + "]" * 100000 + "}\n"),
    ("nul.yaml", "id: w\x00\nsteps: []\n"),
    ("nul.json", '{"id": "w\\u0000", "steps": [{"id": "a\\u0000", "action": "wait", "parameters": {}}]}'),
    ("bad.toml", 'id = "w"\nsteps = [[[\n'),
    (
        "wrong-types.yaml",
        "id: [1]\nsteps:\n  - id: {a: 1}\n    action: 5\n    dependencies: {x: 1}\n"
        "    timeout: yes\n    max_retries: 1.5\n    critical: 'no'\n    conditions: []\n",
    ),
    ("binary.yaml", "id: w\nsteps: []\nvariables: {v: !!binary aGVsbG8=}\n"),
    ("set.yaml", "id: w\nsteps: []\nvariables: {v: !!set {a, b}}\n"),
]


def test_the_wfe_command_exits_2_without_a_traceback_on_fuzzed_files(tmp_path):
    for name, text in CLI_SAMPLES:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        for command in (["validate", str(path)], ["run", "--no-store", str(path)]):
            proc = subprocess.run(
                [sys.executable, "-m", "wfe_core", *command], capture_output=True, text=True, timeout=120
            )
            assert proc.returncode == 2, (name, command, proc.returncode, proc.stderr[-2000:])
            assert "Traceback" not in proc.stderr, (name, proc.stderr[-2000:])
            assert proc.stderr.startswith("error: "), (name, proc.stderr[:500])
            assert name in proc.stderr.splitlines()[0], (name, proc.stderr[:500])


def test_tag_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text("id: w\nsteps:\n  - id: a\n    action: wait\n    parameters: {seconds: !!float x}\n")
    proc = subprocess.run([sys.executable, "-m", "wfe_core", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {path}:5:")
    assert "!!float" in proc.stderr and "'x'" in proc.stderr
