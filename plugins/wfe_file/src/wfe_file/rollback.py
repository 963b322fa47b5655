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
from .atomic import atomic_write, fsync_directory, temp_path
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


def capture(path: Path, *, follow_symlinks: bool = True) -> dict[str, Any]:
    """The memo describing ``path`` as it is now."""
    memo: dict[str, Any] = {"path": str(path)}
    try:
        info = os.stat(path) if follow_symlinks else os.lstat(path)
    except FileNotFoundError:
        memo["existed"] = False
        return memo
    except OSError as exc:
        return {"path": str(path), "error": f"cannot inspect '{path}': {exc.strerror or exc}"}
    memo["existed"] = True
    if stat.S_ISLNK(info.st_mode):
        memo["symlink"] = os.readlink(path)
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
        data = path.read_bytes()
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
    memo = capture(target)
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
    return capture(target, follow_symlinks=False)


def prepare_copy(params: Any, context: Any) -> dict[str, Any]:
    """Capture the destination ``file.copy`` will create or replace."""
    try:
        target = copy_destination(as_params(params, CopyParams), context)
    except Exception as exc:
        return {"error": str(exc)}
    return capture(target)


def _unlink_if_file(path: Path) -> None:
    if os.path.lexists(path) and not (path.is_dir() and not path.is_symlink()):
        os.unlink(path)
        fsync_directory(path.parent)


def _replace_with_symlink(path: Path, link_target: str) -> None:
    temp = temp_path(path.parent, path.name)  # a name that fits NAME_MAX for any target
    os.symlink(link_target, temp)
    try:
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    fsync_directory(path.parent)


def restore(memo: Any) -> None:
    """Put the file described by ``memo`` back as it was.

    Raises:
        ActionError: nothing usable was captured (see the module docstring).
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
            _unlink_if_file(path)
            for directory in memo.get("created_dirs", ()):
                try:
                    os.rmdir(directory)
                except OSError:  # not empty any more (or gone): leave it
                    break
        elif "symlink" in memo:
            _replace_with_symlink(path, memo["symlink"])
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, base64.b64decode(memo["content"]), mode=memo["mode"])
    except OSError as exc:
        raise ActionError(f"cannot roll back '{path}': {exc.strerror or exc}") from None


def compensate(params: Any, context: Any, memo: Any, output: Any) -> None:
    """The ``RollbackHandler.compensate`` of every ``file.*`` action: :func:`restore` the memo."""
    restore(memo)
