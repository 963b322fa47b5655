"""Where the time of a big workflow file goes, phase by phase, old against new.

    python bench/bigfile.py [--repeat 9] [--steps 10000] [--against-path PYTHONPATH]

Generates the ``--steps``-step YAML file of ``bench/startup.py`` and, in fresh processes,
interleaved round by round, measures:

- ``wfe validate FILE`` as a whole: CPU (user + system of the child) and peak RSS;
- the same work in phases (CPU of the child's own thread, ``time.process_time``):
  imports, ``WorkflowLoader().load_from_file`` (parse + shape checks + structuring),
  ``WorkflowValidator(...).validate`` and ``Plan.build`` (what ``wfe run`` does before
  its first step, store work aside).

``--against-path`` runs the same with another checkout first on ``PYTHONPATH`` (``git
archive BASE | tar -x -C /tmp/base``; then ``/tmp/base:/tmp/base/plugins/wfe_file/src:...``).
Children start with ``python -P``: without it ``python -c`` puts the current directory
first on ``sys.path``, and run from a checkout it would import that checkout's
``wfe_core`` whatever ``PYTHONPATH`` says. Medians are printed; the machine is shared,
so read CPU time, not wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import big_workflow, measure

PHASES = """
import json, sys, time
start = time.process_time()
from wfe_core.load.loader import WorkflowLoader
from wfe_core.plan.plan import Plan
from wfe_core.plugin.registry import load_plugins
from wfe_core.validate.validator import WorkflowValidator
imported = time.process_time()
workflow = WorkflowLoader().load_from_file(sys.argv[1])
loaded = time.process_time()
import gc; gc.freeze()  # as the CLI does after loading
validator = WorkflowValidator(load_plugins())
result = validator.validate(workflow, source=sys.argv[1])
validated = time.process_time()
assert result.is_valid, result.problems[:3]
Plan.build(workflow, source=sys.argv[1])
planned = time.process_time()
print(json.dumps({"imports": imported - start, "load": loaded - imported,
                  "validate": validated - loaded, "plan": planned - validated}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--against-path", metavar="PYTHONPATH", help="another checkout's wfe_core and plugins")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wfe-bigfile-"))
    big = tmp / "big.yaml"
    big.write_text(big_workflow(args.steps))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    trees = {"this checkout": env}
    if args.against_path:
        trees["other"] = {**env, "PYTHONPATH": args.against_path}
    validate = [sys.executable, "-P", "-c", "import sys; from wfe_core.cli import main; sys.exit(main())"]
    phases = [sys.executable, "-P", "-c", PHASES, str(big)]

    whole: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    parts: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for run in range(args.repeat + 1):  # round 0 warms up (bytecode, caches) and is not counted
        for name, tree_env in trees.items():
            cpu_wall_rss = measure([*validate, "validate", str(big)], tree_env)
            out = subprocess.run(phases, env=tree_env, capture_output=True, text=True, check=True).stdout
            if run:
                whole[name].append(cpu_wall_rss)
                parts[name].append(json.loads(out))

    print(f"{args.steps} steps, median of {args.repeat} rounds, interleaved; load average {os.getloadavg()[0]:.1f}")
    names = ["imports", "load", "validate", "plan"]
    print(f"{'tree':<16} {'wfe validate CPU ms':>20} {'RSS MiB':>8} " + " ".join(f"{n + ' ms':>12}" for n in names))
    for name in trees:
        cpu = statistics.median(r[0] for r in whole[name]) * 1000
        rss = statistics.median(r[2] for r in whole[name])
        cells = " ".join(f"{statistics.median(p[n] for p in parts[name]) * 1000:12.1f}" for n in names)
        print(f"{name:<16} {cpu:20.1f} {rss:8.1f} {cells}")


if __name__ == "__main__":
    main()
