"""Fan-out: one step run once per item (``for_each``) or per combination (``matrix``).

A fan-out step is expanded into *instances* when it becomes ready (its list may come
from an upstream step's output). Each instance is a step of its own in the run and the
run store, named after the step:

- ``for_each``: ``build[0]``, ``build[1]``, … (the item's index in the list);
- ``matrix``: ``build[os=linux,py=3.11]`` (the axes in the order written, values as text),
  which stays the same when an ``exclude`` or another axis value is added.

An instance sees ``{item}`` and ``{item_index}`` (``for_each``) or ``{matrix.<axis>}``
(``matrix``) in its parameters and rollback parameters. The step's own output is the
list of its instances' outputs, in item order.

This module is pure (no I/O, no run state): checks of the definition, the expansion,
instance names. :mod:`wfe_core.run.fanout` drives the instances in a run.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import attrs

from wfe_core.load.templating import Unknown, render_value
from wfe_core.model.errors import Problem, TemplateError, did_you_mean
from wfe_core.model.records import fields_eq, fields_hash, fields_repr

__all__ = [
    "FANOUT_NAMES",
    "UNBOUNDED",
    "FanOutError",
    "Instance",
    "Undecided",
    "base_id",
    "counted_note",
    "counted_steps",
    "describe_source",
    "expand",
    "fanout_problems",
    "fanout_width",
    "instance_id_clashes",
    "instance_step",
    "is_fanout",
    "static_instances",
]

#: Template names an instance adds to its scope (and only an instance has).
FANOUT_NAMES = ("item", "item_index", "matrix")

#: The width of a fan-out over a list known only at run time, without ``max_parallel``.
UNBOUNDED = 1 << 20


@functools.cache  # compiled on first use: most runs never need it
def _one_placeholder() -> re.Pattern[str]:
    return re.compile(r"\{[A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*\}")


@functools.cache  # compiled on first use: most runs never need it
def _axis() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z_][\w-]*")


_SCALARS = (str, int, float, bool)


class FanOutError(Exception):
    """The list to fan out over is not a list (or cannot be rendered): ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Undecided(Exception):
    """A dry run cannot know the list: it comes from a step the dry run did not run."""


@attrs.frozen
class Instance:
    """One instance of a fan-out step.

    Attributes:
        id: its step id, e.g. ``build[0]`` or ``build[os=linux,py=3.11]``.
        scope: what its templates see besides the run's: ``item`` and ``item_index``,
            or ``matrix``.
        digest: a short hash of ``scope``: a resumed run keeps a finished instance only
            if its item is still the same.
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    id: str
    scope: dict[str, Any]
    digest: str


def is_fanout(step: Any) -> bool:
    """Whether ``step`` fans out (has ``for_each`` or ``matrix``)."""
    return getattr(step, "for_each", None) is not None or getattr(step, "matrix", None) is not None


def base_id(step_id: str) -> str:
    """``build`` for ``build[0]`` or ``build[os=linux]``; any other id unchanged."""
    head, bracket, _ = step_id.partition("[")
    return head if bracket and step_id.endswith("]") else step_id


def counted_steps(step_ids: Iterable[str], fanout_ids: Collection[str]) -> tuple[list[str], dict[str, int]]:
    """The rule for a run's step totals (summary, ``wfe runs show``, reports, ``RunStats``).

    A fan-out step that expanded counts as its instances, not itself (it has no attempts
    of its own: it only sums them up); one without instances (skipped, failed on its
    list, cancelled before it expanded, or an empty list) counts as one step. Returns
    the ids that count, in the order given, and fan-out step id -> its instances counted.
    """
    ids = list(step_ids)
    instances: dict[str, int] = {}
    if not fanout_ids:  # most runs: every step counts as itself
        return ids, instances
    for sid in ids:
        gid = base_id(sid)
        if gid != sid and gid in fanout_ids:
            instances[gid] = instances.get(gid, 0) + 1
    return [sid for sid in ids if sid not in instances], instances


def counted_note(instances: Mapping[str, int]) -> str:
    """``"build counts as its 10 instances"`` for totals that :func:`counted_steps` made."""
    if not instances:
        return ""
    if len(instances) == 1:
        ((gid, n),) = instances.items()
        return f"{gid} counts as its {n} instance{'' if n == 1 else 's'}"
    return f"{', '.join(instances)} count as their {sum(instances.values())} instances"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fanout_problems(step: Any) -> list[Problem]:
    """What is wrong with a step's ``for_each`` / ``matrix`` / ``exclude`` / ``max_parallel``."""
    sid = step.id
    out: list[Problem] = []

    def bad(field: str, message: str) -> None:
        out.append(Problem(f"step '{sid}': {message}", path=field, step_id=sid or None))

    for_each, matrix, exclude, limit = step.for_each, step.matrix, step.exclude, step.max_parallel
    if for_each is not None and matrix is not None:
        bad("matrix", "use for_each or matrix, not both (make the list one more matrix axis)")
    placeholder = isinstance(for_each, str) and _one_placeholder().fullmatch(for_each.strip())
    if for_each is not None and not isinstance(for_each, list) and not placeholder:
        bad(
            "for_each",
            'for_each must be a list or one placeholder naming a list, such as "{files}" or '
            f'"{{steps.list.output.items}}"; got {_short(for_each)}',
        )
    if matrix is not None:
        out.extend(_matrix_problems(step, bad))
    elif exclude is not None:
        bad("exclude", "exclude needs a matrix")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            bad("max_parallel", f"max_parallel must be a whole number >= 1, got {limit!r}")
        elif not is_fanout(step):
            bad("max_parallel", "max_parallel limits the instances of a for_each or matrix step; this step has neither")
    return out


