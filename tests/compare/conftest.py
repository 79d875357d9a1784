"""Synthetic scenario results shaped like :func:`sdcluster.run_scenarios` output."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr


def make_results(times: np.ndarray | None = None) -> xr.Dataset:
    """Three scenarios over 0..60 years: logistic firms, value added and public cost.

    ``baseline`` has no policy; ``subsidy`` grows faster (higher rate) and costs
    2 money/Year from year 5; ``platform`` reaches a higher level and costs 1 money/Year.
    """
    t = np.arange(0.0, 61.0) if times is None else np.asarray(times, dtype=float)
    params = {"baseline": (100.0, 0.15, 0.0), "subsidy": (100.0, 0.25, 2.0), "platform": (140.0, 0.15, 1.0)}
    names = list(params)
    firms = np.array([k / (1 + (k / 5.0 - 1) * np.exp(-r * t)) for k, r, _ in params.values()])
    cost = np.array([c * np.clip(t - 5.0, 0, None) for _, _, c in params.values()])
    ds = xr.Dataset(
        {
            "firms": (("scenario", "time"), firms,
                      {"units": "firm", "long_name": "Firms", "description": "Firms in the cluster."}),
            "value_added": (("scenario", "time"), 0.5 * firms,
                            {"units": "EUR/Year", "long_name": "Value added", "description": "Annual value added."}),
            "cumulative_public_cost": (("scenario", "time"), cost,
                                       {"units": "EUR", "long_name": "Cumulative public cost",
                                        "description": "Public money spent so far."}),
        },
        coords={"scenario": names, "time": ("time", t, {"units": "Year"})},
        attrs={
            "model_file": "cluster_policy.mdl",
            "model_sha256": "0" * 64,
            "time_units": "Year",
            "sdcluster_version": "0.1.0",
            "pysd_version": "3.14.3",
            "numpy_version": np.__version__,
            "scenarios": json.dumps({
                "baseline": {"description": "No intervention.", "parameters": {}, "policies": []},
                "subsidy": {"description": "Entry subsidy <b>from</b> year 5 & on.", "parameters": {},
                            "policies": [{"parameter": "entry subsidy", "shape": "step", "start": 5, "amount": 2.0}]},
                "platform": {"description": "Common technology platform.", "parameters": {"platform capacity": 1.4},
                             "policies": [{"parameter": "platform budget", "shape": "step", "start": 5,
                                           "amount": 1.0}]},
            }),
        },
    )
    return ds


@pytest.fixture
def results() -> xr.Dataset:
    return make_results()


@pytest.fixture(scope="module")
def results_module() -> xr.Dataset:
    return make_results()


#: KPIs the command-line fixture asks for.
CLI_KPIS = ["firms@30", "value_added:cum[0,30]", "firms:t>=50", "value_added:npv[0,60,r=0.03]", "firms@30/cost"]


@pytest.fixture(scope="session")
def cli_output(tmp_path_factory):
    """Run ``sdcluster compare`` once on a results file; return (outdir, exit code, stdout, results, KPIs)."""
    import contextlib
    import io

    from sdcluster.cli import main

    base = tmp_path_factory.mktemp("compare_cli")
    ds = make_results()
    ds.to_netcdf(base / "results_in.nc")
    out = base / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["compare", str(base / "results_in.nc"), "--baseline", "baseline", "--kpi", *CLI_KPIS[:3],
                   "--kpi", *CLI_KPIS[3:], "-o", str(out), "--title", "Test comparison"])
    return out, rc, buf.getvalue(), ds, list(CLI_KPIS)


def make_brief_results() -> xr.Dataset:
    """Five scenarios, two questions, each policy with its own reference (as scenario files would state).

    Question A: 'subsidy' and 'platform' against 'baseline'. Question B: 'shock' (a context run) collapses
    the cluster after year 30; 'renewal' (against 'shock') rebuilds part of it for 3 money/Year.
    """
    ds = make_results()
    t = ds["time"].values
    base = ds["firms"].sel(scenario="baseline").values
    shock = np.where(t < 30, base, base[30] * (0.2 + 0.8 * np.exp(-(t - 30) / 4)))
    renewal = np.where(t < 30, base, shock + 0.5 * base[30] * (1 - np.exp(-np.clip(t - 30, 0, None) / 6)))
    extra = xr.Dataset(
        {"firms": (("scenario", "time"), np.stack([shock, renewal])),
         "value_added": (("scenario", "time"), 0.5 * np.stack([shock, renewal])),
         "cumulative_public_cost": (("scenario", "time"), np.stack([0 * t, 3 * np.clip(t - 30, 0, None)]))},
        coords={"scenario": ["shock", "renewal"], "time": ds["time"]})
    out = xr.concat([ds, extra], dim="scenario", combine_attrs="override")
    for v in ds.data_vars:
        out[v].attrs = dict(ds[v].attrs)
    defs = json.loads(ds.attrs["scenarios"])
    qa, qb = "Which instrument grows the cluster most?", "Does renewal help after a shock?"
    defs["baseline"]["question"] = "What happens without policy?"
    for name in ("subsidy", "platform"):
        defs[name].update(question=qa, reference="baseline")
    defs["shock"] = {"question": qb, "reference": "baseline", "role": "context", "description": "A shock."}
    defs["renewal"] = {"question": qb, "reference": "shock", "description": "Renewal after the shock."}
    out.attrs["scenarios"] = json.dumps(defs)
    return out


@pytest.fixture(scope="module")
def brief_results() -> xr.Dataset:
    return make_brief_results()


REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def loops_brief(tmp_path_factory):
    """``sdcluster compare scenarios/brokering_timing.yaml --loops`` on the policy model (its reference,
    baseline, is run too): (output folder, exit code, stdout, loop group names of the model)."""
    import contextlib
    import io

    import yaml

    from sdcluster.cli import main

    out = tmp_path_factory.mktemp("loops_brief") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["compare", str(REPO / "scenarios" / "brokering_timing.yaml"), "--loops", "--no-progress",
                   "--formats", "png", "-o", str(out)])
    groups = list(yaml.safe_load((REPO / "models" / "cluster_policy.loops.yaml").read_text(encoding="utf-8")))
    return out, rc, buf.getvalue(), groups
