"""Turning a step's path parameter into the real path to act on, inside the file root.

The file root confines every ``file.*`` action to one directory tree. It is set by the
environment variable ``WFE_FILE_ROOT`` (the operator's setting) and/or the run variable
of the same name (the workflow's). When both are set a path must lie inside both, so a
workflow can narrow the operator's root but never widen it. Unset or empty means no
confinement. A relative root is taken against the step's working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wfe_core.plugin import ActionError

__all__ = ["FILE_ROOT_ENV", "file_roots", "resolve_target"]

#: Environment variable / run variable naming the directory file actions are confined to.
FILE_ROOT_ENV = "WFE_FILE_ROOT"


def _root_settings(context: Any) -> list[str]:
    settings = [os.environ.get(FILE_ROOT_ENV), (context.variables or {}).get(FILE_ROOT_ENV)]
    return [str(value) for value in settings if value]


def file_roots(context: Any) -> list[Path]:
    """The confining directories for this step (symlinks resolved); empty when unconfined."""
    return [Path(os.path.realpath(context.resolve_path(s))) for s in _root_settings(context)]


def _realpath(path: str, raw: str) -> str:
    """``os.path.realpath``, whose symlink walk raises when a link vanishes midway."""
    try:
        return os.path.realpath(path)
    except OSError as exc:
        raise ActionError(
            f"path '{raw}' changed while it was being resolved "
            f"({exc.strerror or exc}): a directory or symlink on the way was replaced"
        ) from None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_target(context: Any, raw: str, *, follow_symlinks: bool = True) -> Path:
    """The absolute path ``raw`` names, refused if it leaves the file root.

    With ``follow_symlinks`` every symlink is resolved (the file itself is the one acted
    on); without, only the parent directory is resolved and the last component is kept,
    so deleting a symlink removes the link, not what it points to.

    Raises:
        ActionError: the path (lexically, or through a symlink) is outside a root.
    """
    given = context.resolve_path(raw)
    lexical = os.path.normpath(given)
    if follow_symlinks:
        real = _realpath(str(given), raw)
    else:
        real = os.path.join(_realpath(os.path.dirname(lexical), raw), os.path.basename(lexical))
    for setting in _root_settings(context):
        written = os.path.normpath(context.resolve_path(setting))
        root = _realpath(written, raw)
        # The root as written counts too, so a root under a symlinked /tmp still matches.
        if not (_inside(lexical, root) or _inside(lexical, written)):
            raise ActionError(f"path '{raw}' is outside the file root '{root}' ({FILE_ROOT_ENV})")
        if not _inside(real, root):
            raise ActionError(
                f"path '{raw}' resolves through a symlink to '{real}', outside the file root '{root}' ({FILE_ROOT_ENV})"
            )
    return Path(real)
