"""Per-step overhead of wfe against a bare graphlib + ThreadPoolExecutor baseline.

    python bench/overhead.py [--steps 10000] [--repeat 5]

Runs no-op steps over three DAG shapes (a chain, a wide fan, a mixed DAG) and prints the
median microseconds per step for each runner and the ratio to the baseline. wfe rows
include validation and planning; "+ run store" records every step durably in SQLite
(the default for real runs), the others run with store=None. The machine
is shared and noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import graphlib
import statistics
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins


def shapes(n: int) -> dict[str, dict[str, list[str]]]:
    return {
        "chain": {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(n)},
        "wide": {f"s{i}": [] for i in range(n)},
        "mixed": {f"s{i}": [f"s{j}" for j in (i - 1, i - 10, i - 97) if j >= 0 and i % 5] for i in range(n)},
    }


def noop(*_args):
    return None


def baseline(deps: dict[str, list[str]], workers: int) -> float:
    """The least a thread-pool DAG runner can do: graphlib order, submit ready, wait."""
    start = time.perf_counter()
    sorter = graphlib.TopologicalSorter(deps)
    sorter.prepare()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running = {}
        while sorter.is_active():
            for node in sorter.get_ready():
                running[pool.submit(noop)] = node
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                sorter.done(running.pop(future))
    return time.perf_counter() - start


def wfe_run(deps: dict[str, list[str]], workers: int, strategy: str, store: str | None = None) -> float:
    workflow = Workflow(id="bench", steps=[WorkflowStep(id=k, action="noop", dependencies=v) for k, v in deps.items()])
    engine = WorkflowEngine(max_concurrent_steps=workers, plugins=load_plugins(autoload=False), store=store)
    engine.register_custom_action("noop", noop, side_effects=False)
    start = time.perf_counter()
    stats = engine.run(workflow, strategy=strategy)
    elapsed = time.perf_counter() - start
    assert stats.succeeded, stats.error
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=10)
    args = parser.parse_args()
    n = args.steps
    store = str(Path(tempfile.mkdtemp(prefix="wfe-bench-")) / "runs.sqlite")
    print(f"{n} no-op steps, {args.workers} workers, median of {args.repeat} runs (µs per step; ratio to baseline)")
    for shape, deps in shapes(n).items():
        runners = {
            "graphlib+ThreadPoolExecutor": lambda: baseline(deps, args.workers),
            "wfe adaptive": lambda: wfe_run(deps, args.workers, "adaptive"),
            "wfe parallel": lambda: wfe_run(deps, args.workers, "parallel"),
            "wfe sequential": lambda: wfe_run(deps, args.workers, "sequential"),
            "wfe adaptive + run store": lambda: wfe_run(deps, args.workers, "adaptive", store),
        }
        medians = {name: statistics.median(run() for _ in range(args.repeat)) for name, run in runners.items()}
        base = medians["graphlib+ThreadPoolExecutor"]
        print(f"\n{shape}:")
        for name, seconds in medians.items():
            print(f"  {name:<30} {seconds / n * 1e6:8.1f} µs/step   x{seconds / base:5.2f}")


if __name__ == "__main__":
    main()
