"""Durations learned from earlier runs weigh the adaptive strategy's order only where
ready steps compete: for fewer workers than steps that can be ready at once, for a
declared resource, or on an executor plugin's cluster (it may run fewer at once). Where every ready step starts at once, the store is not read for them
(a read of the last five runs costs ~7 µs a step) and paths count steps; nor is it where
the steps took too little for any order to win that read back.

Two roots: ``short`` (then ``last`` behind it) and ``long``. Counting steps, ``short``'s
path is longer; weighed by what the first run measured, ``long``'s is. The real ``wfe``
process, its real run store (``runs.sqlite`` in the working directory).
"""

from __future__ import annotations

import json
import sqlite3

from installed_plugins import install_dist, wfe

from wfe_core.store.learned import READ_COST

#: An executor plugin whose "cluster" runs one attempt at a time, whatever the workers.
ONE_AT_A_TIME = """
    from concurrent.futures import ThreadPoolExecutor
    from wfe_core.plugin import StepExecutor, hookimpl

    @hookimpl
    def wfe_executors():
        return [StepExecutor("one", lambda workers, options: ThreadPoolExecutor(1), "one thread")]
"""

ORDER = """\
id: order
{resources}steps:
  - {{id: short, action: wait, parameters: {{seconds: 0.01}}{needs}}}
  - {{id: long, action: wait, parameters: {{seconds: 0.3}}{needs}}}
  - {{id: last, action: wait, parameters: {{seconds: 0.01}}, dependencies: [short]}}
"""


def started(tmp_path, workers: int, *extra: str, plugins=None) -> list[str]:
    """Step ids in the order their ``step.started`` events came, one run."""
    done = wfe(tmp_path, "run", "w.yaml", "--max-workers", str(workers), "--reporter", "json", *extra, plugins=plugins)
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    return [e["step_id"] for e in events if e["kind"] == "step.started"]


def test_fewer_workers_than_ready_steps_start_the_longest_learned_path_first(tmp_path):
    (tmp_path / "w.yaml").write_text(ORDER.format(resources="", needs=""))
    assert started(tmp_path, 1) == ["short", "long", "last"]  # nothing learned yet
    assert started(tmp_path, 1) == ["long", "short", "last"]


def recorded(tmp_path, runs: int | None = None, **durations: float) -> None:
    """The latest ``runs`` stored runs (all by default) took ``durations`` per step (in the
    read's cost per step), and so did their work (their steps' summed durations)."""
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    with db:
        ids = [r for (r,) in db.execute("SELECT run_id FROM runs ORDER BY started_at DESC")][:runs]
        for run_id in ids:
            for step_id, cost in durations.items():
                db.execute(
                    "UPDATE steps SET duration=? WHERE run_id=? AND step_id=?", (cost * READ_COST, run_id, step_id)
                )
            db.execute("UPDATE runs SET work=? WHERE run_id=?", (sum(durations.values()) * READ_COST, run_id))
    db.close()


def test_a_history_too_short_for_any_order_to_win_back_its_read_is_not_read(tmp_path):
    (tmp_path / "w.yaml").write_text(ORDER.format(resources="", needs=""))
    assert started(tmp_path, 1) == ["short", "long", "last"]
    # Weighed by this history long's path is the longest, but the run did less work than
    # reading it costs (W/m below the read's cost: 2.5 against 3 steps x 1 run): paths count steps.
    recorded(tmp_path, short=0.5, long=1.5, last=0.5)
    assert started(tmp_path, 1) == ["short", "long", "last"]
    # More work than the read of both runs costs (2 x 9 against 3 x 2): the history orders them.
    recorded(tmp_path, short=0.5, long=8, last=0.5)
    assert started(tmp_path, 1) == ["long", "short", "last"]


def test_one_long_run_among_those_read_is_enough_to_read_them(tmp_path):
    (tmp_path / "w.yaml").write_text(ORDER.format(resources="", needs=""))
    assert started(tmp_path, 1) == ["short", "long", "last"]  # long took 0.3 s
    assert started(tmp_path, 1) == ["long", "short", "last"]
    # The latest run did almost nothing (as if it failed at once); the one before still
    # says long takes 0.3 s, and the median of the two keeps its path the longest.
    recorded(tmp_path, runs=1, short=0.1, long=0.1, last=0.1)
    assert started(tmp_path, 1) == ["long", "short", "last"]


