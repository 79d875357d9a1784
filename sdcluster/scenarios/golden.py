"""Golden-file drift checks: compare scenario results against a stored netCDF.

A *golden file* is a netCDF written by :func:`write_golden` (``sdcluster check
--update``) from a :func:`~sdcluster.scenarios.simulate.run_scenarios` Dataset. Later runs
are compared against it value by value; a value has *moved* when

    |actual - golden| > atol + rtol * |golden|

(NaN matches NaN only). The report names, for each variable and scenario that
moved, the first time it moved with both values, how many saved times moved
and the largest relative difference. Missing or extra variables, scenarios and
a different time grid are drift too.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import DataError

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_ATOL", "DEFAULT_RTOL", "Drift", "GoldenReport", "compare_to_golden", "read_golden",
           "write_golden"]

#: Default relative tolerance of a golden check.
DEFAULT_RTOL = 1e-6
#: Default absolute tolerance of a golden check.
DEFAULT_ATOL = 1e-9


@dataclass(frozen=True)
class Drift:
    """One variable of one scenario that moved.

    Attributes
    ----------
    variable, scenario : str
        Where it moved (``scenario`` is ``""`` for a Dataset without that dim).
    time : float
        First saved time at which it moved.
    value, expected : float
        The new and the golden value at that time.
    n_moved, n_total : int
        Saved times that moved, out of all compared.
    max_rel : float
        Largest ``|actual - golden| / |golden|`` over the moved times (inf when golden is 0).
    """

    variable: str
    scenario: str
    time: float
    value: float
    expected: float
    n_moved: int
    n_total: int
    max_rel: float

    def describe(self, time_units: str = "") -> str:
        """One line for a planner or a CI log."""
        where = f"{self.variable}, scenario {self.scenario!r}" if self.scenario else self.variable
        unit = f" {time_units}" if time_units else ""
        return (f"{where}: first moved at time {self.time:g}{unit}: {self.value:.10g} (golden {self.expected:.10g}); "
                f"{self.n_moved} of {self.n_total} saved times moved, largest relative change {self.max_rel:.3g}")


@dataclass
class GoldenReport:
    """Outcome of a golden check."""

    golden: str
    rtol: float
    atol: float
    drifts: list[Drift] = field(default_factory=list)
    structure: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    compared: int = 0
    time_units: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing moved and the structure matches."""
        return not self.drifts and not self.structure

    def summary(self) -> str:
        """Human-readable report (several lines)."""
        head = f"{self.golden} (rtol={self.rtol:g}, atol={self.atol:g}): "
        if self.ok:
            lines = [head + f"OK, {self.compared} variable/scenario series match"]
        else:
            lines = [head + f"DRIFT: {len(self.drifts)} of {self.compared} variable/scenario series moved"
                     + (f", {len(self.structure)} structural difference(s)" if self.structure else "")]
            lines += [f"  {s}" for s in self.structure]
            lines += [f"  {d.describe(self.time_units)}" for d in self.drifts]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def read_golden(path: str | Path) -> xr.Dataset:
    """Load a golden netCDF fully into memory (the file is closed afterwards).

    Raises
    ------
    DataError
        When the file is missing or not a readable netCDF.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: golden file not found; create it with 'sdcluster check ... --against {p} --update'")
    try:
        with xr.open_dataset(p) as ds:
            return ds.load()
    except Exception as exc:  # netCDF4/h5 raise assorted types
        raise DataError(f"{p}: cannot read the golden file as netCDF: {exc}") from None


def write_golden(ds: xr.Dataset, path: str | Path) -> Path:
    """Write *ds* as the golden file *path* (netCDF, atomically)."""
    from ..outputs.io import write_dataset

    p = Path(path)
    if p.suffix.lower() != ".nc":
        raise DataError(f"{p}: a golden file must be netCDF (.nc)")
    return write_dataset(ds, p)


def compare_to_golden(ds: xr.Dataset, golden: xr.Dataset | str | Path, *, rtol: float = DEFAULT_RTOL,
                      atol: float = DEFAULT_ATOL) -> GoldenReport:
    """Compare a result with a golden Dataset (or file).

    Parameters
    ----------
    ds
        New result, e.g. from :func:`~sdcluster.scenarios.simulate.run_scenarios`.
    golden
        The stored result, or the path of its netCDF file.
    rtol, atol
        Tolerances: a value moved when ``|new - golden| > atol + rtol * |golden|``.

    Returns
    -------
    GoldenReport
        ``report.ok`` is False on any drift; ``report.summary()`` explains it.
    """
    if not (rtol >= 0 and atol >= 0):
        raise DataError(f"tolerances must be non-negative numbers (rtol={rtol!r}, atol={atol!r})")
    label = str(golden) if not isinstance(golden, xr.Dataset) else "golden"
    gold = read_golden(golden) if not isinstance(golden, xr.Dataset) else golden
    report = GoldenReport(golden=label, rtol=rtol, atol=atol,
                          time_units=str(gold["time"].attrs.get("units", "")) if "time" in gold.coords else "")

    new_vars, old_vars = list(ds.data_vars), list(gold.data_vars)
    for v in old_vars:
        if v not in new_vars:
            report.structure.append(f"variable {v!r} is in the golden file but not in the new result")
    for v in new_vars:
        if v not in old_vars:
            report.structure.append(f"variable {v!r} is new (not in the golden file); rerun with --update "
                                    "if it is intended")

    new_sc = _labels(ds, "scenario")
    old_sc = _labels(gold, "scenario")
    for s in old_sc:
        if s not in new_sc:
            report.structure.append(f"scenario {s!r} is in the golden file but was not run")
    for s in new_sc:
        if s not in old_sc:
            report.structure.append(f"scenario {s!r} is new (not in the golden file)")

    t_new = ds["time"].values if "time" in ds.coords else np.array([])
    t_old = gold["time"].values if "time" in gold.coords else np.array([])
    same_grid = t_new.shape == t_old.shape and np.allclose(t_new, t_old, rtol=1e-12, atol=1e-12)
    if not same_grid:
        report.structure.append(f"time grid differs: new {_grid(t_new)}, golden {_grid(t_old)}")
        common = np.intersect1d(np.round(t_new, 9), np.round(t_old, 9))
    else:
        common = t_old

    for v in (v for v in old_vars if v in new_vars):
        for s in ([x for x in old_sc if x in new_sc] if old_sc else [""]):
            a = _series(ds[v], s, common, same_grid)
            b = _series(gold[v], s, common, same_grid)
            report.compared += 1
            drift = _first_drift(v, s, common, a, b, rtol, atol)
            if drift is not None:
                report.drifts.append(drift)

    sha_new, sha_old = ds.attrs.get("model_sha256"), gold.attrs.get("model_sha256")
    if sha_new and sha_old and sha_new != sha_old:
        report.notes.append(f"the model file changed since the golden file was written "
                            f"(sha256 {str(sha_old)[:12]}... -> {str(sha_new)[:12]}...)")
    changed = _changed_definitions(ds, gold)
    if changed:
        report.notes.append("scenario definitions changed since the golden file was written: " + ", ".join(changed))
    return report


def _labels(ds: xr.Dataset, dim: str) -> list[str]:
    return [str(x) for x in ds[dim].values] if dim in ds.coords else []


def _series(var: xr.DataArray, scenario: str, times: np.ndarray, same_grid: bool) -> np.ndarray:
    if scenario and "scenario" in var.dims:
        idx = [str(x) for x in var["scenario"].values].index(scenario)
        var = var.isel(scenario=idx)
    if not same_grid and "time" in var.dims:
        var = var.sel(time=times, method="nearest", tolerance=1e-9)
    if "time" in var.dims:
        var = var.transpose("time", ...)
    arr = np.asarray(var.values, dtype=float)
    return arr.reshape(arr.shape[0], -1) if arr.ndim >= 1 and "time" in var.dims else arr.reshape(1, -1)


def _first_drift(variable: str, scenario: str, times: np.ndarray, a: np.ndarray, b: np.ndarray,
                 rtol: float, atol: float) -> Drift | None:
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - b)
        moved = ~((diff <= atol + rtol * np.abs(b)) | (np.isnan(a) & np.isnan(b)))
    moved_t = moved.any(axis=tuple(range(1, moved.ndim))) if moved.ndim > 1 else moved
    if not moved_t.any():
        return None
    i = int(np.argmax(moved_t))
    j = int(np.argmax(moved[i].reshape(-1))) if moved.ndim > 1 else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(moved, diff / np.abs(b), 0.0)
    rel = np.where(np.isnan(rel) & moved, np.inf, rel)
    return Drift(variable=variable, scenario=scenario, time=float(times[i]) if len(times) > i else float(i),
                 value=float(a[i].reshape(-1)[j]), expected=float(b[i].reshape(-1)[j]),
                 n_moved=int(moved_t.sum()), n_total=int(moved_t.size), max_rel=float(np.max(rel)))


def _grid(t: np.ndarray) -> str:
    if len(t) == 0:
        return "none"
    if len(t) == 1:
        return f"[{t[0]:g}]"
    return f"{t[0]:g}..{t[-1]:g} ({len(t)} times)"


def _changed_definitions(ds: xr.Dataset, gold: xr.Dataset) -> list[str]:
    try:
        new = json.loads(ds.attrs.get("scenarios", "{}"))
        old = json.loads(gold.attrs.get("scenarios", "{}"))
    except (TypeError, ValueError):
        return []
    keys = ("model", "time", "parameters", "policies")
    out = []
    for name in new:
        if name in old and isinstance(new[name], dict) and isinstance(old[name], dict):
            def strip(d: dict) -> dict:
                return {k: d.get(k) for k in keys if k != "model"}
            if strip(new[name]) != strip(old[name]):
                out.append(name)
    return out
