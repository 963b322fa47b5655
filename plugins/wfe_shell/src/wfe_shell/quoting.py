"""Templated values reach a shell command through its environment, never as shell syntax.

For ``command: 'echo "hello {who}"'`` the script that runs is ``echo "hello ${WFE_ARG_1}"``
with ``WFE_ARG_1`` set to the value in the command's environment (as GitHub's hardening
guide recommends for workflow expressions). A shell expands a variable exactly once and
never parses the result as code, so no value can become syntax — wherever its placeholder
sits. What replaces a placeholder depends on where it sits, found by a small lexer of the
template (quotes, backslashes, ``$( )``, ``$(( ))``, backticks, comments, here-documents):

==========================================  =============================================
placeholder                                 becomes
==========================================  =============================================
unquoted ``echo {v}``                       ``echo "${WFE_ARG_1}"`` (one word, no globbing)
in double quotes ``"hi {v}"``               ``"hi ${WFE_ARG_1}"``
in single quotes ``'hi {v}'``               ``'hi '"${WFE_ARG_1}"''``
in a here-document body (``<<EOF``)         ``${WFE_ARG_1}``
in ``$(( ))``                               ``${WFE_ARG_1}`` — the value must be a number
script of a nested shell ``sh -c 'echo {v}'``  ``sh -c 'echo "${WFE_ARG_1}"'`` — the inner
                                            shell inherits the variable and expands it
==========================================  =============================================

A nested shell is ``sh``/``bash``/… with a ``-c``-style option, or ``eval``, whose script
is a quoted word. Refused (:class:`ValueError`, reported as a template error): a
placeholder that *is* a nested shell's script (``sh -c {v}``, ``eval {v}``) and one in a
here-document with a quoted delimiter (no expansion happens there). ``{v!raw}`` is the
explicit opt-out: its value is pasted in as shell code.

Limits: single-quoted text handed to another interpreter (``python -c '…{v}…'``,
``awk '…{v}…'``) gets the value as literal text inside that program, which may parse it;
pass the value in an ``env`` entry and read it there instead. Nesting is followed one
level deep; ``cat <<EOF | sh`` is not recognised as nested (``sh <<EOF`` is).
"""

from __future__ import annotations

import functools
import posixpath
import re
import shlex
from typing import Any

__all__ = ["ARG_PREFIX", "ShellQuote", "ShellScript", "render_command"]

#: Prefix of the environment variables that carry substituted values.
ARG_PREFIX = "WFE_ARG_"

_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "posh", "yash", "busybox", "su", "runuser"}


@functools.cache  # compiled on first use: most runs never need it
def _script_option() -> re.Pattern[str]:
    return re.compile(r"-[A-Za-z]*c[A-Za-z]*")


_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")
_OPERATORS = ";&|()\n"


@functools.cache  # compiled on first use: most runs never need it
def _number() -> re.Pattern[str]:
    return re.compile(r"\s*[-+]?(?:\d+|0[xX][0-9a-fA-F]+)\s*")


class ShellScript(str):
    """A rendered command: the script text, plus ``env`` — the values it refers to.

    It is a ``str`` so that everything downstream of templating (parameter checks,
    reporters) sees the script that will run; ``shell.execute`` adds ``env`` to the
    environment of this one command. Its ``repr`` (what a dry run prints) shows the
    template with each value shell-quoted in its place, which reads as the command does.
    """

    env: dict[str, str]
    display: str

    def __new__(cls, text: str, env: dict[str, str], display: str | None = None) -> ShellScript:
        self = super().__new__(cls, text)
        self.env = env
        self.display = text if display is None else display
        return self

    def __repr__(self) -> str:
        return repr(self.display)

    def __reduce__(self) -> Any:
        return (ShellScript, (str(self), self.env, self.display))


