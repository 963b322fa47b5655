"""The ``wfe`` command: thin click commands over the Python API.

This is the only place errors become exit codes: 0 success, 1 a run that failed,
2 invalid input (file, workflow, options, plugins), 130 interrupted.
"""

from __future__ import annotations

import re
import sys
import warnings
from typing import TYPE_CHECKING, Any

import click

from wfe_core import __version__
from wfe_core.cli import lazy
from wfe_core.cli.lazy import LazyGroup

if TYPE_CHECKING:  # imported where raised or caught: `wfe --help` must not pay for attrs
    from wfe_core.model.errors import InvalidWorkflowError

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT


def _plugins(strict: bool = False) -> Any:
    from wfe_core.plugin.registry import PluginLoadWarning, load_plugins

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginLoadWarning)
        plugins = load_plugins(strict=strict or None)
    for w in caught:
        if issubclass(w.category, PluginLoadWarning):
            click.echo(f"warning: {w.message}", err=True)
    return plugins


def _load(path: str) -> Any:
    import gc

    from wfe_core.load.loader import WorkflowLoader

    workflow = WorkflowLoader().load_from_file(path)
    # What was loaded lives until the command ends: the collector need not walk it again
    # each time validation or the run allocates (a 10,000-step file is ~200,000 objects).
    gc.freeze()
    return workflow


def _told(path: str) -> str:
    """The part of a problem's path a salvage leaves out whole: ``steps[1].parameters``, a top-level key."""
    found = re.match(r"steps\[\d+\](?:\.[^.\[]+)?|[^.\[]*", path)
    return found.group(0) if found else path


def _with_validation(exc: InvalidWorkflowError, file: str, validate: Any) -> InvalidWorkflowError:
    """``exc`` (structure problems of ``file``) plus what ``validate`` finds in the parts of
    the file that are well-formed, so one pass reports every problem it can."""
    from wfe_core.load.loader import WorkflowLoader
    from wfe_core.model.errors import InvalidWorkflowError

    if not exc.problems or any(not p.path for p in exc.problems):  # unreadable, unparsable: nothing to check
        return exc
    try:
        salvaged = WorkflowLoader().salvage(file, exc.problems)
        if salvaged is None:
            return exc
        workflow, dropped = salvaged
        result = validate(workflow)
    except Exception:  # a second look must never make the first one worse
        return exc
    # What the salvage left out: a step's whole key (``steps[1].parameters``), a top-level key.
    told = [_told(p.path) for p in exc.problems]

    def new(problem: Any) -> bool:
        if any(problem.path == t or problem.path.startswith((t + ".", t + "[")) for t in told):
            return False  # the structure problem already says what is wrong there
        # A step left out whole would be reported again as unknown wherever it is named.
        return not any(f"'{sid}'" in problem.message and problem.step_id != sid for sid in dropped)

    for problem in _located([p for p in result.warnings if new(p)], file):
        click.echo(f"{problem}", err=True)
    extra = [p for p in result.failures() if new(p)]
    problems = _located([*exc.problems, *extra], file)
    return InvalidWorkflowError(sorted(problems, key=lambda p: p.line or 0))


def _located(problems: list[Any], file: str) -> list[Any]:
    import attrs

    from wfe_core.load.loader import WorkflowLoader

    return WorkflowLoader().locate([p if p.source else attrs.evolve(p, source=file) for p in problems], file)


def _parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--var")
        out[name.strip()] = value
    return out