def _matrix_problems(step: Any, bad: Any) -> list[Problem]:
    matrix, exclude = step.matrix, step.exclude
    if not isinstance(matrix, dict) or not matrix:
        bad("matrix", f"matrix must be a mapping of axis name to a list of values, got {_short(matrix)}")
        return []
    for axis, values in matrix.items():
        if not isinstance(axis, str) or not _axis().fullmatch(axis):
            bad("matrix", f"matrix axis names must be names (letters, digits, _ and -), got {axis!r}")
        elif not isinstance(values, list) or not values:
            bad(f"matrix.{axis}", f"matrix axis '{axis}' must be a non-empty list of values, got {_short(values)}")
        elif not all(isinstance(v, _SCALARS) for v in values):
            bad(f"matrix.{axis}", f"matrix axis '{axis}' values must be strings, numbers or booleans")
        elif len({_text(v) for v in values}) != len(values):
            bad(f"matrix.{axis}", f"matrix axis '{axis}' lists a value twice")
    if exclude is None:
        return []
    if not isinstance(exclude, list):
        bad("exclude", f"exclude must be a list of mappings of axis to value, got {_short(exclude)}")
        return []
    for n, entry in enumerate(exclude):
        where = f"exclude[{n}]"
        if not isinstance(entry, dict) or not entry:
            bad(where, f"exclude entries must be mappings of axis to value, got {_short(entry)}")
            continue
        for axis, value in entry.items():
            if axis not in matrix:
                bad(f"{where}.{axis}", f"exclude names unknown matrix axis '{axis}'{did_you_mean(str(axis), matrix)}")
                continue
            values = matrix[axis] if isinstance(matrix[axis], list) else []
            if _text(value) not in {_text(v) for v in values} or not isinstance(value, _SCALARS):
                shown = [_text(v) for v in values]
                bad(
                    f"{where}.{axis}",
                    f"exclude: {_short(value)} is not a value of matrix axis '{axis}'"
                    f"{did_you_mean(_text(value), shown)}; its values: {', '.join(shown)}",
                )
    return []


