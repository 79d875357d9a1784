"""The search: vectorised evaluation equals plain runs, feasibility, reproducibility, outputs that run again."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sdcluster.analysis.compare import evaluate_kpi
from sdcluster.design import bind, load_space, optimize
from sdcluster.design.outputs import write_outputs

FIXTURES = Path(__file__).parent / "fixtures"


def test_population_x_ensemble_equals_plain_runs(model, space_file):
    """One vectorised pass of P candidates x N members gives each plain Model.run's KPI."""
    problem = bind(load_space(space_file), model, runs=5)
    rng = np.random.default_rng(0)
    X = problem.repair(problem.lower + rng.random((3, len(problem.names))) * (problem.upper - problem.lower))
    vals = problem.evaluate(X)
    params = problem.parameters(X)
    for i in (0, 2):
        for j in (0, 4):
            one = {py: float(v[i]) for py, v in params.items()}
            one.update({name: float(v[j]) for name, v in problem.samples.items()})
            ds = model.run(one, outputs=["net_benefit", "public_cost"], **problem.time)
            expect = float(evaluate_kpi(ds.expand_dims(scenario=["x"]), "net_benefit:cum").values[0])
            assert vals["net_benefit:cum"][i, j] == pytest.approx(expect, rel=1e-9)
            assert vals["__cost__"][i, j] == pytest.approx(float(ds["public_cost"][-1]), rel=1e-9)


def test_repair_always_feasible(model, space_file):
    problem = bind(load_space(space_file), model, runs=2)
    rng = np.random.default_rng(1)
    X = rng.uniform(problem.lower - 3, problem.upper + 3, size=(500, len(problem.names)))
    R = problem.repair(X)
    assert problem.feasible(R).all()
    assert (problem.planned_cost(R) <= 10 * (1 + 1e-9)).all()
    assert not problem.feasible(X).all()  # the raw draws were not
    # planned cost: amount x years; skills runs 5 years, roads its duration
    x = np.array([[2.0, 0, 1.0, 3, 4.0]])  # skills amount/start, roads amount/start/duration
    assert problem.names == ["skills.amount", "skills.start", "roads.amount", "roads.start", "roads.duration"]
    assert problem.planned_cost(x)[0] == pytest.approx(2 * 5 + 1 * 4)
    assert problem.planned_cost(problem.repair(x))[0] == pytest.approx(10)
    p = problem.parameters(x)
    assert p["skills_end"][0] == 5 and p["roads_end"][0] == 7


def test_front_is_feasible_and_nondominated(result):
    assert len(result.X) >= 1
    assert result.problem.feasible(result.X).all()
    assert (result.planned_cost <= result.space.budget * (1 + 1e-9)).all()
    a = result.robust["p10(net_benefit:cum)"]
    c = result.robust["mean(min:public_cost@end)"]
    for i in range(len(a)):  # no front point is dominated by another
        dominated = (a >= a[i]) & (c <= c[i]) & ((a > a[i]) | (c < c[i]))
        assert not dominated.any()
    # the search improved on its first generation
    h = result.history
    assert h[-1]["best p10(net_benefit:cum)"] >= h[0]["best p10(net_benefit:cum)"]
    assert h[-1]["hypervolume"] >= h[0]["hypervolume"]


def test_same_seed_same_result_other_seed_differs(model, space_file, result):
    again = optimize(space_file, model=model)
    np.testing.assert_array_equal(again.X, result.X)
    for k, v in result.robust.items():
        np.testing.assert_array_equal(again.robust[k], v)
    other = optimize(space_file, model=model, seed=6, generations=1)
    assert other.X.shape[1] == result.X.shape[1]
    assert not (other.X.shape == result.X.shape and np.array_equal(other.X, result.X))


def test_budgets_stop_the_search(model, space_file):
    r = optimize(space_file, model=model, max_evaluations=20, runs=4)
    assert r.stopped == "evaluation budget" and r.evaluations == 24  # two generations of 12
    r = optimize(space_file, model=model, max_seconds=1e-9, runs=4)
    assert r.stopped == "time budget" and r.evaluations == 12


