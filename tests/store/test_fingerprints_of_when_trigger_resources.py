"""Resume compares fingerprints: ``when``, ``trigger`` and ``resources`` change what a step
does, so they are fingerprinted; unset, they leave fingerprints as runs recorded before
they existed have them (those runs can still be resumed)."""

from __future__ import annotations

import hashlib
import json

from wfe_core.model.workflow import WorkflowStep
from wfe_core.store.journal import fingerprint

BASE = {"id": "a", "action": "wait", "parameters": {"seconds": 1}}


def old_fingerprint(step: WorkflowStep) -> str:
    names = ("action", "parameters", "dependencies", "conditions", "rollback_action", "rollback_parameters")
    text = json.dumps({n: getattr(step, n) for n in names}, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_a_step_without_the_new_keys_keeps_its_old_fingerprint():
    step = WorkflowStep(**BASE)
    assert fingerprint(step) == old_fingerprint(step)


def test_each_new_key_changes_the_fingerprint():
    plain = fingerprint(WorkflowStep(**BASE))
    variants = [
        WorkflowStep(**BASE, when="x == 1"),
        WorkflowStep(**BASE, when="x == 2"),
        WorkflowStep(**BASE, trigger="always"),
        WorkflowStep(**BASE, trigger="on_failure"),
        WorkflowStep(**BASE, resources=["db"]),
        WorkflowStep(**BASE, resources={"db": 2}),
    ]
    prints = [fingerprint(v) for v in variants]
    assert plain not in prints and len(set(prints)) == len(prints)
    assert fingerprint(WorkflowStep(**BASE, resources=["db"])) == fingerprint(WorkflowStep(**BASE, resources={"db": 1}))
