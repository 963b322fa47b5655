"""Operating-system errors as the one-line failures a user reads."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from wfe_core.model.errors import ActionError

__all__ = ["describe_os_error", "os_errors"]


def describe_os_error(exc: OSError) -> str:
    """What went wrong, in words: ``no such file or directory``, ``permission denied`` …"""
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink where a file or directory had just been
        return "it changed while in use (a symlink took its place)"
    return str(exc.strerror or exc)


@contextlib.contextmanager
def os_errors(verb: str, target: str) -> Iterator[None]:
    """Turn an ``OSError`` inside the block into ``ActionError("cannot VERB 'TARGET': why")``.

    ``with os_errors("read", params.path): ...`` fails the step with ``cannot read
    'x.txt': no such file or directory`` instead of a traceback. An :class:`ActionError`
    raised inside passes through unchanged.
    """
    try:
        yield
    except ActionError:
        raise
    except OSError as exc:
        raise ActionError(f"cannot {verb} '{target}': {describe_os_error(exc)}") from None
