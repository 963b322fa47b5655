"""Automatic compensation: prepare before the action, compensate after, bytes restored exactly."""

from __future__ import annotations

import json
import os
import stat

import pytest

import wfe_file.plugin
import wfe_file.rollback
from wfe_core.load.convert import structure
from wfe_core.model.errors import ActionError
from wfe_file.params import CopyParams, DeleteParams, WriteParams

ACTIONS = {action.name: action for action in wfe_file.plugin.wfe_actions()}
PARAMS = {"file.write": WriteParams, "file.delete": DeleteParams, "file.copy": CopyParams}

#: Not valid UTF-8, NULs, CR/LF: anything a text round trip would damage.
AWKWARD = bytes(range(256)) + b"\r\n\x00\xff\xfe tail"


def run_with_rollback(name: str, params: dict, context):
    """Do what the engine does: prepare, call, keep the memo as JSON; return (output, memo)."""
    action = ACTIONS[name]
    structured = structure(params, PARAMS[name])
    memo = json.loads(json.dumps(action.rollback.prepare(structured, context)))
    output = action.func(structured, context)
    return structured, output, memo


def compensate(name: str, structured, context, memo, output) -> None:
    ACTIONS[name].rollback.compensate(structured, context, memo, output)


def test_changing_actions_declare_their_rollback():
    for name in ("file.write", "file.delete", "file.copy"):
        handler = ACTIONS[name].rollback
        assert handler.action == name
        assert handler.prepare is not None and handler.compensate is not None
    assert ACTIONS["file.read"].rollback is None
    assert ACTIONS["file.read"].side_effects is False


def test_write_rollback_restores_previous_bytes_and_mode(tmp_path, context):
    target = tmp_path / "data.bin"
    target.write_bytes(AWKWARD)
    target.chmod(0o604)
    params, output, memo = run_with_rollback(
        "file.write", {"path": "data.bin", "content": "replaced", "mode": "0600"}, context
    )
    assert target.read_bytes() == b"replaced"
    compensate("file.write", params, context, memo, output)
    assert target.read_bytes() == AWKWARD
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o604
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_write_rollback_removes_created_file_and_directories(tmp_path, context):
    (tmp_path / "existing").mkdir()
    params, output, memo = run_with_rollback(
        "file.write", {"path": "existing/new/deeper/f.txt", "content": "x"}, context
    )
    assert (tmp_path / "existing/new/deeper/f.txt").exists()
    compensate("file.write", params, context, memo, output)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["existing"]


def test_write_rollback_keeps_directories_that_gained_other_files(tmp_path, context):
    params, output, memo = run_with_rollback("file.write", {"path": "new/f.txt", "content": "x"}, context)
    (tmp_path / "new" / "other.txt").write_text("someone else's")
    compensate("file.write", params, context, memo, output)
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["other.txt"]


def test_append_rollback(tmp_path, context):
    target = tmp_path / "log"
    target.write_bytes(b"first\n\xff")
    params, output, memo = run_with_rollback(
        "file.write", {"path": "log", "content": "second", "append": True}, context
    )
    assert target.read_bytes() == b"first\n\xffsecond"
    compensate("file.write", params, context, memo, output)
    assert target.read_bytes() == b"first\n\xff"


def test_delete_rollback_restores_the_file(tmp_path, context):
    target = tmp_path / "precious"
    target.write_bytes(AWKWARD)
    target.chmod(0o640)
    params, output, memo = run_with_rollback("file.delete", {"path": "precious"}, context)
    assert not target.exists()
    compensate("file.delete", params, context, memo, output)
    assert target.read_bytes() == AWKWARD
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_delete_rollback_restores_a_symlink(tmp_path, context):
    (tmp_path / "real").write_text("r")
    (tmp_path / "link").symlink_to("real")
    params, output, memo = run_with_rollback("file.delete", {"path": "link"}, context)
    compensate("file.delete", params, context, memo, output)
    assert os.readlink(tmp_path / "link") == "real"


def test_delete_missing_ok_rollback_does_nothing(tmp_path, context):
    params, output, memo = run_with_rollback("file.delete", {"path": "ghost", "missing_ok": True}, context)
    compensate("file.delete", params, context, memo, output)
    assert list(tmp_path.iterdir()) == []


def test_copy_rollback_restores_replaced_destination(tmp_path, context):
    (tmp_path / "src").write_bytes(b"new bytes")
    (tmp_path / "dst").write_bytes(AWKWARD)
    params, output, memo = run_with_rollback("file.copy", {"source": "src", "destination": "dst"}, context)
    assert (tmp_path / "dst").read_bytes() == b"new bytes"
    compensate("file.copy", params, context, memo, output)
    assert (tmp_path / "dst").read_bytes() == AWKWARD


def test_copy_rollback_removes_created_destination(tmp_path, context):
    (tmp_path / "src").write_bytes(b"x")
    (tmp_path / "dir").mkdir()
    params, output, memo = run_with_rollback("file.copy", {"source": "src", "destination": "dir"}, context)
    assert (tmp_path / "dir" / "src").exists()
    compensate("file.copy", params, context, memo, output)
    assert list((tmp_path / "dir").iterdir()) == []
    assert (tmp_path / "src").read_bytes() == b"x"


def test_prepare_accepts_a_plain_dict(tmp_path, context):
    memo = ACTIONS["file.write"].rollback.prepare({"path": "p.txt", "content": "x"}, context)
    assert memo == {"path": str(tmp_path / "p.txt"), "existed": False, "created_dirs": []}


def test_file_over_capture_limit_is_not_captured(tmp_path, context, monkeypatch):
    monkeypatch.setattr(wfe_file.rollback, "ROLLBACK_CAPTURE_LIMIT", 8)
    (tmp_path / "big").write_bytes(b"0123456789")
    params, output, memo = run_with_rollback("file.write", {"path": "big", "content": "small"}, context)
    assert "content" not in memo
    with pytest.raises(ActionError) as info:
        compensate("file.write", params, context, memo, output)
    assert str(info.value) == (
        f"cannot roll back '{tmp_path / 'big'}': it was 10 bytes, over the 8 bytes rollback capture limit, "
        "so its previous content was not kept"
    )


def test_compensate_without_memo():
    with pytest.raises(ActionError) as info:
        wfe_file.rollback.compensate({}, None, None, None)
    assert str(info.value) == "cannot roll back: the file's previous state was not captured"
