"""Run coordination: a run recorded in (and learning from) claude-flow, driven by events.

Switched on per run by ``run.started`` carrying ``claude_flow: true`` (what
``WorkflowEngine(enable_claude_flow=True)`` and ``wfe run --claude-flow`` send), or for
every run by ``WFE_CLAUDE_FLOW_COORDINATE=1`` in the environment. Dry runs are never coordinated.

What a coordinated run does, all in namespace ``wfe:<workflow_id>``:

- at ``run.started``: reads ``durations`` (each step's last known duration) back, then
  ``swarm_init`` with a topology from the DAG's shape — wide (``width >= depth``) ->
  ``mesh``, deep -> ``hierarchical`` — and ``maxAgents`` = the run's worker limit;
- at each ``step.started`` of a new action family: one agent (:data:`FAMILY_AGENTS`);
- at each finished step: ``step/<step_id>`` = its outcome (status, duration, attempts,
  error; secrets are already masked in events);
- at ``run.finished``: ``run/<run_id>`` = the run summary (with each step's expected
  duration from earlier runs beside the actual one), ``durations`` updated, the swarm
  shut down, the session closed.

Event hooks run on the scheduler thread, which must not wait for a server: every call
goes to the run's one coordination thread, in order. Only ``run.finished`` waits
(bounded) for that queue to drain. A coordination failure is logged, never a step failure.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import learning
from .actions import default_namespace
from .client import RunClient, for_run
from .switch import COORDINATE_ENV, coordinated

__all__ = ["COORDINATE_ENV", "FAMILY_AGENTS", "Coordinator", "coordinated", "handle_event", "topology_for"]

log = logging.getLogger("wfe.claude_flow")

#: Action family (the part before the dot) -> claude-flow agent type.
FAMILY_AGENTS = {
    "shell": "coder",
    "file": "coder",
    "http": "researcher",
    "claude_flow": "coordinator",
    "validate": "tester",
    "variable": "analyst",
    "wait": "analyst",
}
DEFAULT_AGENT = "analyst"
#: Seconds one coordination call may take, and ``run.finished`` waits for the queue.
CALL_TIMEOUT = 60.0
FINISH_WAIT = 120.0
_FINISHED = {"step.succeeded", "step.failed", "step.timed_out", "step.cancelled", "step.skipped"}

_RUNS: dict[str, Coordinator] = {}
_WHAT = {
    "_start": "starting (durations, swarm_init)",
    "_spawn": "agent_spawn",
    "_store": "memory_store",
    "_finish": "run summary",
}


def topology_for(width: int, depth: int) -> str:
    """``mesh`` for a wide DAG (width >= depth), ``hierarchical`` for a deep one."""
    return "mesh" if width >= depth else "hierarchical"


def handle_event(event: Any) -> None:
    """The plugin's ``wfe_event``: start, feed and finish the run's :class:`Coordinator`."""
    if event.kind == "run.started":
        if coordinated(event.data):
            _RUNS[event.run_id] = Coordinator(event.run_id, event.workflow_id, event.data)
        return
    coordinator = _RUNS.get(event.run_id)
    if coordinator is None:
        return
    if event.kind == "step.started":
        coordinator.step_started(event.step_id, str(event.data.get("action", "")))
    elif event.kind in _FINISHED:
        coordinator.step_finished(event.step_id, event.kind.split(".", 1)[1], event.data, event.time)
    elif event.kind == "run.finished":
        _RUNS.pop(event.run_id, None)
        coordinator.finish(event.data)


class Coordinator:
    """One coordinated run; methods are called on the scheduler thread and return at once."""

    def __init__(self, run_id: str, workflow_id: str, data: Any):
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.namespace = default_namespace(workflow_id)
        self.client: RunClient = for_run(run_id, workflow_id)
        self.started = time.time()
        self.expected: dict[str, float] = {}
        # Read at planning time by the wfe_step_durations hook (see .learning), if it ran.
        self.learned = learning.take(run_id)
        self.current: dict[str, str] = {}  # step id -> this run's fingerprint (when known)
        self.fingerprints: dict[str, str] = {}  # step id -> fingerprint of its stored duration
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.families: dict[str, str] = {}  # family -> agent id ("" until spawned / if it failed)
        self.errors: list[str] = []
        self.swarm: dict[str, Any] = {}
        self.stored: dict[str, float] = {}  # every duration memory held at the start
        self.off = False  # set when the start failed
        self._queue = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"wfe-claude-flow-{run_id[:8]}")
        total = int(data.get("total_steps") or 0)
        workers = max(1, int(data.get("workers") or 1))
        width = int(data.get("width") or min(workers, max(total, 1)))
        depth = int(data.get("depth") or math.ceil(max(total, 1) / max(width, 1)))
        self.topology = topology_for(width, depth)
        self.max_agents = max(1, min(100, workers))
        self._submit(self._start)

    # -- scheduler thread ----------------------------------------------------------------
    def step_started(self, step_id: str | None, action: str) -> None:
        family = action.split(".", 1)[0] if action else ""
        if family and family not in self.families:
            self.families[family] = ""
            self._submit(self._spawn, family)

    def step_finished(self, step_id: str | None, status: str, data: Any, when: float) -> None:
        if step_id is None:
            return
        outcome = {
            "run_id": self.run_id,
            "status": status,
            "finished_at": when,
            "duration": _number(data.get("duration")),
            "attempts": data.get("attempts"),
            "error": data.get("error"),
            "reason": data.get("reason"),
            # What it printed or returned (bounded by wfe; secrets already masked in events).
            "output_summary": data.get("output_summary") or "\n".join(data.get("output_tail") or []) or None,
        }
        self.outcomes[step_id] = outcome
        self._submit(self._store, f"step/{step_id}", outcome)

    def finish(self, data: Any) -> None:
        done = threading.Event()
        self._submit(self._finish, dict(data))
        self._queue.submit(done.set)  # items run in order: this one marks the end
        self._queue.shutdown(wait=False)
        if not done.wait(FINISH_WAIT):
            log.warning("claude-flow coordination of run %s did not finish in %gs", self.run_id, FINISH_WAIT)
        self.client.close()

    # -- coordination thread -------------------------------------------------------------
    def _submit(self, func: Any, *args: Any) -> None:
        self._queue.submit(self._guarded, func, *args)

    def _guarded(self, func: Any, *args: Any) -> None:
        if self.off:
            return
        try:
            func(*args)
        except Exception as exc:  # coordination must never break the run
            message = f"{_WHAT.get(func.__name__, func.__name__)}: {exc}"
            self.errors.append(message)
            if func == self._start:
                # No swarm, maybe no server: one message, not one per remaining event.
                self.off = True
                message += "; no coordination for the rest of this run"
            log.warning("claude-flow coordination of run %s: %s", self.run_id, message)

    def _call(self, tool: str, arguments: dict[str, Any]) -> Any:
        return self.client.call(tool, arguments, time.monotonic() + CALL_TIMEOUT)

    def _start(self) -> None:
        learned = self.learned
        if isinstance(learned, Exception):
            raise learned  # the planning-time lookup could not reach the server: say it once
        if learned is not None:
            self.expected = learned.usable()
            self.current, self.fingerprints = learned.current, learned.fingerprints
            self.stored = learned.durations
        else:  # no planning-time lookup (events fed directly): read them now
            found = self._call("memory_retrieve", {"key": learning.DURATIONS_KEY, "namespace": self.namespace})
            value = found.get("value") if isinstance(found, dict) else None
            if isinstance(value, dict):
                self.expected = {k: float(v) for k, v in value.items() if isinstance(v, (int, float))}
            self.stored = dict(self.expected)
        self.swarm = self._call(
            "swarm_init", {"topology": self.topology, "maxAgents": self.max_agents, "strategy": "specialized"}
        )
        self.client.swarm_id = self.swarm.get("swarmId")

    def _spawn(self, family: str) -> None:
        agent_type = FAMILY_AGENTS.get(family, DEFAULT_AGENT)
        result = self._call(
            "agent_spawn",
            {
                "agentType": agent_type,
                "swarmId": self.client.swarm_id,
                "config": {"name": f"wfe-{family}", "family": family},
            },
        )
        if isinstance(result, dict) and result.get("agentId"):
            self.families[family] = result["agentId"]
            self.client.agents[result["agentId"]] = agent_type

    def _store(self, key: str, value: Any) -> None:
        self._call("memory_store", {"key": key, "value": value, "namespace": self.namespace})

    def _finish(self, data: dict[str, Any]) -> None:
        steps = {sid: {**o, "expected_duration": self.expected.get(sid)} for sid, o in self.outcomes.items()}
        summary = {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "status": data.get("status"),
            "error": data.get("error"),
            "rollback": data.get("rollback"),
            "duration": data.get("duration"),
            "completed_steps": data.get("completed_steps"),
            "total_steps": data.get("total_steps"),
            "started_at": self.started,
            "topology": self.topology,
            "swarm_id": self.client.swarm_id,
            "agents": {f: a for f, a in self.families.items() if a},
            "steps": steps,
            "learned_from_earlier_runs": bool(self.expected),
            "coordination_errors": list(self.errors),
        }
        self._store(f"run/{self.run_id}", summary)
        durations = dict(self.stored)
        fingerprints = dict(self.fingerprints)
        for sid, outcome in self.outcomes.items():
            if outcome["status"] == "succeeded" and outcome["duration"] is not None:
                durations[sid] = outcome["duration"]
                if sid in self.current:
                    fingerprints[sid] = self.current[sid]
                else:  # unknown definition: the old fingerprint no longer describes it
                    fingerprints.pop(sid, None)
        self._store(learning.DURATIONS_KEY, durations)
        if fingerprints or self.fingerprints:
            self._store(learning.FINGERPRINTS_KEY, fingerprints)
        if self.client.swarm_id:
            self._call("swarm_shutdown", {"swarmId": self.client.swarm_id, "graceful": True})


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
