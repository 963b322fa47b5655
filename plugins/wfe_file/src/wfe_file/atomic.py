"""Atomic file replacement: a crash leaves either the old file or the new one, never half.

The new content goes to a temporary file in the target's own directory (so the final
``os.replace`` is a rename within one filesystem), is flushed and fsynced, gets its mode,
and is renamed over the target; the directory is then fsynced so the rename is durable.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["TEMP_SUFFIX", "atomic_write", "fsync_directory", "temp_path"]

#: Suffix of the temporary files; one is only ever left behind by a crash mid-write.
TEMP_SUFFIX = ".wfe-tmp"


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable (best effort where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


#: Bytes of the target's name kept in a temporary file's name: the whole temporary name
#: must fit in NAME_MAX (255) even when the target's own name is 255 bytes long.
_NAME_BYTES = 100


def temp_path(directory: Path, name: str) -> Path:
    """A fresh temporary name in ``directory`` for replacing ``name``."""
    short = os.fsdecode(os.fsencode(name)[:_NAME_BYTES])
    return directory / f".{short}.{os.urandom(4).hex()}{TEMP_SUFFIX}"


def _open_temp(directory: Path, name: str, perms: int, dir_fd: int | None) -> tuple[int, Path]:
    while True:
        temp = temp_path(directory, name)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
            return os.open(temp, flags, perms, dir_fd=dir_fd), temp
        except FileExistsError:
            continue


def _fsync_fd(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        pass


def atomic_write(
    path: Path,
    content: bytes | Callable[[BinaryIO], None],
    *,
    mode: int | None = None,
    before_replace: Callable[[], None] | None = None,
    dir_fd: int | None = None,
) -> int:
    """Replace ``path`` with ``content`` atomically; return the new file's size.

    Args:
        path: the file to create or replace (its directory must exist).
        content: the bytes, or a function writing them to the open temporary file.
        mode: permission bits for the result; ``None`` keeps an existing file's mode, and
            a new file gets ``0o666`` minus the umask.
        before_replace: called just before the rename; raising there (e.g. because the
            step was cancelled) abandons the write and leaves ``path`` untouched.
        dir_fd: a descriptor of the directory ``path`` is in; ``path`` is then only a
            name in it, and everything happens through the descriptor (``openat``,
            ``renameat``), so the directory cannot be swapped underneath (see
            :mod:`wfe_file.beneath`).
    """
    path = Path(path)
    if mode is None:
        try:
            found = os.stat(path, dir_fd=dir_fd, follow_symlinks=dir_fd is None)
            # Through a descriptor a symlink is not followed: it is replaced like a new file.
            mode = None if stat.S_ISLNK(found.st_mode) else stat.S_IMODE(found.st_mode)
        except FileNotFoundError:
            pass
    # The content is written before the final chmod, so the temporary file must start no
    # more open than the result (a 0600 file's bytes must never sit in a 0644 file);
    # 0o666 with no mode lets the umask decide, as for any newly created file.
    directory = Path("") if dir_fd is not None else path.parent
    fd, temp = _open_temp(directory, path.name, mode & 0o777 if mode is not None else 0o666, dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
        if before_replace is not None:
            before_replace()
        os.replace(temp, path if dir_fd is None else path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise
    if dir_fd is None:
        fsync_directory(path.parent)
    else:
        _fsync_fd(dir_fd)
    return size
