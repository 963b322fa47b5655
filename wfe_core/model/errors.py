"""One exception class per failure kind, all under :class:`WfeError`.

A :class:`Problem` is one thing wrong with a user's input; errors about input carry
every problem found, so a user fixes them all in one go.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from wfe_core.model.records import fields_eq, fields_hash, fields_repr

__all__ = [
    "ActionError",
    "CycleError",
    "InvalidWorkflowError",
    "PluginError",
    "Problem",
    "TemplateError",
    "WfeError",
    "did_you_mean",
]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or ``""``."""
    import difflib  # here: only a mistake needs it, and it costs every start

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@attrs.frozen
class Problem:
    """One thing wrong with a workflow.

    Attributes:
        message: what is wrong, in words a user acts on.
        path: where inside the document, e.g. ``steps[2].timeout`` ("" for the whole).
        source: the file (or ``<string>``/``<dict>``) the workflow came from, if any.
        line: 1-based line in ``source``, when known.
        column: 1-based column in ``source``, when known.
        severity: ``"error"`` or ``"warning"``; strict validation treats warnings as errors.
        step_id: the step concerned, when there is one.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    message: str
    path: str = ""
    source: str | None = None
    line: int | None = None
    column: int | None = None
    severity: str = "error"
    step_id: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.source:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        path = f"{self.path}: " if self.path else ""
        level = "warning: " if self.severity == "warning" else ""
        return f"{where}{level}{path}{self.message}"


class WfeError(Exception):
    """Base of every error wfe raises on purpose."""


class InvalidWorkflowError(WfeError):
    """The workflow (or its file) is not valid; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CycleError(InvalidWorkflowError):
    """The dependency graph has a cycle; ``cycle`` is it, first node repeated at the end."""

    def __init__(self, cycle: list[str], source: str | None = None):
        self.cycle = cycle
        text = " -> ".join(cycle)
        super().__init__([Problem(f"dependency cycle: {text}", path="steps", source=source)])


class PluginError(WfeError):
    """A plugin could not be loaded, or two plugins claim the same name."""


class TemplateError(WfeError):
    """A template could not be rendered (undefined name, bad syntax, forbidden access)."""


class ActionError(WfeError):
    """Raised by an action to fail its step with a clean message (no traceback kept).

    ``output`` (optional) is what the failed attempt produced, e.g. a command's
    ``{"stdout", "stderr"}``: the run records it (bounded, secrets masked) and shows its
    tail under the error.
    """

    def __init__(self, *args: object, output: object = None) -> None:
        super().__init__(*args)
        self.output = output
