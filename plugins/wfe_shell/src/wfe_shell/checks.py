"""Checks of ``shell.execute`` steps before a workflow runs.

:func:`dangerous_patterns` splits a command into simple commands (at ``;``, ``&&``,
``||``, ``|``, ``&``, parentheses and newlines, with redirections noted) and looks for
commands that can destroy a machine. It is a safety net for mistakes, not a sandbox: a
determined author can always hide a command from it. Findings are warnings; strict
validation turns them into errors. Parts rendered later from templates (``{name}``)
cannot be judged and are taken as harmless; what counts as a template is the real
template grammar (:func:`~wfe_core.plugin.is_templated`), so the shell brace expansion
``rm -rf /{usr,etc}`` is judged — as each of the paths it expands to.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from wfe_core.plugin import Problem, action_calls, is_templated, looks_secret, template_names

__all__ = ["check_credentials", "check_dangerous_commands", "command_credentials", "dangerous_patterns"]

_PUNCTUATION = "();<>|&\n"
_WRAPPERS = {"sudo", "doas", "exec", "nohup", "time", "nice", "command", "builtin", "env", "xargs"}
_WRAPPER_OPTIONS_WITH_VALUE = {"-u", "-g", "-U"}
_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=.*")
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ash", "fish"}
_TOP_DIRS = {
    "bin",
    "boot",
    "dev",
    "etc",
    "home",
    "lib",
    "lib32",
    "lib64",
    "opt",
    "proc",
    "root",
    "sbin",
    "srv",
    "sys",
    "usr",
    "var",
}


@functools.cache  # compiled on first use: most runs never need it
def _home() -> re.Pattern[str]:
    return re.compile(r"(?:~|\$HOME|\$\{HOME\})/*(?:\*|\.)?")


@functools.cache  # compiled on first use: most runs never need it
def _block_device() -> re.Pattern[str]:
    return re.compile(
        r"/dev/(?:sd[a-z]+|hd[a-z]+|vd[a-z]+|xvd[a-z]+|nvme\d+n\d+|mmcblk\d+|disk\d+|md\d+|dm-\d+|mapper/)\S*"
    )


# The lookbehind makes a name start only where a word starts: without it the pattern was
# retried (and backtracked) from every position inside a long word, quadratic in its length.
_FORK_BOMB = re.compile(r"(?<![\w:.])([\w:.]+)\s*\(\)\s*\{\s*\1\s*\|\s*\1\s*&\s*\}\s*;\s*\1")
_POWER = {"shutdown", "reboot", "halt", "poweroff"}


# One level of comma alternatives, as bash expands /{usr,etc} (sh does not, bash -c does).
@functools.cache  # compiled on first use: most runs never need it
def _braces() -> re.Pattern[str]:
    return re.compile(r"\{([^{}]*,[^{}]*)\}")


# One piece of a command per match, each alternative linear: shlex built every token one
# character at a time (``token += c``), quadratic in a word's length — a 1 MB word took
# seconds to validate, 8 MB minutes. Same tokens as shlex(posix=True, punctuation_chars=
# _PUNCTUATION, whitespace " \t\r", whitespace_split, no comments).
_PIECE = re.compile(
    r"""
    (?P<punct>[();<>|&\n]+)
  | (?P<space>[ \t\r]+)
  | '(?P<single>[^']*)'
  | "(?P<double>(?:[^"\\]|\\.)*)"
  | \\(?P<escaped>.)
  | (?P<plain>[^ \t\r();<>|&\n'"\\]+)
""",
    re.VERBOSE | re.DOTALL,
)
_OPERATOR = re.compile(r"[();<>|&\n]+")
_DOUBLE_QUOTED_ESCAPE = re.compile(r'\\([\\"])')  # in "...", a backslash escapes only \ and "


def _tokens(command: str) -> list[str]:
    tokens: list[str] = []
    word: list[str] | None = None
    position, end = 0, len(command)
    while position < end:
        match = _PIECE.match(command, position)
        if match is None:  # an unbalanced quote or a trailing backslash: judge the plain words
            return command.split()
        position = match.end()
        kind = match.lastgroup
        if kind in ("punct", "space"):
            if word is not None:
                tokens.append("".join(word))
                word = None
            if kind == "punct":
                tokens.append(match.group())
            continue
        if word is None:
            word = []
        if kind == "double":
            word.append(_DOUBLE_QUOTED_ESCAPE.sub(r"\1", match.group(kind)))
        else:
            word.append(match.group(kind))
    if word is not None:
        tokens.append("".join(word))
    return tokens


def _simple_commands(command: str) -> list[tuple[list[str], list[tuple[str, str]], bool]]:
    """(words, output redirections as (operator, target), piped into the next) per simple command."""
    out: list[tuple[list[str], list[tuple[str, str]], bool]] = []
    words: list[str] = []
    redirects: list[tuple[str, str]] = []
    tokens = iter(_tokens(command))
    for token in tokens:
        if token and _OPERATOR.fullmatch(token):
            if "<" in token or ">" in token:
                target = next(tokens, "")
                if ">" in token:
                    redirects.append((token, target))
                continue
            out.append((words, redirects, token in ("|", "|&")))
            words, redirects = [], []
        else:
            words.append(token)
    out.append((words, redirects, False))
    return [item for item in out if item[0] or item[1]]


def _program(words: list[str]) -> tuple[str, list[str]]:
    """The program a simple command runs (wrappers, options and assignments skipped) and its args."""
    after_wrapper = False
    skip_next = False
    for index, word in enumerate(words):
        if skip_next:
            skip_next = False
            continue
        if _ASSIGNMENT.fullmatch(word):
            continue
        if after_wrapper and word.startswith("-"):
            skip_next = word in _WRAPPER_OPTIONS_WITH_VALUE
            continue
        name = posixpath.basename(word.lstrip("`"))
        if name in _WRAPPERS:
            after_wrapper = True
            continue
        return name, words[index + 1 :]
    return "", []


def _split_options(args: list[str]) -> tuple[list[str], list[str]]:
    options, operands, ended = [], [], False
    for arg in args:
        if not ended and arg == "--":
            ended = True
        elif not ended and arg.startswith("-") and arg != "-":
            options.append(arg)
        else:
            operands.append(arg)
    return options, operands


def _recursive(options: list[str], letters: str) -> bool:
    return any(o == "--recursive" or (not o.startswith("--") and any(c in o for c in letters)) for o in options)


def _brace_expansions(word: str, limit: int = 64) -> list[str]:
    """The words bash's brace expansion makes of ``word`` (``/{usr,etc}`` -> ``/usr``, ``/etc``)."""
    words, done = [word], []
    while words and len(done) + len(words) <= limit:
        current = words.pop()
        match = _braces().search(current)
        if match is None:
            done.append(current)
            continue
        head, tail = current[: match.start()], current[match.end() :]
        words.extend(head + alternative + tail for alternative in match.group(1).split(","))
    return done + words


def _catastrophic(target: str) -> bool:
    """Whether ``target`` is /, a top-level system directory, or the home directory
    (or, with brace expansion, one of the words it expands to is)."""
    if is_templated(target):
        return False
    expansions = _brace_expansions(target)
    if expansions != [target]:
        return any(_catastrophic(word) for word in expansions)
    if _home().fullmatch(target):
        return True
    if not target.startswith("/"):
        return False
    norm = posixpath.normpath(target.rstrip("*") or "/")
    parts = [p for p in norm.split("/") if p]
    return not parts or (len(parts) == 1 and parts[0] in _TOP_DIRS)


def _findings_in(command: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    match = _FORK_BOMB.search(command)
    if match:
        yield "fork bomb", match.group(0)
    commands = _simple_commands(command)
    for position, (words, redirects, piped) in enumerate(commands):
        yield from _findings_of(words, redirects, depth)
        program, _args = _program(words)
        if piped and program in ("curl", "wget") and position + 1 < len(commands):
            sink_words = commands[position + 1][0]
            if _program(sink_words)[0] in _SHELLS:
                yield "piping a download into a shell", f"{' '.join(words)} | {' '.join(sink_words)}"


def _findings_of(words: list[str], redirects: list[tuple[str, str]], depth: int) -> Iterator[tuple[str, str]]:
    snippet = " ".join(words)
    for operator, target in redirects:
        if _block_device().fullmatch(target):
            yield f"write to block device '{target}'", f"{operator} {target}"
    program, args = _program(words)
    options, operands = _split_options(args)
    if program == "rm" and _recursive(options, "rR"):
        for target in operands:
            if _catastrophic(target):
                yield f"recursive delete of '{target}'", snippet
    elif program in ("chmod", "chown", "chgrp") and _recursive(options, "R"):
        for target in operands[1:]:
            if _catastrophic(target):
                yield f"recursive {program} of '{target}'", snippet
    elif program.startswith("mkfs") or program == "mke2fs":
        yield "creating a filesystem", snippet
    elif program == "dd":
        for arg in args:
            if arg.startswith("of=") and _block_device().fullmatch(arg[3:]):
                yield f"dd onto block device '{arg[3:]}'", snippet
    elif (
        program in _POWER
        or (program in ("init", "telinit") and operands[:1] in (["0"], ["6"]))
        or (program == "systemctl" and set(operands) & {"poweroff", "reboot", "halt", "kexec"})
    ):
        yield "shutting down or rebooting the machine", snippet
    elif program in _SHELLS and "-c" in args and depth < 3:
        script_index = args.index("-c") + 1
        if script_index < len(args):
            yield from _findings_in(args[script_index], depth + 1)


def dangerous_patterns(command: str | list[str]) -> list[tuple[str, str]]:
    """(what, where) for each dangerous pattern in ``command`` (a string or an argv list)."""
    if isinstance(command, list):
        words = [w for w in command if isinstance(w, str)]
        found = list(_findings_of(words, [], 0))
    else:
        found = list(_findings_in(command))
    return list(dict.fromkeys(found))


def check_dangerous_commands(workflow: Any, context: Any) -> Iterator[Problem]:
    """Warn about ``shell.execute`` commands matching a dangerous pattern."""
    for call in action_calls(workflow, "shell.execute"):
        command = call.parameters.get("command")
        if not isinstance(command, (str, list)):
            continue
        for what, where in dangerous_patterns(command):
            yield Problem(
                f"step '{call.step.id}': dangerous command: {what} ({where})",
                path=f"{call.path}.command",
                severity="warning",
                step_id=call.step.id,
            )


def check_credentials(workflow: Any, context: Any) -> Iterator[Problem]:
    """Warn about credentials written into a step: in ``env``, in the command, or in variables it uses.

    A value rendered from a template (``{secrets.NAME}``, ``{var}``) or read from the
    environment by the shell (``$VAR``) is not written out and is left alone; a template
    naming a workflow variable whose name says secret and whose value is written in the
    workflow is flagged there.
    """
    for call in action_calls(workflow, "shell.execute"):
        env = call.parameters.get("env")
        for key, value in env.items() if isinstance(env, dict) else ():
            if (
                isinstance(key, str)
                and looks_secret(key)
                and isinstance(value, str)
                and value
                and not is_templated(value)
            ):
                yield Problem(
                    f"step '{call.step.id}': env '{key}' holds a hardcoded value that looks like a credential; "
                    "pass it in through a variable or secret instead",
                    path=f"{call.path}.env.{key}",
                    severity="warning",
                    step_id=call.step.id,
                )
        command = call.parameters.get("command")
        if isinstance(command, (str, list)):
            for what in command_credentials(command):
                yield Problem(
                    f"step '{call.step.id}': hardcoded credential in the command: {what}; "
                    "pass it in as a secret ({secrets.NAME}) through env instead",
                    path=f"{call.path}.command",
                    severity="warning",
                    step_id=call.step.id,
                )
        yield from _secret_variables(workflow, call.step, call.parameters)


# Credentials on a command line (also visible to every local user in `ps`). Whatever
# the option is called, its value is judged literal unless it is a template or comes
# from the shell's environment ($VAR, $(...), `...`).
_MYSQL_CLIENTS = {
    "mysql",
    "mysqldump",
    "mysqladmin",
    "mariadb",
    "mariadb-dump",
    "mariadb-admin",
    "mysqlimport",
    "mysqlcheck",
    "mysqlshow",
    "mysqlpump",
    "mysqlbinlog",
    "mysqlsh",
}


@functools.cache  # compiled on first use: most runs never need it
def _not_a_value() -> re.Pattern[str]:
    return re.compile(r"(?:file|path|stdin|env|prompt|dir|cmd|command|helper|store|length|type)$", re.I)


@functools.cache  # compiled on first use: most runs never need it
def _auth_header() -> re.Pattern[str]:
    return re.compile(r"(?i)^\s*(?:proxy-)?authorization\s*:\s*(?:bearer|basic|token|digest)?\s*(\S+)")


# Anchored on "://" (no scheme part): a scheme pattern tried at every position of a long
# word made this quadratic (a 1 MB word took minutes to validate).
@functools.cache  # compiled on first use: most runs never need it
def _url_credentials() -> re.Pattern[str]:
    return re.compile(r"://[^/\s:@]*:([^/\s@]+)@")


def _literal(value: str) -> bool:
    """Whether ``value`` is written out (not a template, not expanded by the shell)."""
    return bool(value) and not is_templated(value) and "$" not in value and "`" not in value


def command_credentials(command: str | list[str]) -> list[str]:
    """What in ``command`` is a credential written out, each described without its value."""
    if isinstance(command, list):
        simple = [[w for w in command if isinstance(w, str)]]
    else:
        simple = [words for words, _redirects, _piped in _simple_commands(command)]
    found: list[str] = []
    for words in simple:
        program, args = _program(words)
        for word in words:
            name, equals, value = word.partition("=")
            if equals and _ASSIGNMENT.fullmatch(word) and looks_secret(name) and _literal(value):
                found.append(f"{name}=...")
            match = _auth_header().match(word)
            if match and _literal(match.group(1)):
                found.append("an Authorization header with a literal token")
            match = _url_credentials().search(word)
            if match and _literal(match.group(1)):
                found.append("a password in a URL (user:password@host)")
        for position, arg in enumerate(args):
            following = args[position + 1] if position + 1 < len(args) else ""
            if program in _MYSQL_CLIENTS and arg.startswith("-p") and not arg.startswith("--") and _literal(arg[2:]):
                found.append(f"{program} -p<password>")
            elif program == "sshpass" and arg.startswith("-p") and _literal(arg[2:] or following):
                found.append("sshpass -p <password>")
            elif (
                program in ("curl", "wget")
                and arg in ("-u", "--user")
                and ":" in following
                and _literal(following.partition(":")[2])
            ):
                found.append(f"{program} {arg} user:password")
            elif (
                program == "curl"
                and arg.startswith("-u")
                and len(arg) > 2
                and ":" in arg
                and _literal(arg.partition(":")[2])
            ):
                found.append("curl -uuser:password")
            elif arg.startswith("--"):
                name, equals, value = arg[2:].partition("=")
                if not looks_secret(name) or _not_a_value().search(name):
                    continue
                if equals and _literal(value):
                    found.append(f"--{name}=...")
                elif not equals and following and not following.startswith("-") and _literal(following):
                    found.append(f"--{name} ...")
    return list(dict.fromkeys(found))


def _secret_variables(workflow: Any, step: Any, params: Any) -> Iterator[Problem]:
    """A ``{NAME}`` in the step naming a workflow variable that looks secret and is written out."""
    variables = getattr(workflow, "variables", None) or {}
    for name in sorted(template_names(params)):
        value = variables.get(name)
        if (
            looks_secret(name)
            and isinstance(value, (str, int))
            and not isinstance(value, bool)
            and _literal(str(value))
        ):
            yield Problem(
                f"step '{step.id}': uses variable '{name}', a credential written in the workflow; "
                f"declare it under secrets: and use {{secrets.{name}}} instead",
                path=f"variables.{name}",
                severity="warning",
                step_id=step.id,
            )
