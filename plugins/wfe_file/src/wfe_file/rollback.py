"""Automatic compensation of ``file.write``, ``file.delete`` and ``file.copy``.

Before each attempt, ``prepare`` captures the state of the file the action will change
into a JSON-serialisable memo (kept by the core with the step):

- ``{"path": ..., "existed": false}`` (plus ``created_dirs`` for ``file.write``): the
  file did not exist; compensation removes it, and the directories the write created if
  they are empty again;
- ``{"path": ..., "existed": true, "mode": 420, "content": "<base64>"}``: compensation
  writes the previous bytes and mode back, atomically and byte for byte;
- ``{"path": ..., "existed": true, "symlink": "<target>"}``: a deleted symlink is re-created;
- ``{"path": ..., "existed": true, "not_captured": "<why>"}``: the file was larger than
  :data:`ROLLBACK_CAPTURE_LIMIT`, so its content was not kept and compensation fails with
  that reason (the step itself still runs);
- ``{"error": "<why>"}``: the state could not be read (the action will usually fail
  with the same reason).
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

from wfe_core.plugin import ActionError

from .actions import as_params, copy_destination
from .atomic import atomic_write, temp_path
from .beneath import NOFOLLOW, confining_root, parent_dir, stat_in
from .params import CopyParams, DeleteParams, WriteParams
from .paths import resolve_target

__all__ = [
    "ROLLBACK_CAPTURE_LIMIT",
    "capture",
    "compensate",
    "prepare_copy",
    "prepare_delete",
    "prepare_write",
    "restore",
]

#: Files larger than this (64 MiB) are not captured for rollback; see the module docstring.
ROLLBACK_CAPTURE_LIMIT = 64 * 1024 * 1024


def capture(path: Path, *, follow_symlinks: bool = True, context: Any = None) -> dict[str, Any]:
    """The memo describing ``path`` as it is now.

    With a ``context`` whose file root holds ``path``, the file is reached beneath the
    root (:func:`~wfe_file.beneath.parent_dir`), so a concurrent symlink swap cannot make
    the memo hold a file from outside it.
    """
    path = Path(path)
    try:
        if follow_symlinks and (context is None or confining_root(context, path) is None):
            path = Path(os.path.realpath(path))
        with parent_dir(context, path, str(path)) as (folder, name):
            return _capture_in(folder, name, path, follow_symlinks)
    except FileNotFoundError:
        return {"path": str(path), "existed": False}
    except ActionError as exc:
        return {"path": str(path), "error": str(exc)}
    except OSError as exc:
        return {"path": str(path), "error": f"cannot inspect '{path}': {exc.strerror or exc}"}


def _capture_in(folder: int, name: str, path: Path, follow_symlinks: bool) -> dict[str, Any]:
    memo: dict[str, Any] = {"path": str(path)}
    info = stat_in(folder, name)
    if info is None:
        memo["existed"] = False
        return memo
    memo["existed"] = True
    if stat.S_ISLNK(info.st_mode):
        if follow_symlinks:  # the path was resolved: a symlink now is a swap under way
            return {"path": str(path), "error": f"'{path}' changed while in use (a symlink took its place)"}
        memo["symlink"] = os.readlink(name, dir_fd=folder)
        return memo
    if not stat.S_ISREG(info.st_mode):
        return {"path": str(path), "error": f"'{path}' is not a regular file"}
    if info.st_size > ROLLBACK_CAPTURE_LIMIT:
        limit = ROLLBACK_CAPTURE_LIMIT
        shown = f"{limit // 2**20} MiB" if limit % 2**20 == 0 else f"{limit} bytes"
        memo["not_captured"] = (
            f"it was {info.st_size} bytes, over the {shown} rollback capture limit, "
            "so its previous content was not kept"
        )
        return memo
    try:
        fd = os.open(
            name, os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0), dir_fd=folder
        )
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return {"path": str(path), "error": f"'{path}' is not a regular file"}
            data = handle.read()
    except OSError as exc:
        return {"path": str(path), "error": f"cannot read '{path}': {exc.strerror or exc}"}
    memo["mode"] = stat.S_IMODE(info.st_mode)
    memo["content"] = base64.b64encode(data).decode("ascii")
    return memo


def _missing_dirs(directory: Path) -> list[str]:
    """The ancestors of ``directory`` (itself included) that do not exist, deepest first."""
    missing = []
    while not directory.exists() and directory.parent != directory:
        missing.append(str(directory))
        directory = directory.parent
    return missing


def prepare_write(params: Any, context: Any) -> dict[str, Any]:
    """Capture the target of ``file.write`` before an attempt."""
    try:
        p = as_params(params, WriteParams)
        target = resolve_target(context, p.path)
    except Exception as exc:
        return {"error": str(exc)}
    memo = capture(target, context=context)
    if memo.get("existed") is False and p.create_dirs:
        memo["created_dirs"] = _missing_dirs(target.parent)
    return memo


def prepare_delete(params: Any, context: Any) -> dict[str, Any]:
    """Capture the file ``file.delete`` will remove."""
    try:
        p = as_params(params, DeleteParams)
        target = resolve_target(context, p.path, follow_symlinks=False)
    except Exception as exc:
        return {"error": str(exc)}
    return capture(target, follow_symlinks=False, context=context)


def prepare_copy(params: Any, context: Any) -> dict[str, Any]:
    """Capture the destination ``file.copy`` will create or replace."""
    try:
        target = copy_destination(as_params(params, CopyParams), context)
    except Exception as exc:
        return {"error": str(exc)}
    return capture(target, context=context)


def _replace_with_symlink(folder: int, name: str, link_target: str) -> None:
    temp = temp_path(Path(""), name).name  # a name that fits NAME_MAX for any target
    os.symlink(link_target, temp, dir_fd=folder)
    try:
        os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        os.unlink(temp, dir_fd=folder)
        raise
    _fsync(folder)


def _fsync(folder: int) -> None:
    try:
        os.fsync(folder)
    except OSError:
        pass


def restore(memo: Any, context: Any = None) -> None:
    """Put the file described by ``memo`` back as it was.

    With a ``context`` whose file root holds the path, every change is made beneath the
    root, as the actions make theirs (see :mod:`wfe_file.beneath`).

    Raises:
        ActionError: nothing usable was captured (see the module docstring), or the
            directory was swapped for a symlink meanwhile.
    """
    if not isinstance(memo, dict) or ("path" not in memo and "error" not in memo):
        raise ActionError("cannot roll back: the file's previous state was not captured")
    path = Path(memo.get("path", "?"))
    if "error" in memo:
        raise ActionError(f"cannot roll back '{path}': its previous state was not captured: {memo['error']}")
    if "not_captured" in memo:
        raise ActionError(f"cannot roll back '{path}': {memo['not_captured']}")
    try:
        if not memo["existed"]:
            with parent_dir(context, path, str(path)) as (folder, name):
                found = stat_in(folder, name)
                if found is not None and not stat.S_ISDIR(found.st_mode):
                    os.unlink(name, dir_fd=folder)
                    _fsync(folder)
            for directory in memo.get("created_dirs", ()):
                try:
                    with parent_dir(context, Path(directory), directory) as (folder, name):
                        os.rmdir(name, dir_fd=folder)
                except OSError:  # not empty any more (or gone): leave it
                    break
        elif "symlink" in memo:
            with parent_dir(context, path, str(path)) as (folder, name):
                _replace_with_symlink(folder, name, memo["symlink"])
        else:
            with parent_dir(context, path, str(path), create=True) as (folder, name):
                atomic_write(Path(name), base64.b64decode(memo["content"]), mode=memo["mode"], dir_fd=folder)
    except OSError as exc:
        raise ActionError(f"cannot roll back '{path}': {exc.strerror or exc}") from None


def compensate(params: Any, context: Any, memo: Any, output: Any) -> None:
    """The ``RollbackHandler.compensate`` of every ``file.*`` action: :func:`restore` the memo."""
    restore(memo, context)
