"""``sdcluster compare``: files written, tables consistent, errors clear."""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sdcluster import compare
from sdcluster.cli import main

FIGURES = ["question_1", "appendix_1", "stage_timeline"]


def test_writes_netcdf_tables_figures_and_report(cli_output):
    out, rc, stdout, ds, _ = cli_output
    assert rc == 0
    for name in ["results.nc", "differences.nc", "kpis.csv", "kpis.md", "report.html"]:
        assert (out / name).is_file(), name
    for stem in FIGURES:
        assert (out / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        if stem != "appendix_1":  # the 12-panel appendix figures are PNG only
            assert "<svg" in (out / "figures" / f"{stem}.svg").read_text()[:500]
    with xr.open_dataset(out / "results.nc") as back:
        xr.testing.assert_allclose(back["firms"], ds["firms"])
        assert back.attrs["model_sha256"] == ds.attrs["model_sha256"]
    with xr.open_dataset(out / "differences.nc") as d:
        expected = ds["firms"] - ds["firms"].sel(scenario="baseline")
        np.testing.assert_allclose(d["firms"].sel(scenario=["subsidy", "platform"]).values,
                                   expected.sel(scenario=["subsidy", "platform"]).values)
        assert np.isnan(d["firms"].sel(scenario="baseline").values).all()  # the baseline has no reference
        assert d.attrs["baseline"] == "baseline" and list(d["reference"].values) == ["", "baseline", "baseline"]


def test_csv_equals_kpi_table_and_terminal_prints_findings(cli_output):
    out, _, stdout, ds, kpis = cli_output
    csv = pd.read_csv(out / "kpis.csv")
    assert list(csv.columns) == compare.TABLE_COLUMNS
    assert list(csv["kpi"].unique()) == kpis + ["cumulative_public_cost@end"]  # + the cost of the chart
    expected = compare.kpi_table(ds, kpis, baseline="baseline")
    got = csv[csv.kpi.isin(kpis)].reset_index(drop=True)
    np.testing.assert_allclose(got["value"], expected["value"], equal_nan=True)
    np.testing.assert_allclose(got["delta"][got.scenario != "baseline"],
                               expected["delta"][expected.scenario != "baseline"], equal_nan=True)
    md = (out / "kpis.md").read_text()
    assert md.count("\n") == 2 + len(csv)
    for k in kpis:
        assert k in md
    # the terminal shows the findings (headline KPI: the first --kpi), not the 20-row table
    assert "Q1. Scenarios without a stated question" in stdout and "Platform does most" in stdout
    assert "report.html" in stdout and "rank" not in stdout


def run_cli(args, capsys):
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_bad_baseline_bad_kpi_missing_cost_are_clear_errors(cli_output, tmp_path, capsys):
    src = cli_output[0] / "results.nc"
    rc, _, err = run_cli(["compare", str(src), "--baseline", "basline", "-o", str(tmp_path / "a")], capsys)
    assert rc == 1 and "Did you mean 'baseline'" in err
    rc, _, err = run_cli(["compare", str(src), "--baseline", "baseline", "--kpi", "firms@@3",
                          "-o", str(tmp_path / "b")], capsys)
    assert rc == 1 and "cannot read KPI 'firms@@3'" in err and "valid forms" in err
    assert not (tmp_path / "b").exists()  # nothing written when the KPI is wrong
    rc, _, err = run_cli(["compare", str(src), "--baseline", "baseline", "--kpi", "firms@30/cost",
                          "--cost-variable", "public_spend", "-o", str(tmp_path / "c")], capsys)
    assert rc == 1 and "'public_spend'" in err and "cost" in err
    rc, _, err = run_cli(["compare", str(src), "--baseline", "baseline", "--stage-variable", "firm",
                          "-o", str(tmp_path / "d")], capsys)
    assert rc == 1 and "Did you mean 'firms'" in err
    rc, _, err = run_cli(["compare", str(src), "--baseline", "baseline", "--kpi", "firms@3", "other.yaml"], capsys)
    assert rc == 1 and "looks like a file" in err
    rc, _, err = run_cli(["compare", str(tmp_path / "nope.nc"), "--baseline", "baseline"], capsys)
    assert rc == 1 and "does not exist" in err
    rc, _, err = run_cli(["compare", str(src), "-o", str(tmp_path / "e")], capsys)  # no references, no --baseline
    assert rc == 1 and "no scenario names a reference" in err and "--baseline NAME" in err


def test_default_kpis_and_outputs_subset(cli_output, tmp_path, capsys):
    src = cli_output[0] / "results.nc"
    rc, out, _ = run_cli(["compare", str(src), "--baseline", "platform", "--outputs", "firms,cumulative_public_cost",
                          "--formats", "png", "-o", str(tmp_path)], capsys)
    assert rc == 0
    csv = pd.read_csv(tmp_path / "kpis.csv")
    assert set(csv["variable"]) == {"firms", "cumulative_public_cost"}
    assert "firms@end/cost" in set(csv["kpi"])
    assert not list((tmp_path / "figures").glob("*.svg"))


@pytest.mark.slow
def test_end_to_end_with_scenario_files_on_bundled_model(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(textwrap.dedent("""\
        # Question: what happens without intervention?
        name: base
        model: cluster_lifecycle
        time: {final_time: 30}
        outputs: [firms, capability]
        """))
    (tmp_path / "seeded.yaml").write_text(textwrap.dedent("""\
        # Question: does more exogenous entry speed up emergence?
        name: seeded
        extends: base.yaml
        parameters:
          seed entry rate: 3
        """))
    rc, out, err = run_cli(["compare", str(tmp_path / "base.yaml"), str(tmp_path / "seeded.yaml"),
                            "--baseline", "base", "--kpi", "firms@30", "firms:cum", "--formats", "png",
                            "--no-progress", "-o", str(tmp_path / "out")], capsys)
    assert rc == 0, err
    csv = pd.read_csv(tmp_path / "out" / "kpis.csv")
    seeded = csv[(csv.kpi == "firms@30") & (csv.scenario == "seeded")].iloc[0]
    assert seeded.delta > 0  # more seed entry gives more firms
    html = (tmp_path / "out" / "report.html").read_text()
    assert "seed entry rate" in html or "seed_entry_rate" in html
