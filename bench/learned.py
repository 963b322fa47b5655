"""The adaptive strategy learning durations: a DAG where a few long steps hide behind
short ones and there is more ready work than workers.

    python bench/learned.py [--repeat 3]

Two chains `hint -> long` (0.01 s then 1 s) sit behind 24 decoy chains of three 0.05 s
steps: counting steps, the decoys look longer (3 > 2), so the first run starts them
first and the long steps end late. The second run weighs paths by the durations the
store recorded and starts the long chains first. Printed: makespan / lower bound for
plain FIFO (`parallel`), the first adaptive run and the second, where the bound is
max(critical path, total work / workers).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins

WORKERS = 4
DECOYS, DECOY_STEP = 24, 0.05
LONGS, HINT, LONG = 2, 0.01, 1.0


def workflow() -> Workflow:
    steps = []
    for d in range(DECOYS):  # first in the file: FIFO starts them first
        for n in range(3):
            deps = [f"d{d}_{n - 1}"] if n else []
            steps.append(
                WorkflowStep(id=f"d{d}_{n}", action="wait", parameters={"seconds": DECOY_STEP}, dependencies=deps)
            )
    for i in range(LONGS):
        steps.append(WorkflowStep(id=f"hint{i}", action="wait", parameters={"seconds": HINT}))
        steps.append(
            WorkflowStep(id=f"long{i}", action="wait", parameters={"seconds": LONG}, dependencies=[f"hint{i}"])
        )
    return Workflow(id="learned-bench", steps=steps)


def bound() -> float:
    work = DECOYS * 3 * DECOY_STEP + LONGS * (HINT + LONG)
    return max(HINT + LONG, 3 * DECOY_STEP, work / WORKERS)


def run(store: Path, strategy: str) -> float:
    engine = WorkflowEngine(max_concurrent_steps=WORKERS, plugins=load_plugins(autoload=False), store=store)
    start = time.perf_counter()
    stats = engine.run(workflow(), strategy=strategy)
    elapsed = time.perf_counter() - start
    assert stats.succeeded, stats.error
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fifo, first, second = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            fifo.append(run(Path(tmp) / "fifo.sqlite", "parallel"))
            store = Path(tmp) / "adaptive.sqlite"
            first.append(run(store, "adaptive"))
            second.append(run(store, "adaptive"))
    low = bound()
    print(f"{WORKERS} workers, bound {low:.3f} s (max of critical path, work / workers); median of {args.repeat}")
    print("| run | makespan s | makespan / bound |")
    print("|---|---|---|")
    for name, times in (("FIFO (parallel)", fifo), ("adaptive, 1st run", first), ("adaptive, 2nd run", second)):
        print(f"| {name} | {statistics.median(times):.3f} | {statistics.median(times) / low:.3f} |")


if __name__ == "__main__":
    main()
