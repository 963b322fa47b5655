"""What one run of ``peers.py``'s W3 (10,000 inline no-op steps, no store) spends per
step before and in its run loop.

    python bench/run_phases.py [--repeat 7]

The same ``Workflow`` object is validated, planned and run again and again (``peers.py``
builds a new one for each run, whose young objects the run's collections then walk):
``validate_workflow``, ``Plan.build``, ``engine.run`` (which does both of those and runs
the loop), and ``engine.run`` with the cyclic collector paused. µs per step, medians.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import WORKERS, layered

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins
from wfe_core.plan.plan import Plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    deps = layered(100, 100)
    workflow = Workflow(
        id="bench-phases",
        steps=[WorkflowStep(id=k, action="bench.task", parameters={"key": k}, dependencies=v) for k, v in deps.items()],
    )
    engine = WorkflowEngine(max_concurrent_steps=WORKERS, plugins=load_plugins(autoload=False), store=None)
    engine.register_custom_action("bench.task", lambda _params, _ctx: None, side_effects=False, inline=True)

    def per_step(phase: Callable[[], object]) -> float:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            phase()
            times.append(time.perf_counter() - start)
        return statistics.median(times) / len(deps) * 1e6

    print(f"W3, {len(deps)} inline no-op steps, no store, {WORKERS} workers; µs per step, median of {args.repeat}")
    print(f"  validate_workflow          {per_step(lambda: engine.validate_workflow(workflow)):6.2f}")
    print(f"  Plan.build                 {per_step(lambda: Plan.build(workflow)):6.2f}")
    print(f"  engine.run                 {per_step(lambda: engine.run(workflow)):6.2f}")
    gc.disable()
    try:
        print(f"  engine.run, collector off  {per_step(lambda: engine.run(workflow)):6.2f}")
    finally:
        gc.enable()


if __name__ == "__main__":
    main()
