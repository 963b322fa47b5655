"""wfe on Dask versus a plain Dask graph of the same shape, on the same LocalCluster.

    python bench/dask_overhead.py [--repeat 3] [--workers 2] [--quick]

Needs wfe-dask (and so distributed). Workloads, medians of --repeat runs:
  chain   1,000 no-op steps in a chain               (per-step µs, ratio wfe / Dask)
  wide    1,000 independent no-op steps              (per-step µs, ratio)
  sleeps  the 64-sleep DAG of bench/peers.py (W4)    (makespan s, ratio)
wfe's steps are the built-in ``wait`` action (``seconds: 0`` for a no-op), resolved on the
workers; Dask's are plain functions submitted with ``client.get``. The machine is shared
and noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from peers import Deps, chain, sleeps, wide

from wfe_core import Workflow, WorkflowEngine, WorkflowStep


def _noop(_key: str, *_parents: object) -> None:
    return None


def _sleep(seconds: float, *_parents: object) -> None:
    time.sleep(seconds)


def run_dask(client: Any, deps: Deps, durations: dict[str, float] | None) -> float:
    graph = {
        k: (functools.partial(_sleep, durations[k]) if durations else functools.partial(_noop, k), *v)
        for k, v in deps.items()
    }
    start = time.perf_counter()
    client.get(graph, list(deps))
    return time.perf_counter() - start


def run_wfe(address: str, workers: int, deps: Deps, durations: dict[str, float] | None) -> float:
    steps = [
        WorkflowStep(id=k, action="wait", parameters={"seconds": durations[k] if durations else 0}, dependencies=v)
        for k, v in deps.items()
    ]
    engine = WorkflowEngine(
        max_concurrent_steps=workers, store=None, executor="dask", executor_options={"address": address}
    )
    start = time.perf_counter()
    stats = engine.run(Workflow(id="bench", steps=steps), strategy="parallel")
    elapsed = time.perf_counter() - start
    assert stats.succeeded, stats.error
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2 threads each)")
    parser.add_argument("--quick", action="store_true", help="200 steps instead of 1,000")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    n = 200 if args.quick else 1000
    sleep_deps, sleep_durations = sleeps()
    loads: list[tuple[str, Deps, dict[str, float] | None]] = [
        ("chain", chain(n), None),
        ("wide", wide(n), None),
        ("sleeps", sleep_deps, sleep_durations),
    ]
    threads = 2
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=threads, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        concurrency = args.workers * threads
        print(f"LocalCluster: {args.workers} processes x {threads} threads; medians of {args.repeat}")
        print(f"{'workload':<8} {'Dask':>12} {'wfe on Dask':>14} {'ratio':>7}")
        for name, deps, durations in loads:
            dask_t = statistics.median(run_dask(client, deps, durations) for _ in range(args.repeat))
            wfe_t = statistics.median(
                run_wfe(cluster.scheduler_address, concurrency, deps, durations) for _ in range(args.repeat)
            )
            if durations is None:
                shown = f"{dask_t / len(deps) * 1e6:9.0f} µs {wfe_t / len(deps) * 1e6:11.0f} µs"
            else:
                shown = f"{dask_t:10.2f} s {wfe_t:12.2f} s"
            print(f"{name:<8} {shown} {wfe_t / dask_t:6.2f}x")


if __name__ == "__main__":
    main()
