"""Validator: secrets about to be stored in claude-flow memory.

claude-flow keeps memory in plain files under its state directory, searchable and shared
by every later session, so a secret stored there outlives the run and wfe's masking.
Flagged (as warnings; ``--strict`` makes them errors), in the ``value`` and ``key`` of
``claude_flow.memory_store`` and the ``arguments`` of ``claude_flow.call`` to
``memory_store``:

- a ``{secrets.NAME}`` placeholder (a declared secret);
- a literal that looks like a credential (API key formats, private keys, JWTs), or a
  literal under a key named like one (``password``, ``token``, ``api_key`` …).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from wfe_core.plugin import Problem, action_calls, is_templated, looks_secret, template_paths

__all__ = ["check_memory_secrets"]


@functools.cache  # compiled on first use: most runs never need it
def _credential() -> re.Pattern[str]:
    return re.compile(
        r"(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
        r"|AKIA[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----"
        r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+)"
    )


def check_memory_secrets(workflow: Any, context: Any) -> Iterator[Problem]:
    """Warn about secrets in values a workflow stores in claude-flow memory."""
    for call in action_calls(workflow, ("claude_flow.memory_store", "claude_flow.call")):
        parameters, base, step = call.parameters, call.path, call.step
        if call.action == "claude_flow.memory_store":
            for name in ("key", "value"):
                if name in parameters:
                    # The parameter's own name says nothing: `key` is the memory key, not an API key.
                    yield from _scan(step.id, parameters[name], f"{base}.{name}", "")
        elif parameters.get("tool") == "memory_store":
            arguments = parameters.get("arguments")
            if isinstance(arguments, Mapping):
                yield from _scan(step.id, arguments, f"{base}.arguments", "arguments")


def _scan(step_id: str, value: Any, path: str, name: str) -> Iterator[Problem]:
    def warn(message: str) -> Problem:
        return Problem(
            f"step '{step_id}': {message} would be stored in claude-flow memory, which keeps it "
            "in plain text beyond this run; store a reference instead",
            path=path,
            severity="warning",
            step_id=step_id,
        )

    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _scan(step_id, item, f"{path}.{key}", str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _scan(step_id, item, f"{path}[{i}]", name)
    elif isinstance(value, str):
        names = [p.split(".")[1] for p in template_paths(value) if p.startswith("secrets.") and p.count(".") >= 1]
        if names:
            yield warn("secret " + ", ".join(sorted(set(names))))
        elif _credential().search(value):
            yield warn("a credential-looking string")
        elif looks_secret(name) and value.strip() and not is_templated(value):
            yield warn(f"a literal '{name}'")
