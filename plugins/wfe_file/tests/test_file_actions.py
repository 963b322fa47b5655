"""file.read / file.write / file.delete / file.copy on real files."""

from __future__ import annotations

import os
import stat

import pytest

from wfe_core.load.convert import structure
from wfe_core.model.context import StepCancelled
from wfe_core.model.errors import ActionError, InvalidWorkflowError
from wfe_file.actions import file_copy, file_delete, file_read, file_write
from wfe_file.atomic import TEMP_SUFFIX, atomic_write
from wfe_file.params import CopyParams, DeleteParams, ReadParams, WriteParams


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def no_temp_files(directory) -> bool:
    return not [p for p in directory.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


# --- file.read ---------------------------------------------------------------------------


def test_read_returns_text(tmp_path, context, call):
    (tmp_path / "a.txt").write_text("héllo\nworld\n", encoding="utf-8")
    assert call(file_read, ReadParams, {"path": "a.txt"}, context) == "héllo\nworld\n"


def test_read_with_encoding(tmp_path, context, call):
    (tmp_path / "l1.txt").write_bytes("café".encode("latin-1"))
    assert call(file_read, ReadParams, {"path": "l1.txt", "encoding": "latin-1"}, context) == "café"


def test_read_missing_file(context, call):
    with pytest.raises(ActionError) as info:
        call(file_read, ReadParams, {"path": "nope.txt"}, context)
    assert str(info.value) == "cannot read 'nope.txt': no such file or directory"


def test_read_undecodable(tmp_path, context, call):
    (tmp_path / "bin").write_bytes(b"ok\xff\xfe")
    with pytest.raises(ActionError) as info:
        call(file_read, ReadParams, {"path": "bin"}, context)
    assert str(info.value) == "cannot read 'bin' as utf-8: invalid start byte at byte 2"


def test_read_directory(tmp_path, context, call):
    (tmp_path / "d").mkdir()
    with pytest.raises(ActionError) as info:
        call(file_read, ReadParams, {"path": "d"}, context)
    assert str(info.value) == "cannot read 'd': it is a directory"


def test_unknown_encoding_is_a_parameter_problem():
    with pytest.raises(InvalidWorkflowError) as info:
        structure({"path": "x", "encoding": "klingon"}, ReadParams)
    assert str(info.value) == "invalid value: encoding: unknown encoding 'klingon'"


def test_unknown_parameter_is_refused():
    with pytest.raises(InvalidWorkflowError) as info:
        structure({"path": "x", "contents": "y"}, WriteParams)
    assert "unknown key 'contents' (did you mean 'content'?)" in str(info.value)


# --- file.write --------------------------------------------------------------------------


def test_write_creates_file(tmp_path, context, call):
    out = call(file_write, WriteParams, {"path": "out.txt", "content": "hello"}, context)
    assert (tmp_path / "out.txt").read_bytes() == b"hello"
    assert out == {"path": str(tmp_path / "out.txt"), "bytes_written": 5, "size": 5, "created": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temp file lingers


def test_write_replaces_content_exactly_and_keeps_mode(tmp_path, context, call):
    target = tmp_path / "f.txt"
    target.write_text("old content that is longer")
    target.chmod(0o640)
    out = call(file_write, WriteParams, {"path": str(target), "content": "new"}, context)
    assert target.read_bytes() == b"new"
    assert mode_of(target) == 0o640
    assert out["created"] is False
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize(
    "mode, expected", [("0600", 0o600), ("0o640", 0o640), ("755", 0o755), (0o604, 0o604), (420, 0o644)]
)
def test_write_mode(tmp_path, context, call, mode, expected):
    call(file_write, WriteParams, {"path": "m.txt", "content": "x", "mode": mode}, context)
    assert mode_of(tmp_path / "m.txt") == expected


@pytest.mark.parametrize(
    "mode, message",
    [
        ("rw-r--r--", "invalid value: mode must be an octal string such as '0644' or '0o644', got 'rw-r--r--'"),
        ("0999", "invalid value: mode must be an octal string such as '0644' or '0o644', got '0999'"),
        (70000, "invalid value: mode must be between 0 and 0o7777, got 70000"),
        (True, "invalid value: mode must be an octal string such as '0644' or a number, got True"),
    ],
)
def test_write_bad_mode(mode, message):
    with pytest.raises(InvalidWorkflowError) as info:
        structure({"path": "m", "content": "x", "mode": mode}, WriteParams)
    assert str(info.value) == message


def test_write_append(tmp_path, context, call):
    target = tmp_path / "log.txt"
    target.write_bytes(b"line1\n")
    out = call(file_write, WriteParams, {"path": "log.txt", "content": "line2\n", "append": True}, context)
    assert target.read_bytes() == b"line1\nline2\n"
    assert out["bytes_written"] == 6 and out["size"] == 12
    assert no_temp_files(tmp_path)


def test_write_append_to_missing_file_creates_it(tmp_path, context, call):
    call(file_write, WriteParams, {"path": "new.log", "content": "a", "append": True}, context)
    assert (tmp_path / "new.log").read_text() == "a"


def test_write_creates_parent_directories(tmp_path, context, call):
    call(file_write, WriteParams, {"path": "a/b/c.txt", "content": "deep"}, context)
    assert (tmp_path / "a/b/c.txt").read_text() == "deep"


def test_write_without_create_dirs(tmp_path, context, call):
    with pytest.raises(ActionError) as info:
        call(file_write, WriteParams, {"path": "a/b.txt", "content": "x", "create_dirs": False}, context)
    assert (
        str(info.value) == f"cannot write 'a/b.txt': directory '{tmp_path / 'a'}' does not exist (create_dirs is false)"
    )


def test_write_unencodable_content(context, call):
    with pytest.raises(ActionError) as info:
        call(file_write, WriteParams, {"path": "x.txt", "content": "naïve €", "encoding": "ascii"}, context)
    assert (
        str(info.value)
        == "cannot write 'x.txt': content cannot be encoded as ascii (ordinal not in range(128) at character 2)"
    )


def test_write_onto_directory(tmp_path, context, call):
    (tmp_path / "d").mkdir()
    with pytest.raises(ActionError) as info:
        call(file_write, WriteParams, {"path": "d", "content": "x"}, context)
    assert str(info.value) == "cannot write 'd': it is a directory"


def test_write_follows_symlink_to_its_target(tmp_path, context, call):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    call(file_write, WriteParams, {"path": "link.txt", "content": "new"}, context)
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "new"


def test_cancelled_write_leaves_target_untouched(tmp_path, make_context, call):
    context = make_context()
    context.cancel_event.set()
    (tmp_path / "keep.txt").write_text("original")
    with pytest.raises(StepCancelled):
        call(file_write, WriteParams, {"path": "keep.txt", "content": "replacement"}, context)
    assert (tmp_path / "keep.txt").read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_atomic_write_failure_before_rename_keeps_old_file(tmp_path):
    target = tmp_path / "t.bin"
    target.write_bytes(b"\x00old\xff")

    def crash() -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        atomic_write(target, b"new content", before_replace=crash)
    assert target.read_bytes() == b"\x00old\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.bin"]


def test_dry_run_writes_nothing(tmp_path, make_context, call):
    out = call(file_write, WriteParams, {"path": "dry.txt", "content": "x"}, make_context(dry_run=True))
    assert out["dry_run"] is True
    assert not (tmp_path / "dry.txt").exists()


# --- file.delete -------------------------------------------------------------------------


def test_delete(tmp_path, context, call):
    (tmp_path / "gone.txt").write_text("12345")
    out = call(file_delete, DeleteParams, {"path": "gone.txt"}, context)
    assert not (tmp_path / "gone.txt").exists()
    assert out == {"path": str(tmp_path / "gone.txt"), "deleted": True, "bytes": 5}


def test_delete_missing(context, call):
    with pytest.raises(ActionError) as info:
        call(file_delete, DeleteParams, {"path": "missing.txt"}, context)
    assert str(info.value) == "cannot delete 'missing.txt': no such file (set missing_ok: true to allow this)"


def test_delete_missing_ok(tmp_path, context, call):
    out = call(file_delete, DeleteParams, {"path": "missing.txt", "missing_ok": True}, context)
    assert out == {"path": str(tmp_path / "missing.txt"), "deleted": False}


def test_delete_refuses_directory(tmp_path, context, call):
    (tmp_path / "dir").mkdir()
    with pytest.raises(ActionError) as info:
        call(file_delete, DeleteParams, {"path": "dir"}, context)
    assert str(info.value) == "cannot delete 'dir': it is a directory (file.delete removes single files)"
    assert (tmp_path / "dir").is_dir()


def test_delete_symlink_removes_only_the_link(tmp_path, context, call):
    (tmp_path / "real.txt").write_text("keep me")
    (tmp_path / "link").symlink_to("real.txt")
    call(file_delete, DeleteParams, {"path": "link"}, context)
    assert not os.path.lexists(tmp_path / "link")
    assert (tmp_path / "real.txt").read_text() == "keep me"


# --- file.copy ---------------------------------------------------------------------------


def test_copy(tmp_path, context, call):
    source = tmp_path / "src.bin"
    source.write_bytes(bytes(range(256)) * 10)
    source.chmod(0o750)
    out = call(file_copy, CopyParams, {"source": "src.bin", "destination": "dst.bin"}, context)
    assert (tmp_path / "dst.bin").read_bytes() == source.read_bytes()
    assert mode_of(tmp_path / "dst.bin") == 0o750
    assert out == {
        "source": str(source),
        "destination": str(tmp_path / "dst.bin"),
        "bytes_copied": 2560,
        "created": True,
    }
    assert no_temp_files(tmp_path)


def test_copy_into_directory(tmp_path, context, call):
    (tmp_path / "src.txt").write_text("x")
    (tmp_path / "dir").mkdir()
    out = call(file_copy, CopyParams, {"source": "src.txt", "destination": "dir"}, context)
    assert (tmp_path / "dir" / "src.txt").read_text() == "x"
    assert out["destination"] == str(tmp_path / "dir" / "src.txt")


def test_copy_overwrites_by_default(tmp_path, context, call):
    (tmp_path / "a").write_text("new")
    (tmp_path / "b").write_text("old")
    out = call(file_copy, CopyParams, {"source": "a", "destination": "b"}, context)
    assert (tmp_path / "b").read_text() == "new"
    assert out["created"] is False


def test_copy_without_overwrite(tmp_path, context, call):
    (tmp_path / "a").write_text("new")
    (tmp_path / "b").write_text("old")
    with pytest.raises(ActionError) as info:
        call(file_copy, CopyParams, {"source": "a", "destination": "b", "overwrite": False}, context)
    assert str(info.value) == "cannot copy to 'b': it exists and overwrite is false"
    assert (tmp_path / "b").read_text() == "old"


def test_copy_missing_source(context, call):
    with pytest.raises(ActionError) as info:
        call(file_copy, CopyParams, {"source": "nope", "destination": "b"}, context)
    assert str(info.value) == "cannot copy 'nope': no such file"


def test_copy_onto_itself(tmp_path, context, call):
    (tmp_path / "a").write_text("x")
    with pytest.raises(ActionError) as info:
        call(file_copy, CopyParams, {"source": "a", "destination": str(tmp_path / "a")}, context)
    assert str(info.value) == f"cannot copy 'a' to '{tmp_path / 'a'}': they are the same file"


def test_copy_into_missing_directory(tmp_path, context, call):
    (tmp_path / "a").write_text("x")
    with pytest.raises(ActionError) as info:
        call(file_copy, CopyParams, {"source": "a", "destination": "no/such/b"}, context)
    assert str(info.value) == f"cannot copy to 'no/such/b': directory '{tmp_path / 'no/such'}' does not exist"
