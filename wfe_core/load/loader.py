"""Read workflows from YAML, JSON and TOML (files, strings or dicts) and write them back.

Loading is bytes -> text -> plain data (safe YAML, JSON or TOML) -> a few dict-level
checks -> :func:`wfe_core.load.convert.structure`. Every failure is an
:class:`~wfe_core.model.errors.InvalidWorkflowError` whose problems name the source, the path
inside the document (``steps[2].timeout``) and, where the text can be read as YAML (YAML,
and most JSON), the line — all problems at once, never a traceback.

Hostile input is refused early: more than :data:`MAX_FILE_BYTES` bytes before parsing,
and YAML aliases expanding to more than :data:`MAX_EXPANDED_NODES` nodes before
construction ("billion laughs"). Reading YAML itself (with lines, without keeping a
node tree for plain files) is :mod:`wfe_core.load.yaml_reading`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from wfe_core.load.convert import describe, structure
from wfe_core.load.pyyaml import yaml
from wfe_core.load.yaml_reading import (
    _PATH_PART,
    MAX_EXPANDED_NODES,
    _compose_quietly,
    _line_column,
    _line_of,
    _parse_yaml,
    _parse_yaml_lean,
)
from wfe_core.load.yaml_reading import _YAML_LOADER as _YAML_LOADER  # the parser in use, for tests
from wfe_core.model.errors import InvalidWorkflowError, Problem
from wfe_core.model.nesting import MAX_NESTING, too_deep
from wfe_core.model.workflow import Workflow

__all__ = [
    "FORMATS",
    "MAX_EXPANDED_NODES",
    "MAX_FILE_BYTES",
    "MAX_STRING_CHARS",
    "SUFFIXES",
    "WorkflowLoader",
    "definition_json",
]

#: Largest workflow file (or string, UTF-8 encoded) accepted: 10 MiB.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Longest string value accepted anywhere in a workflow (1 MiB of characters). Validators
#: look at every parameter; big data belongs in a file the workflow reads, not in it.
MAX_STRING_CHARS = 1024 * 1024
#: The formats understood, and the file suffixes that select them.
FORMATS = ("yaml", "json", "toml")
SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}

_SCALARS = (str, int, float, bool, type(None))


@functools.cache  # compiled on first use: most runs never need it
def _toml_where() -> re.Pattern[str]:
    return re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _error(message: str, source: str | None = None, **where: Any) -> InvalidWorkflowError:
    return InvalidWorkflowError([Problem(message, source=source, **where)])


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _format_of(path: str | os.PathLike[str], source: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        what = f"unsupported file suffix '{suffix}'" if suffix else "file has no suffix"
        raise _error(f"{what} (use one of {', '.join(sorted(SUFFIXES))})", source)
    return SUFFIXES[suffix]


def _check_format(fmt: str, source: str | None) -> str:
    if fmt not in FORMATS:
        raise _error(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})", source)
    return fmt


def _too_big(size: int, source: str) -> InvalidWorkflowError:
    return _error(f"input is {size:,} bytes, more than the limit of {MAX_FILE_BYTES:,} bytes", source)


def _parse(text: str, fmt: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Plain data from ``text``, and the YAML node tree when there is one."""
    if fmt == "yaml":
        return _parse_yaml(text, source)
    if fmt == "json":
        try:
            return json.loads(text), None
        except json.JSONDecodeError as exc:
            raise _error(f"invalid JSON: {_lower_first(exc.msg)}", source, line=exc.lineno, column=exc.colno) from None
    try:
        import tomllib  # here: YAML and JSON files, the usual ones, need not pay for it

        return tomllib.loads(text), None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's tomllib only puts the position into the message.
        message, line, column = str(exc), None, None
        found = _toml_where().search(message)
        if found:
            message = message[: found.start()]
            line = int(found[1]) if found[1] else max(1, len(text.splitlines()))
            column = int(found[2]) if found[2] else None
        raise _error(f"invalid TOML: {_lower_first(message)}", source, line=line, column=column) from None


def _surrogate_message(text: str) -> str:
    # JSON escapes (and dicts) can hold a lone surrogate such as "\\ud800"; it is not text,
    # and the run store, logs and reports (all UTF-8) would crash on it mid-run.
    found = _SURROGATE.search(text)
    assert found is not None  # called only for text the pattern matched
    return f"string contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid Unicode text"