def test_outputs_and_scenarios_round_trip(result, tmp_path):
    """Files are complete, the CSV has no comment lines, each front point runs again as a scenario file."""
    from sdcluster.cli import main
    from sdcluster.uncertainty.ensemble import run_ensemble
    from sdcluster.uncertainty.robustness import kpi_samples
    from sdcluster.scenarios.scenario import load_scenario

    out = write_outputs(result, tmp_path / "out")
    assert not list(tmp_path.glob(".out.*"))  # the temporary folder was renamed, nothing left behind
    names = {p.name for p in out.iterdir()}
    assert {"front.csv", "front.nc", "comparison.csv", "front.png", "convergence.png", "summary.md",
            "scenarios"} <= names
    assert not (out / "front.csv").read_text().startswith("#")
    table = pd.read_csv(out / "front.csv")
    assert len(table) == len(result.X)
    assert (table["planned_cost"] <= 10 + 1e-9).all()
    ds = xr.open_dataset(out / "front.nc")
    assert ds.sizes["member"] == result.problem.members and ds.attrs["policy_space_sha256"]
    ds.close()
    files = sorted((out / "scenarios").glob("*.yaml"))
    assert len(files) == len(result.X)
    sc = load_scenario(files[0])
    ens = run_ensemble(sc, result.problem.samples, outputs=["net_benefit"])
    kpi = kpi_samples(ens, ["net_benefit:cum"])["net_benefit:cum"].values[0]
    np.testing.assert_allclose(kpi, result.kpis["net_benefit:cum"][0], rtol=1e-9)
    assert main(["run", str(files[0]), "-o", str(tmp_path / "run.nc")]) == 0
    # overwriting keeps a complete folder
    write_outputs(result, out)
    assert (out / "front.csv").exists()


def test_optimised_mix_beats_hand_written_in_budget(result):
    o = result.space.objectives[0]
    best = result.robust[o.label].max()
    hand = result.robust_of(result.scenarios["skills_only"])[o.label]
    assert best >= hand


@pytest.mark.parametrize("algorithm", ["auto", "de"])
def test_single_objective(space_dir, model, algorithm):
    import yaml

    path = space_dir / "space.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["objectives"] = ["net_benefit:cum"]
    doc["robustness"] = "mean"
    path.write_text(yaml.safe_dump(doc))
    r = optimize(path, model=model, runs=8, generations=3, algorithm=algorithm)
    assert r.settings["algorithm"] == {"auto": "ga", "de": "de"}[algorithm] and len(r.X) == 1
    assert r.problem.feasible(r.X).all()
    best = [h["best mean(net_benefit:cum)"] for h in r.history]
    assert best == sorted(best)  # the best feasible value never gets worse


def test_failed_write_leaves_nothing_that_looks_complete(result, tmp_path, monkeypatch):
    from sdcluster.design import outputs

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outputs, "_figure_convergence", broken)
    with pytest.raises(RuntimeError):
        write_outputs(result, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_xmile_twin_gives_the_same_front(result, space_file):
    """The same search on the XMILE twin of the test model (tools/mdl2xmile.py) finds the same front."""
    from sdcluster.core.model import load_model

    twin = optimize(space_file, model=load_model(FIXTURES / "two_levers.xmile"))
    np.testing.assert_array_equal(twin.X, result.X)
    for k, v in result.robust.items():
        np.testing.assert_allclose(twin.robust[k], v, rtol=1e-9)


@pytest.mark.parametrize("robustness, lo, hi", [
    ({"measure": "regret"}, 0.0, np.inf),
    ({"measure": "satisficing", "threshold": "reference"}, 0.0, 1.0),
])
def test_regret_and_satisficing_searches(space_dir, model, robustness, lo, hi):
    import yaml

    path = space_dir / "space.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["robustness"] = robustness
    path.write_text(yaml.safe_dump(doc))
    r = optimize(path, model=model, runs=6, generations=2)
    label = r.space.objectives[0].label
    v = r.robust[label]
    assert ((v >= lo) & (v <= hi)).all()
    # the value agrees with its definition on the KPI values run by run
    kpi = r.kpis["net_benefit:cum"]
    ref = r.reference["net_benefit:cum"]
    if robustness["measure"] == "regret":
        best = np.maximum(ref, r.scenarios["skills_only"]["net_benefit:cum"])
        np.testing.assert_allclose(v, np.maximum(best[None, :] - kpi, 0).max(axis=1))
    else:
        np.testing.assert_allclose(v, (kpi > ref[None, :]).mean(axis=1))
