"""``wfe templates`` and ``wfe new``: list workflow templates and write a workflow from one.

``wfe run --template NAME`` uses :func:`workflow_from_template` from here too.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click

from wfe_core.cli.lazy import template_path_option
from wfe_core.model.errors import InvalidWorkflowError, Problem, WfeError

__all__ = ["SCHEMA_FILE", "new", "template_path_option", "templates", "workflow_from_template"]

#: The schema file ``wfe new -o FILE`` points editors at (written beside FILE if missing).
SCHEMA_FILE = "wfe.schema.json"


def _catalog(template_path: tuple[str, ...]) -> Any:
    from wfe_core.cli import _plugins
    from wfe_core.load.catalog import TemplateCatalog

    return TemplateCatalog(_plugins(), template_path)


def _render(name: str, pairs: tuple[str, ...], template_path: tuple[str, ...]) -> tuple[Any, Any]:
    from wfe_core.cli import _parse_vars
    from wfe_core.load.loader import WorkflowLoader

    catalog = _catalog(template_path)
    data = catalog.render(name, _parse_vars(pairs), from_text=True)
    return WorkflowLoader().load_from_dict(data, source=f"template '{name}'"), catalog


def workflow_from_template(name: str, pairs: tuple[str, ...], template_path: tuple[str, ...]) -> Any:
    """The workflow of template ``name``, its ``--var NAME=VALUE`` pairs checked and filled in."""
    return _render(name, pairs, template_path)[0]


@click.command()
@template_path_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def templates(template_path: tuple[str, ...], as_json: bool) -> None:
    """List workflow templates: name, where from, description and parameters."""
    catalog = _catalog(template_path)
    for problem in catalog.problems:
        click.echo(f"warning: {problem}", err=True)
    rows = []
    for entry in catalog.entries():
        t = entry.template
        rows.append(
            {
                "name": t.name,
                "origin": entry.origin,
                "source": t.source,
                "description": t.description,
                "missing": list(entry.missing),
                "parameters": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "required": p.is_required,
                        "default": p.default,
                        "allowed": p.allowed,
                        "pattern": p.pattern,
                        "description": p.description,
                    }
                    for p in t.parameters
                ],
            }
        )
    if as_json:
        click.echo(json.dumps({"templates": rows}, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}  [{row['origin']}]")
        if row["description"]:
            click.echo(f"    {row['description']}")
        if row["missing"]:
            click.echo(f"    needs: {', '.join(row['missing'])} (not installed)")
        for p in row["parameters"]:
            how = "required" if p["required"] else f"default {json.dumps(p['default'])}"
            extra = f", one of {', '.join(map(str, p['allowed']))}" if p["allowed"] else ""
            click.echo(f"    --var {p['name']}=<{p['type']}>  ({how}{extra})  {p['description']}")


def _command_line(name: str, pairs: tuple[str, ...], template_path: tuple[str, ...]) -> str:
    return " ".join(
        [
            "wfe",
            "new",
            shlex.quote(name),
            *(f"--var {shlex.quote(p)}" for p in pairs),
            *(f"--template-path {shlex.quote(d)}" for d in template_path),
        ]
    )


@click.command()
@click.argument("template")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A template parameter (repeatable).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write here (format from the suffix: .yaml/.yml, .json, .toml); default: YAML on stdout.",
)
@click.option(
    "--schema-ref",
    default=SCHEMA_FILE,
    show_default=True,
    help="What the editor comment's $schema points at (a path relative to the file, or a URL).",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@template_path_option
def new(
    template: str,
    variables: tuple[str, ...],
    output: str | None,
    schema_ref: str,
    force: bool,
    template_path: tuple[str, ...],
) -> None:
    """Write a ready-to-edit workflow file from TEMPLATE (see `wfe templates`).

    A YAML file starts with a `# yaml-language-server: $schema=` comment so editors check it
    and offer completion; with -o, the schema (`wfe schema --workflow`) is written beside
    the file when --schema-ref is a relative path that does not exist yet.
    """
    from wfe_core.load.loader import SUFFIXES, WorkflowLoader

    fmt = "yaml"
    if output is not None:
        fmt = SUFFIXES.get(Path(output).suffix.lower(), "")
        if not fmt:
            raise InvalidWorkflowError(
                [
                    Problem(
                        f"unsupported file suffix '{Path(output).suffix}' (use one of {', '.join(sorted(SUFFIXES))})",
                        source=output,
                    )
                ]
            )
        if Path(output).exists() and not force:
            # An edited workflow is work a typo in -o must not destroy.
            raise WfeError(f"{output} exists; use --force to replace it")
    workflow, catalog = _render(template, variables, template_path)
    body = WorkflowLoader().dump(workflow, fmt)
    made = f"made by: {_command_line(template, variables, template_path)}"
    if fmt == "yaml":
        text = f"# yaml-language-server: $schema={schema_ref}\n# {made}\n{body}"
    elif fmt == "toml":  # Taplo (Even Better TOML) reads this directive
        text = f"#:schema {schema_ref}\n# {made}\n{body}"
    else:  # JSON has no comments, and the loader refuses a "$schema" key
        text = body
    if output is None:
        click.echo(text, nl=False)
        return
    _write(Path(output), text)
    click.echo(f"wrote {output} from template '{template}'", err=True)
    ref = Path(output).parent / schema_ref
    if fmt != "json" and "://" not in schema_ref and not Path(schema_ref).is_absolute() and not ref.exists():
        from wfe_core.load.schema import workflow_schema

        _write(ref, json.dumps(workflow_schema(catalog.plugins.actions), indent=2) + "\n")
        click.echo(f"wrote {ref} (the JSON Schema editors check it against)", err=True)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise WfeError(f"cannot write {path}: {exc.strerror or exc}") from None
