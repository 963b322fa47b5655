"""The wfe plugin module of wfe-shell (entry point ``shell`` in group ``wfe``)."""

from __future__ import annotations

from wfe_core.plugin import Action, Validator, hookimpl

from .checks import check_credentials, check_dangerous_commands
from .execute import execute
from .params import ShellParams
from .process import kill_all
from .quoting import ShellQuote
from .template_checks import check_command_templates

__all__ = ["wfe_actions", "wfe_force_stop", "wfe_validators"]


@hookimpl
def wfe_actions():
    return [
        # quote: every value templating substitutes into a command string reaches the
        # shell through the command's environment (``{x!raw}`` opts out), so a value can
        # never become shell syntax, inside quotes or not (see quoting.py).
        Action(
            "shell.execute",
            execute,
            ShellParams,
            quote={"command": ShellQuote()},
            description="Run a command (string: /bin/sh -c; list: argv) in its own process group.",
        ),
    ]


@hookimpl
def wfe_validators():
    return [
        Validator(
            "shell.dangerous-commands",
            check_dangerous_commands,
            description="Warn about commands that can destroy a machine (rm -rf /, mkfs, dd to disks, ...).",
            actions=("shell.execute",),
        ),
        Validator(
            "shell.command-template",
            check_command_templates,
            description="Refuse placeholders that would run a value as shell code ({cmd} alone, sh -c {v}).",
            actions=("shell.execute",),
        ),
        Validator(
            "shell.hardcoded-credentials",
            check_credentials,
            description="Warn about secret-looking env values written into the workflow.",
            actions=("shell.execute",),
        ),
    ]


@hookimpl
def wfe_force_stop():
    # A second Ctrl-C exits without waiting for steps: their process groups die with us.
    kill_all()
