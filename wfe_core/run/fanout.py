"""Fan-out steps in a run: expanding them into instances and summing their instances up.

Transitions of :class:`~wfe_core.run.state.RunState` that concern ``for_each`` /
``matrix`` steps, kept here so the state module stays readable; like the state's own,
they do no I/O and read no clock. The picture:

- When a fan-out step becomes ready (its dependencies done, its ``conditions`` and
  ``when`` hold), :func:`expand` lists its instances (:mod:`wfe_core.plan.fanout`). Each
  is a step of its own in ``state.steps`` / ``state.records``, with the fan-out step's
  parents (for its context's outputs) and no children. At most ``max_parallel`` of them
  are released to ``ready`` at a time; the rest wait in :attr:`FanOut.queue`, holding
  no worker. The fan-out step's record is ``running`` meanwhile.
- The strategy sees an instance under its step's id (:meth:`FanOut.ready`), so every
  policy, built-in or a plugin's, schedules instances without knowing them.
- When an instance ends (:func:`instance_closed`), the next one is released; when the
  last one ends the step ends: succeeded with the list of outputs in item order when all
  succeeded, failed naming the first failed instance otherwise (a critical step's
  failing instance has already stopped the run, as any critical failure does).
- A resumed run expands the step again; an instance that succeeded before, with the
  same item, keeps its outcome (:func:`restore_instance`).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from wfe_core.load.templating import Unknown
from wfe_core.model.workflow import StepRecord, StepStatus
from wfe_core.plan.fanout import FanOutError, Undecided, base_id, describe_source, instance_step
from wfe_core.plan.fanout import expand as expand_items

if TYPE_CHECKING:
    from wfe_core.run.state import RunState

__all__ = ["FanOut", "expand", "instance_closed", "restore_instance", "stop_instances"]

_FAILURES = (StepStatus.FAILED, StepStatus.TIMED_OUT)


class FanOut:
    """One expanded fan-out step.

    Attributes:
        step_id: the fan-out step.
        ids: its instances, in item order.
        queue: instances not released yet (``max_parallel``), in item order.
        released: released instances not finished yet (at most ``max_parallel``).
        open: instances not finished yet.
        ready: released instances handed to the strategy under ``step_id``, not yet taken.
    """

    __slots__ = ("ids", "open", "queue", "ready", "released", "step_id")

    def __init__(self, step_id: str, ids: list[str]):
        self.step_id = step_id
        self.ids = ids
        self.queue: deque[str] = deque()
        self.released: set[str] = set()
        self.open = 0
        self.ready: deque[str] = deque()


def _add_instance(state: RunState, gid: str, iid: str) -> None:
    """Make ``iid`` a step of the run (not ready yet)."""
    state.steps[iid] = instance_step(state.steps[gid], iid)
    state.records[iid] = StepRecord(iid, attempts=state.prior_attempts.get(iid, 0))
    state.parents[iid] = state.parents[gid]  # type: ignore[index]  # RunState copied them
    state.children[iid] = []  # type: ignore[index]
    state.waiting[iid] = 0
    state.instance_of[iid] = gid
    if gid in state.triggered:
        state.triggered.add(iid)


def restore_instance(state: RunState, row: dict[str, Any]) -> bool:
    """A resumed run: make the instance of ``row`` a step again, to be restored as
    succeeded. Returns whether ``row`` names an instance of a fan-out step."""
    iid = row["step_id"]
    gid = base_id(iid)
    if gid == iid or gid not in state.fanout:
        return False
    _add_instance(state, gid, iid)
    state.restored_digests[iid] = str(row.get("fingerprint") or "").rpartition(":")[2]
    if isinstance(row.get("scope"), dict):  # its item: a rollback renders {item} even if gid never expands again
        state.scopes[iid] = row["scope"]
    return True


def expand(state: RunState, gid: str, wall: float) -> None:
    """``gid`` is ready: list its instances and release the first ``max_parallel``."""
    step = state.steps[gid]
    record = state.records[gid]
    try:
        instances = expand_items(step, state.variables, state.results)
    except Undecided:
        state.not_run.add(gid)
        state.results[gid] = {"output": Unknown(f"steps.{gid}.output"), "status": "dry_run"}
        reason = f"dry run: expands at run time over {describe_source(step)}"
        state._close(gid, StepStatus.SKIPPED, wall, reason=reason, release=True)
        return
    except FanOutError as exc:
        record.error = exc.message
        state._close(gid, StepStatus.FAILED, wall, error=exc.message)
        state._after_failure(step, wall)
        return
    record.status = StepStatus.RUNNING  # started_at: when its first instance starts (RunState.start)
    fan = state.fanouts[gid] = FanOut(gid, [i.id for i in instances])
    fresh = []
    for inst in instances:
        iid = inst.id
        state.scopes[iid] = inst.scope
        known = state.records.get(iid)
        if known is not None and known.status is StepStatus.SUCCEEDED:
            if state.restored_digests.get(iid) == inst.digest:
                continue  # succeeded in an earlier attempt of this run, with the same item
            _unrestore(state, iid)
        elif known is None:
            _add_instance(state, gid, iid)
        fresh.append((iid, inst.digest, inst.scope))
    if state.recording and fresh:
        from wfe_core.run.state import Write

        state.writes.append((Write.STEPS_ADDED, step, fresh))
    fan.queue.extend(iid for iid, _, _ in fresh)
    fan.open = len(fresh)
    _release_more(state, fan)
    _settle(state, fan, wall)


def _unrestore(state: RunState, iid: str) -> None:
    """A restored instance whose item changed since: it runs again."""
    record = state.records[iid]
    record.status = StepStatus.PENDING
    record.output = None
    record.reason = None
    state.finished -= 1
    state.results.pop(iid, None)
    state.completed[:] = [c for c in state.completed if c[0] != iid]


def _release_more(state: RunState, fan: FanOut) -> None:
    limit = state.steps[fan.step_id].max_parallel or len(fan.ids)
    records = state.records
    while fan.queue and len(fan.released) < limit:
        iid = fan.queue.popleft()
        if not records[iid].status.finished:
            fan.released.add(iid)
            state.ready.append(iid)


def instance_closed(state: RunState, iid: str, wall: float) -> None:
    """Instance ``iid`` ended: release the next one, or end its step when it was the last."""
    fan = state.fanouts.get(state.instance_of[iid])
    if fan is None:
        return  # a restored instance whose step has not expanded again (yet)
    fan.released.discard(iid)
    fan.open -= 1
    if state.stopping is not None and fan.step_id not in state.triggered:
        _cancel_unstarted(state, fan, wall)
    else:
        _release_more(state, fan)
    _settle(state, fan, wall)


def _cancel_unstarted(state: RunState, fan: FanOut, wall: float) -> None:
    reason = f"not started: {state.stop_reason}"
    fan.queue.clear()
    for iid in fan.ids:
        if iid not in state.running and iid not in state.retrying and not state.records[iid].status.finished:
            state._close(iid, StepStatus.CANCELLED, wall, reason=reason)


def stop_instances(state: RunState, wall: float) -> None:
    """Dispatch stopped: instances that have not started never will (unless their step
    runs after a stop: trigger ``always`` / ``on_failure``)."""
    for fan in list(state.fanouts.values()):
        if fan.step_id not in state.triggered and not state.records[fan.step_id].status.finished:
            _cancel_unstarted(state, fan, wall)


def _settle(state: RunState, fan: FanOut, wall: float) -> None:
    """End the fan-out step once every instance has ended."""
    gid = fan.step_id
    records = state.records
    if fan.open > 0 or records[gid].status.finished:
        return
    ends = [records[i] for i in fan.ids]
    if state.dry_run and any(i in state.not_run for i in fan.ids):
        state.not_run.add(gid)
        state.results[gid] = {"output": Unknown(f"steps.{gid}.output"), "status": "dry_run"}
        shown = ", ".join(fan.ids) if len(fan.ids) <= 6 else f"{fan.ids[0]} … {fan.ids[-1]}"
        reason = f"dry run: expands into {len(fan.ids)} instances ({shown})"
        state._close(gid, StepStatus.SKIPPED, wall, reason=reason, release=True)
        return
    failed = [r for r in ends if r.status in _FAILURES]
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        error = f"instance {failed[0].step_id} {failed[0].status.value}: {failed[0].error}{more}"
        state._close(gid, StepStatus.FAILED, wall, error=error)
        state._after_failure(state.steps[gid], wall)
        return
    if any(r.status is not StepStatus.SUCCEEDED for r in ends):
        other = next(r for r in ends if r.status is not StepStatus.SUCCEEDED)
        state._close(gid, StepStatus.CANCELLED, wall, reason=f"instance {other.step_id} {other.status.value}")
        return
    output = [r.output for r in ends]
    records[gid].output = output
    records[gid].error = None
    state.results[gid] = {"output": output, "status": StepStatus.SUCCEEDED.value, "error": None}
    state._close(gid, StepStatus.SUCCEEDED, wall, release=True)
