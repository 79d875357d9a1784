"""Golden-file drift checks: the library function and ``sdcluster check``."""
from __future__ import annotations

import numpy as np
import pytest

import sdcluster
from sdcluster.cli import main
from sdcluster.errors import DataError
from sdcluster.scenarios.golden import compare_to_golden, read_golden, write_golden

BASE = """\
model: tiny.mdl
time: {final_time: 20, time_step: 0.25, saveper: 1}
outputs: [firms, knowledge]
"""
EARLY = "extends: base.yaml\npolicies: [{parameter: brokering budget, shape: step, start: 5, end: 15, amount: 2}]\n"


@pytest.fixture
def results(write):
    write("base.yaml", BASE)
    write("early.yaml", EARLY)
    return sdcluster.run_scenarios(["base.yaml", "early.yaml"], progress=False)


def test_identical_results_pass(results, folder):
    golden = write_golden(results, folder / "golden.nc")
    report = compare_to_golden(sdcluster.run_scenarios(["base.yaml", "early.yaml"], progress=False), golden)
    assert report.ok, report.summary()
    assert report.compared == 4
    assert "OK, 4 variable/scenario series match" in report.summary()


def test_moved_value_is_reported_with_variable_scenario_time_and_values(results, folder):
    golden = write_golden(results, folder / "golden.nc")
    moved = results.copy(deep=True)
    moved["firms"].loc[{"scenario": "early", "time": 7.0}] *= 1.001
    moved["firms"].loc[{"scenario": "early", "time": 9.0}] *= 1.001
    report = compare_to_golden(moved, golden)
    assert not report.ok
    assert len(report.drifts) == 1
    d = report.drifts[0]
    assert (d.variable, d.scenario, d.time, d.n_moved, d.n_total) == ("firms", "early", 7.0, 2, 21)
    assert d.expected == results["firms"].sel(scenario="early", time=7.0).item()
    assert d.value == pytest.approx(d.expected * 1.001, rel=1e-12)
    assert d.max_rel == pytest.approx(1e-3, rel=1e-6)
    assert "firms, scenario 'early': first moved at time 7 Year" in report.summary()


def test_tolerances(results):
    moved = results.copy(deep=True)
    moved["knowledge"].loc[{"scenario": "base", "time": 20.0}] *= 1 + 1e-8
    assert compare_to_golden(moved, results).ok                       # within default rtol 1e-6
    assert not compare_to_golden(moved, results, rtol=1e-10).ok
    zero = results.copy(deep=True)
    zero["knowledge"].loc[{"scenario": "base", "time": 0.0}] = 1e-10  # golden value is 0
    assert compare_to_golden(zero, results).ok                        # within atol 1e-9
    assert not compare_to_golden(zero, results, atol=1e-12).ok


def test_nan_matches_only_nan(results):
    gold = results.copy(deep=True)
    gold["firms"].loc[{"scenario": "base", "time": 3.0}] = np.nan
    assert not compare_to_golden(results, gold).ok
    assert compare_to_golden(gold, gold).ok


def test_structural_differences_are_drift(results):
    fewer = results.drop_vars("knowledge").sel(scenario=["base"], time=slice(0, 10))
    report = compare_to_golden(fewer, results)
    assert not report.ok
    text = "\n".join(report.structure)
    assert "variable 'knowledge' is in the golden file but not in the new result" in text
    assert "scenario 'early' is in the golden file but was not run" in text
    assert "time grid differs" in text
    assert not report.drifts  # the overlapping part still matches


def test_missing_or_bad_golden(folder):
    with pytest.raises(DataError, match="golden file not found; create it with"):
        read_golden(folder / "none.nc")
    (folder / "bad.nc").write_text("not netcdf")
    with pytest.raises(DataError, match="cannot read the golden file"):
        read_golden(folder / "bad.nc")


# ---------------------------------------------------------------- command line
def test_cli_update_then_pass_then_fail_on_drift(write, folder, capsys):
    write("base.yaml", BASE)
    write("early.yaml", EARLY)
    args = ["check", "base.yaml", "early.yaml", "--against", "golden.nc", "--no-progress"]
    assert main(args) == 1                                  # no golden yet: an error
    assert "golden file not found" in capsys.readouterr().err
    assert main(args + ["--update"]) == 0
    assert (folder / "golden.nc").is_file()
    assert main(args) == 0
    assert "OK" in capsys.readouterr().out

    write("early.yaml", EARLY.replace("amount: 2", "amount: 2.5"))    # a planner edits the policy
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "DRIFT" in out
    assert "firms, scenario 'early': first moved at time 6 Year" in out
    assert "knowledge, scenario 'early': first moved at time 6 Year" in out
    assert "scenario 'base'" not in out
    assert "scenario definitions changed since the golden file was written: early" in out

    assert main(args + ["--rtol", "1"]) == 0                 # a loose tolerance accepts it
    assert main(args + ["--update"]) == 0
    assert main(args) == 0


def test_cli_reports_scenario_errors_without_traceback(write, capsys):
    write("bad.yaml", BASE + "parameters: {brokring budget: 1}\n")
    assert main(["check", "bad.yaml", "--against", "g.nc", "--update", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml: parameters: unknown parameter 'brokring budget'. Did you mean 'brokering budget'" in err
    assert "Traceback" not in err
