"""``junit``: JUnit XML as GitLab and Jenkins read it.

One ``<testsuite>`` per run, one ``<testcase>`` per step (``time`` = its span); an
expanded fan-out step is its instances' test cases, not one more of its own.
Failed and timed-out steps get ``<failure>`` with the error; a step whose rollback
failed gets ``<error>``; skipped, cancelled, interrupted, pending and still-running steps
get ``<skipped>`` with the reason. Attempts before the last are listed in ``<system-out>``.

A sub-workflow's steps are test cases too, right after the ``workflow.run`` step that ran
them, named by nested id (``deploy/build``) with the child workflow as ``classname``; a
failed one carries the tail of what it printed in ``<system-out>``.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from wfe_core.report.formats.units import timestamp
from wfe_core.report.nested import NestedStep, nested_steps

__all__ = ["render_junit"]

_FAILURE = ("failed", "timed_out")
_ERROR = ("rollback_failed",)
_PASSED = ("succeeded", "rolled_back")


def _text(value: Any) -> str:
    # XML 1.0 cannot carry most control characters, even escaped: drop them.
    return "".join(c for c in str(value) if c in "\t\n\r" or ord(c) >= 0x20)


def _nested_case(n: NestedStep) -> tuple[str, str]:
    """The test case of a sub-workflow's step, and its outcome (failure, error, skipped, passed)."""
    s = n.step
    head = (
        f"    <testcase name={quoteattr(_text(n.id))} classname={quoteattr(_text(n.workflow_id))}"
        f' time="{n.span or 0.0:.3f}"'
    )
    body = []
    outcome = "passed"
    if s.status in _FAILURE:
        outcome = "failure"
        msg = _text(s.error or s.status)
        body.append(
            f"      <failure message={quoteattr(msg.splitlines()[0] if msg else s.status)} "
            f'type="{s.status}">{escape(msg)}</failure>'
        )
        if n.output_tail:
            body.append(f"      <system-out>{escape(_text(chr(10).join(n.output_tail)))}</system-out>")
    elif s.status in _ERROR:
        outcome = "error"
        msg = _text(s.error or "rollback failed")
        body.append(
            f'      <error message={quoteattr(msg.splitlines()[0])} type="rollback_failed">{escape(msg)}</error>'
        )
    elif s.status not in _PASSED:
        outcome = "skipped"
        body.append(f"      <skipped message={quoteattr(_text(s.reason or s.error or s.status))}/>")
    return head + (">\n" + "\n".join(body) + "\n    </testcase>" if body else "/>"), outcome


def render_junit(report: Any) -> str:
    run, a = report.run, report.analytics
    cases = []
    failures = errors = skipped = 0
    counted = set(report.counted[0])
    nested = nested_steps(getattr(report, "children", ()))
    for s in run.steps:
        if s.id not in counted:
            continue
        time = a.spans.get(s.id) or 0.0
        head = (
            f"    <testcase name={quoteattr(_text(s.id))} classname={quoteattr(_text(run.workflow_id))}"
            f' time="{time:.3f}"'
        )
        body = []
        if s.status in _FAILURE:
            failures += 1
            msg = _text(s.error or s.status)
            body.append(
                f"      <failure message={quoteattr(msg.splitlines()[0] if msg else s.status)} "
                f'type="{s.status}">{escape(msg)}</failure>'
            )
        elif s.status in _ERROR:
            errors += 1
            msg = _text(s.error or "rollback failed")
            body.append(
                f'      <error message={quoteattr(msg.splitlines()[0])} type="rollback_failed">{escape(msg)}</error>'
            )
        elif s.status not in _PASSED:
            skipped += 1
            why = _text(s.reason or s.error or s.status)
            body.append(f"      <skipped message={quoteattr(why)}/>")
        if len(s.attempts) > 1 or s.status == "rolled_back":
            notes = [f"attempt {t.number}: {t.status}" + (f": {_text(t.error)}" if t.error else "") for t in s.attempts]
            if s.status == "rolled_back":
                notes.append("rolled back after the run failed")
            body.append(f"      <system-out>{escape(chr(10).join(notes))}</system-out>")
        cases.append(head + (">\n" + "\n".join(body) + "\n    </testcase>" if body else "/>"))
        for n in nested.get(s.id, ()):
            case, outcome = _nested_case(n)
            cases.append(case)
            failures += outcome == "failure"
            errors += outcome == "error"
            skipped += outcome == "skipped"
    suite = (
        f'  <testsuite name={quoteattr(_text(run.workflow_id))} tests="{len(cases)}" failures="{failures}" '
        f'errors="{errors}" skipped="{skipped}" time="{a.wall_time:.3f}" '
        f'timestamp="{timestamp(run.started_at).rstrip("Z")}" '
        f"hostname={quoteattr(_text(run.host or 'localhost'))} "
        f"id={quoteattr(run.run_id)}>"
    )
    props = [
        "    <properties>",
        f'      <property name="run_id" value={quoteattr(run.run_id)}/>',
        f'      <property name="status" value={quoteattr(run.status)}/>',
        f'      <property name="verdict" value={quoteattr(_text(a.verdict))}/>',
        "    </properties>",
    ]
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<testsuites name={quoteattr(_text(run.workflow_id))} tests="{len(cases)}" '
            f'failures="{failures}" errors="{errors}" time="{a.wall_time:.3f}">',
            suite,
            *props,
            *cases,
            "  </testsuite>",
            "</testsuites>",
            "",
        ]
    )