class _Frame:
    """One level of the lexer: ``kind`` is code, sq, dq, heredoc, qheredoc or comment."""

    __slots__ = (
        "arith",
        "closer",
        "delim",
        "depth",
        "fresh",
        "inner",
        "kind",
        "line",
        "nested",
        "strip_tabs",
        "word",
        "words",
    )

    def __init__(self, kind: str, *, nested: bool = False, closer: str = ""):
        self.kind = kind
        self.nested = nested  # its text is the script of another shell
        self.closer = closer  # code frames: ")" for $( ), "`" for backticks, "" at top
        self.depth = 0  # open parentheses inside a $( )
        self.fresh = True  # nothing read yet (a "(" now makes $(( arithmetic )
        self.arith = False
        self.words: list[str] = []  # finished words of the current simple command
        self.word: list[str] | None = None  # the word being read (None: between words)
        self.inner = _Inner() if nested else None
        self.delim = ""
        self.strip_tabs = False
        self.line: list[str] = []


class _Inner:
    """Quote state of the nested shell's script, fed with the text that shell will see."""

    __slots__ = ("escaped", "state")

    def __init__(self) -> None:
        self.state = "code"
        self.escaped = False

    def feed(self, char: str) -> None:
        if self.escaped:
            self.escaped = False
        elif self.state == "sq":
            if char == "'":
                self.state = "code"
        elif char == "\\":
            self.escaped = True
        elif char == '"':
            self.state = "code" if self.state == "dq" else "dq"
        elif char == "'" and self.state == "code":
            self.state = "sq"


def _is_script_position(words: list[str]) -> bool:
    """Whether the next word is run as shell code: ``sh -c WORD``, ``eval WORD``."""
    names = [w for w in words if not _ASSIGNMENT.match(w)]
    if names and names[0] == "eval":
        return True
    return (
        len(words) >= 2
        and bool(_script_option().fullmatch(words[-1]))
        and any(posixpath.basename(w) in _SHELLS for w in words[:-1])
    )


