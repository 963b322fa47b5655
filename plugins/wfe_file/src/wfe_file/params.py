"""Parameter classes of the ``file.*`` actions.

The core structures a step's (already templated) parameters into these with its strict
converter: unknown keys are refused and scalars are never coerced.
"""

from __future__ import annotations

import codecs
import functools
import re
from typing import Any

import attrs

from wfe_core.plugin import fields_eq, fields_hash, fields_repr

__all__ = ["CopyParams", "DeleteParams", "ReadParams", "WriteParams", "parse_mode"]


@functools.cache  # compiled on first use: most runs never need it
def _octal() -> re.Pattern[str]:
    return re.compile(r"(?:0[oO])?([0-7]{1,4})")


def parse_mode(value: Any) -> int | None:
    """A permission mode from a parameter value.

    An integer is the mode's numeric value (``0o644`` in Python, ``0644`` in YAML 1.1,
    ``420`` in JSON); a string is always read as octal: ``"644"``, ``"0644"`` or
    ``"0o644"``. ``None`` means "not given".

    Raises:
        ValueError: not a mode between 0 and 0o7777.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"mode must be an octal string such as '0644' or a number, got {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 0o7777:
            raise ValueError(f"mode must be between 0 and 0o7777, got {value}")
        return value
    if isinstance(value, str):
        match = _octal().fullmatch(value.strip())
        if match is None:
            raise ValueError(f"mode must be an octal string such as '0644' or '0o644', got {value!r}")
        return int(match.group(1), 8)
    raise ValueError(f"mode must be an octal string such as '0644' or a number, got {type(value).__name__}")


def _known_encoding(instance: Any, attribute: Any, value: str) -> None:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"{attribute.name}: unknown encoding '{value}'") from None


def _non_empty(instance: Any, attribute: Any, value: str) -> None:
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")


@attrs.frozen
class ReadParams:
    """path: the file to read; encoding: how its bytes are decoded (default utf-8)."""

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    path: str = attrs.field(validator=_non_empty)
    encoding: str = attrs.field(default="utf-8", validator=_known_encoding)


@attrs.frozen
class WriteParams:
    """Parameters of ``file.write``.

    Attributes:
        path: the file to write (relative paths resolve against the step's workdir).
        content: the text to write.
        encoding: how ``content`` is encoded (default utf-8).
        append: add ``content`` to the end instead of replacing the file.
        create_dirs: create missing parent directories (default true).
        mode: permission bits, an octal string (``"0644"``) or a number (``0o644``);
            ``null`` keeps an existing file's mode (new files: 0666 minus the umask).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    path: str = attrs.field(validator=_non_empty)
    content: str
    encoding: str = attrs.field(default="utf-8", validator=_known_encoding)
    append: bool = False
    create_dirs: bool = True
    mode: Any = attrs.field(default=None, converter=parse_mode)


@attrs.frozen
class DeleteParams:
    """path: the file (or symlink) to delete; missing_ok: succeed if it does not exist."""

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    path: str = attrs.field(validator=_non_empty)
    missing_ok: bool = False


@attrs.frozen
class CopyParams:
    """Parameters of ``file.copy``.

    Attributes:
        source: the file to copy.
        destination: the file to create or replace; an existing directory receives a
            file of the source's name.
        overwrite: replace an existing destination (default true); false fails instead.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    source: str = attrs.field(validator=_non_empty)
    destination: str = attrs.field(validator=_non_empty)
    overwrite: bool = True
