"""wfe-file at the edges: names of the longest allowed length, private files never exposed, umask, FIFOs refused."""

from __future__ import annotations

import os
import stat

from test_file_rollback import ACTIONS, run_with_rollback

from wfe_core.load.convert import structure
from wfe_file import atomic_write
from wfe_file.params import CopyParams

LONG = "n" * 255  # the longest name most filesystems allow


def test_write_and_roll_back_a_file_with_the_longest_allowed_name(tmp_path, context):
    # The temporary file's name is built from the target's; it must still fit in NAME_MAX.
    target = tmp_path / LONG
    target.write_bytes(b"old")
    params, output, memo = run_with_rollback("file.write", {"path": LONG, "content": "new"}, context)
    assert target.read_bytes() == b"new"
    ACTIONS["file.write"].rollback.compensate(params, context, memo, output)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LONG]


def test_copy_to_the_longest_allowed_name(tmp_path, context, call):
    (tmp_path / "src").write_bytes(b"data")
    ACTIONS["file.copy"].func(structure({"source": "src", "destination": LONG}, CopyParams), context)
    assert (tmp_path / LONG).read_bytes() == b"data"


def test_deleted_symlink_with_the_longest_allowed_name_is_restored(tmp_path, context):
    link = tmp_path / LONG
    link.symlink_to("elsewhere")
    params, output, memo = run_with_rollback("file.delete", {"path": LONG}, context)
    assert not os.path.lexists(link)
    ACTIONS["file.delete"].rollback.compensate(params, context, memo, output)
    assert os.readlink(link) == "elsewhere"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LONG]


def test_secret_content_is_never_in_a_more_readable_temporary_file(tmp_path):
    # The bytes go to the temporary file before its final mode is set; a 0600 file's
    # content must not sit in a file others can read (0666 minus a usual umask is 0644).
    target = tmp_path / "secret"
    target.write_bytes(b"old")
    target.chmod(0o600)
    seen = []

    def content(out):
        seen.append(stat.S_IMODE(os.fstat(out.fileno()).st_mode))
        out.write(b"password")

    atomic_write(target, content)  # keeps the existing 0600
    atomic_write(tmp_path / "new", content, mode=0o600)
    atomic_write(tmp_path / "ro", content, mode=0o400)
    assert all(mode & 0o077 == 0 for mode in seen), [oct(m) for m in seen]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "ro").st_mode) == 0o400
    assert (tmp_path / "ro").read_bytes() == b"password"


def test_new_files_without_a_mode_still_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "plain", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "plain").st_mode) == 0o644


def test_restoring_a_deleted_private_file_never_exposes_it(tmp_path, context):
    target = tmp_path / "key"
    target.write_bytes(b"private")
    target.chmod(0o600)
    params, output, memo = run_with_rollback("file.delete", {"path": "key"}, context)
    ACTIONS["file.delete"].rollback.compensate(params, context, memo, output)
    assert target.read_bytes() == b"private"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def _returns_within(func, limit: float):
    """(finished, raised) for ``func()`` in a thread; a bound on a hang, not a speed test."""
    import threading

    box: dict = {}

    def target():
        try:
            func()
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    return not thread.is_alive(), box.get("error")


def test_reading_or_copying_a_fifo_is_refused_instead_of_blocking(tmp_path, context):
    # open() of a FIFO blocks until a writer appears: the step hung, deaf to its timeout.
    from wfe_core.model.errors import ActionError

    os.mkfifo(tmp_path / "pipe")
    read = lambda: ACTIONS["file.read"].func(structure({"path": "pipe"}, ACTIONS["file.read"].parameters), context)
    copy = lambda: ACTIONS["file.copy"].func(structure({"source": "pipe", "destination": "out"}, CopyParams), context)
    for func in (read, copy):
        finished, error = _returns_within(func, 5)
        assert finished
        assert isinstance(error, ActionError) and "not a regular file" in str(error)
    assert not (tmp_path / "out").exists()
