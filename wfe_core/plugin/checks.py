"""Helpers for validators (``wfe_validators`` checks) that look at a workflow's steps.

- :func:`is_templated`: whether a value holds a ``{placeholder}`` that the run will
  replace — by the real template grammar of :mod:`wfe_core.load.templating`, so a check
  that skips templated values (they cannot be judged before the run) skips exactly those.
  ``rm -rf /{usr,etc}`` holds no placeholder: it is judged.
- :func:`action_calls`: every call of some actions in a workflow, as steps' own
  ``parameters`` and as their ``rollback_action``'s ``rollback_parameters``.
- :func:`looks_secret`: whether a name (an env variable, header, query parameter) says
  its value is a credential.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import attrs

from wfe_core.load.templating import placeholders
from wfe_core.model.records import fields_eq, fields_hash, fields_repr
from wfe_core.model.workflow import Workflow, WorkflowStep

__all__ = ["ActionCall", "action_calls", "is_templated", "looks_secret", "template_names", "template_paths"]


def is_templated(value: Any) -> bool:
    """Whether rendering ``value`` substitutes something into it (recursing into lists and mappings).

    ``"{name}"``, ``"/srv/{steps.build.output.dir}"`` and ``"{cmd!raw}"`` are templated;
    ``"{{literal}}"``, ``"${HOME}"``, ``"{print $1}"``, ``'{"a": 1}'`` and the shell brace
    expansion ``"/{usr,etc}"`` are not — the run passes them on as written.
    """
    return next(placeholders(value), None) is not None


def template_names(value: Any) -> set[str]:
    """The first part of every placeholder in ``value``: ``{"env", "steps"}`` for
    ``"{env}/{steps.build.output}"`` (recursing into lists and mappings)."""
    return {ph.parts[0] for ph in placeholders(value)}


def template_paths(value: Any) -> list[str]:
    """Every placeholder's dotted path in ``value``, in order: ``["secrets.TOKEN"]`` for
    ``"Bearer {secrets.TOKEN}"`` (recursing into lists and mappings)."""
    return [ph.text for ph in placeholders(value)]


@attrs.frozen
class ActionCall:
    """One call of an action by a step.

    Attributes:
        index: the step's position in ``workflow.steps``.
        step: the step.
        action: the action called.
        parameters: the parameters it is called with (unrendered).
        field: ``"parameters"`` (the step's action) or ``"rollback_parameters"`` (its
            ``rollback_action``).
    """

    __repr__ = fields_repr  # attrs' own behaviour, without compiling them per class
    __eq__ = fields_eq
    __hash__ = fields_hash

    index: int
    step: WorkflowStep
    action: str
    parameters: Mapping[str, Any]
    field: str

    @property
    def path(self) -> str:
        """Where the parameters are in the file, e.g. ``steps[2].rollback_parameters``;
        add ``.name`` for one parameter (a :class:`~wfe_core.model.errors.Problem`'s ``path``)."""
        return f"steps[{self.index}].{self.field}"


def action_calls(workflow: Workflow, actions: str | Collection[str] | Callable[[str], bool]) -> Iterator[ActionCall]:
    """Every call of ``actions`` in ``workflow``, rollback calls included, in step order.

    ``actions`` is one action name, a collection of names, or a predicate on the name
    (``lambda name: name.startswith("file.")``).
    """
    if isinstance(actions, str):
        wanted: Callable[[str], bool] = actions.__eq__
    elif callable(actions):
        wanted = actions
    else:
        wanted = actions.__contains__
    for index, step in enumerate(workflow.steps):
        calls = [(step.action, step.parameters, "parameters")]
        if step.rollback_action is not None:
            calls.append((step.rollback_action, step.rollback_parameters, "rollback_parameters"))
        for action, parameters, field in calls:
            if wanted(action) and isinstance(parameters, Mapping):
                yield ActionCall(index, step, action, parameters, field)


# A name is split into lower-case words (``X-Api-Key`` -> x, api, key; ``apiKey`` -> api,
# key) and judged by whole words, so ``author``, ``design`` or ``PASSENGER`` are not secret.
@functools.cache  # compiled on first use: most runs never need it
def _camel() -> re.Pattern[str]:
    return re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


#: Words that end a run-together secret name; ``pass`` or ``key`` alone are too common.
_STRONG_SUFFIXES = ("password", "passwd", "passphrase", "secret", "token", "apikey", "credential", "credentials")
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "credential",
        "auth",
        "authorization",
        "signature",
        "sig",
        "cookie",
        "apikey",
        "accesstoken",
    }
)
#: ``key`` alone is too common (``SORT_KEY``, ``CACHE_KEY``): it counts after these words.
_KEY_KINDS = frozenset(
    {
        "api",
        "access",
        "private",
        "secret",
        "signing",
        "client",
        "encryption",
        "ssh",
        "master",
        "subscription",
        "license",
        "account",
        "service",
        "app",
        "auth",
        "deploy",
    }
)


def looks_secret(name: str) -> bool:
    """Whether a variable, header or parameter called ``name`` probably holds a credential.

    True for ``DB_PASSWORD``, ``PGPASSWORD``, ``GITHUB_TOKEN``, ``api_key``, ``apiKey``, ``X-Api-Key``,
    ``AWS_SECRET_ACCESS_KEY``, ``private_key``, ``access_token``, ``sig`` and a bare ``key``;
    false for ``author``, ``PASSENGER``, ``SORT_KEY`` and ``keyboard``. Plurals count
    (``TOKENS``).
    """
    words = re.findall(r"[a-z0-9]+", _camel().sub("_", name).lower())
    singular = [w[:-1] if w.endswith("s") and w[:-1] in _SECRET_WORDS else w for w in words]
    if any(w in _SECRET_WORDS for w in singular):
        return True
    # Run-together names: PGPASSWORD, MYSQLPASSWD, GHTOKEN (a word ending in a strong one).
    if any(w.endswith(_STRONG_SUFFIXES) for w in singular):
        return True
    if any(a + b in _SECRET_WORDS for a, b in itertools.pairwise(singular)):
        return True
    if singular == ["key"]:
        return True
    return any(w in ("key", "keys") and i > 0 and singular[i - 1] in _KEY_KINDS for i, w in enumerate(singular))
