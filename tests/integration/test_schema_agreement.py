"""`wfe schema --workflow` agrees with the loader + validator on which files are valid.

Valid: every example file and every built-in template rendered by `wfe new`. Invalid: a
corpus of one mistake each. Both sides judge every file; they must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from wfe_core import WorkflowLoader, WorkflowValidator, load_plugins
from wfe_core.model.errors import InvalidWorkflowError

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "source_url": "http://127.0.0.1:1/a",
    "target_url": "http://127.0.0.1:1/b",
    "app_name": "x",
    "input_dir": "data",
}

BASE = "id: wf\nsteps:\n"
INVALID = {
    "unknown top-level key": "id: wf\nstep: []\n",
    "unknown step key": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, dependecies: []}\n",
    "unknown parameter": BASE + "  - {id: a, action: wait, parameters: {seconds: 1, minutes: 2}}\n",
    "unknown templated parameter": BASE + "  - {id: a, action: file.read, parameters: {path: '{p}', enc: x}}\n",
    "unknown action": BASE + "  - {id: a, action: file.wirte, parameters: {path: x, content: y}}\n",
    "unknown rollback action": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, rollback_action: undo}\n",
    "missing required parameter": BASE + "  - {id: a, action: file.write, parameters: {path: x}}\n",
    "missing parameters altogether": BASE + "  - {id: a, action: shell.execute}\n",
    "missing templated required parameter": BASE + "  - {id: a, action: file.write, parameters: {path: '{p}'}}\n",
    "parameter of the wrong type": BASE + "  - {id: a, action: wait, parameters: {seconds: soon}}\n",
    "boolean for a number": BASE + "  - {id: a, action: http.get, parameters: {url: 'http://h/', timeout: true}}\n",
    "nested parameter of the wrong type": BASE + "  - {id: a, action: http.get, parameters: "
    "{url: 'http://h/', auth: {token: 5}}}\n",
    "rollback parameter of the wrong type": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, "
    "rollback_action: file.delete, rollback_parameters: {path: 1}}\n",
    "string for critical": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, critical: 'false'}\n",
    "negative timeout": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, timeout: -1}\n",
    "fractional retries": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, max_retries: 1.5}\n",
    "backoff below one": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, retry_backoff: 0.5}\n",
    "step without action": BASE + "  - {id: a}\n",
    "step without id": BASE + "  - {action: wait, parameters: {seconds: 1}}\n",
    "blank workflow id": "id: ' '\nsteps: []\n",
    "no workflow id": "steps: []\n",
    "steps not a list": "id: wf\nsteps: {a: 1}\n",
    "dependency listed twice": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}}\n"
    "  - {id: b, action: wait, parameters: {seconds: 1}, dependencies: [a, a]}\n",
    "reserved variable name": "id: wf\nvariables: {steps: 1}\nsteps: []\n",
    "secrets not strings": "id: wf\nsecrets: [1]\nsteps: []\n",
    "unknown trigger": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, trigger: allways}\n",
    "zero units of a resource": "id: wf\nresources: {db: 0}\nsteps: []\n",
    "step resources not names": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, resources: 5}\n",
    "when not a string": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, when: 5}\n",
    "for_each neither a list nor a placeholder": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, "
    "for_each: 5}\n",
    "for_each and matrix together": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, for_each: [1], "
    "matrix: {os: [linux]}}\n",
    "empty matrix axis": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, matrix: {os: []}}\n",
    "exclude without matrix": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, for_each: [1], "
    "exclude: [{os: linux}]}\n",
    "max_parallel zero": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, for_each: [1], max_parallel: 0}\n",
    "max_parallel without fan-out": BASE + "  - {id: a, action: wait, parameters: {seconds: 1}, max_parallel: 2}\n",
}


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


# 2020-12 as published; draft-07 because the VS Code YAML extension validates with draft-07
# semantics, so the schema must use only keywords that mean the same in both.
@pytest.fixture(scope="module", params=["Draft202012Validator", "Draft7Validator"])
def validator(plugins, request):
    from wfe_core.load.schema import workflow_schema

    cls = getattr(jsonschema, request.param)
    schema = workflow_schema(plugins.actions)
    cls.check_schema(schema)
    return cls(schema)


def _loader_says_valid(path: Path, plugins) -> bool:
    try:
        workflow = WorkflowLoader().load_from_file(path)
    except InvalidWorkflowError:
        return False
    return WorkflowValidator(plugins).validate(workflow).is_valid


def _schema_says_valid(path: Path, validator) -> bool:
    data = yaml.safe_load(path.read_text()) if path.suffix != ".json" else json.loads(path.read_text())
    return not list(validator.iter_errors(data))


def _valid_files(tmp_path: Path) -> list[Path]:
    files = sorted(ROOT.glob("examples/*.yaml"))
    entries = {e.template.name: e for e in WorkflowLoader().list_templates()}
    for name in ("simple_file_workflow", "api_integration_workflow", "deployment_workflow", "data_processing_workflow"):
        entry = entries[name]
        pairs = [f"--var={p.name}={REQUIRED[p.name]}" for p in entry.template.parameters if p.is_required]
        out = tmp_path / f"{name}.wfe.yaml"
        done = subprocess.run(
            [sys.executable, "-m", "wfe_core", "new", name, *pairs, "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        files.append(out)
    return files


def test_schema_and_loader_accept_every_example_and_template(tmp_path, plugins, validator):
    files = _valid_files(tmp_path)
    assert len(files) >= 6
    for path in files:
        assert _loader_says_valid(path, plugins), path
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(yaml.safe_load(path.read_text()))
        ]
        assert not errors, (path, errors[:5])


@pytest.mark.parametrize("case", sorted(INVALID))
def test_schema_and_loader_both_refuse_each_mistake(tmp_path, plugins, validator, case):
    path = tmp_path / "wf.yaml"
    path.write_text(INVALID[case])
    assert not _loader_says_valid(path, plugins), case
    assert not _schema_says_valid(path, validator), case


def test_templated_values_are_left_to_run_time_by_both(tmp_path, plugins, validator):
    # A placeholder where a number belongs: neither side can judge it before the run.
    path = tmp_path / "wf.yaml"
    path.write_text("id: wf\nvariables: {n: 1}\nsteps:\n  - {id: a, action: wait, parameters: {seconds: '{n}'}}\n")
    assert _loader_says_valid(path, plugins)
    assert _schema_says_valid(path, validator)


def test_the_schema_carries_descriptions_defaults_and_what_it_cannot_check(validator):
    schema = validator.schema
    step = schema["$defs"]["step"]["properties"]
    assert step["timeout"]["default"] == 3600.0 and "seconds" in step["timeout"]["description"]
    write = schema["$defs"]["file.write.parameters"]["properties"]
    assert write["create_dirs"]["default"] is True and write["content"]["description"]
    for words in ("cycles", "not upstream", "duplicate step ids"):
        assert words in schema["description"]
