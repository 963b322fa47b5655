"""WorkflowLoader: the three formats, round trips, and the exact messages users see."""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from wfe_core.load import loader as loader_module
from wfe_core.load.loader import MAX_EXPANDED_NODES, MAX_FILE_BYTES, WorkflowLoader
from wfe_core.model.errors import InvalidWorkflowError
from wfe_core.model.workflow import Workflow, WorkflowStep

DATA = Path(__file__).parent / "data" / "loader"
FORMATS = ["yaml", "json", "toml"]
USES_LIBYAML = loader_module._YAML_LOADER is getattr(yaml, "CSafeLoader", None)


@pytest.fixture
def loader() -> WorkflowLoader:
    return WorkflowLoader()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(load, *args) -> str:
    with pytest.raises(InvalidWorkflowError) as info:
        load(*args)
    assert info.value.problems, "an InvalidWorkflowError must carry problems"
    return str(info.value)


# --- loading and writing back ----------------------------------------------------------


def test_the_three_formats_load_to_equal_workflows(loader):
    loaded = [loader.load_from_file(DATA / f"example.{ext}") for ext in ("yaml", "json", "toml")]
    assert loaded[0] == loaded[1] == loaded[2]
    workflow = loaded[0]
    assert workflow.name == "Deploy the app"
    assert [s.id for s in workflow.steps] == ["build", "test", "ship"]
    build, test, ship = workflow.steps
    assert build.timeout == 120.0 and build.max_retries == 2 and build.name == "build"
    assert build.parameters == {"command": "make build", "env": {"CC": "gcc"}}
    assert test.critical is False and test.parallel_group == "checks"
    assert ship.dependencies == ("build", "test") and ship.rollback_parameters == {"path": "/srv/app"}


def test_yml_suffix_and_upper_case_suffix_are_yaml(loader, tmp_path):
    text = (DATA / "example.yaml").read_text()
    expected = loader.load_from_file(DATA / "example.yaml")
    assert loader.load_from_file(write(tmp_path, "a.yml", text)) == expected
    assert loader.load_from_file(write(tmp_path, "b.YAML", text)) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_dump_then_load_round_trips(loader, fmt):
    workflow = loader.load_from_file(DATA / "example.yaml")
    assert loader.load_from_string(loader.dump(workflow, fmt), fmt) == workflow


@pytest.mark.parametrize("fmt", FORMATS)
def test_save_then_load_file_round_trips(loader, tmp_path, fmt):
    workflow = loader.load_from_file(DATA / "example.toml")
    path = tmp_path / f"saved.{fmt}"
    loader.save(workflow, path)
    assert loader.load_from_file(path) == workflow


def test_dump_leaves_out_defaults(loader):
    workflow = Workflow(id="w", steps=(WorkflowStep(id="a", action="wait", parallel_group=None),))
    assert loader.dump(workflow, "yaml") == "id: w\nsteps:\n- id: a\n  action: wait\n"
    assert json.loads(loader.dump(workflow, "json")) == {"id": "w", "steps": [{"id": "a", "action": "wait"}]}
    assert tomllib.loads(loader.dump(workflow, "toml")) == {"id": "w", "steps": [{"id": "a", "action": "wait"}]}


def test_dump_keeps_values_that_differ_from_defaults(loader):
    step = WorkflowStep(id="a", action="wait", name="Wait", timeout=5.5, critical=False, dependencies=("b",))
    text = loader.dump(Workflow(id="w", name="W", steps=(WorkflowStep(id="b", action="wait"), step)), "yaml")
    assert text == (
        "id: w\nname: W\nsteps:\n- id: b\n  action: wait\n"
        "- id: a\n  action: wait\n  name: Wait\n  dependencies:\n  - b\n  timeout: 5.5\n  critical: false\n"
    )


def test_yaml_dump_quotes_strings_yaml_would_read_as_booleans(loader):
    workflow = Workflow(id="w", variables={"switch": "on", "answer": "yes"})
    assert loader.load_from_string(loader.dump(workflow, "yaml"), "yaml") == workflow


