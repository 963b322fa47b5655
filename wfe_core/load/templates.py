"""Workflow templates: a workflow plus declared parameters, rendered into a :class:`Workflow`.

A template file (YAML, JSON or TOML) has two keys::

    template:
      description: Deploy a build into a release directory and switch `current` to it.
      parameters:
        - {name: app_name, type: string, required: true, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$"}
        - {name: environment, allowed: [development, staging, production], default: development}
    workflow:
      id: deploy_{app_name}
      steps: [...]

Rendering checks the given variables against the parameters *before* anything is built —
a missing required one, a wrong type, a value outside ``allowed``, a value not matching
``pattern`` or an unknown name (with a did-you-mean) is an :class:`InvalidWorkflowError`
naming the template and the parameter — then puts the values into the workflow's
``variables``, where steps use them as ordinary ``{name}`` run variables (shell-quoted,
type-preserving, checked by validation). Only the workflow's ``id``, ``name``,
``description`` and string ``variables`` are filled in at render time, so derived values
(``app_dir: "{deploy_root}/{app_name}"``) need no repetition.

Templates come from plugins through the ``wfe_templates`` hook (wfe-core's four built-ins
are registered that way, so a plugin can replace one by name) and from directories on
``WFE_TEMPLATE_PATH`` / ``--template-path``, which win over plugins.

This module imports nothing heavy at import time: the plugin API re-exports it.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from wfe_core.model.errors import InvalidWorkflowError, Problem, did_you_mean

__all__ = [
    "PARAMETER_TYPES",
    "TEMPLATE_PATH_ENV",
    "Template",
    "TemplateParameter",
    "check_variables",
    "load_template_file",
    "render_template",
]

#: Directories (``os.pathsep``-separated) searched for template files before plugins.
TEMPLATE_PATH_ENV = "WFE_TEMPLATE_PATH"
#: Declared parameter types and the Python types a value of each may have.
PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "path": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_TYPE_WORDS = {
    "string": "a string",
    "path": "a path (string)",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


@functools.cache  # compiled on first use: most runs never need it
def _name() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.cache  # compiled on first use: most runs never need it
def _token() -> re.Pattern[str]:
    return re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def _describe(value: Any) -> str:
    from wfe_core.load.convert import describe

    return describe(value)


@attrs.frozen
class TemplateParameter:
    """One declared template parameter.

    Attributes:
        name: the variable name steps use as ``{name}``.
        type: ``string`` (default), ``path``, ``integer``, ``number`` or ``boolean``.
        description: what it means, shown by ``wfe templates``.
        default: the value when none is given; a parameter without one is required.
        required: must be given (implied when there is no default).
        allowed: the only values accepted, if given.
        pattern: a regular expression a string value must match as a whole.
    """

    name: str
    type: str = "string"
    description: str = ""
    default: Any = None
    required: bool = False
    allowed: list[Any] | None = None
    pattern: str | None = None

    @property
    def is_required(self) -> bool:
        return self.required or self.default is None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable for this parameter, or ``None``."""
        kinds = PARAMETER_TYPES[self.type]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            return f"expected {_TYPE_WORDS[self.type]}, got {_describe(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"expected a finite number, got {value}"
        if self.allowed is not None and value not in self.allowed:
            return f"{value!r} is not one of {', '.join(map(str, self.allowed))}"
        if self.pattern is not None and not re.fullmatch(self.pattern, str(value)):
            return f"{value!r} does not match the pattern {self.pattern}"
        if self.type == "path" and not str(value).strip():
            return "expected a path, got an empty string"
        return None

    def from_text(self, text: str) -> Any:
        """The value of ``text`` (from ``--var name=text``) as this parameter's type.

        Raises:
            ValueError: the text does not spell a value of the type.
        """
        if self.type == "integer":
            return int(text)
        if self.type == "number":
            return float(text)
        if self.type == "boolean":
            if text.strip().lower() in _TRUE | _FALSE:
                return text.strip().lower() in _TRUE
            raise ValueError(text)
        return text


