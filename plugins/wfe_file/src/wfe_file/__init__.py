"""wfe-file: ``file.read``, ``file.write``, ``file.delete`` and ``file.copy`` for wfe.

Writes are atomic (temporary file + ``os.replace``), every changing action compensates
itself on rollback, and ``WFE_FILE_ROOT`` confines all of them to one directory.
"""

from __future__ import annotations

from .atomic import atomic_write
from .params import CopyParams, DeleteParams, ReadParams, WriteParams, parse_mode
from .paths import FILE_ROOT_ENV, file_roots, resolve_target
from .rollback import ROLLBACK_CAPTURE_LIMIT

__version__ = "0.1.0"

__all__ = [
    "FILE_ROOT_ENV",
    "ROLLBACK_CAPTURE_LIMIT",
    "CopyParams",
    "DeleteParams",
    "ReadParams",
    "WriteParams",
    "atomic_write",
    "file_roots",
    "parse_mode",
    "resolve_target",
]
