"""The built-in reporters, one plugin module each: ``console`` (plugin
``wfe.reporter.console``, the default of ``wfe run``) and ``json`` (plugin
``wfe.reporter.json``). What they share (writing to a reader that may go away) is
in :mod:`.stream`."""

from __future__ import annotations

from wfe_core.plugin.builtins.reporters.console import ConsoleReporter
from wfe_core.plugin.builtins.reporters.json_lines import JsonReporter

__all__ = ["ConsoleReporter", "JsonReporter"]
