"""The ``file.read``, ``file.write``, ``file.delete`` and ``file.copy`` actions.

Each takes its parameter class and a :class:`~wfe_core.model.context.StepContext`, fails with
:class:`~wfe_core.model.errors.ActionError` naming the path, and returns a small dict.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any

from wfe_core.plugin import ActionError, os_errors, structure

from .atomic import atomic_write
from .beneath import NOFOLLOW, parent_dir, stat_in
from .params import CopyParams, DeleteParams, ReadParams, WriteParams
from .paths import resolve_target

__all__ = ["as_params", "copy_destination", "file_copy", "file_delete", "file_read", "file_write"]

_COPY_CHUNK = 1024 * 1024


def as_params(params: Any, cls: type) -> Any:
    """``params`` as an instance of ``cls`` (structuring a plain dict if needed)."""
    return params if isinstance(params, cls) else structure(dict(params), cls)


def _open_regular(dir_fd: int, name: str, verb: str, raw: str) -> Any:
    """``name`` in directory ``dir_fd`` opened for reading, refused unless it is a regular file.

    Opened non-blocking and checked on the descriptor: a plain open() of a FIFO blocks
    until a writer appears, hanging the step beyond its timeout and cancellation. The
    name is already resolved, so it is opened without following a symlink (one that
    appeared since is a swap under way; see :mod:`wfe_file.beneath`).
    """
    fd = os.open(
        name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | NOFOLLOW, dir_fd=dir_fd
    )
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(name)
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
    with (
        os_errors("read", params.path),
        parent_dir(context, target, params.path) as (folder, name),
        _open_regular(folder, name, "read", params.path) as handle,
    ):
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


def _check_parent(target: Path, create: bool, raw: str) -> None:
    """A clear message for a missing directory (the walk in parent_dir is what decides)."""
    if not create and not target.parent.is_dir():
        raise ActionError(f"cannot write '{raw}': directory '{target.parent}' does not exist (create_dirs is false)")


def file_write(params: WriteParams, context: Any) -> dict[str, Any]:
    """Write (or append) ``params.content`` to ``params.path`` atomically."""
    target = resolve_target(context, params.path)
    data = _encode(params.content, params.encoding, params.path)
    if context.dry_run:
        return {"path": str(target), "bytes_written": 0, "dry_run": True}
    if target.is_dir():
        raise ActionError(f"cannot write '{params.path}': it is a directory")
    _check_parent(target, params.create_dirs, params.path)
    with (
        os_errors("write", params.path),
        parent_dir(context, target, params.path, create=params.create_dirs) as (folder, name),
    ):
        found = stat_in(folder, name)
        if found is not None and stat.S_ISDIR(found.st_mode):
            raise ActionError(f"cannot write '{params.path}': it is a directory")
        existed = found is not None
        if params.append and existed:
            # Old and new bytes go to a fresh copy so the append is atomic too.
            with _open_regular(folder, name, "append to", params.path) as old:

                def content(out: Any) -> None:
                    import shutil  # here: shutil (with bz2, lzma) costs every run's start

                    shutil.copyfileobj(old, out, _COPY_CHUNK)
                    out.write(data)

                size = atomic_write(
                    Path(name), content, mode=params.mode, before_replace=context.check_cancelled, dir_fd=folder
                )
        else:
            size = atomic_write(
                Path(name), data, mode=params.mode, before_replace=context.check_cancelled, dir_fd=folder
            )
    return {"path": str(target), "bytes_written": len(data), "size": size, "created": not existed}


def file_delete(params: DeleteParams, context: Any) -> dict[str, Any]:
    """Delete the file or symlink ``params.path`` (a symlink itself, not its target)."""
    target = resolve_target(context, params.path, follow_symlinks=False)
    with os_errors("delete", params.path):
        try:
            with parent_dir(context, target, params.path) as (folder, name):
                info = stat_in(folder, name)
                if info is None:
                    raise FileNotFoundError(name)
                if stat.S_ISDIR(info.st_mode):
                    raise ActionError(
                        f"cannot delete '{params.path}': it is a directory (file.delete removes single files)"
                    )
                if context.dry_run:
                    return {"path": str(target), "deleted": False, "dry_run": True}
                context.check_cancelled()
                os.unlink(name, dir_fd=folder)  # unlinkat: removes a symlink itself, never its target
                with contextlib.suppress(OSError):
                    os.fsync(folder)
        except FileNotFoundError:
            if params.missing_ok:
                return {"path": str(target), "deleted": False}
            raise ActionError(
                f"cannot delete '{params.path}': no such file (set missing_ok: true to allow this)"
            ) from None
    return {"path": str(target), "deleted": True, "bytes": info.st_size}


def copy_destination(params: CopyParams, context: Any) -> Path:
    """Where ``file.copy`` writes: the destination, or source's name inside it if it is a directory."""
    destination = resolve_target(context, params.destination)
    if destination.is_dir():
        destination = resolve_target(context, os.path.join(params.destination, Path(params.source).name))
    return destination


def file_copy(params: CopyParams, context: Any) -> dict[str, Any]:
    """Copy ``params.source`` to ``params.destination`` atomically, with the source's mode."""
    verb = f"copy '{params.source}' to"
    with os_errors(verb, params.destination):  # the checks below may race with a change too
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
        with (
            parent_dir(context, source, params.source) as (source_folder, source_name),
            _open_regular(source_folder, source_name, verb, params.destination) as src,
            parent_dir(context, destination, params.destination) as (folder, name),
        ):
            import shutil  # here: shutil (with bz2, lzma) costs every run's start

            mode = stat.S_IMODE(os.fstat(src.fileno()).st_mode)
            size = atomic_write(
                Path(name),
                lambda out: shutil.copyfileobj(src, out, _COPY_CHUNK),
                mode=mode,
                before_replace=context.check_cancelled,
                dir_fd=folder,
            )
    return {"source": str(source), "destination": str(destination), "bytes_copied": size, "created": not existed}