class _Lexer:
    """Follows a shell script as it is written, to know the context of each placeholder."""

    def __init__(self) -> None:
        self.stack = [_Frame("code")]
        self.pending_heredocs: list[tuple[str, bool, bool, bool]] = []
        self.heredoc_op: tuple[bool, bool] | None = None  # after << : (strip_tabs, nested)
        self.prev = ""
        self.escaped = False

    @property
    def top(self) -> _Frame:
        return self.stack[-1]

    def _end_word(self, frame: _Frame) -> None:
        if frame.word is not None:
            word = "".join(frame.word)
            if self.heredoc_op is not None:
                strip_tabs, nested = self.heredoc_op
                quoted = any(q in word for q in "'\"\\")
                self.pending_heredocs.append(
                    (word.replace("'", "").replace('"', "").replace("\\", ""), quoted, strip_tabs, nested)
                )
                self.heredoc_op = None
            else:
                frame.words.append(word)
            frame.word = None

    def _word_char(self, frame: _Frame, char: str) -> None:
        if frame.word is None:
            frame.word = []
        frame.word.append(char)

    def feed(self, text: str) -> None:
        for char in text:
            self._feed(char)

    def _feed(self, char: str) -> None:
        frame = self.top
        prev, self.prev = self.prev, char
        if frame.inner is not None:
            self._feed_inner(frame, char)
        if self.escaped:
            self.escaped = False
            if frame.kind == "code":
                self._word_char(frame, char)
            return
        kind = frame.kind
        parent = self.stack[-2] if len(self.stack) > 1 else None
        if (
            kind in ("sq", "dq")
            and parent is not None
            and parent.kind == "code"
            and not ((kind == "sq" and char == "'") or (kind == "dq" and char == '"' and not self.escaped))
        ):
            self._word_char(parent, char)  # quoted text is part of the word: "sh" -c …
        if frame.fresh:
            frame.fresh = False
            if char == "(" and frame.closer == ")" and kind == "code":
                frame.arith = True
        if kind == "comment":
            if char == "\n":
                self.stack.pop()
                self.prev = ""
                self._feed(char)
            return
        if kind == "sq":
            if char == "'":
                self.stack.pop()
            return
        if kind == "qheredoc" or kind == "heredoc":
            self._feed_heredoc(frame, char, prev)
            return
        if char == "\\":
            self.escaped = True
            if kind == "code":
                # The backslash itself is not part of the word (\sh is sh), except that
                # it quotes a here-document delimiter (<<\EOF).
                self._word_char(frame, "\\")
                if self.heredoc_op is None:
                    frame.word.pop()
            return
        if kind == "dq":
            if char == '"':
                self.stack.pop()
            elif char == "(" and prev == "$":
                self.stack.append(_Frame("code", closer=")"))
                self.top.depth = 1
            elif char == "`":
                self.stack.append(_Frame("code", closer="`"))
            return
        # code
        if char == "#" and frame.word is None:
            self.stack.append(_Frame("comment"))
        elif self.heredoc_op is not None and char in "'\"":
            self._word_char(frame, char)  # a quoted here-document delimiter: <<'EOF'
        elif char == "'" or char == '"':
            nested = _is_script_position(frame.words)
            if frame.word is None:
                frame.word = []  # a word starts here, even if its quotes hold nothing
            self.stack.append(_Frame("sq" if char == "'" else "dq", nested=nested))
        elif char == "`":
            if frame.closer == "`":
                self.stack.pop()
            else:
                self._word_char(frame, char)
                self.stack.append(_Frame("code", closer="`"))
        elif char == "(" and prev == "$":
            self._word_char(frame, char)
            self.stack.append(_Frame("code", closer=")"))
            self.top.depth = 1
        elif char in " \t":
            self._end_word(frame)
        elif char == "<" and prev == "<" and frame.word == ["<"]:
            frame.word = None
            self.heredoc_op = (False, any(posixpath.basename(w) in _SHELLS for w in frame.words))
        elif char == "-" and self.heredoc_op is not None and frame.word is None and prev == "<":
            self.heredoc_op = (True, self.heredoc_op[1])
        elif char in _OPERATORS:
            if frame.closer == ")" and char in "()":
                frame.depth += 1 if char == "(" else -1
                if frame.depth == 0:
                    self._end_word(frame)
                    self.stack.pop()
                    return
            self._end_word(frame)
            frame.words = []
            if char == "\n" and self.pending_heredocs:
                delim, quoted, strip_tabs, nested = self.pending_heredocs.pop(0)
                body = _Frame("qheredoc" if quoted else "heredoc", nested=nested and not quoted)
                body.delim, body.strip_tabs = delim, strip_tabs
                self.stack.append(body)
        elif char == "<" and frame.word is None:
            frame.word = ["<"]
        else:
            self._word_char(frame, char)

    def _feed_heredoc(self, frame: _Frame, char: str, prev: str) -> None:
        if char == "\n":
            line = "".join(frame.line)
            if (line.lstrip("\t") if frame.strip_tabs else line) == frame.delim:
                self.stack.pop()
                if self.pending_heredocs:  # the next here-document of the same line
                    delim, quoted, strip_tabs, nested = self.pending_heredocs.pop(0)
                    body = _Frame("qheredoc" if quoted else "heredoc", nested=nested and not quoted)
                    body.delim, body.strip_tabs = delim, strip_tabs
                    self.stack.append(body)
                return
            frame.line = []
            return
        frame.line.append(char)
        if frame.kind == "heredoc":
            if char == "\\":
                self.escaped = True
            elif char == "(" and prev == "$":
                self.stack.append(_Frame("code", closer=")"))
                self.top.depth = 1
            elif char == "`":
                self.stack.append(_Frame("code", closer="`"))

    def _feed_inner(self, frame: _Frame, char: str) -> None:
        # What the nested shell sees: the outer quoting removed (a backslash before a
        # character special in that quoting is dropped).
        if self.escaped and frame.kind in ("dq", "heredoc"):
            special = '$`"\\\n' if frame.kind == "dq" else "$`\\\n"
            if char in special:
                frame.inner.feed(char)
            else:
                frame.inner.feed("\\")
                frame.inner.feed(char)
            return
        if char == "\\" and frame.kind in ("dq", "heredoc"):
            return  # decided with the next character
        if (frame.kind == "sq" and char == "'") or (frame.kind == "dq" and char == '"'):
            return  # the closing quote
        frame.inner.feed(char)

    def reference(self, name: str, value: str) -> str:
        """What replaces a placeholder here so the shell expands ``$name`` once, as data."""
        frame = self.top
        ref = "${" + name + "}"
        if any(f.arith for f in self.stack):
            # Quotes are not allowed in $(( )), and some shells (bash) evaluate a
            # variable's text there as an expression, subscripts and all: numbers only.
            if not _number().fullmatch(value):
                # The value is not quoted in the message: it may be a secret.
                raise ValueError("inside $(( )) a value must be a number")
            return ref
        if frame.kind == "code":
            if _is_script_position(frame.words):
                raise ValueError(
                    "the value would be run as shell code (it is the script of "
                    f"'{' '.join(frame.words[-2:])}'); mark it !raw if that is intended"
                )
            self._word_char(frame, "x")
            return f'"{ref}"'
        if frame.kind == "qheredoc":
            raise ValueError(
                "a here-document with a quoted delimiter is not expanded, so a value "
                "cannot be passed into it; use an unquoted delimiter"
            )
        if frame.inner is not None:
            inner = {"code": f'"{ref}"', "dq": ref, "sq": f"'\"{ref}\"'"}[frame.inner.state]
            if frame.kind == "sq":
                if "'" in inner:  # cannot happen: text in single quotes has no single quote
                    raise ValueError("cannot place a value inside single quotes nested in single quotes")
                return inner
            # Escape for the outer double quotes / here-document: the nested shell must
            # receive the reference itself, not its value.
            specials = '$`"\\' if frame.kind == "dq" else "$`\\"
            return "".join("\\" + c if c in specials else c for c in inner)
        if frame.kind in ("dq", "heredoc", "comment"):
            return ref
        return f"'\"{ref}\"'"  # sq: close, the expanded value in double quotes, reopen


