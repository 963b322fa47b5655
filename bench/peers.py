"""wfe against its peers on the same workloads, in one run: the table in the README.

    python bench/peers.py [--repeat 5] [--quick]

Runners: a bare graphlib + ThreadPoolExecutor loop (the least a thread-pool DAG runner
can do), Dask's threaded scheduler (when `dask` is installed), wfe without a store, and
wfe with the durable SQLite run store (the default users get). The steps are a Python
function run on a worker thread, as the peers run them; the "wfe inline" rows declare
the same function ``inline=True`` (Action.inline: run on wfe's scheduler thread, no
thread hand-off; what `variable.*` steps get), for W1-W3. The no-op declares no side
effects, like ``variable.*``: with the store, a step releases its (equally side-effect-free)
dependents before its commit. The "side effects" row registers it with
``side_effects=True`` (the default for custom actions; shell steps): every completion is
committed before its dependents start.

A second table gives the process CPU time (all threads) per step of the in-process
runners: on a shared machine it moves far less with the load than wall time.

Workloads (µs per step unless said otherwise; medians of --repeat runs):
  W1  chain of 1,000 no-op steps
  W2  1,000 independent no-op steps
  W3  layered DAG of 10,000 no-op steps (100 layers of 100, 3 parents each)
  W4  64 sleeping steps (10-200 ms) in a DAG: makespan / lower bound, where the bound is
      max(critical path, total work / workers)
  W5  200 x `true`, 8 workers, whole process: `wfe run` vs a Python script using
      subprocess.run on ThreadPoolExecutor(8) (needs wfe-shell)
The machine is shared and noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import functools
import graphlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins

WORKERS = 10
Deps = dict[str, list[str]]


def chain(n: int) -> Deps:
    return {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(n)}


def wide(n: int) -> Deps:
    return {f"s{i}": [] for i in range(n)}


def layered(layers: int, width: int, parents: int = 3, seed: int = 7) -> Deps:
    rng = random.Random(seed)
    deps: Deps = {}
    for layer in range(layers):
        for i in range(width):
            above = [f"l{layer - 1}_{j}" for j in range(width)] if layer else []
            deps[f"l{layer}_{i}"] = rng.sample(above, parents) if above else []
    return deps


def sleeps(seed: int = 11) -> tuple[Deps, dict[str, float]]:
    rng = random.Random(seed)
    deps = layered(8, 8, parents=2, seed=seed)
    return deps, {k: rng.uniform(0.01, 0.2) for k in deps}


def lower_bound(deps: Deps, durations: dict[str, float], workers: int) -> float:
    finish: dict[str, float] = {}
    for node in graphlib.TopologicalSorter(deps).static_order():
        finish[node] = durations[node] + max((finish[p] for p in deps[node]), default=0.0)
    return max(max(finish.values()), sum(durations.values()) / workers)


def make_task(durations: dict[str, float] | None) -> Callable[[str], None]:
    if durations is None:
        return lambda _key: None
    return lambda key: time.sleep(durations[key])


# -- runners: each returns wall seconds -------------------------------------------------
def run_baseline(deps: Deps, durations: dict[str, float] | None) -> float:
    task = make_task(durations)
    start = time.perf_counter()
    sorter = graphlib.TopologicalSorter(deps)
    sorter.prepare()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        running = {}
        while sorter.is_active():
            for node in sorter.get_ready():
                running[pool.submit(task, node)] = node
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                sorter.done(running.pop(future))
    return time.perf_counter() - start


def run_dask(deps: Deps, durations: dict[str, float] | None) -> float:
    import dask.threaded

    task = make_task(durations)

    def step(key: str, *_parents: object) -> None:
        task(key)

    # The key goes in through partial: a bare string in a task tuple is read as a key.
    graph = {k: (functools.partial(step, k), *v) for k, v in deps.items()}
    start = time.perf_counter()
    dask.threaded.get(graph, list(deps), num_workers=WORKERS)
    return time.perf_counter() - start


def run_wfe_inline(deps: Deps, durations: dict[str, float] | None, store: str | None) -> float | None:
    if durations is not None:
        return None  # sleeps must never run inline: they would stop the scheduler
    return run_wfe(deps, durations, store, inline=True)


def run_wfe_effects(deps: Deps, durations: dict[str, float] | None, store: str | None) -> float | None:
    if durations is not None:
        return None  # W4: the same sleeps as the other wfe rows
    return run_wfe(deps, durations, store, side_effects=True)


def run_wfe(
    deps: Deps, durations: dict[str, float] | None, store: str | None, inline: bool = False, side_effects: bool = False
) -> float:
    task = make_task(durations)
    workflow = Workflow(
        # One id per workload, as distinct workflows have: the store learns durations per id.
        id=f"bench-{len(deps)}-{sum(map(len, deps.values()))}",
        steps=[WorkflowStep(id=k, action="bench.task", parameters={"key": k}, dependencies=v) for k, v in deps.items()],
    )
    engine = WorkflowEngine(max_concurrent_steps=WORKERS, plugins=load_plugins(autoload=False), store=store)
    engine.register_custom_action(
        "bench.task", lambda params, _ctx: task(params["key"]), side_effects=side_effects, inline=inline
    )
    start = time.perf_counter()
    stats = engine.run(workflow)
    elapsed = time.perf_counter() - start
    assert stats.succeeded, stats.error
    return elapsed


def shell_runs(tmp: Path) -> dict[str, Callable[[], float]]:
    """W5: whole processes, start-up included."""
    steps = "\n".join(f"  - {{id: t{i}, action: shell.execute, parameters: {{command: 'true'}}}}" for i in range(200))
    workflow = tmp / "w5.yaml"
    workflow.write_text(f"id: w5\nsteps:\n{steps}\n")
    script = tmp / "w5.py"
    script.write_text(
        "import subprocess\nfrom concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(8) as pool:\n"
        "    list(pool.map(lambda _: subprocess.run(['sh', '-c', 'true'], check=True), range(200)))\n"
    )
    store = str(tmp / "w5.sqlite")

    def timed(argv: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    wfe = [sys.executable, "-m", "wfe_core", "run", str(workflow), "--max-workers", "8"]
    return {
        "python subprocess.run x TPE(8)": lambda: timed([sys.executable, str(script)]),
        "wfe, no store": lambda: timed([*wfe, "--no-store"]),
        "wfe, durable store": lambda: timed([*wfe, "--store", store]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps, 3 repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else args.repeat
    scale = 10 if args.quick else 1
    tmp = Path(tempfile.mkdtemp(prefix="wfe-peers-"))
    store = str(tmp / "runs.sqlite")
    try:
        import dask  # noqa: F401

        have_dask = True
    except ImportError:
        have_dask = False

    runners: dict[str, Callable[[Deps, dict[str, float] | None], float | None]] = {
        "graphlib + ThreadPoolExecutor": run_baseline,
        **({"Dask threaded": run_dask} if have_dask else {}),
        "wfe, no store": lambda d, t: run_wfe(d, t, None),
        "wfe, durable store (default)": lambda d, t: run_wfe(d, t, store),
        "wfe inline, no store": lambda d, t: run_wfe_inline(d, t, None),
        "wfe inline, durable store": lambda d, t: run_wfe_inline(d, t, store),
        "wfe, durable store, side effects": lambda d, t: run_wfe_effects(d, t, store),
    }
    w4_deps, w4_durations = sleeps()
    workloads = {
        "W1 chain": (chain(1000 // scale), None),
        "W2 wide": (wide(1000 // scale), None),
        "W3 DAG": (layered(100 // scale, 100), None),
        "W4 makespan/bound": (w4_deps, w4_durations),
    }
    table: dict[str, dict[str, float]] = {name: {} for name in runners}
    cpu: dict[str, dict[str, float]] = {name: {} for name in runners}
    for label, (deps, durations) in workloads.items():
        for name, runner in runners.items():
            walls, cpus = [], []
            for _ in range(repeat):
                before = time.process_time()
                wall = runner(deps, durations)
                if wall is None:
                    break
                walls.append(wall)
                cpus.append(time.process_time() - before)
            if not walls:
                continue
            median = statistics.median(walls)
            if durations is None:
                table[name][label] = median / len(deps) * 1e6
                cpu[name][label] = statistics.median(cpus) / len(deps) * 1e6
            else:
                table[name][label] = median / lower_bound(deps, durations, WORKERS)
    have_shell = "shell.execute" in load_plugins().actions
    if have_shell:
        shell = shell_runs(tmp)
        base = statistics.median(shell["python subprocess.run x TPE(8)"]() for _ in range(repeat))
        table.setdefault("python subprocess.run x TPE(8)", {})["W5 true x200"] = base / 200 * 1e6
        for name in ("wfe, no store", "wfe, durable store (default)"):
            key = "wfe, durable store" if "durable" in name else name
            table[name]["W5 true x200"] = statistics.median(shell[key]() for _ in range(repeat)) / 200 * 1e6

    columns = [*workloads, *(["W5 true x200"] if have_shell else [])]
    print(
        f"{os.cpu_count()} cores, {WORKERS} workers (W5: 8), median of {repeat}; µs/step, W4 makespan/bound;"
        " (xN) = ratio to the first row of the column"
    )
    print("| runner | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    firsts = {c: next((row[c] for row in table.values() if c in row), None) for c in columns}
    if have_shell:  # W5's baseline is the plain Python script
        firsts["W5 true x200"] = table["python subprocess.run x TPE(8)"]["W5 true x200"]
    for name, row in table.items():
        cells = []
        for c in columns:
            if c not in row:
                cells.append("")
            elif c.startswith("W4"):
                cells.append(f"{row[c]:.3f}")
            else:
                cells.append(f"{row[c]:.1f} (x{row[c] / firsts[c]:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    steps = [c for c in workloads if not c.startswith("W4")]
    print("\nprocess CPU time (all threads), µs/step")
    print("| runner | " + " | ".join(steps) + " |")
    print("|---|" + "---|" * len(steps))
    for name, row in cpu.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.1f}" if c in row else "" for c in steps) + " |")


if __name__ == "__main__":
    main()
