"""Shared constants and synthetic data for the calibration tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).parent / "fixtures"

#: Parameters the synthetic logistic data are generated with.
TRUE = {"initial firms": 4.0, "growth rate": 0.5, "carrying capacity": 300.0}

#: Irregular, sparse observation dates (model time; calendar year = 1980 + t).
DATES = np.array([0.0, 3, 5, 9, 12, 15, 20, 26, 31, 38])

BOUNDS = {"initial firms": (0.5, 50), "growth rate": (0.05, 1.5), "carrying capacity": (50, 1000)}


def synthetic(model, params=TRUE, dates=DATES, noise=0.03, seed=1, offset=1980.0) -> pd.DataFrame:
    """Observed firms and employment at *dates* with multiplicative normal noise (seeded)."""
    ds = model.run(params, outputs=["firms", "employment"])
    rng = np.random.default_rng(seed)
    firms = ds.firms.sel(time=dates).values * (1 + noise * rng.standard_normal(dates.size))
    emp = ds.employment.sel(time=dates).values * (1 + noise * rng.standard_normal(dates.size))
    return pd.DataFrame({"year": dates + offset, "firms": firms, "employment": emp})
