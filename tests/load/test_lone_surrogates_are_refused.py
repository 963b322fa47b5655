"""WorkflowLoader refuses lone surrogates (JSON escapes, dicts, keys) with their path, before a run."""

from __future__ import annotations

import pytest

from wfe_core import WorkflowEngine, load_plugins
from wfe_core.load.loader import WorkflowLoader
from wfe_core.model.errors import InvalidWorkflowError


@pytest.mark.parametrize(
    "text",
    [
        # JSON's \uXXXX escapes can spell a lone surrogate, which no UTF-8 sink (store, logs) can hold.
        '{"id": "w", "name": "x", "steps": [{"id": "a", "action": "wait", "parameters": {"s": "\\ud800"}}]}',
        '{"id": "w\\udc00", "name": "x", "steps": []}',
        '{"id": "w", "name": "x", "variables": {"k\\ud800": 1}, "steps": []}',
    ],
)
def test_json_lone_surrogates_are_refused_with_their_path(text):
    with pytest.raises(InvalidWorkflowError) as info:
        WorkflowLoader().load_from_string(text, "json")
    message = str(info.value)
    assert "surrogate" in message
    assert "Traceback" not in message


def test_a_lone_surrogate_in_a_dict_is_refused_before_a_run():
    data = {
        "id": "w",
        "name": "x",
        "steps": [{"id": "a", "action": "variable.set", "parameters": {"name": "v", "value": "\ud800"}}],
    }
    with pytest.raises(InvalidWorkflowError, match=r"steps\[0\]\.parameters\.value: .*surrogate"):
        WorkflowLoader().load_from_dict(data)


def test_valid_non_ascii_json_still_loads_and_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    text = (
        '{"id": "w", "name": "x", "steps": [{"id": "a", "action": "variable.set",'
        ' "parameters": {"name": "v", "value": "\\ud83d\\ude00 \\u00e9"}}]}'
    )
    workflow = WorkflowLoader().load_from_string(text, "json")
    assert workflow.steps[0].parameters["value"] == "\U0001f600 \u00e9"
    engine = WorkflowEngine(max_concurrent_steps=1, plugins=load_plugins(autoload=False))
    try:
        assert engine.run(workflow).status.name == "SUCCEEDED"
    finally:
        engine.cleanup()


def test_a_lone_surrogate_in_an_unknown_key_gives_a_printable_message():
    text = '{"id": "w", "name": "x", "bogus\\ud800": 1, "steps": []}'
    with pytest.raises(InvalidWorkflowError) as info:
        WorkflowLoader().load_from_string(text, "json")
    str(info.value).encode("utf-8")  # what the CLI prints must be encodable
    assert "bogus\\ud800: string contains a lone surrogate" in str(info.value)