def _step_named_by(data: dict[str, Any], path: str) -> str | None:
    """The id of the step ``path`` (``steps[2]...``) lies in, if it has one."""
    found = re.match(r"steps\[(\d+)\]", path)
    steps = data.get("steps")
    if not found or not isinstance(steps, list) or int(found[1]) >= len(steps):
        return None
    step = steps[int(found[1])]
    return step.get("id") if isinstance(step, dict) and isinstance(step.get("id"), str) else None


_PLAIN_SCALARS = frozenset({int, float, bool, type(None)})


def _plainly_fine(data: dict[str, Any]) -> bool:
    """Whether no value of ``data`` can have a problem :func:`_shape_problems` looks for:
    string keys, plain scalar values, strings short and ASCII (or without surrogates),
    nesting within the limit. One quick pass with no paths built; most files pass it,
    and only those that do not get the full walk that words each problem."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            return False
        if id(value) in seen:
            continue
        seen.add(id(value))
        if type(value) is dict:
            for key in value:
                if type(key) is not str or (not key.isascii() and _SURROGATE.search(key)):
                    return False
            items: Any = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str:
                if len(item) > MAX_STRING_CHARS or (not item.isascii() and _SURROGATE.search(item)):
                    return False
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind not in _PLAIN_SCALARS:
                return False
    return True


def _shape_problems(data: dict[str, Any], plain: bool = False) -> tuple[list[Problem], bool]:
    """Problems the converter cannot word well (key and value types, the steps list, duplicate
    ids), and whether a non-string key was found (the converter would crash on it).

    ``plain``: the reader already saw that :func:`_plainly_fine` holds (it looks at every
    value as it builds them), so the values need no second pass.
    """
    problems: list[Problem] = []
    if not plain and not _plainly_fine(data):
        problems, bad_key = _value_problems(data)
    else:
        bad_key = False
    steps = data.get("steps", [])
    if not isinstance(steps, list):
        problems.append(Problem(f"expected a list of steps, got {describe(steps)}", "steps"))
        steps = []
    first: dict[str, int] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            problems.append(Problem(f"expected a mapping (one step), got {describe(step)}", f"steps[{index}]"))
            continue
        sid = step.get("id")
        if not isinstance(sid, str):
            continue
        if sid in first:
            message = f"duplicate step id '{sid}' (first used by steps[{first[sid]}])"
            problems.append(Problem(message, f"steps[{index}].id", step_id=sid))
        else:
            first[sid] = index
    return problems, bad_key


def _value_problems(data: dict[str, Any]) -> tuple[list[Problem], bool]:
    """Every key and value problem in ``data``, in document order, each at its path."""
    problems: list[Problem] = []
    seen: set[int] = set()
    bad_key = False
    # Depth-first with an explicit stack, in document order: a document may be nested as
    # deep as the parser allows, far past Python's recursion limit.
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_NESTING:
                message = f"nested more than {MAX_NESTING} levels deep (lists and mappings inside each other)"
                problems.append(Problem(message, path, step_id=_step_named_by(data, path)))
                continue
            if id(value) in seen:  # shared through a YAML alias: checked once is enough
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            children = []
            for key, item in value.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    bad_key = True  # the converter's messages would quote it and crash whoever prints them
                    shown = key.encode("utf-8", "backslashreplace").decode("utf-8")
                    problems.append(Problem(_surrogate_message(key), _join(path, shown)))
                elif isinstance(key, str):
                    children.append((item, _join(path, key), depth + 1))
                else:
                    bad_key = True
                    message = f"key must be a string, got {describe(key)} (quote it)"
                    problems.append(Problem(message, _join(path, str(key))))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]))
        elif isinstance(value, str) and len(value) > MAX_STRING_CHARS:
            step = _step_named_by(data, path)
            message = (
                f"{f'step {step!r}: ' if step else ''}string of {len(value):,} characters is longer than "
                f"the limit of {MAX_STRING_CHARS:,}; put large data in a file and read it in a step"
            )
            problems.append(Problem(message, path, step_id=step))
        elif isinstance(value, str) and _SURROGATE.search(value):
            problems.append(Problem(_surrogate_message(value), path))
        elif not isinstance(value, _SCALARS):  # dates, sets, bytes: JSON and the run store cannot hold them
            message = f"unsupported value of type {type(value).__name__} (quote it to keep it a string)"
            problems.append(Problem(message, path))
    return problems, bad_key


def _covered(path: str, by: list[str]) -> bool:
    return any(path == p or path.startswith((p + ".", p + "[")) for p in by)


def _build(
    data: dict[str, Any], source: str, nodes: Callable[[], yaml.Node | None], *, plain: bool = False
) -> Workflow:
    problems, bad_key = _shape_problems(data, plain)
    if not bad_key:
        try:
            workflow: Workflow = structure(data, Workflow)
        except InvalidWorkflowError as exc:
            # Where we already said what is wrong, the converter only adds noise.
            ours = [p.path for p in problems]
            problems += [p for p in exc.problems if not _covered(p.path, ours)]
        else:
            if not problems:
                return workflow
    root = nodes()
    problems = [attrs.evolve(p, source=source, line=_line_of(root, p.path) if root else p.line) for p in problems]
    problems.sort(key=lambda p: p.line or 0)
    raise InvalidWorkflowError(problems)


def _unstructure(obj: Any) -> dict[str, Any]:
    """Fields of an attrs instance, leaving out those equal to their default."""
    return _unstructurer(type(obj))(obj)  # type: ignore[arg-type]  # classes hash


#: Factories whose every call gives an equal empty value: called once per class, not per
#: object (a 10,000-step definition called ``dict()`` 40,000 times to compare with).
_EMPTY_FACTORIES = (dict, list, tuple, set, frozenset)


@functools.cache
def _unstructurer(cls: type) -> Callable[[Any], dict[str, Any]]:
    """:func:`_unstructure` for instances of ``cls``, generated once per class as attrs
    generates ``__init__``: a loop over the fields with their defaults cost three times as
    much (the run store writes every run's definition: 10,000 steps, 42 -> 16 ms)."""
    names: dict[str, Any] = {"_unstructure": _unstructure}
    lines = ["def unstructure(obj):", "    out = {}"]
    for n, field in enumerate(attrs.fields(cls)):
        default = field.default
        if not isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            names[f"d{n}"] = default
            differs = "True" if default is attrs.NOTHING else f"v is not d{n} and v != d{n}"
        elif default.takes_self:
            names[f"f{n}"] = default.factory
            differs = f"v != f{n}(obj)"
        elif default.factory in _EMPTY_FACTORIES:
            names[f"d{n}"] = default.factory()
            differs = f"v != d{n}"
        else:
            names[f"f{n}"] = default.factory
            differs = f"v != f{n}()"
        value = "[_unstructure(s) for s in v]" if field.name == "steps" else "v"
        lines += [f"    v = obj.{field.name}", f"    if {differs}:", f"        out[{field.name!r}] = {value}"]
    exec("\n".join([*lines, "    return out"]), names)  # code from field names only
    return names["unstructure"]  # type: ignore[no-any-return]


def _unwritable(value: Any) -> Any:
    raise TypeError(f"cannot write a value of type {type(value).__name__}")


def definition_json(workflow: Workflow) -> str:
    """``workflow`` as compact JSON, the run store's copy (resume loads it back).

    The same data as ``dump(workflow, "json")`` without the indentation, which forces
    Python's pure-Python encoder: written with the C one instead, several times faster.
    Raises TypeError/ValueError (or RecursionError) for what JSON cannot hold.
    """
    return json.dumps(_unstructure(workflow), ensure_ascii=False, separators=(",", ":"), default=_unwritable)


def _plain(value: Any, path: str, fmt: str, source: str | None) -> Any:
    """A deep copy of ``value`` in types ``fmt`` can write (fresh containers, so no YAML anchors)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _error(f"cannot write a non-string key ({describe(key)})", source, path=_join(path, str(key)))
            out[key] = _plain(item, _join(path, key), fmt, source)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{path}[{index}]", fmt, source) for index, item in enumerate(value)]
    if value is None and fmt == "toml":
        raise _error("cannot write null to TOML (TOML has no null); remove it or use another value", source, path=path)
    if not isinstance(value, _SCALARS):
        raise _error(f"cannot write a value of type {type(value).__name__}", source, path=path)
    return value


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a burst of allocation; nestable."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@functools.cache  # compiled on first use: most runs never need it
def _step_path() -> re.Pattern[str]:
    return re.compile(r"steps\[(\d+)\](?:\.([^.\[]+))?")


def _repair(data: Any, problems: list[Problem]) -> tuple[dict[str, Any] | None, set[str]]:
    """``data`` without the keys (or whole steps) ``problems`` point at."""
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        return None, set()
    doc = dict(data)
    steps = doc.get("steps")
    steps = list(steps) if isinstance(steps, list) else []
    drop_steps: set[int] = set()
    drop_keys: dict[int, set[str]] = {}
    for problem in problems:
        found = _step_path().match(problem.path)
        if found:
            index, key = int(found[1]), found[2]
            if key is None or key == "id" or key == "action":
                drop_steps.add(index)  # a step without a usable id or action cannot be checked
            else:
                drop_keys.setdefault(index, set()).add(key)
            continue
        top = _PATH_PART.match(problem.path)
        key = top[2] if top else None
        if key == "steps" and problem.path == "steps":
            steps = []
        elif key == "id":
            doc["id"] = "invalid"
        elif key and key in doc:
            del doc[key]
    kept, dropped, seen = [], set(), set()
    for index, step in enumerate(steps):
        sid = step.get("id") if isinstance(step, dict) else None
        if (
            index in drop_steps
            or not isinstance(step, dict)
            or not all(isinstance(k, str) for k in step)
            or sid in seen
        ):
            if isinstance(sid, str) and sid not in seen:
                dropped.add(sid)
            continue
        seen.add(sid)
        kept.append({k: v for k, v in step.items() if k not in drop_keys.get(index, ())})
    doc["steps"] = kept
    return doc, dropped


class WorkflowLoader:
    """Loads :class:`~wfe_core.model.workflow.Workflow` objects from YAML, JSON or TOML and writes them back."""

    def load_from_file(self, path: str | os.PathLike[str]) -> Workflow:
        """Load the workflow in ``path``; its suffix (.yaml/.yml, .json, .toml) says the format."""
        source = str(path)
        fmt = _format_of(path, source)
        try:
            with open(path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size > MAX_FILE_BYTES:
                    raise _too_big(size, source)
                # Read one byte past the limit: the file may be growing, or not a regular file.
                raw = file.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise _error("file not found", source) from None
        except OSError as exc:  # a directory, no permission, ...
            raise _error(f"cannot read file: {_lower_first(exc.strerror or str(exc))}", source) from None
        if len(raw) > MAX_FILE_BYTES:
            raise _too_big(len(raw), source)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, column = _line_column(raw.decode("latin-1"), exc.start)
            message = f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x})"
            raise _error(message, source, line=line, column=column) from None
        return self._load_text(text, fmt, source)

    def load_from_string(self, text: str, format: str, source: str = "<string>") -> Workflow:
        """Load a workflow from ``text`` in ``format`` ("yaml", "json" or "toml")."""
        fmt = _check_format(format, source)
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_FILE_BYTES:
            raise _too_big(size, source)
        return self._load_text(text, fmt, source)

    def load_from_dict(self, data: dict[str, Any], source: str = "<dict>") -> Workflow:
        """Load a workflow from plain data, as a parsed file would give it."""
        if not isinstance(data, dict):
            raise _error(f"expected a mapping at the top level, got {describe(data)}", source)
        return _build(data, source, lambda: None)

    def load_from_template(
        self,
        template_name: str,
        variables: dict[str, Any] | None = None,
        *,
        template_path: Any = (),
        plugins: Any = None,
    ) -> Workflow:
        """The workflow of template ``template_name`` with ``variables`` filled in.

        Templates come from ``template_path`` directories, ``WFE_TEMPLATE_PATH``, then
        plugins (wfe-core's built-ins included); ``plugins`` defaults to a fresh registry.
        Variables are checked against the template's parameters first: a missing
        required one, a wrong type, a value not allowed or an unknown name raises
        :class:`InvalidWorkflowError` naming the template and the parameter.
        """
        from wfe_core.load.catalog import TemplateCatalog

        return TemplateCatalog(plugins, template_path).load(template_name, variables)

    def list_templates(self, *, template_path: Any = (), plugins: Any = None) -> list[Any]:
        """Every available template (:class:`~wfe_core.load.catalog.TemplateEntry`), by name."""
        from wfe_core.load.catalog import TemplateCatalog

        return TemplateCatalog(plugins, template_path).entries()

    def locate(self, problems: list[Problem], path: str | os.PathLike[str]) -> list[Problem]:
        """``problems`` found later (by validators) about the file at ``path``, each given
        the line of its document path where the file's format tells lines (YAML, JSON)."""
        if not any(p.path and p.line is None for p in problems):
            return problems
        try:
            if _format_of(path, str(path)) == "toml":
                return problems
            root = _compose_quietly(Path(path).read_text(encoding="utf-8-sig"))
        except (InvalidWorkflowError, OSError, UnicodeDecodeError):
            return problems
        if root is None:
            return problems
        return [attrs.evolve(p, line=_line_of(root, p.path)) if p.path and p.line is None else p for p in problems]

    def dump(self, workflow: Workflow, format: str) -> str:
        """``workflow`` as text in ``format``; fields equal to their defaults are left out."""
        return self._dump(workflow, _check_format(format, None), None)

    def save(self, workflow: Workflow, path: str | os.PathLike[str]) -> None:
        """Write ``workflow`` to ``path`` in the format its suffix names (UTF-8)."""
        source = str(path)
        # Render first, so a workflow the format cannot hold leaves no truncated file.
        text = self._dump(workflow, _format_of(path, source), source)
        Path(path).write_text(text, encoding="utf-8")

    def salvage(self, path: str | os.PathLike[str], problems: list[Problem]) -> tuple[Workflow, set[str]] | None:
        """The workflow in ``path`` with what ``problems`` (its structure problems) name
        left out, and the ids of the steps left out whole; ``None`` if nothing usable remains.

        Lets ``wfe validate`` report action and parameter problems in the same pass as
        structure problems: validators run over the parts that are well-formed.
        """
        try:
            data = self._parse_file(path)
        except (InvalidWorkflowError, RecursionError, ValueError):
            return None
        repaired, dropped = _repair(data, problems)
        if repaired is None:
            return None
        try:
            return structure(repaired, Workflow), dropped
        except InvalidWorkflowError:
            return None

    def _parse_file(self, path: str | os.PathLike[str]) -> Any:
        """Plain data of the file at ``path`` (already loaded once: its size and encoding are known good)."""
        fmt = _format_of(path, str(path))
        text = Path(path).read_text(encoding="utf-8").removeprefix("\ufeff")
        return _parse(text, fmt, str(path))[0]

    def _load_text(self, text: str, fmt: str, source: str) -> Workflow:
        # Loading allocates many small objects and frees none of them: the cyclic
        # collector would walk the growing heap again and again for nothing (a
        # 10,000-step file spent more than half its load time in it).
        with collector_paused():
            return self._load_text_now(text, fmt, source)

    def _load_text_now(self, text: str, fmt: str, source: str) -> Workflow:
        text = text.removeprefix("\ufeff")  # a BOM some editors add; json.loads refuses it
        if not text.strip():
            raise _error("file is empty", source)
        plain = False
        try:
            if fmt == "yaml":
                data, root_line, plain = _parse_yaml_lean(text, source, MAX_STRING_CHARS, MAX_NESTING)
            else:
                data, root_line = _parse(text, fmt, source)[0], None
        except RecursionError:
            raise _error("document is nested too deeply", source) from None
        except ValueError as exc:  # e.g. an integer longer than Python converts, a 13th month
            raise _error(f"invalid {fmt.upper()}: {exc}", source) from None
        if data is None:
            raise _error("file is empty", source)
        if not isinstance(data, dict):
            where = {"line": root_line} if root_line else {}
            raise _error(f"expected a mapping at the top level, got {describe(data)}", source, **where)
        # No node tree is kept (it was several times the data's size): problems get their
        # lines from one composed again, only when there are problems.
        if fmt == "toml":  # TOML is not YAML: no lines from it
            return _build(data, source, lambda: None)
        return _build(data, source, lambda: _compose_quietly(text), plain=plain)

    def _dump(self, workflow: Workflow, fmt: str, source: str | None) -> str:
        problem = too_deep(_unstructure(workflow), MAX_NESTING + 1)  # +1: the workflow mapping itself
        if problem is not None:  # a Workflow built in Python skips the loader's check
            raise _error(f"cannot write a value nested more than {MAX_NESTING} levels deep", source, path=problem)
        data = _plain(_unstructure(workflow), "", fmt, source)
        if fmt == "json":
            return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if fmt == "yaml":
            return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        import tomli_w

        return tomli_w.dumps(data)