#: Three roots: with two workers more steps can be ready (3) than run at once.
THREE_ROOTS = """\
id: order
steps:
  - {id: short, action: wait, parameters: {seconds: 0.01}}
  - {id: long, action: wait, parameters: {seconds: 0.01}}
  - {id: other, action: wait, parameters: {seconds: 0.01}}
  - {id: last, action: wait, parameters: {seconds: 0.01}, dependencies: [short]}
"""


def test_the_bound_divides_the_work_by_the_steps_that_run_at_once(tmp_path):
    (tmp_path / "w.yaml").write_text(THREE_ROOTS)
    started(tmp_path, 2)
    # Work 6 against a read of 4 steps x 1 run: on one worker worth reading (long first),
    # on two (6 / 2 < 4) no order can gain what the read costs: paths count steps.
    recorded(tmp_path, short=0.5, long=4.5, other=0.5, last=0.5)
    assert started(tmp_path, 2)[:2] == ["short", "long"]
    recorded(tmp_path, short=0.5, long=4.5, other=0.5, last=0.5)  # (2 runs now: 12 / 2 < 4 x 2)
    assert started(tmp_path, 1)[:2] == ["long", "short"]  # 12 / 1 >= 8


def test_steps_competing_for_a_resource_weigh_the_work_as_on_one_worker(tmp_path):
    (tmp_path / "w.yaml").write_text(ORDER.format(resources="resources: {db: 1}\n", needs=", resources: [db]"))
    started(tmp_path, 2)
    # Work 4.5 against a read of 3 steps x 1 run: below it over two workers, but one unit
    # of db makes the runs a schedule of one at a time: worth reading.
    recorded(tmp_path, short=0.5, long=3.5, last=0.5)
    assert started(tmp_path, 2)[:2] == ["long", "short"]


def test_enough_workers_for_every_ready_step_start_them_all_by_counted_paths(tmp_path):
    (tmp_path / "w.yaml").write_text(ORDER.format(resources="", needs=""))
    assert started(tmp_path, 1) == ["short", "long", "last"]
    # Both roots start at once either way: the history is not read, paths count steps.
    assert started(tmp_path, 2) == ["short", "long", "last"]
    # With one worker again the same history decides.
    assert started(tmp_path, 1) == ["long", "short", "last"]


def test_steps_competing_for_a_resource_take_it_by_learned_paths(tmp_path):
    (tmp_path / "w.yaml").write_text(ORDER.format(resources="resources: {db: 1}\n", needs=", resources: [db]"))
    assert started(tmp_path, 2) == ["short", "long", "last"]  # nothing learned yet
    # Two workers for two roots, but one unit of db: who goes first matters, and long does.
    assert started(tmp_path, 2)[:2] == ["long", "short"]


def test_an_executor_plugin_gets_the_steps_in_the_learned_order(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_dist(site, "acme-one-at-a-time", "acme_one_at_a_time", ONE_AT_A_TIME)
    (tmp_path / "w.yaml").write_text(ORDER.format(resources="", needs=""))
    assert started(tmp_path, 2, "--executor", "one", plugins=site) == ["short", "long", "last"]
    # Two workers for two roots, but the executor runs one at a time, in the order it
    # was given them: the longest learned path goes first.
    assert started(tmp_path, 2, "--executor", "one", plugins=site)[:2] == ["long", "short"]


def test_an_executor_plugin_run_nobody_follows_is_not_tracked(tmp_path):
    """Reading history for an executor plugin does not make the engine track the run's
    progress: a tracker nobody reads would hear, and so have built, every event."""
    from concurrent.futures import ThreadPoolExecutor

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep, hookimpl, load_plugins
    from wfe_core.plugin import StepExecutor

    class OneAtATime:
        @hookimpl
        def wfe_executors(self):
            return [StepExecutor("one", lambda workers, options: ThreadPoolExecutor(1))]

    plugins = load_plugins(autoload=False, extra={"one": OneAtATime()})
    engine = WorkflowEngine(plugins=plugins, store=tmp_path / "runs.sqlite", executor="one")
    # The step asks the engine, while its run is going, whether that run is tracked.
    engine.register_custom_action("look", lambda _params, context: engine.progress_tracker.snapshot(context.run_id))
    stats = engine.run(Workflow(id="w", steps=[WorkflowStep(id="a", action="look")]))
    assert stats.succeeded and stats.steps["a"].output is None
