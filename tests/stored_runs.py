"""A run started in a :class:`RunStore` directly, for tests of the store's own rules."""

from __future__ import annotations

from collections.abc import Iterable

from wfe_core.store.runstore import RunStore


def start_run(
    store: RunStore,
    step_ids: Iterable[tuple[str, str]],
    *,
    run_id: str = "r1",
    resumed: bool = False,
    strategy: str = "parallel",
) -> None:
    """Start (or, ``resumed``, resume) run ``run_id`` of workflow ``w`` planning ``step_ids``
    (step id, fingerprint), with no definition, source or variables."""
    store.start_run(
        run_id=run_id,
        workflow_id="w",
        workflow_name="w",
        source=None,
        definition=None,
        strategy=strategy,
        dry_run=False,
        variables={},
        step_ids=list(step_ids),
        resumed=resumed,
    )