def test_null_in_parameters_cannot_be_written_to_toml(loader, tmp_path):
    workflow = Workflow(id="w", steps=(WorkflowStep(id="a", action="wait", parameters={"seconds": None}),))
    assert error_of(loader.dump, workflow, "toml") == (
        "steps[0].parameters.seconds: cannot write null to TOML (TOML has no null); remove it or use another value"
    )
    target = tmp_path / "w.toml"
    assert error_of(loader.save, workflow, target) == (
        f"{target}: steps[0].parameters.seconds: cannot write null to TOML (TOML has no null); "
        "remove it or use another value"
    )
    assert not target.exists()
    assert loader.load_from_string(loader.dump(workflow, "json"), "json") == workflow


def test_load_from_dict(loader):
    workflow = loader.load_from_dict({"id": "w", "steps": [{"id": "a", "action": "wait"}]})
    assert workflow == Workflow(id="w", steps=(WorkflowStep(id="a", action="wait"),))


def test_a_byte_order_mark_is_ignored(loader, tmp_path):
    path = tmp_path / "w.json"
    path.write_bytes(b'\xef\xbb\xbf{"id": "w"}')
    assert loader.load_from_file(path) == Workflow(id="w")


# --- bad input: what the user reads -----------------------------------------------------

STEPS_HEAD = "id: demo\nsteps:\n  - id: build\n    action: shell.execute\n"


def test_misspelled_key_gets_did_you_mean_and_yaml_line(loader, tmp_path):
    path = write(tmp_path, "example.yaml", STEPS_HEAD + "    dependecies: [setup]\n")
    assert error_of(loader.load_from_file, path) == (
        f"{path}:5: steps[0].dependecies: unknown key 'dependecies' (did you mean 'dependencies'?)"
    )


def test_wrong_type_names_path_and_line(loader, tmp_path):
    path = write(tmp_path, "example.yaml", STEPS_HEAD + "    timeout: abc\n")
    assert error_of(loader.load_from_file, path) == f"{path}:5: steps[0].timeout: expected a number, got string 'abc'"


def test_quoted_false_is_not_a_boolean(loader, tmp_path):
    path = write(tmp_path, "example.yaml", STEPS_HEAD + '    critical: "false"\n')
    assert error_of(loader.load_from_file, path) == (
        f"{path}:5: steps[0].critical: expected true or false, got string 'false'"
    )


def test_yaml_1_1_booleans_are_not_strings(loader):
    assert error_of(loader.load_from_string, STEPS_HEAD.replace("shell.execute", "on"), "yaml") == (
        "<string>:4: steps[0].action: expected a string, got boolean true"
    )


def test_model_checks_get_a_line_too(loader):
    assert error_of(loader.load_from_string, STEPS_HEAD + "    timeout: -1\n", "yaml") == (
        "<string>:5: steps[0].timeout: step 'build': timeout must be a positive number of seconds, got -1.0"
    )


def test_missing_required_key_points_at_the_enclosing_mapping(loader):
    assert error_of(loader.load_from_string, "id: demo\nsteps:\n  - id: build\n", "yaml") == (
        "<string>:3: steps[0].action: is required but missing"
    )


def test_several_problems_are_reported_at_once_in_document_order(loader, tmp_path):
    path = write(
        tmp_path,
        "example.yaml",
        "id: demo\n"
        "desc: typo\n"
        "steps:\n"
        "  - id: build\n"
        "    action: shell.execute\n"
        "    timeout: abc\n"
        "  - id: test\n"
        "    action: shell.execute\n"
        "    max_retries: 1.5\n"
        "    critical: 'no'\n",
    )
    with pytest.raises(InvalidWorkflowError) as info:
        loader.load_from_file(path)
    assert str(info.value).splitlines() == [
        f"{path}:2: desc: unknown key 'desc'",
        f"{path}:6: steps[0].timeout: expected a number, got string 'abc'",
        f"{path}:9: steps[1].max_retries: expected a whole number, got number 1.5",
        f"{path}:10: steps[1].critical: expected true or false, got string 'no'",
    ]
    problem = info.value.problems[1]
    assert (problem.source, problem.path, problem.line) == (str(path), "steps[0].timeout", 6)


def test_duplicate_step_ids_are_reported_with_other_field_errors(loader):
    text = STEPS_HEAD + "  - id: build\n    action: wait\n    timeout: soon\n"
    assert error_of(loader.load_from_string, text, "yaml").splitlines() == [
        "<string>:5: steps[1].id: duplicate step id 'build' (first used by steps[0])",
        "<string>:7: steps[1].timeout: expected a number, got string 'soon'",
    ]


