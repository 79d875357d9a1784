"""``sdcluster loops`` and explain_shift on small models."""
from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

import sdcluster
from sdcluster.analysis import loops
from sdcluster.analysis.explain import explain_shift, lead_intervals, leading
from sdcluster.cli import main


@pytest.fixture(scope="module")
def logistic(zoo):
    return sdcluster.load_model(zoo / "logistic.xmile")


def test_model_loops_is_dominance(logistic):
    xr.testing.assert_identical(logistic.loops({"birth rate": 0.25}), loops.dominance(logistic, {"birth rate": 0.25}))


def test_explain_shift_names_the_loop_whose_lead_moves(logistic):
    ref = loops.dominance(logistic)
    bigger = loops.dominance(logistic, {"carrying capacity": 1200})
    lead_ref, lead_big = leading(ref), leading(bigger)
    r_ref, r_big = lead_intervals(lead_ref, "R1"), lead_intervals(lead_big, "R1")
    assert r_ref and r_big and r_big[-1][1] > r_ref[-1][1]  # growth leads longer in a bigger niche
    text = explain_shift(bigger, ref, policy="a bigger niche", reference="the base case")
    assert text.startswith("With a bigger niche, ")
    assert re.search(r"R1 leads in years [\d.]+–[\d.]+ \(the base case: years [\d.]+–[\d.]+\)", text)
    same = explain_shift(ref, ref, policy="the base case again", reference="the base case")
    assert same == "With the base case again, the same loops lead at the same times as in the base case."


def test_cli_model_writes_table_scores_and_figure(zoo, tmp_path, capsys):
    assert main(["loops", str(zoo / "logistic.xmile"), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 feedback loops" in out and "Population → births → Population" in out
    assert "dominant loops, logistic" in out
    table = (tmp_path / "loops.csv").read_text()
    assert table.splitlines()[0] == "loop,group,polarity,length,stocks,path"
    ds = xr.open_dataset(tmp_path / "dominance_logistic.nc")
    assert ds["relative_loop_score"].attrs["units"] == "1" and ds["time"].attrs["units"] == "Year"
    assert ds.attrs["ltm_mode"] == "exhaustive" and ds.attrs["Conventions"] == "CF-1.8"
    np.testing.assert_allclose(np.abs(ds["relative_loop_score"]).sum("loop").values[1:], 1.0)
    ds.close()
    assert (tmp_path / "scores_logistic.csv").stat().st_size > 0
    assert (tmp_path / "dominance_logistic.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_scenarios_are_explained_against_the_first(zoo, tmp_path, capsys):
    scen = tmp_path / "niche.yaml"
    scen.write_text(f"model: {zoo / 'logistic.xmile'}\nscenarios:\n  - name: base\n"
                    "  - name: growing_niche\n    policies: [{parameter: carrying capacity, shape: ramp, "
                    "start: 5, end: 25, amount: 900}]\n")
    assert main(["loops", str(scen)]) == 0
    out = capsys.readouterr().out
    assert "dominant loops, growing_niche" in out
    assert "With growing_niche, " in out and "(base: " in out


def test_cli_writes_a_whole_output_folder_and_refuses_a_foreign_one(zoo, tmp_path, capsys):
    out = tmp_path / "new"
    assert main(["loops", str(zoo / "logistic.xmile"), "-o", str(out)]) == 0
    assert (out / "manifest.json").is_file() and (out / "loops.csv").is_file()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["loops", str(zoo / "logistic.xmile"), "-o", str(foreign)]) == 1
    assert "notes.txt" not in capsys.readouterr().out and (foreign / "notes.txt").read_text() == "mine"


def test_loop_names_file_errors_name_file_group_and_variable(logistic, tmp_path):
    bad = tmp_path / "names.yaml"
    bad.write_text("R growth:\n  through: [Populaton]\n")
    with pytest.raises(sdcluster.errors.ScenarioError, match=r"names.yaml: loop 'R growth', through: unknown "
                                                              r"variable 'Populaton'.*Did you mean 'Population'"):
        loops.structure(logistic, names=bad)
    good = tmp_path / "good.yaml"
    good.write_text("crowding brake:\n  through: [crowding]\nplain growth:\n  through: [births]\n")
    table = loops.structure(logistic, names=good)
    assert {lp.name: lp.group for lp in table.loops} == {"R1": "plain growth", "B1": "", "B2": "crowding brake"}


def test_ensemble_leads_measures_how_robust_dominance_is(logistic):
    from sdcluster.analysis.explain import ensemble_leads

    ens = ensemble_leads(logistic, {"birth rate": [0.2, 0.3, 0.4], "carrying capacity": [200, 300, 900]})
    assert ens.sizes["run"] == 3 and set(ens["group"].values) == {"R1", "B1", "B2"}
    agree = ens["lead_agreement"]
    assert float(agree.sum("group").max()) <= 1.0 + 1e-12  # at most one leader per run (none at rest)
    early = agree.sel(time=slice(1, 5)).mean("time")
    assert float(early.sel(group="R1")) == 1.0  # growth leads early in every run
    with pytest.raises(sdcluster.errors.SdclusterError, match="equal length"):
        ensemble_leads(logistic, {"birth rate": [0.2, 0.3], "carrying capacity": [200]})
