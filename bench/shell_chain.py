"""Shell steps through the whole ``wfe run`` process against doing the same by hand.

    python bench/shell_chain.py [--repeat 7] [--store] [--against-path PYTHONPATH]

Two workloads, each timed as a whole process (interpreter start included), the commands
interleaved round by round (the load of the shared machine falls on all alike), medians
of ``--repeat`` rounds, ratios against a baseline measured in the same rounds:

- chain: 100 sequential ``true`` steps via ``wfe run`` vs ``sh -c`` looping 100 times
  over ``/bin/true`` plus a bare ``python -c pass`` (the interpreter start wfe cannot skip).
- wide: 200 independent ``true`` steps with 8 workers via ``wfe run`` vs a plain Python
  script that runs ``subprocess.run(["sh", "-c", "true"])`` 200 times on a
  ``ThreadPoolExecutor(8)``.

For each: median CPU time (user + system of the process and the commands it reaped: far
less inflated by the load than wall time), median wall time, both ratios, and for wfe
the run's own duration per step (start-up excluded, from the ``run.finished`` event),
next to the wall time of one captured ``subprocess.run`` of ``sh -c true`` in the
benchmark's own process, measured in the same rounds (what a chain step cannot beat).
``--store`` runs wfe with its durable run store (default: ``--no-store``).
``--against-path`` also runs another checkout's wfe (``git archive BASE | tar -x -C
/tmp/base``, then ``--against-path /tmp/base:/tmp/base/plugins/wfe_shell/src``) in the
same rounds: a before/after comparison. Bytecode is written and warmed up first
(``PYTHONDONTWRITEBYTECODE`` is removed from the children's environment).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

POOL_SCRIPT = """
import subprocess
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda _: subprocess.run(["/bin/sh", "-c", "true"], check=True), range(200)))
"""
SH_LOOP = "i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done"
# What the `wfe` console script runs.
WFE = "import sys; from wfe_core.cli import main; sys.exit(main())"


def workflow(path: Path, n: int, chain: bool) -> Path:
    steps = [
        {
            "id": f"s{i}",
            "action": "shell.execute",
            "parameters": {"command": "true"},
            **({"dependencies": [f"s{i - 1}"]} if chain and i else {}),
        }
        for i in range(n)
    ]
    path.write_text(yaml.safe_dump({"id": path.stem, "steps": steps}))
    return path


class Sample:
    """One process run: CPU seconds (user + system, reaped children included), wall
    seconds and, for ``wfe run``, the run's own duration."""

    def __init__(self, cpu: float, wall: float, run: float | None = None):
        self.cpu, self.wall, self.run = cpu, wall, run

    def __add__(self, other: Sample) -> Sample:
        return Sample(self.cpu + other.cpu, self.wall + other.wall)


def measure(argv: list[str], env: dict[str, str], out: Path) -> Sample:
    """Run ``argv`` (stdout to ``out``) and wait for it with ``wait4`` for its rusage."""
    with open(out, "wb") as stdout, open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[(os.POSIX_SPAWN_DUP2, stdout.fileno(), 1), (os.POSIX_SPAWN_DUP2, devnull.fileno(), 2)],
        )
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return Sample(usage.ru_utime + usage.ru_stime, wall, run_duration(out.read_text()))


def run_duration(stdout: str) -> float | None:
    for line in stdout.splitlines():
        if line.startswith("{") and '"run.finished"' in line:
            return float(json.loads(line)["duration"])
    return None


def direct_run_ms(calls: int = 100) -> float:
    """Wall ms per ``subprocess.run(["/bin/sh", "-c", "true"], capture_output=True,
    start_new_session=True)`` in this process: what a chain step cannot go below."""
    start = time.perf_counter()
    for _ in range(calls):
        subprocess.run(["/bin/sh", "-c", "true"], capture_output=True, start_new_session=True, check=True)
    return (time.perf_counter() - start) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--store", action="store_true", help="use the durable run store")
    parser.add_argument(
        "--against-path",
        metavar="PYTHONPATH",
        help="PYTHONPATH of another checkout's wfe_core and wfe_shell, run in the same rounds",
    )
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        out = tmp_path / "stdout"
        chain = workflow(tmp_path / "chain.yaml", 100, True)
        wide = workflow(tmp_path / "wide.yaml", 200, False)
        sh = "/bin/sh"
        pythons = {"": [sys.executable]}
        if args.against_path:  # env execs python in place: the rusage is still python's
            pythons[" (other)"] = ["/usr/bin/env", f"PYTHONPATH={args.against_path}", sys.executable]

        def wfe(python: list[str], path: Path, n: int, *options: str) -> Sample:
            store = ["--store", str(tmp_path / f"runs-{n}.sqlite")] if args.store else ["--no-store"]
            argv = [*python, "-c", WFE, "run", "--reporter", "json", *store, *options, str(path)]
            return measure(argv, env, out)

        runners: dict[str, Callable[[int], Sample]] = {
            "chain base": lambda n: (
                measure([sh, "-c", SH_LOOP], env, out) + measure([sys.executable, "-c", "pass"], env, out)
            ),
            "wide base": lambda n: measure([sys.executable, "-c", POOL_SCRIPT], env, out),
        }
        for suffix, python in pythons.items():
            runners[f"chain wfe{suffix}"] = lambda n, p=python: wfe(p, chain, n)
            runners[f"wide wfe{suffix}"] = lambda n, p=python: wfe(p, wide, n, "--max-workers", "8")
        for runner in runners.values():  # warm-up: bytecode written, caches filled
            runner(-1)
        samples: dict[str, list[Sample]] = {name: [] for name in runners}
        direct: list[float] = []
        for n in range(args.repeat):
            for name, runner in runners.items():
                samples[name].append(runner(n))
            direct.append(direct_run_ms())

    def med(name: str, field: str) -> float:
        return statistics.median(getattr(s, field) for s in samples[name])

    print(
        f"median of {args.repeat} interleaved rounds; store {'on' if args.store else 'off'}; "
        f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores"
    )
    print(f"{'workload':<46}{'CPU ms':>8}{'x CPU':>7}{'wall ms':>9}{'x wall':>8}{'run ms/step':>13}")
    labels = {
        "chain base": "chain: 100 x true, sh loop + python start",
        "wide base": "wide: 200 x true, ThreadPoolExecutor(8)",
    }
    for name in sorted(runners, key=lambda k: (not k.startswith("chain"), "base" not in k, k)):
        workload, _, suffix = name.partition(" ")
        base = f"{workload} base"
        steps = 100 if workload == "chain" else 200
        label = labels.get(name, f"{workload}: wfe run{' -w 8' if workload == 'wide' else ''}{suffix[3:]}")
        cpu, wall = med(name, "cpu"), med(name, "wall")
        runs = [s.run for s in samples[name] if s.run is not None]
        per_step = f"{statistics.median(runs) / steps * 1000:13.3f}" if runs else ""
        print(
            f"{label:<46}{cpu * 1000:8.1f}{cpu / med(base, 'cpu'):7.2f}"
            f"{wall * 1000:9.1f}{wall / med(base, 'wall'):8.2f}{per_step}"
        )
    print(f"{'subprocess.run(sh -c true, captured) in-process':<78}{statistics.median(direct):13.3f}")


if __name__ == "__main__":
    main()