def test_duplicate_step_ids_alone_are_reported_once(loader):
    text = STEPS_HEAD + "  - id: build\n    action: wait\n"
    assert error_of(loader.load_from_string, text, "yaml") == (
        "<string>:5: steps[1].id: duplicate step id 'build' (first used by steps[0])"
    )


def test_json_structural_errors_get_lines(loader, tmp_path):
    text = '{\n  "id": "w",\n  "steps": [\n    {"id": "a", "action": "b", "timeout": "x"}\n  ]\n}'
    path = write(tmp_path, "w.json", text)
    assert error_of(loader.load_from_file, path) == f"{path}:4: steps[0].timeout: expected a number, got string 'x'"


def test_toml_structural_errors_name_the_path(loader, tmp_path):
    path = write(tmp_path, "w.toml", 'id = "w"\n[[steps]]\nid = "a"\naction = "b"\nretries = 3\n')
    assert error_of(loader.load_from_file, path) == (
        f"{path}: steps[0].retries: unknown key 'retries' (did you mean 'max_retries'?)"
    )


def test_load_from_dict_names_the_source_and_path(loader):
    data = {"id": "w", "steps": [{"id": "a", "action": "b", "timout": 5}]}
    assert error_of(loader.load_from_dict, data) == (
        "<dict>: steps[0].timout: unknown key 'timout' (did you mean 'timeout'?)"
    )
    assert error_of(loader.load_from_dict, ["not", "a", "mapping"]) == (
        "<dict>: expected a mapping at the top level, got a list"
    )


def test_steps_must_be_a_list_of_mappings(loader):
    assert error_of(loader.load_from_string, "id: w\nsteps: build\n", "yaml") == (
        "<string>:2: steps: expected a list of steps, got string 'build'"
    )
    assert error_of(loader.load_from_string, "id: w\nsteps:\n  - build\n  - id: a\n    action: b\n", "yaml") == (
        "<string>:3: steps[0]: expected a mapping (one step), got string 'build'"
    )


def test_top_level_must_be_a_mapping(loader):
    assert error_of(loader.load_from_string, "- id: w\n", "yaml") == (
        "<string>:1: expected a mapping at the top level, got a list"
    )
    assert error_of(loader.load_from_string, "[1, 2]", "json") == (
        "<string>: expected a mapping at the top level, got a list"
    )


def test_non_string_keys_are_refused(loader):
    assert error_of(loader.load_from_string, "id: w\n1: x\n", "yaml") == (
        "<string>:2: 1: key must be a string, got integer 1 (quote it)"
    )
    text = STEPS_HEAD + "    parameters:\n      2: two\n"
    assert error_of(loader.load_from_string, text, "yaml") == (
        "<string>:6: steps[0].parameters.2: key must be a string, got integer 2 (quote it)"
    )


def test_dates_are_refused_with_a_hint(loader):
    text = STEPS_HEAD + "    parameters:\n      day: 2024-01-31\n"
    assert error_of(loader.load_from_string, text, "yaml") == (
        "<string>:6: steps[0].parameters.day: unsupported value of type date (quote it to keep it a string)"
    )


def test_unsafe_yaml_tags_are_refused(loader):
    assert error_of(loader.load_from_string, "id: !!python/object/apply:os.system [echo]\n", "yaml") == (
        "<string>:1:5: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"
    )


# --- syntax errors ------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column(loader, tmp_path):
    path = write(tmp_path, "example.yaml", "id: demo\nsteps:\n  - id: a: b\n")
    detail = "mapping values are not allowed " + ("in this context" if USES_LIBYAML else "here")
    assert error_of(loader.load_from_file, path) == f"{path}:3:10: invalid YAML: {detail}"


def test_two_yaml_documents_are_refused(loader):
    assert error_of(loader.load_from_string, "id: a\n---\nid: b\n", "yaml") == (
        "<string>:2:1: invalid YAML: but found another document"
    )


def test_json_syntax_error_has_line_and_column(loader, tmp_path):
    path = write(tmp_path, "example.json", '{\n  "id": "w",\n  "steps": [\n    {"id": "a" "action": "b"}\n  ]\n}\n')
    assert error_of(loader.load_from_file, path) == f"{path}:4:16: invalid JSON: expecting ',' delimiter"


def test_toml_syntax_error_has_line_and_column(loader, tmp_path):
    path = write(tmp_path, "example.toml", 'id = "w"\nname = = "x"\n')
    assert error_of(loader.load_from_file, path) == f"{path}:2:8: invalid TOML: invalid value"


