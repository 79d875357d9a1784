"""Models without feedback, with one stock, with algebraic loops, subscripts or too many loops."""
from __future__ import annotations

import time

import numpy as np
import pytest

import sdcluster
from sdcluster.analysis import loops
from sdcluster.analysis.graph import LoopAnalysisError
from sdcluster.errors import ModelLoadError


def test_no_feedback_gives_an_empty_answer(zoo):
    model = sdcluster.load_model(zoo / "no_feedback.xmile")
    table = loops.structure(model)
    assert table.loops == [] and "no feedback loops" in table.note
    ds = loops.dominance(model)
    assert ds.sizes["loop"] == 0 and ds.sizes["time"] == 41
    assert loops.dominant_periods(ds) == [(0.0, 10.0, "")]


def test_one_stock_one_loop_explains_everything(zoo):
    model = sdcluster.load_model(zoo / "one_stock.xmile")
    ds = loops.dominance(model)
    assert list(ds["polarity"].values) == ["B"]
    rel = ds["relative_loop_score"].values[1:, 0]
    np.testing.assert_allclose(rel, -1.0)  # alone in its partition: exactly -1 while active


def test_algebraic_loop_is_refused_clearly_at_load(zoo, tmp_path):
    # Vensim calls these "simultaneous equations"; without the check PySD recurses to RecursionError
    with pytest.raises(ModelLoadError, match=r"algebraic.xmile: simultaneous equations .*algebraic loop"
                                             r".*(price → quantity|quantity → price).*put a stock"):
        sdcluster.load_model(zoo / "algebraic.xmile")
    mdl = tmp_path / "alg.mdl"  # the loop reaches a stock's initial value: PySD fails while initialising
    mdl.write_text("a = b + 1\n~ Dmnl\n~ a\n|\nb = a * 0.5\n~ Dmnl\n~ b\n|\nS = INTEG(1, a)\n~ Dmnl\n~ s\n|\n"
                   "INITIAL TIME = 0\n~ Year\n~|\nFINAL TIME = 4\n~ Year\n~|\nTIME STEP = 1\n~ Year\n~|\n"
                   "SAVEPER = TIME STEP\n~ Year\n~|\n")
    with pytest.raises(ModelLoadError, match=r"alg.mdl: .*simultaneous equations .*put a stock"):
        sdcluster.load_model(mdl)


def test_subscripted_model_lists_loops_but_refuses_scores(zoo):
    model = sdcluster.load_model(zoo / "subscripted.mdl")
    table = loops.structure(model)
    assert [lp.describe(table.graph) for lp in table.loops] == ["Firms → entry → Firms", "Firms → exit → Firms"]
    assert "subscripted" in table.note
    with pytest.raises(LoopAnalysisError, match="subscripted variables are not computed"):
        loops.dominance(model)


def _coupled_stocks_xmile(n: int) -> str:
    """n stocks, each with a net flow that reads every stock: sum_k C(n,k)(k-1)! loops."""
    stocks = "".join(f'<stock name="S{i}"><eqn>1</eqn><units>u</units><doc>Stock {i}.</doc>'
                     f'<inflow>f{i}</inflow></stock>' for i in range(n))
    terms = " + ".join(f"S{j}" for j in range(n))
    flows = "".join(f'<flow name="f{i}"><eqn>0.01 * ({terms}) - 0.{i + 1} * S{i}</eqn><units>u/Year</units>'
                    f'<doc>Flow {i}.</doc></flow>' for i in range(n))
    return ('<?xml version="1.0" encoding="utf-8"?><xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" '
            'version="1.0"><header><vendor>t</vendor><product version="1">t</product></header>'
            '<sim_specs method="euler" time_units="Year"><start>0</start><stop>5</stop><dt>0.25</dt></sim_specs>'
            f'<model><variables>{stocks}{flows}</variables></model></xmile>')


def test_huge_loop_count_falls_back_to_discovery(tmp_path):
    path = tmp_path / "coupled.xmile"
    path.write_text(_coupled_stocks_xmile(8))  # 16,072 loops
    model = sdcluster.load_model(path)
    start = time.monotonic()
    table = loops.structure(model)
    ds = loops.dominance(model)
    assert time.monotonic() - start < 60
    assert table.mode == "discovery" and "more than 5000 feedback loops" in table.note
    assert ds.attrs["ltm_mode"] == "discovery"
    assert 0 < ds.sizes["loop"] <= loops.DISCOVERY_MAX_LOOPS
    # relative scores are shares of the discovered loops: magnitudes sum to 1 where active
    total = np.abs(ds["relative_loop_score"]).sum("loop").values[1:]
    np.testing.assert_allclose(total[total > 0], 1.0)
