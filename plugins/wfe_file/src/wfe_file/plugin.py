"""The wfe plugin module of wfe-file (entry point ``file`` in group ``wfe``)."""

from __future__ import annotations

from wfe_core.plugin import Action, RollbackHandler, Validator, hookimpl

from .actions import file_copy, file_delete, file_read, file_write
from .checks import check_modes, check_system_paths
from .params import CopyParams, DeleteParams, ReadParams, WriteParams
from .rollback import compensate, prepare_copy, prepare_delete, prepare_write

__all__ = ["wfe_actions", "wfe_validators"]


@hookimpl
def wfe_actions():
    return [
        Action(
            "file.read",
            file_read,
            ReadParams,
            side_effects=False,
            description="Read a text file; its text is the step's output.",
        ),
        Action(
            "file.write",
            file_write,
            WriteParams,
            rollback=RollbackHandler("file.write", compensate, prepare_write),
            description="Write or append text to a file atomically (rolled back byte for byte).",
        ),
        Action(
            "file.delete",
            file_delete,
            DeleteParams,
            rollback=RollbackHandler("file.delete", compensate, prepare_delete),
            description="Delete a file or symlink (rolled back by restoring it).",
        ),
        Action(
            "file.copy",
            file_copy,
            CopyParams,
            rollback=RollbackHandler("file.copy", compensate, prepare_copy),
            description="Copy a file atomically (rolled back by restoring or removing the destination).",
        ),
    ]


@hookimpl
def wfe_validators():
    return [
        Validator(
            "file.system-paths",
            check_system_paths,
            description="Warn about file steps that change system directories (/etc, /usr, ...).",
            actions=("file.write", "file.delete", "file.copy"),
        ),
        Validator(
            "file.world-writable",
            check_modes,
            description="Warn about world-writable or probably mistyped file modes.",
            actions=("file.write",),
        ),
    ]
