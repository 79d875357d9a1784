"""Dose-response and timing curves (sdcluster.design.response) on the two-lever test model."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sdcluster.cli import main
from sdcluster.design import bind, load_space
from sdcluster.design.response import response, threshold, with_kpis
from sdcluster.errors import ParameterError


@pytest.fixture(scope="module")
def problem(model, space_file):
    return bind(load_space(space_file), model, runs=16)


@pytest.fixture(scope="module")
def dose(problem):
    return response(problem, "skills", points=6)


def test_bands_are_ordered_and_zero_dose_is_the_reference(dose):
    kpi = "net_benefit:cum"
    band = dose["value_band"].sel(kpi=kpi).values
    assert np.all(band[:, 0] <= band[:, 1]) and np.all(band[:, 1] <= band[:, 2])
    np.testing.assert_allclose(dose["level"].values, np.linspace(0, 2, 6))  # 10 million over 5 years: 2 a year
    zero = dose["gain"].sel(kpi=kpi).isel(point=0).values
    np.testing.assert_allclose(zero, 0.0, atol=1e-9)          # no programme = the reference, member by member
    assert float(dose["p_better"].sel(kpi=kpi).isel(point=0)) == 0.0
    med = dose["gain_band"].sel(kpi=kpi, quantile=0.5).values
    assert np.all(np.diff(med) > 0)                           # more skills money, more benefit
    assert dose["level"].attrs["units"] == "million/Year" and dose.attrs["instrument"] == "skills"


def test_each_member_is_paired_with_the_reference_run_in_the_same_world(problem, dose, model):
    """Gain in member m = KPI of the run with m's sampled parameters and the dose, minus m's run without it."""
    from sdcluster.analysis.compare import evaluate_kpi, parse_kpi

    m, point = 5, 4
    params = {model.py_name(k): float(v[m]) for k, v in problem.samples.items()}
    row = np.array([[{"skills.amount": float(dose["level"].values[point])}.get(n, lo)
                     for n, lo in zip(problem.names, problem.lower)]])
    levers = {k: float(v[0]) for k, v in problem.parameters(row).items()}

    def kpi(overrides):
        run = model.run({**problem.base, **params, **overrides}, outputs=problem.outputs, **problem.time)
        return float(evaluate_kpi(run.expand_dims(scenario=["x"]), parse_kpi("net_benefit:cum")).values[0])

    got = float(dose["gain"].sel(kpi="net_benefit:cum").isel(point=point, member=m))
    assert got == pytest.approx(kpi(levers) - kpi({}), rel=1e-9)
    other = {model.py_name(k): float(v[m + 1]) for k, v in problem.samples.items()}  # another world's parameters
    assert got != pytest.approx(kpi({**levers, **other}) - kpi({}), rel=1e-3)


def test_same_inputs_same_numbers(problem, dose):
    again = response(problem, "skills", points=6)
    xr.testing.assert_equal(again, dose)
    assert again.attrs["model_sha256"] == dose.attrs["model_sha256"] and "samples" in again.attrs


def test_timing_curve_sweeps_the_start_with_the_amount_fixed(problem):
    ds = response(problem, "skills", lever="start", values=[0, 5, 10], fixed={"amount": 2.0})
    assert list(ds["level"].values) == [0, 5, 10] and ds["level"].attrs["units"] == "Year"
    med = ds["gain_band"].sel(kpi="net_benefit:cum", quantile=0.5).values
    assert med[0] > med[1] > med[2] > 0  # the later the programme, the less of its benefit falls in the run
    np.testing.assert_allclose(ds["planned_cost"].values, 10.0)


def test_threshold_interpolates_where_p_better_crosses_one_half():
    def ds(levels, p):
        return xr.Dataset({"p_better": ("point", p)}, coords={"level": ("point", levels)})

    assert threshold(ds([0, 1, 2, 3], [0, 0.2, 0.8, 1]), "amount") == pytest.approx(1.5)
    assert np.isnan(threshold(ds([0, 1, 2], [0, 0.1, 0.4]), "amount"))
    assert threshold(ds([0, 5, 10], [1, 0.75, 0.25]), "start") == pytest.approx(7.5)   # latest start that works
    assert threshold(ds([0, 5, 10], [1, 1, 1]), "start") == 10


def test_bad_requests_name_what_would_be_valid(problem):
    with pytest.raises(ParameterError, match=r"no instrument 'skils'.*skills, roads.*Did you mean 'skills'"):
        response(problem, "skils")
    with pytest.raises(ParameterError, match=r"instruments.skills.amount: value 7 lies outside .*\[0, 5\]"):
        response(problem, "skills", values=[1, 7])
    with pytest.raises(ParameterError, match="no values to sweep"):
        response(problem, "skills", values=[])
    with pytest.raises(ParameterError, match="lever 'dose' is not one of amount, start"):
        response(problem, "skills", lever="dose")
    with pytest.raises(ParameterError, match=r"--kpi 'net_benefit@@': "):
        with_kpis(problem.space, ["net_benefit@@"])


def test_cli_writes_a_complete_folder_or_nothing(space_file, tmp_path, capsys):
    out = tmp_path / "resp"
    assert main(["response", str(space_file), "--instrument", "roads", "--points", "3", "--runs", "6",
                 "-o", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"roads.nc", "roads.csv", "roads_net_benefit_cum.png", "summary.md", "manifest.json"} <= names
    assert not any(n.startswith("roads_public_cost") for n in names)  # the cost KPI is the x axis, not a figure
    assert "| roads | net_benefit:cum |" in capsys.readouterr().out
    bad = tmp_path / "bad"
    assert main(["response", str(space_file), "--instrument", "roads", "--instrument", "rods", "--points", "3",
                 "--runs", "6", "-o", str(bad)]) != 0
    assert not bad.exists() and not list(tmp_path.glob(".bad*"))


def test_doses_beyond_the_budget_are_refused(problem):
    with pytest.raises(ParameterError, match=r"value 3 costs more than the space's budget of 10 million allows "
                                             r"\(at most 2 a year"):
        response(problem, "skills", values=[1, 3])
