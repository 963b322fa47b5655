"""W1-W3 of ``peers.py``, this checkout against another, interleaved.

    python bench/peers_ab.py --against-path /tmp/base [--rounds 3] [--repeat 3] [--store] [--only W1 ...]

On a shared machine wall time moves 10-50 % between minutes, so before/after numbers
are only comparable when measured in the same minutes: each round runs every
workload (worker-thread and inline no-op actions) once in a fresh process per checkout,
alternating which goes first, plus the bare graphlib + ThreadPoolExecutor baseline.
Prints medians over rounds of each process's median: process CPU time (all threads;
the steadier number) and wall time of ``engine.run``, in µs per step, and the wall
ratio to the baseline. Both checkouts use this checkout's ``peers.py`` workloads.
With ``--store`` wfe runs record into one SQLite file per process, as a workflow run
again does (the default users get: later runs read what earlier ones learned).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAPES = ("W1 chain", "W2 wide", "W3 DAG")
MODES = ("worker", "inline")


def child(shape: str, mode: str, repeat: int, store: bool) -> None:
    """In a fresh process: run one workload ``repeat`` times, print CPU and wall µs/step."""
    sys.path.insert(0, str(HERE))
    from peers import chain, layered, run_baseline, run_wfe, wide

    import wfe_core

    tmp = Path(tempfile.mkdtemp(prefix="wfe-peers-ab-"))
    deps = {"W1 chain": chain(1000), "W2 wide": wide(1000), "W3 DAG": layered(100, 100)}[shape]
    if mode == "bare":
        run = lambda: run_baseline(deps, None)  # noqa: E731
    else:
        run = lambda: run_wfe(  # noqa: E731
            deps, None, str(tmp / "runs.sqlite") if store else None, inline=mode == "inline"
        )
    cpus, walls = [], []
    try:
        run()  # warm: imports, first allocations
        for _ in range(repeat):
            before = time.process_time()
            walls.append(run())
            cpus.append(time.process_time() - before)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(deps)
    print(Path(wfe_core.__file__).parent.parent, statistics.median(cpus) / n * 1e6, statistics.median(walls) / n * 1e6)


def measure(tree: Path, shape: str, mode: str, repeat: int, store: bool) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", shape, mode, str(repeat), str(int(store))]
    # From a temporary directory: the checkout on PYTHONPATH is what the child imports.
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd="/tmp", check=True)
    root, cpu, wall = done.stdout.split()
    if Path(root).resolve() != tree:  # an editable install shadowing PYTHONPATH would lie
        raise SystemExit(f"the child imported wfe_core from {root}, not {tree}")
    return float(cpu), float(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against-path", type=Path, help="the other checkout (its root); required")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", action="store_true", help="wfe runs record into a run store")
    parser.add_argument("--only", choices=("W1", "W2", "W3"), action="append", help="these workloads only")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), args.child[3] == "1")
        return
    if args.against_path is None:
        parser.error("--against-path is required")
    trees = {"this": HERE.parent, "other": args.against_path.resolve()}
    shapes = [shape for shape in SHAPES if not args.only or shape[:2] in args.only]
    got: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for round_ in range(args.rounds):
        for shape in shapes:
            got.setdefault((shape, "bare", ""), []).append(measure(trees["this"], shape, "bare", args.repeat, False))
            for mode in MODES:
                order = list(trees.items()) if round_ % 2 == 0 else list(reversed(trees.items()))
                for name, tree in order:
                    got.setdefault((shape, mode, name), []).append(measure(tree, shape, mode, args.repeat, args.store))
    store = "with a run store" if args.store else "no store"
    print(f"µs per step, {store}, median of {args.rounds} rounds x {args.repeat} runs; (xN) = wall / bare's wall")
    print("| workload | mode | other cpu | other wall | this cpu | this wall |")
    print("|---|---|---|---|---|---|")
    for shape in shapes:
        bare = statistics.median(w for _, w in got[(shape, "bare", "")])
        bare_cpu = statistics.median(c for c, _ in got[(shape, "bare", "")])
        print(f"| {shape} | bare | | | {bare_cpu:.1f} | {bare:.1f} (x1.00) |")
        for mode in MODES:
            cells = []
            for name in ("other", "this"):
                runs = got[(shape, mode, name)]
                cpu = statistics.median(c for c, _ in runs)
                wall = statistics.median(w for _, w in runs)
                cells += [f"{cpu:.1f}", f"{wall:.1f} (x{wall / bare:.2f})"]
            print(f"| {shape} | {mode} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
