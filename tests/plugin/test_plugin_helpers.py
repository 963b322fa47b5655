"""The helpers ``wfe_core.plugin`` gives plugin authors: each agrees with the core it
stands for (the template grammar, the scheduler's retry delays) and is the one copy the
plugins use."""

from __future__ import annotations

import inspect
import math
import random
import re
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wfe_core.plugin as api
from wfe_core.load.templating import render_value
from wfe_core.plugin import (
    ActionError,
    InvalidWorkflowError,
    Workflow,
    WorkflowStep,
    action_calls,
    backoff_delay,
    is_templated,
    looks_secret,
    os_errors,
    positive_seconds,
    structure,
)

ROOT = Path(__file__).resolve().parents[2]


class Everything(dict):
    """A template scope in which every name and every key exists."""

    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return self


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="{}$ab_.,!raw0 -", max_size=14).filter(lambda s: "{{" not in s and "}}" not in s))
def test_is_templated_is_exactly_what_rendering_changes(text):
    assert is_templated(text) == (render_value(text, Everything()) != text)


@pytest.mark.parametrize(
    "value, templated",
    [
        ("{name}", True),
        ("/srv/{steps.build.output.dir}", True),
        ("{cmd!raw}", True),
        ("{a.0.b}", True),
        (["x", {"k": "{v}"}], True),
        ("rm -rf /{usr,etc}", False),
        ("${HOME}", False),
        ("{print $1}", False),
        ('{"a": 1}', False),
        ("{{literal}}", False),
        ("{}", False),
        ("plain", False),
        (3, False),
        (None, False),
    ],
)
def test_is_templated_examples(value, templated):
    assert is_templated(value) is templated


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "DB_PASS",
        "GITHUB_TOKEN",
        "API_TOKENS",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "private_key",
        "access_token",
        "accessToken",
        "sig",
        "key",
        "Authorization",
        "client_secret",
        "Ocp-Apim-Subscription-Key",
        "passphrase",
        "credentials",
    ],
)
def test_secret_names(name):
    assert looks_secret(name)


@pytest.mark.parametrize(
    "name",
    ["author", "design", "PASSENGER_COUNT", "SORT_KEY", "keyboard", "page", "q", "monkey", "TOKENIZER_PATH", "path"],
)
def test_not_secret_names(name):
    assert not looks_secret(name)


def test_action_calls_include_rollback_calls_with_their_paths():
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="a", action="x.do", parameters={"p": 1}),
            WorkflowStep(id="b", action="y.do", rollback_action="x.undo", rollback_parameters={"p": 2}),
            WorkflowStep(id="c", action="x.undo", parameters={"p": 3}, rollback_action="x.do"),
        ],
    )
    found = [(c.step.id, c.action, dict(c.parameters), c.path) for c in action_calls(workflow, {"x.do", "x.undo"})]
    assert found == [
        ("a", "x.do", {"p": 1}, "steps[0].parameters"),
        ("b", "x.undo", {"p": 2}, "steps[1].rollback_parameters"),
        ("c", "x.undo", {"p": 3}, "steps[2].parameters"),
        ("c", "x.do", {}, "steps[2].rollback_parameters"),
    ]
    assert [c.step.id for c in action_calls(workflow, "x.do")] == ["a", "c"]
    assert [c.path for c in action_calls(workflow, lambda name: name.startswith("y."))] == ["steps[1].parameters"]


@pytest.mark.parametrize("retry", [1, 2, 3, 6, 40, 5000])
def test_backoff_delay_is_the_schedulers_equal_jitter(retry):
    rng = random.Random(retry)
    for base, factor, cap in [(1.0, 2.0, 60.0), (0.5, 3.0, 10.0), (2.0, 1.0, 60.0)]:
        try:
            delay = min(base * factor ** (retry - 1), cap)
        except OverflowError:
            delay = cap
        samples = [backoff_delay(retry, base, factor=factor, max_delay=cap, rng=rng) for _ in range(200)]
        assert all(delay / 2 <= s <= delay for s in samples)
        assert max(samples) - min(samples) > delay / 4  # jittered, not constant


def test_positive_seconds_in_a_parameter_class():
    @attrs.frozen
    class Params:
        """timeout: seconds."""

        timeout: float | None = attrs.field(default=None, validator=positive_seconds)

    assert structure({}, Params).timeout is None
    assert structure({"timeout": 0.5}, Params).timeout == 0.5
    for bad in (0, -1, math.inf, math.nan):
        with pytest.raises(InvalidWorkflowError) as info:
            structure({"timeout": bad}, Params)
        assert str(info.value) == f"invalid value: timeout must be a positive number of seconds, got {float(bad)}"


def test_os_errors_become_one_line_action_errors(tmp_path):
    with pytest.raises(ActionError) as info, os_errors("read", "missing.txt"):
        open(tmp_path / "missing.txt")
    assert str(info.value) == "cannot read 'missing.txt': no such file or directory"
    with pytest.raises(ActionError) as info, os_errors("read", "."):
        open(tmp_path)
    assert str(info.value) == "cannot read '.': it is a directory"
    with pytest.raises(ActionError, match="^mine$"), os_errors("read", "x"):
        raise ActionError("mine")


def test_the_public_module_documents_everything_it_exports():
    assert sorted(api.__all__) == api.__all__
    for name in api.__all__:
        thing = getattr(api, name)
        if inspect.isfunction(thing) or inspect.isclass(thing):
            assert inspect.getdoc(thing), f"wfe_core.plugin.{name} has no docstring"


def test_plugins_import_nothing_from_wfe_core_but_the_plugin_module():
    sources = [p for folder in ("plugins", "examples") for p in (ROOT / folder).glob("*/src/**/*.py")]
    assert len(sources) > 10
    other = re.compile(r"^\s*(?:from|import)\s+wfe_core(?!\.plugin\b)(?:\.\w+)*\b", re.M)
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}" for p in sources for m in other.finditer(p.read_text())]
    assert offenders == []


def test_no_plugin_keeps_its_own_copy_of_a_shared_helper():
    """The look-alike template regex and the secret-name lists were copied into the
    plugins and disagreed with the core; they live only in wfe_core.plugin now."""
    copies = re.compile(
        r"\\\{\[\^\{\}\]\*\\\}|_SECRET_NAME|_SECRET_WORDS|def os_errors|def is_secret_name|math\.isfinite\(value\)"
    )
    sources = list((ROOT / "plugins").glob("*/src/**/*.py"))
    assert [str(p.relative_to(ROOT)) for p in sources if copies.search(p.read_text())] == []
