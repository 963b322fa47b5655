"""Step conditions: ``conditions: {environment: production}`` against run variables."""

from __future__ import annotations

from typing import Any

__all__ = ["conditions_hold"]


def conditions_hold(conditions: dict[str, Any], variables: dict[str, Any]) -> str | None:
    """``None`` when every condition holds, else why not.

    A condition ``name: value`` holds when the variable equals ``value``; a list value
    means "one of". A string variable also matches the YAML spelling of a non-string
    value (``--var deploy=true`` matches ``deploy: true``).
    """
    for name, expected in conditions.items():
        if name not in variables:
            return f"condition on '{name}': variable is not defined"
        actual = variables[name]
        options = expected if isinstance(expected, list) else [expected]
        if not any(_same(actual, option) for option in options):
            return f"condition on '{name}': {actual!r} is not {expected!r}"
    return None


def _same(actual: Any, expected: Any) -> bool:
    if actual == expected and type(actual) is type(expected):
        return True
    if isinstance(actual, str) and not isinstance(expected, str):
        spelled = (
            {True: "true", False: "false", None: "null"}.get(expected, str(expected))
            if isinstance(expected, (bool, type(None)))
            else str(expected)
        )
        return actual.strip().lower() == spelled.lower()
    return actual == expected and not isinstance(actual, bool) and not isinstance(expected, bool)