@attrs.frozen
class _Section:
    """The ``template:`` section of a template file."""

    description: str = ""
    name: str | None = None
    parameters: list[TemplateParameter] = attrs.field(factory=list)


@attrs.frozen
class _TemplateFile:
    template: _Section
    workflow: dict[str, Any]


@attrs.frozen
class Template:
    """A workflow template, as a plugin's ``wfe_templates`` hook returns it.

    Build one with :func:`load_template_file` (a file shipped in the plugin's package) or
    directly.

    Attributes:
        name: what ``wfe new NAME`` and ``load_from_template(template_name=...)`` use.
        workflow: the workflow as plain data (what a workflow file holds).
        parameters: the declared parameters.
        description: one line for ``wfe templates``.
        source: where it came from (a file path), for messages.
    """

    name: str
    workflow: dict[str, Any] = attrs.field(repr=False)
    parameters: tuple[TemplateParameter, ...] = attrs.field(default=(), converter=tuple)
    description: str = ""
    source: str = ""

    def __attrs_post_init__(self) -> None:
        problems = _definition_problems(self)
        if problems:
            raise InvalidWorkflowError(problems)

    def parameter(self, name: str) -> TemplateParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def actions(self) -> list[str]:
        """The actions and rollback actions its steps name, in order, without repeats."""
        names: list[str] = []
        for step in self.workflow.get("steps") or ():
            for key in ("action", "rollback_action"):
                value = step.get(key) if isinstance(step, dict) else None
                if isinstance(value, str) and value not in names:
                    names.append(value)
        return names


def _definition_problems(template: Template) -> list[Problem]:
    out: list[Problem] = []
    where = template.source or None

    def bad(message: str, path: str = "") -> None:
        out.append(Problem(f"template '{template.name}': {message}", path=path, source=where))

    if not _name().fullmatch(template.name.replace("-", "_").replace(".", "_")):
        bad("a template name is letters, digits, '_', '-' and '.'", "template.name")
    seen: set[str] = set()
    for index, param in enumerate(template.parameters):
        path = f"template.parameters[{index}]"
        if not _name().fullmatch(param.name):
            bad(f"parameter name {param.name!r} is not an identifier", f"{path}.name")
        if param.name in seen:
            bad(f"parameter '{param.name}' is declared twice", f"{path}.name")
        seen.add(param.name)
        if param.type not in PARAMETER_TYPES:
            bad(
                f"parameter '{param.name}': unknown type '{param.type}'{did_you_mean(param.type, PARAMETER_TYPES)}"
                f" (use one of {', '.join(PARAMETER_TYPES)})",
                f"{path}.type",
            )
            continue
        if param.pattern is not None:
            try:
                re.compile(param.pattern)
            except re.error as exc:
                bad(f"parameter '{param.name}': invalid pattern: {exc}", f"{path}.pattern")
                continue
        for offset, value in enumerate(param.allowed or ()):
            why = _type_problem(param, value)
            if why:
                bad(f"parameter '{param.name}': allowed value: {why}", f"{path}.allowed[{offset}]")
        if param.default is not None:
            why = param.problem(param.default)
            if why:
                bad(f"parameter '{param.name}': default: {why}", f"{path}.default")
    if not isinstance(template.workflow.get("steps"), list):
        bad("the workflow has no list of steps", "workflow.steps")
    return out


def _type_problem(param: TemplateParameter, value: Any) -> str | None:
    return attrs.evolve(param, allowed=None, pattern=None).problem(value)


