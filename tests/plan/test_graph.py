"""The dependency graph: order, levels, critical path, cycles, unknown dependencies."""

from __future__ import annotations

import pytest

from wfe_core import CycleError, DependencyGraph, InvalidWorkflowError


def test_order_levels_and_critical_path():
    graph = DependencyGraph({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []})
    assert graph.order == ["a", "e", "b", "c", "d"]
    assert graph.levels() == [["a", "e"], ["b", "c"], ["d"]]
    path, total = graph.critical_path({"a": 1, "b": 5, "c": 2, "d": 1, "e": 3})
    assert (path, total) == (["a", "b", "d"], 7)
    assert graph.remaining_path({"a": 1, "b": 5, "c": 2, "d": 1, "e": 3}) == {"d": 1, "c": 3, "b": 6, "e": 3, "a": 7}
    assert graph.ancestors("d") == {"a", "b", "c"}
    assert graph.descendants("a") == {"b", "c", "d"}
    assert not graph.is_chain() and DependencyGraph({"x": [], "y": ["x"]}).is_chain()


def test_cycle_error_names_the_whole_cycle_from_the_first_step_in_the_file():
    with pytest.raises(CycleError) as info:
        DependencyGraph({"build": ["deploy"], "test": ["build"], "deploy": ["test"], "lint": []})
    assert info.value.cycle == ["build", "test", "deploy", "build"]
    assert str(info.value) == "steps: dependency cycle: build -> test -> deploy -> build"


def test_cycle_behind_a_tail_reports_only_the_cycle():
    with pytest.raises(CycleError) as info:
        DependencyGraph({"root": [], "x": ["root", "z"], "y": ["x"], "z": ["y"], "tail": ["z"]})
    assert " -> ".join(info.value.cycle) == "x -> y -> z -> x"


def test_two_step_cycle():
    with pytest.raises(CycleError, match=r"dependency cycle: a -> b -> a$"):
        DependencyGraph({"a": ["b"], "b": ["a"]})


def test_every_unknown_dependency_is_listed_with_a_did_you_mean():
    with pytest.raises(InvalidWorkflowError) as info:
        DependencyGraph({"build": ["tset"], "test": ["build"], "deploy": ["tets", "nowhere"]}, source="w.yaml")
    assert str(info.value).splitlines() == [
        "w.yaml: steps[0].dependencies: step 'build' depends on unknown step 'tset' (did you mean 'test'?)",
        "w.yaml: steps[2].dependencies: step 'deploy' depends on unknown step 'tets' (did you mean 'test'?)",
        "w.yaml: steps[2].dependencies: step 'deploy' depends on unknown step 'nowhere'",
    ]


def test_large_graphs_are_linear():
    n = 20_000
    deps = {f"s{i}": [f"s{j}" for j in (i - 1, i - 7, i - 100) if j >= 0] for i in range(n)}
    graph = DependencyGraph(deps)  # a quadratic algorithm would take minutes here
    assert len(graph.order) == n
    assert graph.critical_path({k: 1.0 for k in deps})[1] == n
    # A 20,000-step cycle is still found and named whole.
    deps["s0"] = [f"s{n - 1}"]
    with pytest.raises(CycleError) as info:
        DependencyGraph(deps)
    assert info.value.cycle[0] == info.value.cycle[-1] == "s0"