class WfeGroup(LazyGroup):
    """Turns library errors into messages and exit codes; never a traceback for user errors.

    Subcommands defined outside this module are imported when they run (:class:`LazyGroup`).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # A WfeError can only come from code that imported wfe_core.model.errors.
            errors = sys.modules.get("wfe_core.model.errors")
            if errors is None or not isinstance(exc, errors.WfeError):
                raise
            if isinstance(exc, errors.InvalidWorkflowError):
                for problem in exc.problems:
                    click.echo(f"error: {problem}", err=True)
            else:
                click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_INVALID)
        except KeyboardInterrupt:
            # Ctrl-C outside a run (loading, validating a big file): click would print
            # "Aborted!" and exit 1; an interrupted command exits 130 like the run does.
            click.echo("\ninterrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=WfeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wfe")
def main() -> None:
    """wfe: run workflows of steps — in parallel, safely, resumably."""
    _show_plugin_warnings()


def _show_plugin_warnings() -> None:
    """Warnings that wfe and its plugins log (``wfe.*`` loggers) go to stderr, one line each.

    The ``wfe`` logger has a NullHandler (a library must not print by itself), which also
    silenced Python's last-resort output; the CLI is an application, so it prints them.
    Run events are left out: the reporter already shows them (``logging`` hears them too).
    """
    import logging

    root = logging.getLogger("wfe")
    if any(getattr(h, "_wfe_cli", False) for h in root.handlers):
        return

    class ToStderr(logging.Handler):  # sys.stderr at emit time: click's test runner swaps it
        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(self.format(record) + "\n")
            except Exception:
                self.handleError(record)

    handler = ToStderr(logging.WARNING)
    handler.addFilter(lambda record: not hasattr(record, "event") and not record.name.startswith("wfe.status"))
    handler._wfe_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Treat warnings (security findings) as errors.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A run variable (repeatable).")
@click.option(
    "--executor",
    default="threads",
    show_default=True,
    help="Check for this executor too (dask: values must be picklable).",
)
def validate(file: str, strict: bool, variables: tuple[str, ...], executor: str) -> None:
    """Check FILE without running it. Exit 0 when valid, 2 when not."""
    from wfe_core.load.loader import WorkflowLoader
    from wfe_core.model.errors import InvalidWorkflowError
    from wfe_core.validate.validator import WorkflowValidator

    registry = _plugins()
    registry.executor(executor)  # unknown or not installed: one line naming what to install
    validator = WorkflowValidator(registry)

    def check(workflow: Any) -> Any:
        return validator.validate(
            workflow, strict=strict, source=file, variables=_parse_vars(variables), executor=executor
        )

    try:
        workflow = _load(file)
    except InvalidWorkflowError as exc:
        raise _with_validation(exc, file, check) from None
    result = check(workflow)
    for problem in WorkflowLoader().locate(result.failures(), file):
        click.echo(f"error: {problem}", err=True)
    for problem in WorkflowLoader().locate(result.warnings, file):
        click.echo(f"{problem}", err=True)
    if not result.is_valid:
        sys.exit(EXIT_INVALID)
    count = len(workflow.steps)
    click.echo(f"{file}: valid ({count} step{'' if count == 1 else 's'})")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List plugins, their distributions and what each provides."""
    import json

    registry = _plugins()
    registry.load_all()  # what each plugin provides now, not what the plugin index remembers
    rows = [
        {
            "name": i.name,
            "distribution": i.distribution,
            "version": i.version,
            "module": i.module,
            "provides": {k: list(v) for k, v in i.provides.items()},
        }
        for i in registry.infos
    ]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "problems": registry.problems}, indent=2))
        return
    for row in rows:
        dist = f"{row['distribution']} {row['version']}" if row["distribution"] else "(registered directly)"
        click.echo(f"{row['name']}  [{dist}]")
        for kind, names in row["provides"].items():
            click.echo(f"    {kind.replace('_', ' ')}: {', '.join(names)}")


template_path_option = lazy.template_path_option


def _store_options(func: Any) -> Any:
    func = click.option(
        "--store",
        "store",
        type=click.Path(dir_okay=False),
        default=None,
        help="Run store file (default: $WFE_STORE or ~/.local/state/wfe/runs.sqlite).",
    )(func)
    return func


def _run_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--var", "variables", multiple=True, metavar="NAME=VALUE", help="A run variable (repeatable)."
            ),
            click.option(
                "--strategy", default=None, help="sequential, parallel, hybrid, adaptive (default) or a plugin's."
            ),
            click.option("--max-workers", type=click.IntRange(min=1), default=None, help="Most steps running at once."),
            click.option("--strict", is_flag=True, help="Refuse to start when validation has warnings."),
            click.option("--no-rollback", is_flag=True, help="Do not compensate completed steps after a failure."),
            click.option(
                "--reporter",
                default="auto",
                show_default=True,
                help="How to print the run: auto (a live display on a terminal, else plain), "
                "live, plain or console (timestamped lines), json, or a plugin's.",
            ),
            click.option("--quiet", "-q", is_flag=True, help="Print only failures and the summary."),
            click.option(
                "--output",
                "-v",
                "show_output",
                is_flag=True,
                help="Stream each step's output live, prefixed by its step id ('ID| ' stdout, 'ID!| ' stderr).",
            ),
            click.option(
                "--claude-flow",
                "claude_flow",
                is_flag=True,
                help="Coordinate the run through Claude Flow (needs wfe-claude-flow).",
            ),
            click.option(
                "--executor",
                default="threads",
                show_default=True,
                help="Where steps run: threads (this process) or an executor plugin's (dask, …).",
            ),
            click.option(
                "--scheduler",
                default=None,
                metavar="ADDRESS",
                help="The executor's cluster address, e.g. tcp://HOST:8786 (--executor dask).",
            ),
        ]
    ):
        func = option(func)
    return _store_options(func)