def instance_id_clashes(steps: Any) -> list[Problem]:
    """A step whose id could be an instance's of a fan-out step (``build[0]`` beside a
    ``build`` with ``for_each``): the two would share a row in the run store."""
    fanned = {s.id for s in steps if isinstance(getattr(s, "id", None), str) and is_fanout(s)}
    if not fanned:
        return []
    out = []
    for index, step in enumerate(steps):
        sid = getattr(step, "id", None)
        if isinstance(sid, str) and sid != base_id(sid) and base_id(sid) in fanned:
            out.append(
                Problem(
                    f"step id '{sid}' is the name of an instance of fan-out step '{base_id(sid)}'; choose another id",
                    path=f"steps[{index}].id",
                    step_id=sid,
                )
            )
    return out


def _digest(scope: Mapping[str, Any]) -> str:
    text = json.dumps(scope, sort_keys=True, default=repr, separators=(",", ":"))
    import hashlib  # here: the fan-out module is imported by every run, this digest used by few

    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _matrix_instances(step: Any) -> list[Instance]:
    axes = list(step.matrix)
    excluded = [{k: _text(v) for k, v in e.items()} for e in step.exclude or ()]
    out = []
    for combo in itertools.product(*(step.matrix[a] for a in axes)):
        values = dict(zip(axes, combo, strict=True))
        texts = {a: _text(v) for a, v in values.items()}
        if any(all(texts[a] == v for a, v in e.items()) for e in excluded):
            continue
        name = ",".join(f"{a}={texts[a]}" for a in axes)
        scope = {"matrix": values}
        out.append(Instance(f"{step.id}[{name}]", scope, _digest(scope)))
    return out


def _items_instances(step: Any, items: list[Any]) -> list[Instance]:
    out = []
    for index, item in enumerate(items):
        scope = {"item": item, "item_index": index}
        out.append(Instance(f"{step.id}[{index}]", scope, _digest(scope)))
    return out


def static_instances(step: Any) -> list[Instance] | None:
    """The instances of ``step`` when its definition alone decides them, else ``None``."""
    if step.matrix is not None:
        return _matrix_instances(step)
    if isinstance(step.for_each, list):
        return _items_instances(step, step.for_each)
    return None


def fanout_width(step: Any) -> int:
    """How many instances of ``step`` may run at once (at most; 1 for a plain step).

    A list known only at run time counts as unbounded unless ``max_parallel`` says.
    """
    if not is_fanout(step):
        return 1
    found = static_instances(step)
    count = len(found) if found is not None else UNBOUNDED
    return max(1, min(count, step.max_parallel or count))


def describe_source(step: Any) -> str:
    """What a step fans out over, for messages: ``{steps.list.output.items}`` or ``3 items``."""
    if isinstance(step.for_each, str):
        return step.for_each.strip()
    found = static_instances(step)
    return f"{len(found or ())} instances"


def expand(step: Any, variables: Mapping[str, Any], results: Mapping[str, Any]) -> list[Instance]:
    """The instances of ``step`` now, given the run's variables and finished steps.

    Raises :class:`FanOutError` when ``for_each`` names something undefined or not a
    list, and :class:`Undecided` when a dry run cannot know it.
    """
    found = static_instances(step)
    if found is not None:
        return found
    text = step.for_each.strip()
    try:
        value = render_value(text, {**variables, "steps": results})
    except TemplateError as exc:
        raise FanOutError(f"step '{step.id}': for_each \"{text}\": {exc}") from None
    if isinstance(value, Unknown):
        raise Undecided(text)
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise FanOutError(
            f"step '{step.id}': for_each \"{text}\" must give a list, got {type(value).__name__} {_short(value)}"
        )
    return _items_instances(step, value)


def instance_step(step: Any, instance_id: str) -> Any:
    """The step an instance runs: ``step`` under the instance's id, with no fan-out keys.

    ``when`` and ``conditions`` were decided once for the whole step before it expanded.
    """
    suffix = instance_id[len(step.id) :]
    return attrs.evolve(
        step,
        id=instance_id,
        name=f"{step.name}{suffix}",
        for_each=None,
        matrix=None,
        exclude=None,
        max_parallel=None,
        when=None,
        conditions={},
    )
