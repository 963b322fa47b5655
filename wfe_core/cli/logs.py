"""``wfe logs RUN_ID [STEP]``: recorded step output (the tails ``wfe runs show`` prints come
from :mod:`wfe_core.run.output`, as the tails under a failed step's error do).

What a step printed is what its action returned as ``stdout``/``stderr`` (the shell
actions do, also when the command failed: the failed attempt's output is recorded),
recorded in the run store bounded as the store bounds every value and with secrets
masked. Other outputs are shown as one line of JSON.
"""

from __future__ import annotations

import click

from wfe_core.model.secrets import mask_sealed

__all__ = ["logs"]


@click.command()
@click.argument("run_id")
@click.argument("step", required=False)
@click.option("--store", type=click.Path(dir_okay=False), default=None, help="Run store file.")
def logs(run_id: str, step: str | None, store: str | None) -> None:
    """Print the recorded output of RUN_ID's steps (or of STEP), each line prefixed by its step id."""
    from wfe_core.cli.runs import _store
    from wfe_core.model.errors import WfeError, did_you_mean
    from wfe_core.run.output import output_streams

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
