"""``when:`` expressions: a small, safe language over run variables and step results.

Grammar (a strict subset of Python's expression syntax, parsed with :mod:`ast` and
checked node by node against a whitelist; nothing is ever ``eval``-ed)::

    expr     := expr 'or' expr | expr 'and' expr | 'not' expr | '(' expr ')' | compare
    compare  := operand (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') operand)*
    operand  := literal | reference | '[' operand, ... ']' | '-' number
    literal  := 'string' | "string" | number | true | false | null  (True/False/None too)
    reference:= name ('.' key | '[' literal ']')*

A reference is a run variable (``environment``, ``config.region``) or a step result:
``steps.<id>.status``, ``steps.<id>.error``, ``steps.<id>.output``,
``steps.<id>.output.failed``, ``steps.<id>.output.items[0]``. Dots and brackets look
keys up in mappings and lists only; there are no calls and no attribute access to
Python objects. A reference to something that is not defined is an error, never false.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from wfe_core.model.records import fields_eq, fields_hash, fields_repr

__all__ = ["Expression", "ExpressionError", "Undecidable", "caret", "evaluate", "parse"]

_LITERAL_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_STEP_FIELDS = ("output", "status", "error")
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_SYMBOL = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}


class ExpressionError(ValueError):
    """A ``when`` expression that does not parse, or cannot be evaluated.

    Attributes:
        column: 0-based offset into the expression of the offending part, when known.
    """

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.column = column


class Undecidable(Exception):
    """A dry run: the expression needs the output of a step that did not run."""


def caret(text: str, column: int | None) -> str:
    """The expression with a ``^`` under ``column``, as two indented lines."""
    if column is None:
        return f"    {text}"
    return f"    {text}\n    {' ' * column}^"


@attrs.frozen
class Expression:
    """A parsed ``when`` expression.

    Attributes:
        text: the expression as written.
        tree: its checked syntax tree.
        references: every reference, as tuples of parts (``('steps', 'test', 'output')``).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    text: str
    tree: ast.expr
    references: tuple[tuple[Any, ...], ...]

    @property
    def steps(self) -> tuple[str, ...]:
        """Ids of the steps the expression refers to."""
        return tuple(dict.fromkeys(r[1] for r in self.references if r[0] == "steps" and len(r) > 1))

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the run variables the expression refers to."""
        return tuple(dict.fromkeys(r[0] for r in self.references if r[0] != "steps"))


def parse(text: str) -> Expression:
    """Parse and check ``text``; :class:`ExpressionError` (with a column) if it is not valid."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression is empty", 0)
    if "\n" in text or "\r" in text:
        raise ExpressionError("expression must be on one line", text.find("\n") if "\n" in text else text.find("\r"))
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        column = max(0, (exc.offset or 1) - 1)
        raise ExpressionError(f"invalid syntax: {exc.msg}", min(column, len(text))) from None
    references: list[tuple[Any, ...]] = []
    _check(tree, references)
    return Expression(text, tree, tuple(references))


def _reference(node: ast.expr) -> tuple[Any, ...] | None:
    """``a.b[0].c`` as ``('a', 'b', 0, 'c')``; ``None`` if ``node`` is not a reference."""
    parts: list[Any] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            key = node.slice
            if not (isinstance(key, ast.Constant) and isinstance(key.value, (str, int)) and key.value is not True):
                raise ExpressionError("only a literal string or number may go between [ ]", key.col_offset)
            parts.append(key.value)
            node = node.value
        elif isinstance(node, ast.Name):
            if node.id in _LITERAL_NAMES:
                if parts:
                    raise ExpressionError("a literal has no keys", node.col_offset)
                return None
            parts.append(node.id)
            return tuple(reversed(parts))
        else:
            return None


def _not_allowed(node: ast.AST, why: str) -> None:
    raise ExpressionError(why, getattr(node, "col_offset", None))


