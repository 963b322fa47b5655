"""``wfe logs RUN_ID [STEP]`` and the output tails of ``wfe runs show``: recorded step output.

What a step printed is what its action returned as ``stdout``/``stderr`` (the shell
actions do), recorded in the run store bounded as the store bounds every value and with
secrets masked. Other outputs are shown as one line of JSON.
"""

from __future__ import annotations

import json
from typing import Any

import click

from wfe_core.model.secrets import mask_sealed

__all__ = ["TAIL_LINES", "logs", "output_streams", "output_tail"]

#: Lines of each stream ``wfe runs show`` prints under a step.
TAIL_LINES = 5


def output_streams(output: Any) -> list[tuple[str, str]]:
    """``(stream, text)`` pairs of a recorded output: stdout and stderr, else the value as JSON."""
    if output is None:
        return []
    if isinstance(output, dict) and ("stdout" in output or "stderr" in output):
        return [(name, str(output[name])) for name in ("stdout", "stderr") if output.get(name)]
    return [("output", json.dumps(output, default=str))]


def output_tail(output: Any, lines: int = TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of stdout and stderr, each as ``stream| text`` (other
    outputs are values, not output: ``wfe runs show --json`` has them)."""
    out = []
    for stream, text in output_streams(output):
        if stream == "output":
            continue
        body = text.rstrip("\n").splitlines()
        if len(body) > lines:
            out.append(f"{stream}| … {len(body) - lines} earlier lines")
        out.extend(f"{stream}| {line}" for line in body[-lines:])
    return out


@click.command()
@click.argument("run_id")
@click.argument("step", required=False)
@click.option("--store", type=click.Path(dir_okay=False), default=None, help="Run store file.")
def logs(run_id: str, step: str | None, store: str | None) -> None:
    """Print the recorded output of RUN_ID's steps (or of STEP), each line prefixed by its step id."""
    from wfe_core.cli.runs import _store
    from wfe_core.model.errors import WfeError, did_you_mean

    db = _store(store)
    try:
        run = mask_sealed(db.run(run_id, memos=False))
    finally:
        db.close()
    steps = run["steps"]
    if step is not None:
        ids = [s["step_id"] for s in steps]
        if step not in ids:
            raise WfeError(f"run {run['run_id'][:12]} has no step '{step}'{did_you_mean(step, ids)}")
        steps = [s for s in steps if s["step_id"] == step]
    for record in steps:
        for stream, text in output_streams(record["output"]):
            for line in text.rstrip("\n").splitlines():
                click.echo(f"{record['step_id']} {stream}| {line}")
