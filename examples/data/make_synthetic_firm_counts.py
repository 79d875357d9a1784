"""Generate ``synthetic_cluster_firm_counts.csv``: SYNTHETIC observations, not real data.

The series are produced by the bundled life-cycle model (``cluster_lifecycle``)
with known parameter values (``TRUE`` below), sampled at irregular "census"
years and perturbed with seeded noise, so that the calibration example and
tests can check that the fit recovers the values that made the data:

* ``firms``: firm counts at 10 irregular census dates, Poisson noise;
* ``employment``: jobs from a "statistics yearbook" at 7 of those dates
  (gaps elsewhere), 4 % multiplicative normal noise, rounded to 10 persons.

Model time 0 is the calendar year 1980 (``time_offset = 1980``). The run uses
a time step of 1/32 year, the model file's own.

Run ``python examples/data/make_synthetic_firm_counts.py`` to rebuild the file;
the seed makes it byte-identical.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import sdcluster

#: Parameter values the synthetic data are generated with (the "truth").
TRUE = {"normal spin off fraction": 0.05, "normal failure fraction": 0.06, "reference cluster size": 120.0}

#: Census years (irregular) and the years with a yearbook employment figure.
CENSUS_YEARS = [1982, 1985, 1990, 1993, 1996, 2000, 2004, 2008, 2013, 2018]
YEARBOOK_YEARS = [1985, 1990, 1996, 2000, 2008, 2013, 2018]
OFFSET = 1980
SEED = 20261125
#: Time step of the generating run and of the documented fit (Year).
TIME_STEP = 1 / 32
OUT = Path(__file__).with_name("synthetic_cluster_firm_counts.csv")


def main(out: Path = OUT) -> Path:
    """Write the CSV to *out* and return the path."""
    model = sdcluster.load_model("cluster_lifecycle")
    times = np.array(CENSUS_YEARS, dtype=float) - OFFSET
    ds = model.run(TRUE, outputs=["firms", "employment"], final_time=float(times.max()),
                   time_step=TIME_STEP)
    rng = np.random.default_rng(SEED)
    firms = rng.poisson(ds.firms.sel(time=times).values)
    emp = ds.employment.sel(time=times).values * (1 + 0.04 * rng.standard_normal(times.size))
    lines = ["year,firms,employment"]
    for year, f, e in zip(CENSUS_YEARS, firms, emp):
        cell = f"{10 * round(e / 10):.0f}" if year in YEARBOOK_YEARS else ""
        lines.append(f"{year},{f},{cell}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    print(main())
