"""``sdcluster ensemble`` / ``sdcluster sensitivity`` and the ensemble figures."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sdcluster.cli import main
from sdcluster.uncertainty.ensemble import run_ensemble
from sdcluster.outputs.plot_ensemble import plot_bands, plot_kpi_distributions, plot_tornado
from sdcluster.uncertainty.robustness import kpi_samples
from sdcluster.uncertainty.sampling import load_uncertain


def test_ensemble_command_writes_results_table_and_figures(fixtures, tmp_path, capsys):
    out = tmp_path / "ens"
    code = main(["ensemble", str(fixtures / "baseline.yaml"), str(fixtures / "capped.yaml"),
                 "--uncertain", str(fixtures / "uncertain.yaml"), "--runs", "60", "--seed", "3",
                 "--kpi", "stock_a@40", "--outputs", "stock a", "--no-progress", "-o", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "60 runs x 2 scenario(s)" in text and "share_first" in text and "P(row beats column)" in text
    with xr.open_dataset(out / "ensemble.nc") as ds:
        assert ds.stock_a.shape[:2] == (2, 60) and ds.attrs["seed"] == 3
    table = pd.read_csv(out / "robustness.csv")
    assert table["share_first"].sum() == pytest.approx(1.0)
    beats = pd.read_csv(out / "beats_1.csv", index_col=0)
    assert beats.loc["higher_cap", "baseline"] + beats.loc["baseline", "higher_cap"] <= 1.0
    assert (out / "figures" / "bands_stock_a.png").stat().st_size > 1000
    assert (out / "figures" / "kpi_1_stock_a_40.png").stat().st_size > 1000
    # same seed, same numbers
    code = main(["ensemble", str(fixtures / "baseline.yaml"), "--uncertain", str(fixtures / "uncertain.yaml"),
                 "--runs", "60", "--seed", "3", "--kpi", "stock_a@40", "--outputs", "stock a", "--no-progress",
                 "-o", str(tmp_path / "again")])
    with xr.open_dataset(out / "ensemble.nc") as a, xr.open_dataset(tmp_path / "again" / "ensemble.nc") as b:
        np.testing.assert_array_equal(a.stock_a.sel(scenario="baseline").values, b.stock_a.sel(scenario="baseline").values)


@pytest.mark.parametrize("extra, message", [
    (["--runs", "0"], "--runs 0: the number of runs must be positive"),
    (["--runs", "5", "--scheduler", "tcp://127.0.0.1:9", "--timeout", "1"], "cannot reach the Dask scheduler"),
    (["--runs", "5", "--workers", "none"], "--workers 'none'"),
])
def test_ensemble_command_bad_input(fixtures, tmp_path, capsys, extra, message):
    code = main(["ensemble", str(fixtures / "baseline.yaml"), "--uncertain", str(fixtures / "uncertain.yaml"),
                 "--no-progress", "-o", str(tmp_path / "x")] + extra)
    assert code == 1
    assert message in capsys.readouterr().err


def test_ensemble_command_unknown_parameter(fixtures, tmp_path, capsys):
    bad = tmp_path / "p.yaml"
    bad.write_text("parameters:\n  growth rat: {distribution: uniform, low: 0.1, high: 0.2}\n")
    code = main(["ensemble", str(fixtures / "baseline.yaml"), "--uncertain", str(bad), "--runs", "5",
                 "--no-progress", "-o", str(tmp_path / "x")])
    assert code == 1
    assert "no parameter 'growth rat'" in capsys.readouterr().err


def test_sensitivity_command(fixtures, tmp_path, capsys):
    out = tmp_path / "sens"
    code = main(["sensitivity", str(fixtures / "baseline.yaml"), "--uncertain", str(fixtures / "uncertain.yaml"),
                 "--kpi", "stock_a@40", "--method", "morris", "--runs", "8", "--no-progress", "-o", str(out)])
    assert code == 0
    assert "morris: 40 runs" in capsys.readouterr().out
    table = pd.read_csv(out / "sensitivity.csv")
    assert set(table["parameter"]) == {"growth rate", "initial a", "threshold", "smoothing time"}
    assert (out / "figures" / "tornado_1_stock_a_40.png").stat().st_size > 1000


def test_figures_have_labelled_axes(functions_model, fixtures):
    u = load_uncertain(fixtures / "uncertain.yaml")
    ds = run_ensemble([fixtures / "baseline.yaml", fixtures / "capped.yaml"], u.sample(40))
    fig = plot_bands(ds, "stock_a", baseline="baseline")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "stock a [widget]" and fig.axes[-1].get_xlabel() == "time [Year]"
    assert len(ax.collections) == 4  # 95/90/75/50 % bands
    k = kpi_samples(ds, ["stock_a@40"])
    fig = plot_kpi_distributions(k, "stock_a@40", baseline="baseline")
    assert fig.axes[0].get_xlabel() == "stock_a@40 [widget]" and "runs" in fig.axes[0].get_ylabel()
    table = pd.DataFrame({"kpi": ["k"] * 2, "parameter": ["a", "b"], "S1": [0.1, 0.6], "S1_conf": [0.01, 0.02],
                          "ST": [0.2, 0.7], "ST_conf": [0.01, 0.02]})
    fig = plot_tornado(table)
    ax = fig.axes[0]
    assert "Sobol index" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]  # largest on top


def test_ensemble_command_on_a_model(fixtures, tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text("seed: 5\nparameters:\n  growth rate: {distribution: uniform, low: 0.1, high: 0.4}\n")
    code = main(["ensemble", str(fixtures / "functions.mdl"), "--uncertain", str(params), "--runs", "30",
                 "--kpi", "stock_a@40", "--no-progress", "-o", str(tmp_path / "m")])
    assert code == 0
    assert "30 runs x 1 scenario(s)" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "m" / "robustness.csv")
    assert table["scenario"].tolist() == ["functions.mdl"] and table["share_first"].tolist() == [1.0]


def test_ensemble_command_keeps_only_the_variables_kpis_need(fixtures, tmp_path):
    # smoothed a is not among the scenarios' outputs; by default only the KPIs' variables are kept
    args = ["ensemble", str(fixtures / "baseline.yaml"), "--uncertain", str(fixtures / "uncertain.yaml"),
            "--runs", "12", "--kpi", "smoothed_a@40", "--no-progress"]
    assert main([*args, "-o", str(tmp_path / "k")]) == 0
    with xr.open_dataset(tmp_path / "k" / "ensemble.nc") as ds:
        assert set(ds.data_vars) == {"smoothed_a", "failed"}
    assert main([*args, "--outputs", "stock_a", "-o", str(tmp_path / "k2")]) == 0  # --outputs adds to them
    with xr.open_dataset(tmp_path / "k2" / "ensemble.nc") as ds:
        assert set(ds.data_vars) == {"stock_a", "smoothed_a", "failed"}


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_failed_ensemble_and_sensitivity_keep_the_previous_folder(fixtures, tmp_path, monkeypatch, capsys):
    from sdcluster import plot

    base = ["--uncertain", str(fixtures / "uncertain.yaml"), "--runs", "8", "--kpi", "stock_a@40", "--no-progress"]
    ens = ["ensemble", str(fixtures / "baseline.yaml"), str(fixtures / "capped.yaml"), *base]
    assert main([*ens, "-o", str(tmp_path / "e")]) == 0
    before = _files(tmp_path / "e")
    assert "manifest.json" in before and "figures/bands_stock_a.png" in before
    # fails after ensemble.nc has been written: the folder is still the previous one
    assert main([*ens, "--baseline", "nosuch", "-o", str(tmp_path / "e")]) == 1
    assert "'nosuch' is not among the scenarios" in capsys.readouterr().err
    assert _files(tmp_path / "e") == before
    sens = ["sensitivity", str(fixtures / "baseline.yaml"), *base, "--method", "morris", "-o", str(tmp_path / "s")]
    assert main(sens) == 0
    before = _files(tmp_path / "s")

    def broken(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(plot, "save_figure", broken)
    with pytest.raises(OSError):
        main(sens)
    assert _files(tmp_path / "s") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e", "s"]  # no temporary or empty folder left


def test_size_guard_refuses_before_running_and_names_the_options(fixtures, tmp_path, capsys):
    args = ["ensemble", str(fixtures / "baseline.yaml"), str(fixtures / "capped.yaml"),
            "--uncertain", str(fixtures / "uncertain.yaml"), "--runs", "20000", "--no-progress",
            "--max-memory", "100M", "-o", str(tmp_path / "big")]
    assert main(args) == 1
    err = capsys.readouterr().err
    # 2 scenarios x 20000 runs x 161 saved times (0..40 by 0.25) x 3 outputs (stock a, inflow a, shape) x 8 bytes
    assert "20000 runs x 2 scenario(s) x 161 saved times x 3 output variable(s)" in err, err
    assert f"a file of about {(2 * 20000 * (161 * 3 * 8 + 1)) / 1024**2:.1f} MB" in err, err
    assert "the limit is 100.0 MB" in err
    assert "--outputs" in err and "--max-memory" in err
    assert not (tmp_path / "big").exists()


def test_size_estimate_matches_the_written_file(fixtures, tmp_path):
    from sdcluster.uncertainty.ensemble import EnsembleSize

    samples = load_uncertain(fixtures / "uncertain.yaml").sample(500)
    ds = run_ensemble([fixtures / "baseline.yaml", fixtures / "capped.yaml"], samples, outputs=["stock a"])
    size = EnsembleSize(runs=500, scenarios=2, times=ds.sizes["time"], outputs=1, chunk_size=5000, workers=1)
    data = sum(v.nbytes for v in ds.data_vars.values())
    assert abs(size.file_bytes - data) / data < 0.05
    ds.to_netcdf(tmp_path / "e.nc")
    assert 0.8 < size.file_bytes / (tmp_path / "e.nc").stat().st_size < 1.2
    with pytest.raises(Exception, match="ensemble too large.*max_memory="):
        run_ensemble(fixtures / "baseline.yaml", samples, max_memory=1000)
