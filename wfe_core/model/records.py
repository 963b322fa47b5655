"""The ``__repr__`` of wfe's attrs classes, one shared function instead of one per class.

attrs generates each class's methods as Python source and compiles it when the class is
defined; its ``__repr__`` (a recursion guard around an f-string of every field) is the
biggest part, and compiling ~40 of them cost every ``wfe`` start ~5 ms. A class that
sets ``__repr__ = fields_repr`` in its body keeps attrs' other methods (attrs leaves a
method the class defines itself alone) and reprs exactly as attrs' own ``__repr__``
would: ``Name(field=value, ...)``, the fields attrs would show in their order,
``...`` for an instance already being repr'd further up (a cycle).
"""

from __future__ import annotations

import threading
from typing import Any

import attrs

__all__ = ["fields_repr"]

#: The ids of the instances being repr'd on this thread (attrs keeps its own the same way).
_repring = threading.local()


def fields_repr(self: Any) -> str:
    """``Name(field=value, ...)``: the text attrs' generated ``__repr__`` gives."""
    try:
        seen: set[int] = _repring.seen
    except AttributeError:
        seen = _repring.seen = set()
    if id(self) in seen:
        return "..."
    seen.add(id(self))
    try:
        parts = []
        for field in attrs.fields(self.__class__):
            how = field.repr
            if how is False:
                continue
            value = getattr(self, field.name) if field.init else getattr(self, field.name, attrs.NOTHING)
            parts.append(f"{field.name}={value!r}" if how is True else f"{field.name}={how(value)}")
        return f"{self.__class__.__qualname__.rsplit('>.', 1)[-1]}({', '.join(parts)})"
    finally:
        seen.discard(id(self))
