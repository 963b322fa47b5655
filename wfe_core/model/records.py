"""``__repr__``, ``__eq__`` and ``__hash__`` of wfe's attrs classes: shared functions
instead of methods attrs writes for each class.

attrs generates each class's methods as Python source and compiles it when the class is
defined; ``__repr__``, ``__eq__`` and ``__hash__`` were two thirds of what ``wfe run``
spent compiling for the ~40 classes it defines (~7 ms of every start). A class that sets
them in its body keeps attrs' ``__init__`` (attrs leaves a method the class defines
itself alone) and behaves exactly as with attrs' own:

- ``__repr__ = fields_repr``: ``Name(field=value, ...)``, the fields attrs would show in
  their order (``repr=False`` left out, a custom field repr used), ``...`` for an
  instance already being repr'd further up (a cycle);
- ``__eq__ = fields_eq``: ``NotImplemented`` for another class (a subclass too), else the
  fields attrs compares (``eq=False`` left out, ``eq_key`` applied), in order, stopping at
  the first that differs; ``!=`` is its negation. A class that defines ``__eq__`` this way
  is unhashable, as attrs makes a mutable class with equality;
- ``__hash__ = fields_hash`` (frozen classes, which attrs makes hashable by value): the
  hash of the class and the fields attrs hashes, so equal instances hash alike.
"""

from __future__ import annotations

import threading
from typing import Any

import attrs

__all__ = ["fields_eq", "fields_hash", "fields_repr"]

#: The ids of the instances being repr'd on this thread (attrs keeps its own the same way).
_repring = threading.local()
#: class -> (name, eq key) of each field ``==`` compares / ``hash`` takes, found on first use.
_compared: dict[type, tuple[tuple[str, Any], ...]] = {}
_hashed: dict[type, tuple[tuple[str, Any], ...]] = {}


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


def fields_eq(self: Any, other: Any) -> Any:
    """``self == other`` as attrs' generated ``__eq__`` answers it."""
    cls = self.__class__
    if other.__class__ is not cls:
        return NotImplemented
    fields = _compared.get(cls)
    if fields is None:
        fields = _compared[cls] = tuple((f.name, f.eq_key) for f in attrs.fields(cls) if f.eq)
    result: Any = True
    for name, key in fields:
        mine, theirs = getattr(self, name), getattr(other, name)
        result = mine == theirs if key is None else key(mine) == key(theirs)
        if not result:  # as attrs' ``a == b and c == d``: the first false comparison's result
            return result
    return result


def fields_hash(self: Any) -> int:
    """``hash(self)`` from the fields attrs' generated ``__hash__`` takes."""
    cls = self.__class__
    fields = _hashed.get(cls)
    if fields is None:
        fields = _hashed[cls] = tuple(
            (f.name, f.eq_key) for f in attrs.fields(cls) if f.hash is True or (f.hash is None and f.eq is True)
        )
    return hash((cls, *(getattr(self, n) if key is None else key(getattr(self, n)) for n, key in fields)))
