"""Fit gallery (docs/fits.md): the life-cycle model, technology shift OFF, fitted to real
firm-count series.

``python docs/figures/make_fits.py [outdir]`` (fast, < 30 s): re-runs the model at the fitted
values stored in ``docs/data/fits.json``, recomputes R² and Theil statistics from the data and
draws one figure per fit. ``python docs/figures/make_fits.py --refit NAME`` repeats a fit (minutes)
and rewrites its entry in ``docs/data/fits.json`` (estimates, profile intervals, statistics).
"""
from __future__ import annotations

import json
import logging
import pathlib
import sys

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "docs" / "data"
FIXTURE = DATA / "fits.json"
MODEL = ROOT / "models" / "cluster_lifecycle.mdl"
logger = logging.getLogger(__name__)

#: a national industry: no regional labour or land constraint, no exogenous technology shift
NATIONAL = {"technology shift devaluation fraction": 0, "labour pool": 1e6, "land capacity": 1e9}

FITS = {
    "uk_motor": {
        "title": "British motor-car makers 1897-1956 (Motor Show exhibitors)",
        "data": "uk_motor_industry_firms.csv", "time_offset": 1896, "final_time": 61,
        "fixed": {**NATIONAL, "initial firms": 9}, "n_starts": 3, "seed": 2, "profile": False,
        "params": {"scale experience elasticity": (0.1, 1, 0.7), "returns to scale": (0.02, 1, 0.5),
                   "size elasticity of failure": (0, 1, 0.9), "imitation coefficient": (0.05, 1, 0.3),
                   "normal failure fraction": (0.02, 0.15, 0.1),
                   "initial market development": (0.01, 0.5, 0.05),
                   "firm scale adjustment time": (2, 30, 3)},
    },
    "us_autos": {
        "title": "US automobile producers, four anchor counts 1909-1955",
        "data": "us_automobile_producers.csv", "time_offset": 1895, "final_time": 61,
        "fixed": NATIONAL, "n_starts": 1, "seed": 1, "profile": ["scale experience elasticity"],
        "params": {"initial firms": (1, 60, 20), "normal attraction fraction": (0, 0.3, 0.2),
                   "scale experience elasticity": (0.1, 1, 0.6), "imitation coefficient": (0.05, 1, 0.5)},
    },
}


def _data(spec: dict) -> pd.DataFrame:
    return pd.read_csv(DATA / spec["data"])


def refit(name: str, max_time: float = 900.0) -> dict:
    """Calibrate fit *name* (Poisson payoff) and store it in the fixture."""
    from sdcluster.calibrate import calibrate

    spec = FITS[name]
    df = _data(spec)[["year", "firms"]]
    res = calibrate(str(MODEL), df, spec["params"], mapping={"firms": "firms"}, time="year",
                    time_offset=spec["time_offset"], payoff="poisson", n_starts=spec["n_starts"], seed=spec["seed"],
                    fixed=spec["fixed"], final_time=spec["final_time"], time_step=1 / 32,
                    max_time=max_time, profile=spec["profile"], progress=False)
    entry = {"values": {k: float(v) for k, v in res.values.items()},
             "intervals": {n: [float(x) for x in res.uncertainty.ci[j]]
                           for j, n in enumerate(res.uncertainty.names)},
             "interval_method": res.uncertainty.method, "converged": bool(res.success),
             "table": res.table()}
    fixture = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
    fixture[name] = entry
    tmp = FIXTURE.with_suffix(".tmp")
    tmp.write_text(json.dumps(fixture, indent=1) + "\n")
    tmp.replace(FIXTURE)
    return entry


def evaluate(model, name: str, values: dict) -> tuple[pd.DataFrame, "object", dict]:
    """Run the fitted model to the end of the data and beyond; statistics on the data years."""
    from sdcluster.calibrate.stats import fit_statistics

    spec = FITS[name]
    df = _data(spec)
    ds = model.run(params={**spec["fixed"], **values}, final_time=max(spec["final_time"], 100),
                   time_step=1 / 32, outputs=["firms", "output"])
    sim = ds.firms.interp(time=df.year.values - spec["time_offset"]).values
    return df, ds, fit_statistics(df.firms.values, sim)


def main(outdir: pathlib.Path) -> None:
    """One PNG per stored fit; logs R² and Theil statistics recomputed from the data."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import sdcluster

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    fixture = json.loads(FIXTURE.read_text())
    model = sdcluster.load_model(str(MODEL))
    for name, entry in fixture.items():
        spec = FITS[name]
        df, ds, st = evaluate(model, name, entry["values"])
        logger.info("%s: R2 %.3f RMSE %.2f UM %.3f US %.3f UC %.3f", name, st["R2"], st["RMSE"],
                    st["UM"], st["US"], st["UC"])
        fig, ax = plt.subplots(figsize=(7, 4))
        years = ds.time.values + spec["time_offset"]
        ax.plot(years, ds.firms, label="model (shift off)")
        ax.plot(df.year, df.firms, "o", label="data")
        ax.set(xlabel="year", ylabel="firms (firm)", title=f"{spec['title']}: R² {st['R2']:.2f}")
        ax2 = ax.twinx(); ax2.plot(years, ds.output, color="C2", lw=0.8, label="model output")
        ax2.set_ylabel("model output (Meuro/Year, reference prices)")
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout(); fig.savefig(outdir / f"fit_{name}.png", dpi=120); plt.close(fig)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if len(sys.argv) > 2 and sys.argv[1] == "--refit":
        print(refit(sys.argv[2])["table"])
    else:
        main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "docs/figures/out"))
