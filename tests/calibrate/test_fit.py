"""Fitting: parameter recovery, methods, budgets, bad points, identifiability, outputs."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from sdcluster.calibrate import calibrate
from sdcluster.calibrate.stats import fit_statistics
from sdcluster.cli import main
from sdcluster.errors import CalibrationError

from calib_helpers import BOUNDS, TRUE, synthetic


def assert_recovered(res, rel):
    for name, true in TRUE.items():
        assert res.values[name] == pytest.approx(true, rel=rel[name]), name
        j = res.uncertainty.names.index(name)
        lo, hi = res.uncertainty.ci[j]
        assert lo <= true <= hi, (name, lo, hi)


def test_least_squares_recovers_three_parameters(logistic, obs_csv):
    res = calibrate(logistic, obs_csv, BOUNDS, time_offset=1980, progress=False, seed=0)
    assert res.success
    assert_recovered(res, {"initial firms": 0.3, "growth rate": 0.1, "carrying capacity": 0.05})
    assert set(res.fit.index) == {"firms", "employment"}
    assert (res.fit["R2"] > 0.98).all()
    u = res.fit[["UM", "US", "UC"]].sum(axis=1)
    np.testing.assert_allclose(u, 1.0, rtol=1e-9)
    assert res.residuals["employment"].isnull().sum() == 2  # the two gaps
    assert res.residuals["firms"].attrs["units"] == "firm"


def test_de_is_reproducible_and_uses_batches(logistic, obs_csv):
    kw = dict(time_offset=1980, progress=False, method="de", seed=7, options={"maxiter": 40})
    a = calibrate(logistic, obs_csv, BOUNDS, **kw)
    b = calibrate(logistic, obs_csv, BOUNDS, **kw)
    assert a.values == b.values and a.n_evals == b.n_evals
    assert_recovered(a, {"initial firms": 0.3, "growth rate": 0.1, "carrying capacity": 0.05})


def test_powell_and_count_payoffs(logistic, tmp_path):
    rng = np.random.default_rng(5)
    ds = logistic.run(TRUE, outputs=["firms"])
    dates = np.array([1.0, 4, 6, 10, 14, 19, 25, 33])
    counts = rng.poisson(ds.firms.sel(time=dates).values)
    path = tmp_path / "counts.csv"
    path.write_text("time,firms\n" + "".join(f"{t},{c}\n" for t, c in zip(dates, counts)))
    for payoff, method in (("poisson", "powell"), ("negbin", "least_squares")):
        res = calibrate(logistic, path, {"growth rate": (0.05, 1.5), "carrying capacity": (50, 1000)},
                        fixed={"initial firms": 4.0}, payoff=payoff, method=method, n_starts=1, progress=False)
        assert res.values["growth rate"] == pytest.approx(0.5, rel=0.1)
        assert res.values["carrying capacity"] == pytest.approx(300, rel=0.05)
    neg = tmp_path / "neg.csv"
    neg.write_text("time,firms\n0,-1\n5,20\n")
    with pytest.raises(CalibrationError, match="non-negative counts"):
        calibrate(logistic, neg, {"growth rate": (0.05, 1.5)}, payoff="poisson", progress=False)


def test_budget_stops_with_best_so_far(logistic, obs_csv):
    res = calibrate(logistic, obs_csv, BOUNDS, time_offset=1980, progress=False, max_evals=12)
    assert res.budget_hit and not res.success
    assert 12 <= res.n_evals < 20
    assert np.isfinite(res.payoff)
    assert any("budget" in w for w in res.warnings)


def test_wall_clock_budget_stops_with_best_so_far(logistic, obs_csv):
    res = calibrate(logistic, obs_csv, BOUNDS, time_offset=1980, progress=False, method="powell", max_time=0.2)
    assert res.budget_hit and "time budget" in res.message
    assert np.isfinite(res.payoff) and res.n_evals > 0


def test_nan_runs_are_bad_points_not_crashes(nan_trap, logistic, obs_csv):
    res = calibrate(nan_trap, obs_csv, {"growth rate": (0.05, 1.5), "carrying capacity": (50, 1000)},
                    fixed={"initial firms": 4.0}, time_offset=1980, method="de", seed=3,
                    options={"maxiter": 15}, progress=False)
    assert res.n_bad > 0
    assert any("bad points" in w for w in res.warnings)
    assert res.values["growth rate"] <= 0.8  # the NaN region was avoided
    assert np.isfinite(res.payoff)


def test_identifiability_warning_fires_on_product_pair(unidentifiable, logistic):
    frame = synthetic(logistic)
    res = calibrate(unidentifiable, frame, {"growth rate": (0.05, 1.5), "responsiveness": (0.2, 5),
                                            "carrying capacity": (50, 1000)},
                    fixed={"initial firms": 4.0}, time_offset=1980, n_starts=1, progress=False)
    text = " ".join(res.warnings)
    assert "'growth rate'" in text and "'responsiveness'" in text
    assert "not identifiable" in text or "nearly unidentifiable" in text
    assert "carrying capacity" not in text
    assert "warnings:" in res.table()


def test_identifiability_warning_silent_on_well_identified_pair(logistic):
    frame = synthetic(logistic)
    res = calibrate(logistic, frame, {"growth rate": (0.05, 1.5), "carrying capacity": (50, 1000)},
                    fixed={"initial firms": 4.0}, time_offset=1980, n_starts=1, progress=False)
    assert not [w for w in res.warnings if "identifiable" in w]
    assert abs(res.uncertainty.corr[0, 1]) < 0.95


def test_profile_flat_on_unidentifiable_and_bounded_on_identified(unidentifiable, logistic):
    frame = synthetic(logistic)
    res = calibrate(unidentifiable, frame, {"growth rate": (0.05, 1.5), "responsiveness": (0.2, 5)},
                    fixed={"initial firms": 4.0, "carrying capacity": 300.0}, time_offset=1980, n_starts=1,
                    profile=["responsiveness"], progress=False)
    assert any("profile of 'responsiveness' is flat" in w for w in res.warnings)
    ok = calibrate(logistic, frame, {"growth rate": (0.05, 1.5), "carrying capacity": (50, 1000)},
                   fixed={"initial firms": 4.0}, time_offset=1980, n_starts=1, profile=True, payoff="gaussian",
                   progress=False)
    assert ok.uncertainty.method == "profile"
    assert not any("flat" in w for w in ok.warnings)
    for j, true in enumerate([0.5, 300.0]):
        lo, hi = ok.uncertainty.ci[j]
        assert lo < ok.uncertainty.estimate[j] < hi
        assert lo <= true <= hi


def test_bound_warning(logistic):
    frame = synthetic(logistic)
    res = calibrate(logistic, frame, {"growth rate": (0.05, 0.3)}, fixed={"initial firms": 4.0,
                    "carrying capacity": 300.0}, time_offset=1980, n_starts=1, progress=False)
    assert res.values["growth rate"] == pytest.approx(0.3)
    assert any("at its upper bound 0.3" in w for w in res.warnings)


def test_fit_statistics_theil_known_values():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    s = fit_statistics(y, y + 1.0)  # pure bias
    assert s["UM"] == pytest.approx(1.0) and s["US"] == pytest.approx(0.0) and s["UC"] == pytest.approx(0.0)
    assert s["RMSE"] == pytest.approx(1.0)
    assert s["R2"] == pytest.approx(1 - 4 / 5)
    assert s["MAPE"] == pytest.approx(100 * np.mean(1 / y))
    s2 = fit_statistics(y, 2 * y - y.mean())  # same mean, double spread, perfectly correlated
    assert s2["UM"] == pytest.approx(0.0, abs=1e-12) and s2["US"] == pytest.approx(1.0)


def test_to_scenario_plot_and_cli(logistic, obs_csv, tmp_path, monkeypatch):
    res = calibrate(logistic, obs_csv, BOUNDS, time_offset=1980, n_starts=1, progress=False)
    out = res.to_scenario(tmp_path / "fitted.yaml")
    text = out.read_text()
    assert res.observations.sha256 in text and "R2=" in text and text.startswith("# Question:")
    doc = yaml.safe_load(text)
    assert doc["parameters"]["growth rate"] == pytest.approx(res.values["growth rate"], rel=1e-9)
    assert (tmp_path / doc["model"]).resolve() == logistic.path.resolve()
    from sdcluster.scenarios.scenario import load_scenario

    applied = load_scenario(out).apply(logistic)
    assert applied["growth_rate"] == pytest.approx(res.values["growth rate"], rel=1e-9)
    rerun = logistic.run(doc["parameters"], outputs=["firms"])
    np.testing.assert_allclose(rerun.firms.values, res.fitted.firms.values, rtol=1e-8)
    fig = res.plot(tmp_path / "fit.png")
    assert (tmp_path / "fit.png").stat().st_size > 1000
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.get_visible())
    args = ["calibrate", str(logistic.path), "--data", str(obs_csv), "--time-offset", "1980",
            "--param", "growth rate=0.05:1.5", "--param", "carrying capacity=50:1000", "--set", "initial firms=4",
            "--starts", "1", "--no-progress", "-o", str(tmp_path / "cli.yaml"), "--plot", str(tmp_path / "cli.png")]
    assert main(args) == 0 and (tmp_path / "cli.yaml").exists() and (tmp_path / "cli.png").exists()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    from sdcluster.calibrate.result import CalibrationResult

    def broken(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(CalibrationResult, "scenario_text", broken)
    with pytest.raises(OSError):
        main(args)  # the figure was rendered first, but is not moved into place without its scenario file
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    monkeypatch.undo()
    assert main(["calibrate", str(logistic.path), "--data", str(obs_csv), "--param", "growth rat=0.05:1.5"]) == 1
    assert main(["calibrate", str(logistic.path), "--data", str(obs_csv), "--param", "growth rate=2:1"]) == 1


def test_fewer_observations_than_parameters_is_refused_before_fitting(logistic, tmp_path, monkeypatch, capsys):
    from sdcluster.calibrate import evaluate

    def no_runs(*a, **k):  # the refusal comes before any model run
        raise AssertionError("the model was run")
    monkeypatch.setattr(evaluate.Evaluator, "simulate", no_runs)
    one = tmp_path / "one.csv"
    one.write_text("year,firms\n1985,12\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"one.csv: 1 observation\(s\) for 1 parameter\(s\) \(growth rate\).*"
                                                 r"at least 2"):
        calibrate(logistic, one, {"growth rate": (0.05, 1.5)}, time_offset=1980, progress=False)
    two = tmp_path / "two.csv"
    two.write_text("year,firms\n1985,12\n1990,20\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"2 observation\(s\) for 1 parameter\(s\) \+ 1 noise level.*"
                                                 r"at least 3"):
        calibrate(logistic, two, {"growth rate": (0.05, 1.5)}, time_offset=1980, payoff="gaussian", progress=False)
    with pytest.raises(CalibrationError, match=r"2 observation\(s\) for 2 parameter\(s\)"):
        calibrate(logistic, two, {"growth rate": (0.05, 1.5), "carrying capacity": (50, 1000)}, time_offset=1980,
                  progress=False)
    fitted = tmp_path / "fitted.yaml"
    code = main(["calibrate", str(logistic.path), "--data", str(one), "--time-offset", "1980",
                 "--param", "growth rate=0.05:1.5", "--no-progress", "-o", str(fitted)])
    assert code == 1 and "1 observation(s) for 1 parameter(s)" in capsys.readouterr().err
    assert not fitted.exists()
