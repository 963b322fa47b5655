"""A step's row written again (a resumed run) takes every column of its new outcome: a
success after a failure clears the failure's output, variables, memo, error and reason,
and a failure after a success sets them. The store writes the columns that are usually
empty as NULL in the statement's text for the usual rows, so each shape is checked."""

from __future__ import annotations

from typing import Any

import pytest
from stored_runs import start_run

from wfe_core.store.runstore import RunStore

FULL: dict[str, Any] = {
    "output": {"stdout": "partial"},
    "variables": {"x": 1},
    "memo": {"previous": "bytes"},
    "error": "boom",
    "reason": "exit 1",
}
EMPTY: dict[str, Any] = dict.fromkeys(FULL)
OUTPUT_ONLY: dict[str, Any] = {**EMPTY, "output": "done"}


def _finish(store: RunStore, status: str, fields: dict[str, Any], seq: int | None) -> None:
    store.step_started("r1", "a", 1, 10.0)
    store.attempt_finished("r1", "a", 1, status, 10.0, fields["error"], 11.0)
    store.step_finished(
        "r1",
        "a",
        status,
        1,
        fields["output"],
        fields["variables"],
        fields["memo"],
        fields["error"],
        fields["reason"],
        10.0,
        11.0,
        1.0,
        seq,
    )
    store.commit()


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (("failed", FULL, None), ("succeeded", EMPTY, 1)),
        (("failed", FULL, None), ("succeeded", OUTPUT_ONLY, 1)),
        (("succeeded", EMPTY, 1), ("failed", FULL, None)),
        (("succeeded", OUTPUT_ONLY, 1), ("failed", FULL, None)),
    ],
)
def test_the_second_outcome_replaces_the_first(tmp_path, first, then):
    store = RunStore(tmp_path / "runs.sqlite")
    try:
        start_run(store, [("a", "fa"), ("b", "fb")], resumed=False)
        _finish(store, *first)
        start_run(store, [("a", "fa"), ("b", "fb")], resumed=True)
        _finish(store, *then)
        steps = {s["step_id"]: s for s in store.run("r1")["steps"]}
    finally:
        store.close()
    status, fields, seq = then
    row = steps["a"]
    assert row["status"] == status and row["seq"] == seq and row["fingerprint"] == "fa"
    assert {name: row[name] for name in FULL} == fields
    assert steps["b"]["status"] == "pending" and steps["b"]["fingerprint"] == "fb"


SET_AND_KEPT: dict[str, Any] = {**EMPTY, "output": "done", "variables": {"x": 1}, "memo": {"previous": "bytes"}}
CANCELLED: dict[str, Any] = {**EMPTY, "reason": "run cancelled"}


@pytest.mark.parametrize(
    ("status", "fields"),
    [("succeeded", EMPTY), ("succeeded", OUTPUT_ONLY), ("succeeded", SET_AND_KEPT), ("cancelled", CANCELLED)],
)
def test_a_first_attempt_is_written_with_its_row_and_read_back_whole(tmp_path, status, fields):
    """Each shape of a row whose one attempt ended as the row did (its log not written out)."""
    store = RunStore(tmp_path / "runs.sqlite")
    try:
        start_run(store, [("a", "fa"), ("b", "fb")], resumed=False)
        _finish(store, status, fields, 1)
        (raw,) = store.db.execute("SELECT attempt_log FROM steps WHERE step_id='a'").fetchone()
        row = {s["step_id"]: s for s in store.run("r1")["steps"]}["a"]
    finally:
        store.close()
    assert raw == ""  # rows.ONE_ATTEMPT
    assert row["status"] == status and row["attempts"] == 1 and row["fingerprint"] == "fa"
    assert {name: row[name] for name in FULL} == fields
    assert row["attempt_log"] == [
        {"number": 1, "status": status, "started_at": 10.0, "finished_at": 11.0, "error": None}
    ]
