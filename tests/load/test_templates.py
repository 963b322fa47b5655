"""Templates with wfe-core alone: checking variables (API and CLI), custom template
directories, plugin-provided templates, and built-ins that need a plugin not installed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from wfe_core import WorkflowLoader, load_plugins
from wfe_core.load.templates import load_template_file
from wfe_core.model.errors import InvalidWorkflowError, PluginError
from wfe_core.plugin import hookimpl

CORE_TEMPLATE = """\
template:
  description: Check a release number, core actions only.
  parameters:
    - {name: version, required: true, pattern: "[0-9]+[.][0-9]+", description: the release number}
    - {name: stage, default: beta, allowed: [alpha, beta, final]}
    - {name: copies, type: integer, default: 1}
    - {name: ratio, type: number, default: 0.5}
    - {name: loud, type: boolean, default: false}
workflow:
  id: release_{version}
  variables: {label: "v{version}-{stage}"}
  steps:
    - id: remember
      action: variable.set
      parameters: {name: tag, value: "{label}"}
    - id: check
      action: validate.condition
      parameters: {value: "{tag}", matches: "^v[0-9]"}
      dependencies: [remember]
    - id: final_only
      action: wait
      parameters: {seconds: 0}
      conditions: {stage: final}
"""


@pytest.fixture
def template_dir(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "release.yaml").write_text(CORE_TEMPLATE)
    return folder


def _load(template_dir, plugins, variables):
    return WorkflowLoader().load_from_template("release", variables, template_path=[template_dir], plugins=plugins)


def _message(template_dir, plugins, variables) -> str:
    with pytest.raises(InvalidWorkflowError) as info:
        _load(template_dir, plugins, variables)
    return str(info.value)


def test_rendering_fills_the_variables_and_the_workflow_header(template_dir, plugins):
    workflow = _load(template_dir, plugins, {"version": "2.1", "copies": 3})
    assert workflow.id == "release_2.1"
    assert workflow.variables == {
        "version": "2.1",
        "stage": "beta",
        "copies": 3,
        "ratio": 0.5,
        "loud": False,
        "label": "v2.1-beta",
    }


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "template 'release': parameter 'version' is required but missing: the release number"),
        (
            {"version": "2.1", "stag": "final"},
            "template 'release': unknown parameter 'stag' (did you mean 'stage'?); "
            "parameters: version, stage, copies, ratio, loud",
        ),
        (
            {"version": "2.1", "stage": "gamma"},
            "template 'release': parameter 'stage': 'gamma' is not one of alpha, beta, final",
        ),
        (
            {"version": "two"},
            "template 'release': parameter 'version': 'two' does not match the pattern [0-9]+[.][0-9]+",
        ),
        (
            {"version": "2.1", "copies": "3"},
            "template 'release': parameter 'copies': expected a whole number, got string '3'",
        ),
        (
            {"version": "2.1", "copies": True},
            "template 'release': parameter 'copies': expected a whole number, got boolean true",
        ),
        (
            {"version": "2.1", "loud": "yes"},
            "template 'release': parameter 'loud': expected true or false, got string 'yes'",
        ),
        ({"version": 2.1}, "template 'release': parameter 'version': expected a string, got number 2.1"),
        (
            {"version": "2.1", "ratio": float("nan")},
            "template 'release': parameter 'ratio': expected a finite number, got nan",
        ),
    ],
)
def test_bad_variables_are_one_line_errors_naming_template_and_parameter(template_dir, plugins, variables, expected):
    assert _message(template_dir, plugins, variables) == expected


def test_every_bad_variable_is_reported_at_once(template_dir, plugins):
    lines = _message(template_dir, plugins, {"stage": "x", "ratio": "y"}).splitlines()
    assert len(lines) == 3 and all(line.startswith("template 'release': parameter '") for line in lines)


def test_an_unknown_template_has_a_did_you_mean(plugins):
    with pytest.raises(
        InvalidWorkflowError,
        match="unknown template 'deployment_workfow' "
        r"\(did you mean 'deployment_workflow'\?\)",
    ):
        WorkflowLoader().load_from_template("deployment_workfow", {}, plugins=plugins)


def test_built_ins_are_listed_and_say_which_distribution_their_steps_need(plugins):
    entries = {e.template.name: e for e in WorkflowLoader().list_templates(plugins=plugins)}
    assert set(entries) == {
        "simple_file_workflow",
        "api_integration_workflow",
        "deployment_workflow",
        "data_processing_workflow",
    }
    assert entries["deployment_workflow"].origin == "wfe-core"
    assert entries["deployment_workflow"].missing == ("wfe-shell", "wfe-file", "wfe-http")
    with pytest.raises(InvalidWorkflowError) as info:
        WorkflowLoader().load_from_template("deployment_workflow", {"app_name": "myapp"}, plugins=plugins)
    assert (
        "template 'deployment_workflow': its steps use action 'http.get', which is not installed; "
        "it is provided by the wfe-http distribution (pip install wfe-http)"
    ) in str(info.value).splitlines()


def test_a_plugin_replaces_a_built_in_by_name_and_two_plugins_clash(tmp_path):
    (tmp_path / "mine.yaml").write_text(CORE_TEMPLATE)
    mine = load_template_file(tmp_path / "mine.yaml", name="deployment_workflow")

    class Plugin:
        @hookimpl
        def wfe_templates(self):
            return [mine]

    plugins = load_plugins(autoload=False, extra={"mine": Plugin()})
    entry = {e.template.name: e for e in WorkflowLoader().list_templates(plugins=plugins)}["deployment_workflow"]
    assert entry.template is mine and entry.origin == "plugin 'mine'"
    with pytest.raises(
        PluginError, match="template 'deployment_workflow' is provided by both plugin 'mine' and plugin 'other'"
    ):
        load_plugins(autoload=False, extra={"mine": Plugin(), "other": Plugin()})


def test_a_template_directory_wins_over_plugins_and_env_path_works(tmp_path, template_dir, plugins, monkeypatch):
    (template_dir / "simple_file_workflow.yaml").write_text(CORE_TEMPLATE)
    monkeypatch.setenv("WFE_TEMPLATE_PATH", str(template_dir))
    entries = {e.template.name: e for e in WorkflowLoader().list_templates(plugins=plugins)}
    assert entries["simple_file_workflow"].origin == f"directory {template_dir}"
    assert entries["release"].missing == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "template: {parameters: [{name: n, type: text}]}\nworkflow: {id: w, steps: []}\n",
            "template.parameters[0].type: template 'bad': parameter 'n': unknown type 'text' "
            "(use one of string, path, integer, number, boolean)",
        ),
        (
            "template: {parameters: [{name: n, default: 5}]}\nworkflow: {id: w, steps: []}\n",
            "template 'bad': parameter 'n': default: expected a string, got integer 5",
        ),
        (
            "template: {parameters: [{name: n, pattern: '('}]}\nworkflow: {id: w, steps: []}\n",
            "template 'bad': parameter 'n': invalid pattern",
        ),
        (
            "template: {paramters: []}\nworkflow: {id: w, steps: []}\n",
            "bad.yaml:1: template.paramters: unknown key 'paramters' (did you mean 'parameters'?)",
        ),
    ],
)
def test_a_broken_template_file_says_what_is_wrong(tmp_path, text, expected):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(InvalidWorkflowError) as info:
        load_template_file(tmp_path / "bad.yaml")
    assert expected in str(info.value)


def test_a_mistake_in_a_template_workflow_names_its_file_and_line(tmp_path, plugins):
    (tmp_path / "t.yaml").write_text(CORE_TEMPLATE.replace("parameters: {seconds: 0}", "timeout: soon"))
    with pytest.raises(InvalidWorkflowError) as info:
        WorkflowLoader().load_from_template("t", {"version": "1.0"}, template_path=[tmp_path], plugins=plugins)
    assert (
        str(info.value) == f"{tmp_path / 't.yaml'}:22: workflow.steps[2].timeout: expected a number, got string 'soon'"
    )


# --- Through the wfe process ---------------------------------------------------------


def _wfe(tmp_path, *args):
    env = {**os.environ, "WFE_DISABLE_PLUGIN_AUTOLOAD": "1", "WFE_STORE": str(tmp_path / "runs.sqlite")}
    env.pop("WFE_TEMPLATE_PATH", None)
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_wfe_run_template_converts_var_text_to_the_declared_types(tmp_path, template_dir):
    done = _wfe(
        tmp_path,
        "run",
        "--template",
        "release",
        "--template-path",
        str(template_dir),
        "--var",
        "version=3.0",
        "--var",
        "copies=2",
        "--var",
        "loud=yes",
        "--var",
        "stage=final",
    )
    assert done.returncode == 0, done.stderr
    assert " succeeded: 3 succeeded, 0 failed, 0 skipped, 0 cancelled (of 3)" in done.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--var", "copies=many"],
            "error: template 'release': parameter 'copies': expected a whole number, got string 'many'",
        ),
        (
            ["--var", "version=1.0", "--var", "loud=maybe"],
            "error: template 'release': parameter 'loud': expected true or false, got string 'maybe'",
        ),
        (
            ["--var", "version=1.0", "--var", "stage=gold"],
            "error: template 'release': parameter 'stage': 'gold' is not one of alpha, beta, final",
        ),
        (
            ["--var", "version=1.0", "--var", "verison=2"],
            "error: template 'release': unknown parameter 'verison' "
            "(did you mean 'version'?); parameters: version, stage, "
            "copies, ratio, loud",
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "new"])
def test_bad_variables_through_the_cli_exit_2_with_one_line_each(tmp_path, template_dir, command, args, expected):
    target = ["--template", "release"] if command == "run" else ["release"]
    done = _wfe(tmp_path, command, *target, "--template-path", str(template_dir), *args)
    assert done.returncode == 2
    assert expected in done.stderr.splitlines()
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_wfe_new_needs_an_installed_plugin_for_a_built_in(tmp_path):
    done = _wfe(tmp_path, "new", "simple_file_workflow")
    assert done.returncode == 2
    assert (
        "error: template 'simple_file_workflow': its steps use action 'shell.execute', which is not installed; "
        "it is provided by the wfe-shell distribution (pip install wfe-shell)"
    ) in done.stderr.splitlines()


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
def test_wfe_new_writes_a_loadable_file_in_the_format_of_its_suffix(tmp_path, template_dir, suffix):
    out = tmp_path / f"release{suffix}"
    done = _wfe(
        tmp_path, "new", "release", "--template-path", str(template_dir), "--var", "version=1.2", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    first = {
        ".yaml": "# yaml-language-server: $schema=wfe.schema.json",
        ".toml": "#:schema wfe.schema.json",
        ".json": "{",
    }[suffix]
    assert text.splitlines()[0] == first
    assert (tmp_path / "wfe.schema.json").exists() == (suffix != ".json")
    workflow = WorkflowLoader().load_from_file(out)
    assert workflow.id == "release_1.2" and workflow.variables["version"] == "1.2"
    assert _wfe(tmp_path, "run", str(out)).returncode == 0


def test_wfe_new_keeps_an_existing_file_and_reports_unwritable_ones(tmp_path, template_dir):
    out = tmp_path / "mine.yaml"
    out.write_text("edited by hand\n")
    args = ["new", "release", "--template-path", str(template_dir), "--var", "version=1.2", "-o"]
    done = _wfe(tmp_path, *args, str(out))
    assert done.returncode == 2 and done.stderr == f"error: {out} exists; use --force to replace it\n"
    assert out.read_text() == "edited by hand\n"
    assert _wfe(tmp_path, *args, str(out), "--force").returncode == 0
    assert out.read_text().startswith("# yaml-language-server")
    done = _wfe(tmp_path, *args, str(tmp_path / "no" / "such" / "dir.yaml"))
    assert done.returncode == 2 and "error: cannot write" in done.stderr and "Traceback" not in done.stderr
    done = _wfe(tmp_path, "new", "release", "--template-path", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_wfe_templates_lists_name_source_description_and_parameters(tmp_path, template_dir):
    done = _wfe(tmp_path, "templates", "--template-path", str(template_dir))
    assert done.returncode == 0, done.stderr
    assert f"release  [directory {template_dir}]" in done.stdout.splitlines()
    assert '    --var stage=<string>  (default "beta", one of alpha, beta, final)  ' in done.stdout.splitlines()
    assert "    needs: wfe-shell, wfe-file, wfe-http (not installed)" in done.stdout.splitlines()


def test_wfe_run_wants_a_file_or_a_template(tmp_path):
    done = _wfe(tmp_path, "run")
    assert done.returncode == 2 and "give a workflow FILE or --template NAME" in done.stderr


def test_schema_for_whole_files_is_2020_12_and_validates_with_core_actions(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    import json

    done = _wfe(tmp_path, "schema", "--workflow")
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    check = jsonschema.Draft202012Validator(schema)
    core_only = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "core-only.yaml")))
    assert not list(check.iter_errors(core_only))
    assert list(check.iter_errors({"id": "w", "steps": [{"id": "a", "action": "file.write"}]}))