def _engine(
    registry: Any,
    store: str | None,
    *,
    strict: bool = False,
    no_rollback: bool = False,
    no_store: bool = False,
    claude_flow: bool = False,
    executor: str = "threads",
    scheduler: str | None = None,
) -> Any:
    from wfe_core.engine import DEFAULT_STORE, WorkflowEngine

    return WorkflowEngine(
        plugins=registry,
        strict=strict,
        enable_rollback=not no_rollback,
        store=None if no_store else (store or DEFAULT_STORE),
        enable_claude_flow=claude_flow,
        executor=executor,
        executor_options={"address": scheduler} if scheduler else {},
    )


def _reporter(registry: Any, name: str, *, quiet: bool = False, engine: Any = None) -> Any:
    """The sink of a run's events: the live display, plain lines, or a reporter plugin's."""
    from wfe_core.model.errors import WfeError, did_you_mean

    if name in ("auto", "live", "plain") or quiet:
        from wfe_core.cli.display import LiveDisplay, PlainReporter, live_allowed

        if quiet or name == "plain" or (name == "auto" and not live_allowed(sys.stdout)):
            if name == "auto" and not quiet:
                # Not a terminal: the console reporter (plain timestamped lines), by its
                # plugin name, so that blocking or replacing it applies here too.
                return _reporter(registry, "console")
            return PlainReporter(sys.stdout, quiet=quiet)
        engine.progress_tracker.follow = True  # the display reads its snapshots
        tracker = engine.progress_tracker  # an estimate over thousands of steps: once a second is plenty
        return LiveDisplay(sys.stdout, lambda run_id: tracker.snapshot(run_id, eta_max_age=1.0))
    if name not in registry.reporters:
        raise WfeError(
            f"unknown reporter '{name}'{did_you_mean(name, registry.reporters)}; "
            f"known: {', '.join(sorted(registry.reporters))}"
        )
    return registry.reporters[name].factory(sys.stdout)


def _owns_children(func: Any) -> Any:
    """Run the command as the subreaper of what it starts; stop all of it before returning.

    A timed-out step's process group may still be in its SIGTERM grace on a daemon
    thread when the run ends; without this the interpreter's exit would cut that short
    and leave the group (and ``setsid`` escapees) running after ``wfe`` exited.
    """
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from wfe_core.cli.children import owning_children

        with owning_children():
            return func(*args, **kwargs)

    return wrapper


def _finish(result: Any, sink: Any, engine: Any, reporter: str, store: str | None, workflow: Any = None) -> None:
    """Close the sink, print the summary (not for machine-readable reporters), exit."""
    from wfe_core.cli.summary import summary_lines

    stats, signalled = result
    sink.close()
    if _summarizes(sink) and stats is not None:
        for line in summary_lines(stats, store=engine.store_path, store_option=store, workflow=workflow):
            click.echo(line)
    sys.exit(signalled or (0 if stats.succeeded else EXIT_FAILED))


def _is_console(sink: Any) -> bool:
    from wfe_core.plugin.builtins.reporters.console import ConsoleReporter

    return isinstance(sink, ConsoleReporter)


def _summarizes(sink: Any) -> bool:
    """The summary follows wfe's own human-readable output, never a plugin's or JSON."""
    from wfe_core.cli.display import LiveDisplay, PlainReporter

    return _is_console(sink) or isinstance(sink, (LiveDisplay, PlainReporter))


def _output(sink: Any, show: bool) -> Any:
    """The engine's ``output`` callback for ``--output``, or None."""
    if not show:
        return None
    from wfe_core.cli.display import output_printer

    return output_printer(sink, sys.stdout)


def _start(sink: Any) -> Any:
    """Start a live display (it takes over the terminal until closed)."""
    start = getattr(sink, "start", None)
    if start is not None:
        start()
    return sink


