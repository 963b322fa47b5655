"""Opening a path's directory without leaving the file root, even while the tree changes.

:func:`~wfe_file.paths.resolve_target` checks a path against the root by resolving it,
but the check and the later ``open()`` are two separate walks of the path: another
process that swaps a directory for a symlink in between (``root/d`` -> ``/etc``) made
writes and reads land outside the root. So every ``file.*`` action does its I/O through
:func:`parent_dir`, which walks the already-resolved path again from a descriptor of the
root, one component at a time, with ``openat(..., O_NOFOLLOW | O_DIRECTORY)``: each step
is relative to a directory already open (which a rename elsewhere cannot change), and a
symlink met on the way is refused, not followed. The last component is then used through
that directory descriptor (``openat``/``renameat``/``unlinkat`` with ``O_NOFOLLOW`` where
it is opened). A swap therefore makes the step fail with "changed while in use"; it can
no longer make it touch anything outside the root.

Without a file root there is nothing to escape: the parent directory is opened by path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wfe_core.plugin import ActionError

from .paths import FILE_ROOT_ENV, file_roots

__all__ = ["NOFOLLOW", "changed_while_in_use", "confining_root", "parent_dir", "stat_in"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
#: ``O_NOFOLLOW``: add it to every open of a last component under a root.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def changed_while_in_use(raw: str, part: str) -> ActionError:
    """The error for a path whose directory was swapped for a symlink (or a file) mid-step."""
    return ActionError(
        f"path '{raw}' changed while in use: '{part}' is no longer a directory inside the file root "
        f"({FILE_ROOT_ENV}; a symlink or a file took its place); nothing was done outside the root"
    )


def confining_root(context: Any, real: Path) -> Path | None:
    """The innermost file root holding ``real`` (a resolved path), or ``None`` when unconfined.

    Raises:
        ActionError: ``real`` is outside a root (it was inside when resolve_target checked).

    :func:`~wfe_file.paths.resolve_target` has already refused a path outside any root;
    walking from the innermost root is then enough to stay inside all of them.
    """
    roots = file_roots(context)
    holding = [
        root for root in roots if str(real) == str(root) or str(real).startswith(str(root).rstrip(os.sep) + os.sep)
    ]
    if roots and len(holding) < len(roots):  # a root's own path changed since the check
        raise ActionError(f"path '{real}' is outside the file root '{roots[0]}' ({FILE_ROOT_ENV})")
    return max(holding, key=lambda root: len(str(root))) if holding else None


def _open_dir(name: str, dir_fd: int | None, raw: str) -> int:
    try:
        return os.open(name, os.O_RDONLY | _DIRECTORY | NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise changed_while_in_use(raw, name) from None
        if exc.errno == errno.ENOTDIR and dir_fd is not None:
            found = stat_in(dir_fd, name)
            if found is not None and stat.S_ISLNK(found.st_mode):
                raise changed_while_in_use(raw, name) from None
        raise


@contextlib.contextmanager
def parent_dir(context: Any, real: Path, raw: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
    """``(directory descriptor, name)`` for acting on ``real`` (a path resolve_target gave).

    Under a file root the directory is reached from the root's descriptor, component by
    component, never through a symlink (see the module docstring); ``create`` makes the
    missing directories on the way, the same way. The descriptor is closed afterwards.

    Raises:
        ActionError: a directory on the way was swapped for a symlink or a file.
        OSError: as ``open`` would (a missing directory, permission denied, ...).
    """
    parent, name = os.path.split(str(real))
    root = confining_root(context, real) if context is not None else None
    if root is None:
        if create:
            os.makedirs(parent, exist_ok=True)
        fd = os.open(parent, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    else:
        relative = os.path.relpath(parent, root)
        parts = [] if relative == "." else relative.split(os.sep)
        if ".." in parts:  # resolve_target refused this already; never walk upwards
            raise changed_while_in_use(raw, "..")
        fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        try:
            for part in parts:
                try:
                    inner = _open_dir(part, fd, raw)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):  # made by a parallel step
                        os.mkdir(part, dir_fd=fd)
                    inner = _open_dir(part, fd, raw)
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
    try:
        yield fd, name
    finally:
        os.close(fd)


def stat_in(dir_fd: int, name: str) -> os.stat_result | None:
    """``lstat`` of ``name`` in the directory; ``None`` if it does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
