"""The built-in reporters, one plugin module each: ``console`` (plugin
``wfe.reporter.console``, the default of ``wfe run``) and ``json`` (plugin
``wfe.reporter.json``). What they share (writing to a reader that may go away) is
in :mod:`.stream`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfe_core.lazy import lazy_exports

if TYPE_CHECKING:
    from wfe_core.plugin.builtins.reporters.console import ConsoleReporter
    from wfe_core.plugin.builtins.reporters.json_lines import JsonReporter

__all__ = ["ConsoleReporter", "JsonReporter"]

#: name -> its module, imported on first use (PEP 562): a run imports only the reporter it uses.
_MODULES = {"ConsoleReporter": "console", "JsonReporter": "json_lines"}


__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
