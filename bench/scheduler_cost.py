"""The run loop's own cost per step: CPU time of the scheduler thread and the calls it makes.

    python bench/scheduler_cost.py [--steps 10000] [--repeat 7]

``overhead.py`` measures wall time, which on a shared machine moves by 20-50% between
runs. This measures what a change to the run loop changes: ``time.thread_time()`` of
the thread running :meth:`RunLoop.run` (worker threads excluded; median of runs) and,
deterministically, the Python and C function calls that thread makes per step
(``sys.setprofile``, one extra run). Compare two checkouts back to back.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from overhead import noop, shapes

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins
from wfe_core.run.loop import RunLoop

_run = RunLoop.run
spent: list[float] = []
calls = {"call": 0, "c_call": 0}


def _timed(self: RunLoop) -> object:
    start = time.thread_time()
    try:
        return _run(self)
    finally:
        spent.append(time.thread_time() - start)


def _counted(self: RunLoop) -> object:
    def profile(frame: object, event: str, arg: object) -> None:
        if event in calls:
            calls[event] += 1

    sys.setprofile(profile)
    try:
        return _run(self)
    finally:
        sys.setprofile(None)


def _once(deps: dict[str, list[str]], store: str | None) -> None:
    workflow = Workflow(id="bench", steps=[WorkflowStep(id=k, action="noop", dependencies=v) for k, v in deps.items()])
    engine = WorkflowEngine(max_concurrent_steps=10, plugins=load_plugins(autoload=False), store=store)
    engine.register_custom_action("noop", noop, side_effects=False)
    stats = engine.run(workflow, strategy="adaptive")
    assert stats.succeeded, stats.error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n = args.steps
    store = str(Path(tempfile.mkdtemp(prefix="wfe-bench-")) / "runs.sqlite")
    print(f"{n} no-op steps, adaptive, 10 workers: scheduler thread per step")
    for shape, deps in shapes(n).items():
        for label, path in (("", None), (" + run store", store)):
            spent.clear()
            RunLoop.run = _timed  # type: ignore[method-assign]
            for _ in range(args.repeat):
                _once(deps, path)
            calls.update(call=0, c_call=0)
            RunLoop.run = _counted  # type: ignore[method-assign]
            _once(deps, path)
            RunLoop.run = _run  # type: ignore[method-assign]
            print(
                f"  {shape + label:<20} cpu {statistics.median(spent) / n * 1e6:6.1f} µs   "
                f"python calls {calls['call'] / n:5.1f}   C calls {calls['c_call'] / n:5.1f}"
            )


if __name__ == "__main__":
    main()
