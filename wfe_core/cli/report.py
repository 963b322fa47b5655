"""``wfe report``, ``wfe graph`` and ``wfe stats``: reading the run store and drawing workflows.

Everything heavy (SQLite, the registry, the renderers) is imported inside the commands,
so registering them costs ``wfe --help`` nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from wfe_core.model.errors import WfeError

__all__ = ["graph", "report", "stats"]

_STORE_HELP = "Run store file (default: $WFE_STORE or ~/.local/state/wfe/runs.sqlite)."


def _write(data: str | bytes, output: str | None) -> None:
    if output is None:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        sys.stdout.flush()
        return
    try:
        Path(output).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    except OSError as exc:
        raise WfeError(f"cannot write {output}: {exc.strerror or exc}") from None


def _formats() -> dict[str, Any]:
    from wfe_core.cli import _plugins

    return {name: p.record for name, p in _plugins().provided["report_formats"].items()}


def _pick(formats: dict[str, Any], name: str | None, output: str | None) -> Any:
    from wfe_core.model.errors import did_you_mean

    if name is None:
        suffix = Path(output).suffix.lstrip(".").lower() if output else ""
        by_ext = [f for f in formats.values() if f.extension == suffix]
        name = by_ext[0].name if by_ext else "text"
    if name not in formats:
        raise WfeError(
            f"unknown report format '{name}'{did_you_mean(name, formats)}; known: {', '.join(sorted(formats))}"
        )
    return formats[name]


@click.command()
@click.argument("run_id")
@click.option(
    "--format",
    "-f",
    "fmt",
    default=None,
    metavar="NAME",
    help="html, junit, markdown, json, yaml, text or a plugin's (default: from -o's extension, else text).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to FILE, not stdout.")
@click.option("--store", type=click.Path(dir_okay=False), default=None, help=_STORE_HELP)
def report(run_id: str, fmt: str | None, output: str | None, store: str | None) -> None:
    """The report of run RUN_ID (finished, failed, cancelled, resumed or still running).

    RUN_ID may be abbreviated. The store is only read, never locked for writing, so a
    run in progress can be reported while it runs.
    """
    from wfe_core.report.data import open_store, read_run
    from wfe_core.report.nested import read_children
    from wfe_core.report.report import build_report

    chosen = _pick(_formats(), fmt, output)
    db = open_store(store)
    try:
        run = read_run(db, run_id)
        children = read_children(db, run)  # sub-workflow runs: listed under their steps
    finally:
        db.close()
    _write(chosen.render(build_report(run, children)), output)
    if output:
        click.echo(f"wrote {chosen.name} report of run {run.run_id} to {output}", err=True)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--format", "-f", "fmt", type=click.Choice(["mermaid", "dot", "html"]), default="mermaid", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to FILE, not stdout.")
def graph(file: str, fmt: str, output: str | None) -> None:
    """The dependency graph of the workflow in FILE, before it runs.

    Levels (one rank each), parallel groups as clusters, ``?`` on conditional steps,
    dashed non-critical steps, and the longest chain of steps in bold. A sub-workflow
    (``workflow.run`` of a literal path or template) is drawn nested, as a subgraph.
    """
    from wfe_core.cli import _load
    from wfe_core.report.graph import to_dot, to_mermaid, view_of_workflow

    workflow = _load(file)
    from wfe_core.plan.graph import DependencyGraph

    DependencyGraph.from_workflow(workflow, source=file)  # unknown dependencies, cycles: exit 2, named
    from wfe_core.cli.subflows import labelled

    view = labelled(view_of_workflow(workflow), workflow)  # workflow.run steps name what they run
    from wfe_core.cli import _plugins
    from wfe_core.report.graph_nested import nested_dot, nested_html, nested_mermaid, nested_views

    # Sub-workflows known before the run (a literal path or template): drawn nested.
    templates = any(s.action == "workflow.run" and "template" in (s.parameters or {}) for s in workflow.steps)
    nested = nested_views(workflow, file, _plugins() if templates else None)
    if fmt == "mermaid":
        text = nested_mermaid(to_mermaid(view), view, nested)
    elif fmt == "dot":
        text = nested_dot(to_dot(view), nested)
    else:
        from wfe_core.report.formats.graph_page import render_graph_page

        text = render_graph_page(view, workflow, nested_html(nested))
    _write(text, output)


@click.command()
@click.argument("workflow_id")
@click.option("--last", type=click.IntRange(min=1), default=20, show_default=True, help="How many recent runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (wfe.stats/1).")
@click.option("--store", type=click.Path(dir_okay=False), default=None, help=_STORE_HELP)
def stats(workflow_id: str, last: int, as_json: bool, store: str | None) -> None:
    """Per step across the last runs of WORKFLOW_ID: p50/p95 duration, failure rate, flaky, trend.

    The steps of its sub-workflows (``workflow.run``) are listed under their step, with
    nested ids (``deploy/build``).
    """
    from wfe_core.report.data import open_store, read_runs
    from wfe_core.report.formats.units import seconds
    from wfe_core.report.history import summarize
    from wfe_core.report.nested import read_children, with_nested_steps

    db = open_store(store)
    try:
        # A sub-workflow's steps are listed too, nested under their step (deploy/build).
        runs = [with_nested_steps(run, read_children(db, run)) for run in read_runs(db, workflow_id, last)]
    finally:
        db.close()
    if not runs:
        raise WfeError(f"no recorded run of workflow '{workflow_id}'")
    history = summarize(workflow_id, runs)
    if as_json:
        click.echo(json.dumps(history.to_dict(), indent=2))
        return
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(history.statuses.items()))
    click.echo(
        f"workflow {workflow_id}: {len(runs)} runs ({statuses}); wall p50 {seconds(history.wall_p50)} "
        f"p95 {seconds(history.wall_p95)}"
    )
    width = max([len(s.step) for s in history.steps] + [4])
    click.echo(f"  {'STEP':<{width}}  RUNS  {'P50':>8}  {'P95':>8}  FAIL%  FLAKY  TREND")
    for s in history.steps:
        trend = f"{s.trend:.2f}x" if s.trend is not None else "-"
        click.echo(
            f"  {s.step:<{width}}  {s.runs:>4}  {seconds(s.p50):>8}  {seconds(s.p95):>8}  "
            f"{100 * s.failure_rate:>4.0f}%  {s.flaky_runs:>5}  {trend}"
        )


def register(main: click.Group) -> None:
    """Add these commands to the ``wfe`` group."""
    for command in (report, graph, stats):
        main.add_command(command)
