"""Shell steps through the whole ``wfe run`` process against doing the same by hand.

    python bench/shell_chain.py [--repeat 5] [--store]

Two workloads, each timed as a whole process (interpreter start included), medians of
``--repeat`` runs, ratios against a baseline measured in the same invocation:

- chain: 100 sequential ``true`` steps via ``wfe run`` vs ``sh -c`` looping 100 times
  over ``/bin/true`` plus a bare ``python -c pass`` (the interpreter start wfe cannot skip).
- wide: 200 independent ``true`` steps with 8 workers via ``wfe run`` vs a plain Python
  script that runs ``subprocess.run(["sh", "-c", "true"])`` 200 times on a
  ``ThreadPoolExecutor(8)``.

Also printed: ``wfe run``'s own run duration per step (start-up excluded). ``--store``
runs wfe with its durable run store (default: ``--no-store``). The machine is shared and
noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

POOL_SCRIPT = """
import subprocess
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda _: subprocess.run(["/bin/sh", "-c", "true"], check=True), range(200)))
"""


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


def timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def run_duration(stdout: str) -> float:
    for line in stdout.splitlines():
        if line.startswith("{") and '"run.finished"' in line:
            return json.loads(line)["duration"]
    raise RuntimeError("no run.finished event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", action="store_true", help="use the durable run store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        store = ["--store", str(tmp_path / "runs.sqlite")] if args.store else ["--no-store"]
        wfe = [sys.executable, "-m", "wfe_core", "run", "--reporter", "json", *store]
        chain = workflow(tmp_path / "chain.yaml", 100, True)
        wide = workflow(tmp_path / "wide.yaml", 200, False)
        rows = {"chain wfe": [], "chain own": [], "chain base": [], "wide wfe": [], "wide own": [], "wide base": []}
        for _ in range(args.repeat):
            seconds, out = timed([*wfe, str(chain)])
            rows["chain wfe"].append(seconds)
            rows["chain own"].append(run_duration(out))
            loop, _ = timed(["/bin/sh", "-c", "i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done"])
            start, _ = timed([sys.executable, "-c", "pass"])
            rows["chain base"].append(loop + start)
            seconds, out = timed([*wfe, "--max-workers", "8", str(wide)])
            rows["wide wfe"].append(seconds)
            rows["wide own"].append(run_duration(out))
            seconds, _ = timed([sys.executable, "-c", POOL_SCRIPT])
            rows["wide base"].append(seconds)
        med = {k: statistics.median(v) for k, v in rows.items()}
        print(f"{'workload':<44}{'median s':>10}{'ratio':>8}")
        print(f"{'chain: 100 x true, sh loop + python start':<44}{med['chain base']:>10.3f}{1:>8.2f}")
        print(
            f"{'chain: wfe run (whole process)':<44}{med['chain wfe']:>10.3f}"
            f"{med['chain wfe'] / med['chain base']:>8.2f}"
        )
        print(
            f"{'chain: wfe run duration (no start-up)':<44}{med['chain own']:>10.3f}"
            f"   ({med['chain own'] / 100 * 1000:.2f} ms/step)"
        )
        print(f"{'wide: 200 x true, ThreadPoolExecutor(8)':<44}{med['wide base']:>10.3f}{1:>8.2f}")
        print(
            f"{'wide: wfe run --max-workers 8 (whole)':<44}{med['wide wfe']:>10.3f}"
            f"{med['wide wfe'] / med['wide base']:>8.2f}"
        )
        print(
            f"{'wide: wfe run duration (no start-up)':<44}{med['wide own']:>10.3f}"
            f"   ({med['wide own'] / 200 * 1000:.2f} ms/step)"
        )


if __name__ == "__main__":
    main()