#: The collector's first threshold while the ``wfe`` program runs a workflow (Python's is 700).
RUN_COLLECTOR_THRESHOLD = 20_000


def _start_collecting() -> None:
    """Start-up is over: the garbage collector the program paused (:mod:`wfe_core.launch`)
    collects the run's own garbage from here on, less often than by default.

    A run keeps what each step leaves (its record, result, output) until it ends and
    makes almost no cyclic garbage; with Python's thresholds a 10,000-step run made ~300
    collections that freed nothing, two of them full ones over everything the run had
    built: ~0.13 s, a tenth of the run. Only the program does this (a host calling
    :func:`main` itself keeps its own settings), as it alone paused the collector.
    """
    import gc

    from wfe_core.launch import resume_collector

    paused = not gc.isenabled()
    resume_collector()
    if paused and gc.isenabled():  # the program's own pause just ended
        gc.set_threshold(RUN_COLLECTOR_THRESHOLD, *gc.get_threshold()[1:])


def _forcing(sink: Any, force: Any) -> Any:
    """A second Ctrl-C exits at once: give the terminal back first (cursor shown)."""

    def stop() -> None:
        try:
            sink.close()
        finally:
            force()

    return stop


@main.command()
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@_run_options
@click.option("--dry-run", is_flag=True, help="Show what would happen; perform no side effect.")
@click.option("--no-store", is_flag=True, help="Record nothing (no resume, no history).")
@click.option(
    "--template",
    default=None,
    metavar="NAME",
    help="Run template NAME instead of a FILE; --var fills its parameters (see `wfe templates`).",
)
@template_path_option
@_owns_children
def run(
    file: str | None,
    variables: tuple[str, ...],
    strategy: str | None,
    max_workers: int | None,
    strict: bool,
    no_rollback: bool,
    reporter: str,
    claude_flow: bool,
    executor: str,
    scheduler: str | None,
    quiet: bool,
    show_output: bool,
    store: str | None,
    dry_run: bool,
    no_store: bool,
    template: str | None,
    template_path: tuple[str, ...],
) -> None:
    """Run the workflow in FILE (or --template NAME). Exit 0 when it succeeded, 1 when it failed, 130 on Ctrl-C."""
    import uuid

    from wfe_core.cli.interrupt import run_interruptibly
    from wfe_core.model.errors import InvalidWorkflowError

    if (file is None) == (template is None):
        raise click.UsageError("give a workflow FILE or --template NAME (not both)")
    if template is not None:
        from wfe_core.cli.templates import workflow_from_template

        # The template's parameters become the workflow's variables; the label stands in for a file.
        workflow = workflow_from_template(template, variables, template_path)
        variables, file = (), f"template '{template}'"
    else:
        assert file is not None  # checked above: exactly one of FILE and --template
        try:
            workflow = _load(file)
        except InvalidWorkflowError as exc:
            checker = _engine(_plugins(), store, strict=strict, no_store=True)
            raise _with_validation(
                exc, file, lambda wf: checker.validate_workflow(wf, variables=_parse_vars(variables), source=file)
            ) from None
    registry = _plugins()
    engine = _engine(
        registry,
        store,
        strict=strict,
        no_rollback=no_rollback,
        no_store=no_store,
        executor=executor,
        scheduler=scheduler,
        claude_flow=claude_flow,
    )
    sink = _reporter(registry, reporter, quiet=quiet, engine=engine)
    run_vars = _parse_vars(variables)
    validation = engine.validate_workflow(workflow, variables=run_vars, source=file)
    for problem in _located(validation.warnings, file):
        click.echo(f"{problem}", err=True)
    if dry_run:
        from wfe_core.plan.plan import Plan

        plan = Plan.build(workflow, source=file).describe()
        click.echo(f"dry run of {workflow.id}: {len(workflow.steps)} steps in {len(plan['levels'])} levels")
        for depth, level in enumerate(plan["levels"]):
            click.echo(f"  level {depth}: {', '.join(level)}")
        for group, members in plan["parallel_groups"].items():
            click.echo(f"  parallel group {group}: {', '.join(members)}")
        for sid, instances in plan.get("fanout", {}).items():
            click.echo(f"  {sid}: {_instances(instances)}")
        from wfe_core.cli.subflows import nested_plans

        for line in nested_plans(workflow, file):
            click.echo(line)
    run_id = uuid.uuid4().hex
    _start_collecting()
    _start(sink)
    try:
        result = run_interruptibly(
            lambda: engine.run(
                workflow,
                "dry_run" if dry_run else "normal",
                strategy,
                run_vars,
                run_id=run_id,
                max_workers=max_workers,
                listeners=(sink.handle,),
                source=file,
                validation=validation,
                output=_output(sink, show_output),
            ),
            lambda: engine.cancel_workflow(run_id),
            _forcing(sink, registry.force_stop),
        )
    except InvalidWorkflowError as exc:
        sink.close()
        raise InvalidWorkflowError(_located(exc.problems, file)) from None
    except BaseException:
        sink.close()
        raise
    _finish(result, sink, engine, reporter, store, workflow)