def load_template_file(path: str | os.PathLike[str], name: str | None = None) -> Template:
    """The template in ``path`` (YAML, JSON or TOML; see the module docstring).

    Its name is, in order: ``name``, the file's ``template.name``, the file name up to its
    first dot (``deploy.wfe.yaml`` -> ``deploy``).

    Raises:
        InvalidWorkflowError: the file cannot be read or is not a valid template, with
            one problem per mistake naming the file and the path inside it.
    """
    from wfe_core.load.convert import structure
    from wfe_core.load.loader import _format_of, _parse
    from wfe_core.load.yaml_reading import _line_of

    source = str(path)
    fmt = _format_of(path, source)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidWorkflowError([Problem(f"cannot read template file: {exc}", source=source)]) from None
    data, root = _parse(text, fmt, source)
    if not isinstance(data, dict):
        raise InvalidWorkflowError([Problem("expected a mapping with keys 'template' and 'workflow'", source=source)])
    try:
        parsed = structure(data, _TemplateFile)
    except InvalidWorkflowError as exc:
        raise InvalidWorkflowError(
            [attrs.evolve(p, source=source, line=_line_of(root, p.path) if root else None) for p in exc.problems]
        ) from None
    section = parsed.template
    return Template(
        name or section.name or Path(path).name.split(".")[0],
        parsed.workflow,
        section.parameters,
        section.description,
        source,
    )


def check_variables(template: Template, variables: Mapping[str, Any], *, from_text: bool = False) -> dict[str, Any]:
    """The template's variable values: defaults plus ``variables``, each checked.

    ``from_text``: values are the text of ``--var`` options, converted to each
    parameter's type first.

    Raises:
        InvalidWorkflowError: one problem per bad variable, naming template and parameter.
    """
    source = f"template '{template.name}'"
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    known = [p.name for p in template.parameters]
    for name in variables:
        if template.parameter(name) is None:
            listed = ", ".join(known) or "none"
            problems.append(
                Problem(f"unknown parameter '{name}'{did_you_mean(name, known)}; parameters: {listed}", source=source)
            )
    for param in template.parameters:
        if param.name not in variables:
            if param.is_required:
                hint = f": {param.description}" if param.description else ""
                problems.append(Problem(f"parameter '{param.name}' is required but missing{hint}", source=source))
            else:
                values[param.name] = param.default
            continue
        value = variables[param.name]
        if from_text and isinstance(value, str):
            try:
                value = param.from_text(value)
            except ValueError:
                why = f"expected {_TYPE_WORDS[param.type]}, got {_describe(value)}"
                problems.append(Problem(f"parameter '{param.name}': {why}", source=source))
                continue
        problem = param.problem(value)
        if problem:
            problems.append(Problem(f"parameter '{param.name}': {problem}", source=source))
        values[param.name] = value
    if problems:
        raise InvalidWorkflowError(problems)
    return values


def _fill(text: str, values: Mapping[str, Any]) -> str:
    """``{name}`` of template parameters replaced in ``text``; everything else kept for run time."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None or name not in values:
            return match.group(0)
        return str(values[name]).lower() if isinstance(values[name], bool) else str(values[name])

    return _token().sub(one, text)


def render_template(
    template: Template, variables: Mapping[str, Any] | None = None, *, from_text: bool = False
) -> dict[str, Any]:
    """The template's workflow as plain data, with checked ``variables`` filled in.

    Raises:
        InvalidWorkflowError: a bad variable (see :func:`check_variables`).
    """
    values = check_variables(template, variables or {}, from_text=from_text)
    data = copy.deepcopy(template.workflow)
    for key in ("id", "name", "description"):
        if isinstance(data.get(key), str):
            data[key] = _fill(data[key], values)
    own: dict[str, Any] = data["variables"] if isinstance(data.get("variables"), dict) else {}
    filled = {k: _fill(v, values) if isinstance(v, str) else v for k, v in own.items()}
    data["variables"] = {**values, **{k: v for k, v in filled.items() if k not in values}}
    return data


def template_dirs(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Directories searched for template files: ``extra`` first, then ``WFE_TEMPLATE_PATH``."""
    env = [p for p in os.environ.get(TEMPLATE_PATH_ENV, "").split(os.pathsep) if p.strip()]
    return [Path(p) for p in [*extra, *env]]
