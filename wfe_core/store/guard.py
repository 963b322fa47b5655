"""What a failing SQLite call becomes: a :class:`StoreError` naming the store file."""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from wfe_core.model.errors import WfeError

__all__ = ["StoreError", "guarded"]


class StoreError(WfeError):
    """The run store cannot be opened, is from a newer wfe, or lacks a run."""


def guarded(method: Any) -> Any:
    """SQLite failures (disk full, a lock held too long) become a :class:`StoreError`."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if self._in_tx:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                self._in_tx = False
            raise StoreError(f"run store {self.path}: {exc}") from None

    return wrapper