def _instances(instances: list[str] | str) -> str:
    """``build[0] … build[2] (3 instances)`` or what a fan-out step expands over at run time."""
    if isinstance(instances, str):
        return instances
    if not instances:
        return "no instances (an empty list: succeeds with output [])"
    shown = ", ".join(instances) if len(instances) <= 4 else f"{instances[0]} … {instances[-1]}"
    return f"{shown} ({len(instances)} instance{'s' if len(instances) != 1 else ''})"


@main.command()
@click.argument("run_id")
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@_run_options
@_owns_children
def resume(
    run_id: str,
    file: str | None,
    variables: tuple[str, ...],
    strategy: str | None,
    max_workers: int | None,
    strict: bool,
    no_rollback: bool,
    reporter: str,
    claude_flow: bool,
    executor: str,
    scheduler: str | None,
    quiet: bool,
    show_output: bool,
    store: str | None,
) -> None:
    """Continue a failed, cancelled or interrupted run: finished steps are not run again.

    FILE defaults to the definition recorded with the run; a given FILE must not change
    any step that already succeeded.
    """
    from wfe_core.cli.interrupt import run_interruptibly

    workflow = _load(file) if file else None
    registry = _plugins()
    engine = _engine(
        registry,
        store,
        strict=strict,
        no_rollback=no_rollback,
        claude_flow=claude_flow,
        executor=executor,
        scheduler=scheduler,
    )
    sink = _start(_reporter(registry, reporter, quiet=quiet, engine=engine))
    _start_collecting()
    try:
        result = run_interruptibly(
            lambda: engine.resume(
                run_id,
                workflow,
                strategy=strategy,
                variables=_parse_vars(variables),
                max_workers=max_workers,
                listeners=(sink.handle,),
                source=file,
                output=_output(sink, show_output),
            ),
            # Cancel whatever this engine runs: RUN_ID may be an abbreviation.
            engine.cleanup,
            _forcing(sink, registry.force_stop),
        )
    except BaseException:
        sink.close()
        raise
    _finish(result, sink, engine, reporter, store)


@main.command()
@click.argument("run_id")
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@_store_options
@_owns_children
def rollback(run_id: str, file: str | None, store: str | None) -> None:
    """Compensate the succeeded steps of a finished run, last completed first."""
    registry = _plugins()
    engine = _engine(registry, store)
    outcome = engine.rollback(run_id, _load(file) if file else None)
    if not outcome:
        click.echo("nothing to roll back")
    for step_id, result in outcome.items():
        click.echo(f"{step_id}: {result}")
    sys.exit(0 if all(v == "rolled_back" for v in outcome.values()) else EXIT_FAILED)


@main.command()
@click.argument("action", required=False)
@click.option(
    "--workflow",
    "whole",
    is_flag=True,
    help="A JSON Schema (2020-12) for whole workflow files, "
    "every installed action's parameters included (for editors).",
)
def schema(action: str | None, whole: bool) -> None:
    """The parameters each action accepts, as JSON Schema (one ACTION, or all)."""
    import json

    from wfe_core.load.schema import action_schema, schemas, workflow_schema
    from wfe_core.model.errors import WfeError, did_you_mean

    registry = _plugins()
    if whole:
        click.echo(json.dumps(workflow_schema(registry.actions), indent=2))
        return
    if action is None:
        click.echo(json.dumps(schemas(registry.actions), indent=2))
        return
    if action not in registry.actions:
        raise WfeError(
            f"unknown action '{action}'{did_you_mean(action, registry.actions)}{registry.provider_hint(action)}"
        )
    click.echo(json.dumps(action_schema(registry.actions[action]), indent=2))
