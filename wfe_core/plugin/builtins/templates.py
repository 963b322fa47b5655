"""wfe-core's built-in workflow templates, registered like any plugin's.

The files live in ``wfe_core/templates/`` (package data). A plugin that returns a
template of the same name from its own ``wfe_templates`` hook replaces the built-in.
"""

from __future__ import annotations

import functools
from importlib import resources

from wfe_core.load.templates import Template, load_template_file
from wfe_core.plugin.hookspecs import hookimpl

#: The built-in templates, each ``wfe_core/templates/<name>.yaml``.
BUILTIN_TEMPLATES = (
    "simple_file_workflow",
    "api_integration_workflow",
    "deployment_workflow",
    "data_processing_workflow",
)


@functools.cache
def _builtin_templates() -> tuple[Template, ...]:
    # Read once per process: the registry is rebuilt per engine, the files never change.
    folder = resources.files("wfe_core") / "templates"
    out = []
    for name in BUILTIN_TEMPLATES:
        # One file at a time: as_file() takes directories only from Python 3.12 on.
        with resources.as_file(folder / f"{name}.yaml") as path:
            out.append(load_template_file(path))
    return tuple(out)


@hookimpl
def wfe_templates() -> list[Template]:
    return list(_builtin_templates())
