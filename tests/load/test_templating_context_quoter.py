"""A quoter with ``render_template`` gets the whole template, not one value at a time."""

from __future__ import annotations

import pytest

from wfe_core.load.templating import Substitution, render
from wfe_core.model.errors import TemplateError


class Recorder:
    """Records the pieces it is given and returns them as a tuple of plain data."""

    def __call__(self, value: str) -> str:  # the plain interface, unused by render()
        return f"<{value}>"

    def render_template(self, pieces):
        return tuple(p if isinstance(p, str) else ("sub", p.text, p.value, p.raw) for p in pieces)


def test_the_quoter_gets_text_and_substitutions_in_order():
    out = render({"command": "a {x} {{b}} {y!raw}"}, {"x": "1", "y": [1, 2]}, {"command": Recorder()})
    assert out["command"] == ("a ", ("sub", "x", "1", False), " ", "{", "b", "}", " ", ("sub", "y", "[1, 2]", True))


def test_a_single_raw_placeholder_keeps_its_value():
    assert render({"command": "{y!raw}"}, {"y": [1, 2]}, {"command": Recorder()}) == {"command": [1, 2]}


def test_a_single_placeholder_still_goes_through_the_quoter():
    assert render({"command": "{y}"}, {"y": "v"}, {"command": Recorder()}) == {"command": (("sub", "y", "v", False),)}


def test_other_parameters_and_lists_are_not_given_to_the_quoter():
    out = render({"command": ["{x}"], "cwd": "d/{x}"}, {"x": "1"}, {"command": Recorder()})
    assert out == {"command": ["1"], "cwd": "d/1"}


def test_a_value_error_is_a_template_error_naming_the_parameter():
    class Refuses(Recorder):
        def render_template(self, pieces):
            raise ValueError("not here")

    with pytest.raises(TemplateError, match="^parameter 'command': not here$"):
        render({"command": "echo {x}"}, {"x": "1"}, {"command": Refuses()})


def test_an_undefined_name_is_still_an_error():
    with pytest.raises(TemplateError, match="undefined name 'nope'"):
        render({"command": "echo {nope}"}, {}, {"command": Recorder()})


def test_a_substitution_never_shows_its_value_in_repr():
    assert "s3cret" not in repr(Substitution("secrets.T", "s3cret", False))
