"""``wfe runs`` and ``wfe runs show``: the run history in the store."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from wfe_core.model.secrets import mask_sealed

__all__ = ["runs"]


def _store(path: str | None) -> Any:
    from wfe_core.store.runstore import RunStore, StoreError, default_store_path

    target = path or default_store_path()
    from pathlib import Path

    if not Path(target).exists():
        raise StoreError(f"no run store at {target} (no run recorded yet)")
    return RunStore(target)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _duration(start: float | None, end: float | None) -> str:
    if not start:
        return "-"
    return f"{(end or time.time()) - start:.1f}s" + ("" if end else "+")


def _fanout_ids(definition: str | None) -> set[str]:
    """The fan-out steps of the definition recorded with a run."""
    try:
        steps = json.loads(definition or "{}").get("steps") or []
    except (ValueError, AttributeError):
        return set()
    return {s["id"] for s in steps if isinstance(s, dict) and (s.get("for_each") is not None or s.get("matrix"))}


def _totals(steps: list[dict[str, Any]], fanout_ids: set[str]) -> str:
    """``steps: 3 succeeded, 1 failed (of 4; build counts as its 3 instances)``."""
    from wfe_core.plan.fanout import counted_note, counted_steps

    status = {s["step_id"]: s["status"] for s in steps}
    counted, fanned_out = counted_steps(status, fanout_ids)
    by_status: dict[str, int] = {}
    for sid in counted:
        by_status[status[sid]] = by_status.get(status[sid], 0) + 1
    note = counted_note(fanned_out)
    shown = ", ".join(f"{n} {name}" for name, n in by_status.items())
    return f"steps: {shown or 'none'} (of {len(counted)}{'; ' + note if note else ''})"


@click.group(invoke_without_command=True)
@click.option("--store", type=click.Path(dir_okay=False), default=None, help="Run store file.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def runs(ctx: click.Context, store: str | None, limit: int, as_json: bool) -> None:
    """Recent runs: id, workflow, status, start, duration. `wfe runs show RUN_ID` for one."""
    ctx.obj = {"store": store}
    if ctx.invoked_subcommand is not None:
        return
    db = _store(store)
    try:
        rows = mask_sealed(db.runs(limit))
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    click.echo(f"{'RUN':<12}  {'WORKFLOW':<24}  {'STATUS':<11}  {'STARTED':<19}  DURATION")
    for r in rows:
        status = r["status"] + ("*" if r["rollback"] == "partial" else "")
        click.echo(
            f"{r['run_id'][:12]:<12}  {r['workflow_id'][:24]:<24}  {status:<11}  {_when(r['started_at'])}  "
            f"{_duration(r['started_at'], r['finished_at'])}"
        )


def _with_children(db: Any, run_id: str, steps: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """``steps`` with each sub-workflow's steps after its ``workflow.run`` step, ids nested
    (``deploy/build``); each row keeps the ``run_id`` of the run it belongs to."""
    children = db.child_runs(run_id)
    out = []
    for step in steps:
        step = {**step, "step_id": prefix + step["step_id"]}
        out.append(step)
        child = children.get(step["step_id"][len(prefix) :])
        if child is not None:
            inner = mask_sealed(db.run(child, memos=False))["steps"]
            out.extend(_with_children(db, child, inner, step["step_id"] + "/"))
    return out


@runs.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """One run, step by step: status, attempts, duration, error, the tail of its output."""
    from wfe_core.run.output import output_tail, tail_lines

    db = _store(ctx.obj["store"])
    try:
        run = mask_sealed(db.run(run_id, memos=False))  # memos can be large, and are not for display
        run["steps"] = _with_children(db, run["run_id"], run["steps"], "")
    finally:
        db.close()
    definition = run.pop("definition", None)
    for step in run["steps"]:
        # A memo is what rollback needs to undo a step (a file's previous bytes, base64):
        # data, not history, and it may hold anything the step touched.
        step.pop("memo", None)
    if as_json:
        try:
            click.echo(json.dumps(run, indent=2, default=str))
        except RecursionError:  # an output nested deeper than the indenting encoder can recurse
            click.echo(json.dumps(run, default=str))
        return
    click.echo(
        f"run {run['run_id']}  workflow {run['workflow_id']}  {run['status']}"
        + (f"  rollback {run['rollback']}" if run["rollback"] else "")
    )
    click.echo(
        f"started {_when(run['started_at'])}  took {_duration(run['started_at'], run['finished_at'])}"
        + (f"  resumed {run['resumed']}x" if run["resumed"] else "")
    )
    if run["error"]:
        click.echo(f"error: {run['error']}")
    fanout_ids = _fanout_ids(definition)
    if fanout_ids:  # the counting rule needs saying only where a step fanned out
        click.echo(_totals(run["steps"], fanout_ids))
    for step in run["steps"]:
        detail = (step["error"] or step["reason"] or "").rstrip("\n").replace("\n", "\n" + " " * 66)
        click.echo(
            f"  {step['step_id']:<24} {step['status']:<15} attempts {step['attempts']:<2} "
            f"{step['duration']:8.3f}s  {detail}".rstrip()
        )
        workers = [f"#{e['number']} {e['worker']}" for e in step.get("attempt_log") or [] if e.get("worker")]
        if workers:  # attempts a remote executor ran (wfe-dask): where
            click.echo(f"  {'':<24} on {', '.join(workers)}")
        for entry in step.get("attempt_log") or []:
            if entry.get("waited"):  # started late: a resource was taken
                click.echo(f"  {'':<24} #{entry['number']} {entry['waited']}")
        # Under a failed shell step, stderr is left out when its error already quotes it.
        for line in tail_lines({"output_tail": output_tail(step["output"]), "error": step["error"]}):
            click.echo(f"      {line}")
