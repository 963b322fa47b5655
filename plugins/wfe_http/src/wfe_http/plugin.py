"""The wfe plugin module (entry point ``http = "wfe_http.plugin"``): actions and validators.

Importing it is cheap: ``requests`` is imported only when a request is sent.
"""

from __future__ import annotations

import functools
from typing import Any

from wfe_core.plugin import Action, Validator, hookimpl

from .checks import ACTION_NAMES, check_http_security
from .params import RequestParams
from .request import perform_request

__all__ = ["METHODS", "wfe_actions", "wfe_validators"]

#: Action name suffix -> HTTP method.
METHODS = {"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH", "delete": "DELETE", "head": "HEAD"}


def _action(method: str) -> Any:
    func = functools.partial(perform_request, method)
    functools.update_wrapper(func, perform_request)
    return func


@hookimpl
def wfe_actions() -> list[Action]:
    # Every method counts as a side effect, GET included: dry-run must not reach out to
    # servers whose GET endpoints may not be as safe as HTTP says they should be.
    return [
        Action(
            f"http.{name}",
            _action(method),
            RequestParams,
            side_effects=True,
            description=f"Send an HTTP {method} request (requests) and return status, headers and body.",
        )
        for name, method in METHODS.items()
    ]


@hookimpl
def wfe_validators() -> list[Validator]:
    return [
        Validator(
            "http.security",
            check_http_security,
            description=(
                "Flags plain http:// to non-loopback hosts, verify: false and credentials written into a workflow."
            ),
            actions=tuple(sorted(ACTION_NAMES)),
        ),
    ]