def render_command(pieces: list[Any]) -> ShellScript:
    """The script for ``pieces``: literal text (``str``) and substitutions (objects with
    ``text``, ``value`` and ``raw``, as the core's templating hands them over).

    Raises:
        ValueError: a placeholder sits where no quoting makes its value safe.
    """
    lexer = _Lexer()
    out: list[str] = []
    shown: list[str] = []
    env: dict[str, str] = {}
    for piece in pieces:
        if isinstance(piece, str):
            lexer.feed(piece)
            out.append(piece)
            shown.append(piece)
        elif piece.raw:
            lexer.feed(piece.value)  # pasted in as code: the lexer must follow it too
            out.append(piece.value)
            shown.append(piece.value)
        else:
            name = f"{ARG_PREFIX}{len(env) + 1}"
            try:
                ref = lexer.reference(name, piece.value)
            except ValueError as exc:
                raise ValueError(f"'{{{piece.text}}}': {exc}") from None
            out.append(ref)
            # Quoting would cut a value with a ' into pieces that secret masking cannot
            # recognise: show such a value by its variable instead.
            shown.append(ref if "'" in piece.value else shlex.quote(piece.value))
            env[name] = piece.value
    return ShellScript("".join(out), env, "".join(shown))


class ShellQuote:
    """The ``quote`` of ``shell.execute``'s ``command``: context-aware, through the environment.

    Called with one value it is :func:`shlex.quote` (for callers of the plain quoting
    interface); the core's templating calls :meth:`render_template` with the whole
    template instead.
    """

    def __call__(self, value: str) -> str:
        return shlex.quote(value)

    def render_template(self, pieces: list[Any]) -> ShellScript:
        return render_command(pieces)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShellQuote)

    def __hash__(self) -> int:
        return hash(ShellQuote)

    def __repr__(self) -> str:
        return "ShellQuote()"
