"""Time and size of the HTML report (and the other formats) of a large real run.

    python bench/report.py [--steps 10000] [--repeat 3]

Records a run of STEPS steps (a mixed DAG; every 50th step fails once and succeeds on
its retry, every 500th fails for good, non-critical, skipping what depends on it) in a
fresh SQLite store through the engine, then reads it back and renders each format.
Prints the median seconds of reading + analysing + rendering, and the output size; the
HTML report must stay under 2 s and 10 MB at 10,000 steps. It also renders a run of a
fifth the size to show that size grows linearly. The machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from wfe_core import StepResult, Workflow, WorkflowEngine, WorkflowStep, load_plugins
from wfe_core.report.data import open_store, read_run
from wfe_core.report.report import build_report

LIMIT_SECONDS, LIMIT_BYTES = 2.0, 10 * 1024 * 1024


def record(n: int, store: Path) -> str:
    deps = {f"s{i}": [f"s{j}" for j in (i - 1, i - 10, i - 97) if j >= 0 and i % 5] for i in range(n)}
    steps = [
        WorkflowStep(
            id=k,
            action="work",
            dependencies=v,
            max_retries=1,
            retry_delay=0,
            critical=int(k[1:]) % 500 != 7,
            parameters={"i": int(k[1:])},
        )
        for k, v in deps.items()
    ]

    def work(params, context):
        i = params["i"]
        if i % 500 == 7 or (i % 50 == 3 and context.attempt == 1):
            return StepResult(success=False, error=f"step {i} failed on attempt {context.attempt}")
        return i

    engine = WorkflowEngine(max_concurrent_steps=8, plugins=load_plugins(autoload=False), store=store)
    engine.register_custom_action("work", work, side_effects=False)
    try:
        stats = engine.run(Workflow(id="bench-report", steps=steps))
    finally:
        engine.cleanup()
    return stats.run_id


def measure(store: Path, run_id: str, fmt: str, repeat: int) -> tuple[float, float, int]:
    from wfe_core.plugin.builtins.report_formats import wfe_report_formats

    render = next(f.render for f in wfe_report_formats() if f.name == fmt)
    times, cpu, size = [], [], 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        db = open_store(store)
        report = build_report(read_run(db, run_id))
        db.close()
        out = render(report)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        size = len(out.encode() if isinstance(out, str) else out)
    return statistics.median(times), statistics.median(cpu), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for n in (args.steps // 5, args.steps):
            store = Path(tmp) / f"runs-{n}.sqlite"
            run_id = record(n, store)
            for fmt in ("html", "junit", "markdown", "json", "yaml", "text"):
                seconds, cpu, size = measure(store, run_id, fmt, args.repeat)
                rows.append((n, fmt, seconds, cpu, size))
    # Wall time is what a user waits; CPU time shows what the shared machine's load hides.
    print(f"{'steps':>6}  {'format':<9} {'wall s':>7} {'cpu s':>7}  {'size':>10}  bytes/step")
    for n, fmt, seconds, cpu, size in rows:
        print(f"{n:>6}  {fmt:<9} {seconds:>7.3f} {cpu:>7.3f}  {size / 1e6:>8.2f}MB  {size / n:>10.0f}")
    html = {n: (s, b) for n, fmt, s, _, b in rows if fmt == "html"}
    big_s, big_b = html[args.steps]
    small_b = html[args.steps // 5][1]
    print(
        f"\nhtml at {args.steps} steps: {big_s:.3f}s (limit {LIMIT_SECONDS}s), {big_b / 2**20:.2f} MiB "
        f"(limit 10 MiB); size ratio {big_b / small_b:.2f}x for 5x the steps"
    )
    if args.steps == 10_000:
        print("OK" if big_s < LIMIT_SECONDS and big_b < LIMIT_BYTES else "OVER THE LIMIT")


if __name__ == "__main__":
    main()
