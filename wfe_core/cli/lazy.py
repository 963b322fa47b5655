"""A click group whose subcommands are imported only when one of them runs.

``wfe --help`` lists every command with its one-line help; importing the modules that
define ``runs``, ``logs``, ``templates`` or ``report`` just for that cost more than click
itself (they pull in attrs, the secrets masking, pathlib, ...). The group keeps each
lazy command's import path and its short help here; a test checks the short help
against the real command's, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["LAZY_COMMANDS", "LazyGroup", "template_path_option"]

#: command name -> ("module:attribute", the first paragraph of its help, which is all
#: ``wfe --help`` shows of it)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "graph": ("wfe_core.cli.report:graph", "The dependency graph of the workflow in FILE, before it runs."),
    "logs": (
        "wfe_core.cli.logs:logs",
        "Print the recorded output of RUN_ID's steps (or of STEP), each line prefixed by its step id.",
    ),
    "new": ("wfe_core.cli.templates:new", "Write a ready-to-edit workflow file from TEMPLATE (see `wfe templates`)."),
    "report": (
        "wfe_core.cli.report:report",
        "The report of run RUN_ID (finished, failed, cancelled, resumed or still running).",
    ),
    "runs": (
        "wfe_core.cli.runs:runs",
        "Recent runs: id, workflow, status, start, duration. `wfe runs show RUN_ID` for one.",
    ),
    "stats": (
        "wfe_core.cli.report:stats",
        "Per step across the last runs of WORKFLOW_ID: p50/p95 duration, failure rate, flaky, trend.",
    ),
    "templates": (
        "wfe_core.cli.templates:templates",
        "List workflow templates: name, where from, description and parameters.",
    ),
}


def template_path_option(func: Any) -> Any:
    """``--template-path DIR`` (repeatable), shared by ``wfe run``, ``wfe templates`` and ``wfe new``."""
    return click.option(
        "--template-path",
        "template_path",
        multiple=True,
        type=click.Path(file_okay=False, exists=True),
        metavar="DIR",
        help="A directory of template files, searched before WFE_TEMPLATE_PATH and plugins (repeatable).",
    )(func)


class LazyGroup(click.Group):
    """A group that imports the commands of :data:`LAZY_COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, _, attribute = LAZY_COMMANDS[cmd_name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, click's own, with a stand-in (same name, same help)
        for each lazy command not imported yet, so that listing it imports nothing."""
        commands = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                command = click.Command(name, help=LAZY_COMMANDS[name][1])
            if not command.hidden:
                commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in commands])
