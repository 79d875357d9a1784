"""Causal graph and loop enumeration: counts, order, limits."""
from __future__ import annotations

import itertools
import time

import pytest

import sdcluster
from sdcluster.analysis import graph as graphmod
from sdcluster.analysis.graph import CausalGraph, TooManyLoops, elementary_circuits


def _brute_force_cycles(inputs: dict[str, list[str]]) -> set[tuple[str, ...]]:
    """Every elementary circuit by trying every ordered node subset (tiny graphs only)."""
    edges = {(s, t) for t, srcs in inputs.items() for s in srcs}
    nodes = sorted({n for e in edges for n in e})
    found = set()
    for k in range(1, len(nodes) + 1):
        for combo in itertools.permutations(nodes, k):
            if combo[0] != min(combo):
                continue
            if all((combo[i], combo[(i + 1) % k]) in edges for i in range(k)):
                found.add(combo)
    return found


@pytest.mark.parametrize("seed", range(6))
def test_johnson_finds_exactly_the_elementary_circuits(seed):
    import random

    rng = random.Random(seed)
    nodes = [f"v{i}" for i in range(6)]
    inputs = {n: sorted({m for m in nodes if rng.random() < 0.35}) for n in nodes}
    got = {tuple(c) for c in elementary_circuits(CausalGraph(inputs=inputs))}
    # loops start at their smallest node; rotate to compare
    got = {c[c.index(min(c)):] + c[:c.index(min(c))] for c in got}
    assert got == _brute_force_cycles(inputs)


def test_huge_loop_count_is_refused_within_the_limit():
    nodes = [f"s{i}" for i in range(14)]  # complete digraph: ~1.6e10 circuits
    g = CausalGraph(inputs={n: [m for m in nodes if m != n] for n in nodes})
    start = time.monotonic()
    with pytest.raises(TooManyLoops, match="more than 1000 feedback loops"):
        elementary_circuits(g, max_loops=1000)
    assert time.monotonic() - start < 5
    with pytest.raises(TooManyLoops, match="stopped after 0.05 s"):
        elementary_circuits(g, max_loops=10**9, max_seconds=0.05)


def test_graph_of_a_bundled_model(cooperative):
    g = graphmod.from_pysd(cooperative.pysd)
    assert g.stocks == {s.py_name for s in cooperative.stocks}
    assert set(g.inputs["trust"]) == {"trust_building", "trust_erosion"}  # flows, not the initial value
    assert "initial_trust" not in g.inputs["trust"]
    assert len(elementary_circuits(g)) == 545


def test_stateful_functions_are_nodes(zoo):
    model = sdcluster.load_model(zoo / "smooth_delay.xmile")
    g = graphmod.from_pysd(model.pysd)
    kinds = sorted(g.statefuls.values())
    assert kinds == ["Delay", "Smooth"]
    smooth = next(k for k, v in g.statefuls.items() if v == "Smooth")
    assert g.inputs[smooth] == ["profit"] and smooth in g.inputs["perceived_profit"]
