"""Finding templates by name: template directories first, then plugins (built-ins included).

Precedence, first wins: ``--template-path`` directories (in order), ``WFE_TEMPLATE_PATH``
directories (in order), then templates registered through the ``wfe_templates`` hook. A
plugin replaces a wfe-core built-in of the same name; two other plugins providing one
name is an error at registry build, naming both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from wfe_core.load.loader import SUFFIXES
from wfe_core.load.templates import Template, load_template_file, render_template, template_dirs
from wfe_core.model.errors import InvalidWorkflowError, Problem, did_you_mean
from wfe_core.model.workflow import Workflow

__all__ = ["TemplateCatalog", "TemplateEntry"]


@attrs.frozen
class TemplateEntry:
    """A template and where it was found.

    Attributes:
        template: the template.
        origin: ``wfe-core``, ``plugin 'name' (dist version)`` or ``directory PATH``.
        missing: distributions to install before its steps can run (``pip install ...``).
    """

    template: Template
    origin: str
    missing: tuple[str, ...] = ()


class TemplateCatalog:
    """Every template visible with one plugin registry and template path.

    ``problems`` lists template files in the directories that could not be read (they
    are left out of the listing; asking for one by name raises its error).
    """

    def __init__(self, plugins: Any = None, template_path: Iterable[str | os.PathLike[str]] = ()):
        if plugins is None:
            from wfe_core.plugin.registry import load_plugins

            plugins = load_plugins()
        self.plugins = plugins
        self.problems: list[str] = []
        self._broken: dict[str, InvalidWorkflowError] = {}
        self._entries: dict[str, TemplateEntry] = {}
        for directory in template_dirs(template_path):
            for path in sorted(directory.glob("*")) if directory.is_dir() else ():
                if path.suffix.lower() not in SUFFIXES or not path.is_file():
                    continue
                try:
                    template = load_template_file(path)
                except InvalidWorkflowError as exc:
                    name = path.name.split(".")[0]
                    self._broken.setdefault(name, exc)
                    self.problems.extend(str(p) for p in exc.problems)
                    continue
                self._add(template, f"directory {directory}")
        for _name, provided in sorted(plugins.provided.get("templates", {}).items()):
            info = provided.plugin
            origin = "wfe-core" if info.distribution == "wfe-core" else f"plugin {info.label}"
            self._add(provided.record, origin)

    def _add(self, template: Template, origin: str) -> None:
        if template.name in self._entries or template.name in self._broken:
            return
        from wfe_core.plugin.registry import FIRST_PARTY_PREFIXES

        missing: list[str] = []
        for action in template.actions():
            if action not in self.plugins.actions:
                dist = next(
                    (d for prefix, d in FIRST_PARTY_PREFIXES.items() if action.startswith(prefix)),
                    f"a plugin providing '{action}'",
                )
                if dist not in missing:
                    missing.append(dist)
        self._entries[template.name] = TemplateEntry(template, origin, tuple(missing))

    def entries(self) -> list[TemplateEntry]:
        """Every usable template, by name."""
        return [self._entries[name] for name in sorted(self._entries)]

    def get(self, name: str) -> TemplateEntry:
        """The template called ``name``.

        Raises:
            InvalidWorkflowError: no such template (with a did-you-mean), or its file is broken.
        """
        if name in self._broken:
            raise self._broken[name]
        if name not in self._entries:
            known = sorted(self._entries)
            raise InvalidWorkflowError(
                [
                    Problem(
                        f"unknown template '{name}'{did_you_mean(name, known)}; templates: {', '.join(known) or 'none'}"
                    )
                ]
            )
        return self._entries[name]

    def render(
        self, name: str, variables: Mapping[str, Any] | None = None, *, from_text: bool = False
    ) -> dict[str, Any]:
        """The workflow of template ``name`` as plain data, variables checked and filled in.

        Raises:
            InvalidWorkflowError: unknown template, bad variables, or its steps need a
                distribution that is not installed (named, with the pip command).
        """
        entry = self.get(name)
        data = render_template(entry.template, variables, from_text=from_text)
        problems = []
        for action in entry.template.actions():
            if action not in self.plugins.actions:
                problems.append(
                    Problem(
                        f"its steps use action '{action}', which is not installed{self.plugins.provider_hint(action)}",
                        source=f"template '{name}'",
                    )
                )
        if problems:
            raise InvalidWorkflowError(problems)
        return data

    def load(self, name: str, variables: Mapping[str, Any] | None = None, *, from_text: bool = False) -> Workflow:
        """:meth:`render`, then built into a :class:`Workflow` by the loader."""
        from wfe_core.load.loader import WorkflowLoader

        data = self.render(name, variables, from_text=from_text)
        try:
            return WorkflowLoader().load_from_dict(data, source=f"template '{name}'")
        except InvalidWorkflowError as exc:
            raise InvalidWorkflowError(_in_file(self.get(name).template, exc.problems)) from None


def _in_file(template: Template, problems: list[Problem]) -> list[Problem]:
    """Problems of a template's workflow, pointed at its file and line where it has one."""
    from wfe_core.load.loader import WorkflowLoader

    if not template.source or not os.path.isfile(template.source):
        return problems
    moved = [
        attrs.evolve(p, source=template.source, line=None, path=f"workflow.{p.path}" if p.path else "workflow")
        for p in problems
    ]
    return WorkflowLoader().locate(moved, template.source)
