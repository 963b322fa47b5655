"""The built-in reporters, one plugin module each: ``console`` (plugin
``wfe.reporter.console``, the default of ``wfe run``) and ``json`` (plugin
``wfe.reporter.json``). What they share (writing to a reader that may go away) is
in :mod:`.stream`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfe_core.plugin.builtins.reporters.console import ConsoleReporter
    from wfe_core.plugin.builtins.reporters.json_lines import JsonReporter

__all__ = ["ConsoleReporter", "JsonReporter"]

#: name -> its module, imported on first use (PEP 562): a run imports only the reporter it uses.
_MODULES = {"ConsoleReporter": "console", "JsonReporter": "json_lines"}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