def test_toml_error_at_end_of_document(loader):
    message = error_of(loader.load_from_string, 'id = "w"\ntags = [1,', "toml")
    assert message == "<string>:2: invalid TOML: invalid value"


def test_deep_nesting_is_refused(loader):
    message = error_of(loader.load_from_string, '{"id": ' + "[" * 100_000 + "]" * 100_000 + "}", "json")
    assert message == "<string>: document is nested too deeply"


def test_huge_integers_are_refused(loader):
    assert error_of(loader.load_from_string, '{"id": ' + "9" * 5000 + "}", "json").startswith(
        "<string>: invalid JSON: Exceeds the limit (4300 digits) for integer string conversion"
    )


# --- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.yaml", "empty.json", "empty.toml"])
def test_empty_file(loader, tmp_path, name):
    path = write(tmp_path, name, "  \n\n")
    assert error_of(loader.load_from_file, path) == f"{path}: file is empty"


def test_yaml_file_with_only_comments_is_empty(loader, tmp_path):
    path = write(tmp_path, "w.yaml", "# nothing yet\n")
    assert error_of(loader.load_from_file, path) == f"{path}: file is empty"


def test_unknown_suffix(loader, tmp_path):
    path = write(tmp_path, "workflow.txt", "id: w\n")
    assert error_of(loader.load_from_file, path) == (
        f"{path}: unsupported file suffix '.txt' (use one of .json, .toml, .yaml, .yml)"
    )
    path = write(tmp_path, "workflow", "id: w\n")
    assert error_of(loader.load_from_file, path) == f"{path}: file has no suffix (use one of .json, .toml, .yaml, .yml)"
    assert error_of(loader.save, Workflow(id="w"), tmp_path / "w.ini") == (
        f"{tmp_path / 'w.ini'}: unsupported file suffix '.ini' (use one of .json, .toml, .yaml, .yml)"
    )


def test_unknown_format_name(loader):
    assert error_of(loader.load_from_string, "id: w", "yml") == (
        "<string>: unknown format 'yml' (use one of yaml, json, toml)"
    )
    assert error_of(loader.dump, Workflow(id="w"), "xml") == "unknown format 'xml' (use one of yaml, json, toml)"


def test_missing_file(loader, tmp_path):
    path = tmp_path / "nowhere.yaml"
    assert error_of(loader.load_from_file, path) == f"{path}: file not found"


def test_directory_instead_of_file(loader, tmp_path):
    path = tmp_path / "dir.yaml"
    path.mkdir()
    assert error_of(loader.load_from_file, path) == f"{path}: cannot read file: is a directory"


def test_non_utf8_file(loader, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: w\nname: caf\u00e9\n".encode("latin-1"))
    assert error_of(loader.load_from_file, path) == f"{path}:2:10: file is not UTF-8 text (byte 0xe9)"


# --- hostile input ---------------------------------------------------------------------------


def test_oversize_file_is_refused_before_parsing(loader, tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: big, and not valid YAML if it were read
    assert error_of(loader.load_from_file, path) == (
        f"{path}: input is 10,485,761 bytes, more than the limit of 10,485,760 bytes"
    )


def test_oversize_string_is_refused(loader):
    text = "id: w\n" + "#" * MAX_FILE_BYTES
    assert error_of(loader.load_from_string, text, "yaml") == (
        "<string>: input is 10,485,766 bytes, more than the limit of 10,485,760 bytes"
    )


def test_yaml_alias_bomb_is_refused_quickly(loader, tmp_path):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        name, below = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{below}'] * 9)}]")
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\nid: w\n")
    started = time.perf_counter()
    message = error_of(loader.load_from_file, path)
    assert time.perf_counter() - started < 2
    assert message == f"{path}: document expands to more than 1,000,000 nodes through YAML aliases (alias bomb?)"


def test_modest_aliases_are_fine(loader):
    text = "id: w\nvariables:\n  base: &base {region: eu, size: 2}\n  copy: *base\n"
    assert loader.load_from_string(text, "yaml").variables["copy"] == {"region": "eu", "size": 2}
    assert MAX_EXPANDED_NODES == 1_000_000


def test_recursive_yaml_alias_is_refused(loader):
    assert error_of(loader.load_from_string, "id: w\nvariables: &v {self: *v}\n", "yaml") == (
        "<string>:2: a YAML alias refers to a node that contains it"
    )