def _check(node: ast.expr, references: list[tuple[Any, ...]]) -> None:
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, references)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand, references)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        if not (isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float)):
            _not_allowed(node, "'-' is allowed only before a number")
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                _not_allowed(node, f"operator {type(op).__name__} is not allowed")
        for operand in (node.left, *node.comparators):
            _check(operand, references)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            _not_allowed(node, f"literal {node.value!r} is not allowed")
    elif isinstance(node, (ast.List, ast.Tuple)):
        for item in node.elts:
            _check(item, references)
    elif isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        ref = _reference(node)
        if ref is None:
            if isinstance(node, ast.Name):
                return  # true / false / null
            _not_allowed(node, "only names, steps.<id>.<field> and their keys may be looked up")
            return
        if ref[0] == "steps":
            if len(ref) < 3 or not isinstance(ref[1], str):
                _not_allowed(node, "a step reference names a step and a field: steps.<id>.output / status / error")
            elif ref[2] not in _STEP_FIELDS:
                _not_allowed(node, f"a step has output, status and error, not {ref[2]!r}")
        references.append(ref)
    elif isinstance(node, ast.Call):
        _not_allowed(node, "function calls are not allowed")
    else:
        _not_allowed(node, f"{type(node).__name__.lower()} is not allowed in a when expression")


def _spell(ref: tuple[Any, ...]) -> str:
    out = str(ref[0])
    for part in ref[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def evaluate(
    expression: Expression, variables: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]
) -> tuple[bool, dict[str, Any]]:
    """Evaluate ``expression``: its truth and the value of each reference it looked at.

    Raises :class:`ExpressionError` for an undefined name or key, or operands that cannot
    be compared; :class:`Undecidable` when a value is unknown in a dry run.
    """
    seen: dict[str, Any] = {}
    value = _eval(expression.tree, variables, steps, seen)
    return bool(value), seen


def _lookup(ref: tuple[Any, ...], variables: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]) -> Any:
    from wfe_core.load.templating import Unknown

    if ref[0] == "steps":
        if ref[1] not in steps:
            raise ExpressionError(f"step '{ref[1]}' has not finished, so {_spell(ref)} is not defined")
        value: Any = steps[ref[1]]
        if value.get("status") == "dry_run":  # reported, not run: nothing about it is known
            raise Undecidable(_spell(ref))
        start = 2
    else:
        if ref[0] not in variables:
            raise ExpressionError(f"name '{ref[0]}' is not defined")
        value = variables[ref[0]]
        start = 1
    for n, part in enumerate(ref[start:], start):
        if isinstance(value, Unknown):
            raise Undecidable(_spell(ref))
        in_list = isinstance(value, (list, tuple)) and isinstance(part, int) and -len(value) <= part < len(value)
        if not (in_list or (isinstance(value, Mapping) and part in value)):
            raise ExpressionError(f"{_spell(ref[:n])} has no key {part!r} (it is {type(value).__name__})")
        value = value[part]
    if isinstance(value, Unknown):
        raise Undecidable(_spell(ref))
    return value


def _eval(
    node: ast.expr, variables: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]], seen: dict[str, Any]
) -> Any:
    if isinstance(node, ast.BoolOp):
        result: Any = None
        for value in node.values:
            result = _eval(value, variables, steps, seen)
            if isinstance(node.op, ast.And) and not result:
                return result
            if isinstance(node.op, ast.Or) and result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, variables, steps, seen)
        return (not operand) if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.Compare):
        left = _eval(node.left, variables, steps, seen)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, variables, steps, seen)
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError:
                a, b = f"{type(left).__name__} {left!r}", f"{type(right).__name__} {right!r}"
                raise ExpressionError(f"cannot compare {a} {_SYMBOL[type(op)]} {b}") from None
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(item, variables, steps, seen) for item in node.elts]
    if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
        return _LITERAL_NAMES[node.id]
    ref = _reference(node)
    assert ref is not None  # _check let only references through
    value = _lookup(ref, variables, steps)
    seen[_spell(ref)] = value
    return value
