r"""Goodness-of-fit statistics per observed series.

For observations :math:`y_i` and simulated values :math:`m_i`, :math:`i=1..n`:

* :math:`R^2 = 1 - \sum (y_i-m_i)^2 / \sum (y_i-\bar y)^2` (coefficient of
  determination; can be negative for a fit worse than the mean);
* :math:`RMSE = \sqrt{\tfrac1n \sum (y_i-m_i)^2}`;
* :math:`MAPE = \tfrac{100}{n'} \sum |y_i-m_i|/|y_i|` in percent over the
  :math:`n'` points with :math:`y_i \ne 0`;
* Theil's inequality statistics (Sterman 1984; *Business Dynamics* ch. 21)
  split the mean squared error
  :math:`MSE = (\bar m-\bar y)^2 + (s_m-s_y)^2 + 2(1-r)s_m s_y`
  (population standard deviations :math:`s`, correlation :math:`r`) into the
  fractions due to bias :math:`U^M`, unequal variation :math:`U^S` and unequal
  covariation :math:`U^C`; :math:`U^M+U^S+U^C=1`. A good fit has most of a
  small error in :math:`U^C` (unsystematic, point-by-point noise).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Columns of :func:`fit_table`.
COLUMNS = ("n", "R2", "RMSE", "MAPE", "UM", "US", "UC")


def fit_statistics(y: np.ndarray, m: np.ndarray) -> dict[str, float]:
    """Return ``n, R2, RMSE, MAPE, UM, US, UC`` for one series (NaN where undefined)."""
    y = np.asarray(y, dtype=float)
    m = np.asarray(m, dtype=float)
    n = y.size
    err = y - m
    mse = float(np.mean(err ** 2))
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(err ** 2)) / sst if sst > 0 else math.nan
    nz = y != 0
    mape = float(100 * np.mean(np.abs(err[nz]) / np.abs(y[nz]))) if nz.any() else math.nan
    sy, sm = float(y.std()), float(m.std())
    if mse > 0:
        um = (float(m.mean()) - float(y.mean())) ** 2 / mse
        us = (sm - sy) ** 2 / mse
        r = float(np.corrcoef(y, m)[0, 1]) if sy > 0 and sm > 0 else 0.0
        uc = 2 * (1 - r) * sm * sy / mse
    else:
        um = us = uc = math.nan
    return {"n": n, "R2": r2, "RMSE": math.sqrt(mse), "MAPE": mape, "UM": um, "US": us, "UC": uc}


def fit_table(names: list[str], ys: list[np.ndarray], ms: list[np.ndarray]) -> pd.DataFrame:
    """Fit statistics of several series, one row each (index: series name)."""
    rows = [fit_statistics(y, m) for y, m in zip(ys, ms)]
    table = pd.DataFrame(rows, index=pd.Index(names, name="series"), columns=list(COLUMNS))
    table["n"] = table["n"].astype(int)
    return table
