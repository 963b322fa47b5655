"""WFE_FILE_ROOT confines every file action; escapes are refused with a message naming both."""

from __future__ import annotations

import os

import pytest

import wfe_file.plugin
from wfe_core.model.errors import ActionError
from wfe_file.actions import file_copy, file_delete, file_read, file_write
from wfe_file.params import CopyParams, DeleteParams, ReadParams, WriteParams


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("secret")
    return root


@pytest.fixture
def confined(make_context, root):
    return make_context(workdir=root, variables={"WFE_FILE_ROOT": str(root)})


def test_inside_root_is_allowed(root, confined, call):
    call(file_write, WriteParams, {"path": "sub/ok.txt", "content": "fine"}, confined)
    assert call(file_read, ReadParams, {"path": "sub/ok.txt"}, confined) == "fine"


def test_dotdot_escape_is_refused(root, confined, call):
    with pytest.raises(ActionError) as info:
        call(file_read, ReadParams, {"path": "../outside.txt"}, confined)
    assert str(info.value) == f"path '../outside.txt' is outside the file root '{root}' (WFE_FILE_ROOT)"


def test_absolute_path_elsewhere_is_refused(tmp_path, root, confined, call):
    target = str(tmp_path / "new.txt")
    with pytest.raises(ActionError) as info:
        call(file_write, WriteParams, {"path": target, "content": "x"}, confined)
    assert str(info.value) == f"path '{target}' is outside the file root '{root}' (WFE_FILE_ROOT)"
    assert not os.path.exists(target)


def test_symlink_escape_is_refused(tmp_path, root, confined, call):
    (root / "sneaky").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(ActionError) as info:
        call(file_write, WriteParams, {"path": "sneaky", "content": "overwritten"}, confined)
    assert str(info.value) == (
        f"path 'sneaky' resolves through a symlink to '{tmp_path / 'outside.txt'}', "
        f"outside the file root '{root}' (WFE_FILE_ROOT)"
    )
    assert (tmp_path / "outside.txt").read_text() == "secret"


def test_symlinked_directory_escape_is_refused(tmp_path, root, confined, call):
    (root / "door").symlink_to(tmp_path)
    with pytest.raises(ActionError) as info:
        call(file_copy, CopyParams, {"source": "door/outside.txt", "destination": "copy.txt"}, confined)
    assert "resolves through a symlink" in str(info.value)


def test_delete_of_escaping_parent_is_refused(tmp_path, root, confined, call):
    (root / "door").symlink_to(tmp_path)
    with pytest.raises(ActionError) as info:
        call(file_delete, DeleteParams, {"path": "door/outside.txt"}, confined)
    assert str(info.value) == (
        f"path 'door/outside.txt' resolves through a symlink to '{tmp_path / 'outside.txt'}', "
        f"outside the file root '{root}' (WFE_FILE_ROOT)"
    )
    assert (tmp_path / "outside.txt").exists()


def test_deleting_a_link_inside_root_is_allowed(tmp_path, root, confined, call):
    (root / "link").symlink_to(tmp_path / "outside.txt")
    call(file_delete, DeleteParams, {"path": "link"}, confined)
    assert not os.path.lexists(root / "link")
    assert (tmp_path / "outside.txt").read_text() == "secret"


def test_root_from_environment(tmp_path, root, make_context, call, monkeypatch):
    monkeypatch.setenv("WFE_FILE_ROOT", str(root))
    with pytest.raises(ActionError) as info:
        call(file_read, ReadParams, {"path": str(tmp_path / "outside.txt")}, make_context(workdir=root))
    assert str(info.value) == f"path '{tmp_path / 'outside.txt'}' is outside the file root '{root}' (WFE_FILE_ROOT)"


def test_prepare_outside_root_records_the_reason(root, confined):
    rollback = {a.name: a for a in wfe_file.plugin.wfe_actions()}["file.write"].rollback
    memo = rollback.prepare({"path": "../x", "content": "y"}, confined)
    assert memo == {"error": f"path '../x' is outside the file root '{root}' (WFE_FILE_ROOT)"}


def test_run_variable_cannot_widen_the_environment_root(tmp_path, root, make_context, call, monkeypatch):
    monkeypatch.setenv("WFE_FILE_ROOT", str(root))
    context = make_context(workdir=root, variables={"WFE_FILE_ROOT": "/"})
    with pytest.raises(ActionError) as info:
        call(file_read, ReadParams, {"path": "../outside.txt"}, context)
    assert str(info.value) == f"path '../outside.txt' is outside the file root '{root}' (WFE_FILE_ROOT)"


def test_run_variable_can_narrow_the_environment_root(tmp_path, root, make_context, call, monkeypatch):
    monkeypatch.setenv("WFE_FILE_ROOT", str(tmp_path))
    (root / "inner").mkdir()
    context = make_context(workdir=root, variables={"WFE_FILE_ROOT": str(root / "inner")})
    with pytest.raises(ActionError) as info:
        call(file_write, WriteParams, {"path": "x.txt", "content": "y"}, context)
    assert str(info.value) == f"path 'x.txt' is outside the file root '{root / 'inner'}' (WFE_FILE_ROOT)"
