"""``RunStore.run`` reads the run row (which holds the steps the run plans) and the step
rows in one snapshot: a resume committed by another process between the two reads (a
new plan adding step ``b``; ``a``, left running, marked interrupted) gives the run as it
was before the resume or as it is after, never a mix of the two."""

from __future__ import annotations

from wfe_core.store.runstore import RunStore

FIELDS = dict(
    workflow_id="w", workflow_name="w", source=None, definition=None, strategy="sequential", dry_run=False, variables={}
)


class Between:
    """A connection that runs ``then`` once, right after the first statement that reads ``runs``."""

    def __init__(self, db, then):
        self._db, self._then = db, then

    def execute(self, sql, *args):
        cursor = self._db.execute(sql, *args)
        if self._then is not None and "FROM runs" in sql:
            rows = cursor.fetchall()
            self._then()
            self._then = None
            return _Rows(rows)
        return cursor

    def __getattr__(self, name):
        return getattr(self._db, name)


class _Rows(list):
    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


def test_a_step_planned_by_a_resume_between_the_two_reads_is_listed(tmp_path):
    path = tmp_path / "runs.sqlite"
    writer = RunStore(path)
    writer.start_run(run_id="r", step_ids=[("a", "fa")], **FIELDS)
    writer.step_started("r", "a", 1, 1.0)
    writer.commit()
    writer.close()

    def resume():  # another process resumes with a file that adds step b
        other = RunStore(path)
        other.start_run(run_id="r", step_ids=[("a", "fa"), ("b", "fb")], resumed=True, **FIELDS)
        other.close()

    reader = RunStore(path)
    try:
        reader.db = Between(reader.db, resume)
        steps = [(s["step_id"], s["status"]) for s in reader.run("r")["steps"]]
    finally:
        reader.db = reader.db._db
        reader.close()
    before, after = [("a", "running")], [("a", "interrupted"), ("b", "pending")]
    assert steps in (before, after)
