"""The ``greet.say`` action."""

from __future__ import annotations

import attrs

from wfe_core.plugin import Action, ActionError, hookimpl


@attrs.frozen
class GreetParams:
    """name: who to greet; punctuation: what ends the greeting (default ".")."""

    name: str
    punctuation: str = "."


def say(params: GreetParams, context) -> str:
    if not params.name.strip():
        raise ActionError("name must not be blank")
    return f"Hello, {params.name}{params.punctuation}"


@hookimpl
def wfe_actions():
    return [Action("greet.say", say, GreetParams, side_effects=False, description="Say hello to someone.")]
