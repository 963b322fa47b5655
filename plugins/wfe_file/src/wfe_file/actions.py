"""The ``file.read``, ``file.write``, ``file.delete`` and ``file.copy`` actions.

Each takes its parameter class and a :class:`~wfe_core.model.context.StepContext`, fails with
:class:`~wfe_core.model.errors.ActionError` naming the path, and returns a small dict.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

from wfe_core.plugin import ActionError, os_errors, structure

from .atomic import atomic_write, fsync_directory
from .params import CopyParams, DeleteParams, ReadParams, WriteParams
from .paths import resolve_target

__all__ = ["as_params", "copy_destination", "file_copy", "file_delete", "file_read", "file_write"]

_COPY_CHUNK = 1024 * 1024


def as_params(params: Any, cls: type) -> Any:
    """``params`` as an instance of ``cls`` (structuring a plain dict if needed)."""
    return params if isinstance(params, cls) else structure(dict(params), cls)


def _open_regular(target: Path, verb: str, raw: str) -> Any:
    """``target`` opened for reading, refused unless it is a regular file.

    Opened non-blocking and checked on the descriptor: a plain open() of a FIFO blocks
    until a writer appears, hanging the step beyond its timeout and cancellation.
    """
    fd = os.open(target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(target)
        if not stat.S_ISREG(mode):
            raise ActionError(f"cannot {verb} '{raw}': not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_read(params: ReadParams, context: Any) -> str:
    """Return the text of ``params.path``."""
    target = resolve_target(context, params.path)
    with os_errors("read", params.path), _open_regular(target, "read", params.path) as handle:
        data = handle.read()
    try:
        return data.decode(params.encoding)
    except UnicodeDecodeError as exc:
        raise ActionError(
            f"cannot read '{params.path}' as {params.encoding}: {exc.reason} at byte {exc.start}"
        ) from None


def _encode(text: str, encoding: str, raw: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise ActionError(
            f"cannot write '{raw}': content cannot be encoded as {encoding} ({exc.reason} at character {exc.start})"
        ) from None


def _ensure_parent(target: Path, create: bool, raw: str) -> None:
    parent = target.parent
    if parent.is_dir():
        return
    if not create:
        raise ActionError(f"cannot write '{raw}': directory '{parent}' does not exist (create_dirs is false)")
    with os_errors("create the directory for", raw):
        os.makedirs(parent, exist_ok=True)


def file_write(params: WriteParams, context: Any) -> dict[str, Any]:
    """Write (or append) ``params.content`` to ``params.path`` atomically."""
    target = resolve_target(context, params.path)
    data = _encode(params.content, params.encoding, params.path)
    if context.dry_run:
        return {"path": str(target), "bytes_written": 0, "dry_run": True}
    if target.is_dir():
        raise ActionError(f"cannot write '{params.path}': it is a directory")
    existed = target.exists()
    _ensure_parent(target, params.create_dirs, params.path)
    with os_errors("write", params.path):
        if params.append and existed:
            # Old and new bytes go to a fresh copy so the append is atomic too.
            with open(target, "rb") as old:
                def content(out: Any) -> None:
                    shutil.copyfileobj(old, out, _COPY_CHUNK)
                    out.write(data)
                size = atomic_write(target, content, mode=params.mode, before_replace=context.check_cancelled)
        else:
            size = atomic_write(target, data, mode=params.mode, before_replace=context.check_cancelled)
    return {"path": str(target), "bytes_written": len(data), "size": size, "created": not existed}


def file_delete(params: DeleteParams, context: Any) -> dict[str, Any]:
    """Delete the file or symlink ``params.path`` (a symlink itself, not its target)."""
    target = resolve_target(context, params.path, follow_symlinks=False)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        if params.missing_ok:
            return {"path": str(target), "deleted": False}
        raise ActionError(f"cannot delete '{params.path}': no such file (set missing_ok: true to allow this)") from None
    if stat.S_ISDIR(info.st_mode):
        raise ActionError(f"cannot delete '{params.path}': it is a directory (file.delete removes single files)")
    if context.dry_run:
        return {"path": str(target), "deleted": False, "dry_run": True}
    context.check_cancelled()
    with os_errors("delete", params.path):
        os.unlink(target)
    fsync_directory(target.parent)
    return {"path": str(target), "deleted": True, "bytes": info.st_size}


def copy_destination(params: CopyParams, context: Any) -> Path:
    """Where ``file.copy`` writes: the destination, or source's name inside it if it is a directory."""
    destination = resolve_target(context, params.destination)
    if destination.is_dir():
        destination = resolve_target(context, os.path.join(params.destination, Path(params.source).name))
    return destination


def file_copy(params: CopyParams, context: Any) -> dict[str, Any]:
    """Copy ``params.source`` to ``params.destination`` atomically, with the source's mode."""
    source = resolve_target(context, params.source)
    destination = copy_destination(params, context)
    if not source.exists():
        raise ActionError(f"cannot copy '{params.source}': no such file")
    if source.is_dir():
        raise ActionError(f"cannot copy '{params.source}': it is a directory (file.copy copies single files)")
    existed = destination.exists()
    if existed and source.samefile(destination):
        raise ActionError(f"cannot copy '{params.source}' to '{params.destination}': they are the same file")
    if existed and not params.overwrite:
        raise ActionError(f"cannot copy to '{params.destination}': it exists and overwrite is false")
    if context.dry_run:
        return {"source": str(source), "destination": str(destination), "bytes_copied": 0, "dry_run": True}
    if not destination.parent.is_dir():
        raise ActionError(f"cannot copy to '{params.destination}': directory '{destination.parent}' does not exist")
    with os_errors(f"copy '{params.source}' to", params.destination), \
            _open_regular(source, f"copy '{params.source}' to", params.destination) as src:
        mode = stat.S_IMODE(os.fstat(src.fileno()).st_mode)
        size = atomic_write(destination, lambda out: shutil.copyfileobj(src, out, _COPY_CHUNK),
                            mode=mode, before_replace=context.check_cancelled)
    return {"source": str(source), "destination": str(destination), "bytes_copied": size, "created": not existed}
