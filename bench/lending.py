"""What handing a worker thread its next step costs, with and without lending.

    python bench/lending.py [--repeat 5] [--rounds 3]

The bare graphlib + ThreadPoolExecutor runner of ``peers.py`` submits every ready step
to its executor at once: its threads take the next step from the executor's queue
without sleeping. wfe starts at most ``max_concurrent_steps`` steps at once (a started
step is reported and recorded as running, and its timeout counts), so without more a
thread whose step ended sleeps until the run loop hands it the next one: a wake-up per
step. With lending (``wfe_core.run.lending``), while steps are short the loop keeps
prepared steps beside the pool and a thread whose step succeeded takes the next one
itself. Run on ``peers.py``'s W3 (10,000 no-op steps on worker threads, no store) with
1, 2, 4 and 10 threads: the bare runner, wfe, and wfe with lending turned off (as
before it existed). µs per step, medians; each round runs every configuration once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
from peers import layered, run_baseline, run_wfe

import wfe_core.run.loop as loop

THREADS = (1, 2, 4, 10)


def _without_lending(run: Callable[[], float]) -> float:
    may_lend = loop.may_lend
    loop.may_lend = lambda _loop: False
    try:
        return run()
    finally:
        loop.may_lend = may_lend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per configuration and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    deps = layered(100, 100)
    per_step = 1e6 / len(deps)
    samples: dict[tuple[str, int], list[float]] = {}
    runners: dict[str, Callable[[], float]] = {
        "bare": lambda: run_baseline(deps, None),
        "wfe": lambda: run_wfe(deps, None, None),
        "wfe, no lending": lambda: _without_lending(lambda: run_wfe(deps, None, None)),
    }
    for _ in range(args.rounds):
        for threads in THREADS:
            peers.WORKERS = threads  # (read by peers' runners when they run)
            for name, run in runners.items():
                times = [run() for _ in range(args.repeat)]
                samples.setdefault((name, threads), []).append(statistics.median(times) * per_step)
    median = {key: statistics.median(values) for key, values in samples.items()}
    print(f"W3, {len(deps)} no-op steps on worker threads, no store; µs per step, median of {args.rounds} rounds")
    print("| threads | bare runner | wfe | wfe, no lending | wfe / bare | no lending / bare |")
    print("|---|---|---|---|---|---|")
    for threads in THREADS:
        bare, wfe, without = (median[(name, threads)] for name in runners)
        print(f"| {threads} | {bare:.1f} | {wfe:.1f} | {without:.1f} | x{wfe / bare:.2f} | x{without / bare:.2f} |")


if __name__ == "__main__":
    main()
