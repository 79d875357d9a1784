"""The result of a calibration: values, fit, uncertainty, plot, scenario file."""
from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr
import yaml

from .. import __version__
from ..errors import OutputError
from .data import Observations
from .evaluate import ParamSpec
from .uncertainty import Uncertainty


@dataclass
class CalibrationResult:
    """Fitted parameter values with fit statistics and uncertainty.

    Attributes
    ----------
    model
        The :class:`sdcluster.Model` that was fitted.
    observations
        The observations (bound to the model).
    specs
        Calibrated parameters with bounds.
    values : dict
        ``{name: fitted value}`` (names as given to :func:`calibrate`).
    payoff : float
        Payoff at the fitted values; ``payoff_kind`` names the formula.
    success : bool
        The search converged (and was not stopped by the budget).
    message : str
        The optimiser's message.
    fit : pandas.DataFrame
        Per series: ``n, R2, RMSE, MAPE, UM, US, UC`` (see :mod:`.stats`).
    residuals : xarray.Dataset
        Observed minus simulated per series on the union of observation times
        (model time), NaN where a series has no observation.
    fitted : xarray.Dataset
        Full simulated trajectories of the observed variables at the fitted values.
    uncertainty : Uncertainty
        Standard errors, covariance, correlation, intervals, profiles, warnings.
    """

    model: Any
    observations: Observations
    specs: list[ParamSpec]
    values: dict[str, float]
    payoff: float
    payoff_kind: str
    method: str
    success: bool
    message: str
    n_evals: int
    n_bad: int
    elapsed: float
    seed: int | None
    fit: pd.DataFrame
    residuals: xr.Dataset
    fitted: xr.Dataset
    uncertainty: Uncertainty
    fixed: dict[str, Any] = field(default_factory=dict)
    time: dict[str, float] = field(default_factory=dict)
    bad_examples: list[dict[str, float]] = field(default_factory=list)
    budget_hit: bool = False
    starts: list[dict[str, Any]] = field(default_factory=list)

    # -- views ------------------------------------------------------------------
    @property
    def params(self) -> dict[str, float]:
        """``{model name of the constant: value}`` ready for ``model.run(params=...)`` (fixed ones included)."""
        out = {self.model.info(k).name: v for k, v in self.fixed.items() if not callable(v)}
        out.update({self.model.info(s.py_name).name: float(self.values[s.name]) for s in self.specs})
        return out

    @property
    def warnings(self) -> list[str]:
        """Identifiability, bound and bad-point warnings."""
        out = list(self.uncertainty.warnings)
        if self.n_bad:
            out.append(f"{self.n_bad} of {self.n_evals} evaluations were bad points (the model produced NaN/inf "
                       "or failed); they were scored +inf")
        if self.budget_hit:
            out.append(f"the search stopped on its budget: {self.message}")
        return out

    @property
    def correlation(self) -> xr.DataArray:
        """Parameter correlation matrix as a DataArray (dims ``param``, ``param2``)."""
        names = self.uncertainty.names
        return xr.DataArray(self.uncertainty.corr, dims=("param", "param2"),
                            coords={"param": names, "param2": names}, name="correlation")

    def parameter_table(self) -> pd.DataFrame:
        """Estimate, standard error, interval and bounds per parameter."""
        u = self.uncertainty
        rows = []
        for j, s in enumerate(self.specs):
            rows.append({"parameter": s.name, "estimate": self.values[s.name], "se": u.se[j],
                         "ci_low": u.ci[j, 0], "ci_high": u.ci[j, 1], "lower_bound": s.lo, "upper_bound": s.hi,
                         "units": s.units})
        return pd.DataFrame(rows).set_index("parameter")

    def table(self) -> str:
        """A plain-text report: parameters, fit statistics, warnings."""
        u = self.uncertainty
        lines = [f"Calibration of {self.model.path.name} to {Path(self.observations.source).name} "
                 f"({self.observations.n} observations, {len(self.observations.series)} series)",
                 f"payoff {self.payoff_kind} = {self.payoff:.6g}; method {self.method}; {self.n_evals} evaluations "
                 f"in {self.elapsed:.2f} s; {'converged' if self.success else 'NOT converged'}: {self.message}",
                 "",
                 f"{'parameter':<28}{'estimate':>12}{'std err':>12}   {int(round(u.level * 100))}% interval "
                 f"({u.method})",
                 ]
        for j, s in enumerate(self.specs):
            lo, hi = (f"{v:.4g}" if math.isfinite(v) else "?" for v in u.ci[j])
            lines.append(f"{s.name:<28}{self.values[s.name]:>12.5g}{u.se[j]:>12.3g}   [{lo}, {hi}] {s.units}")
        lines += ["", f"{'series':<28}{'n':>4}{'R2':>9}{'RMSE':>11}{'MAPE%':>9}{'UM':>7}{'US':>7}{'UC':>7}"]
        for name, r in self.fit.iterrows():
            lines.append(f"{name:<28}{int(r['n']):>4}{r['R2']:>9.4f}{r['RMSE']:>11.4g}{r['MAPE']:>9.2f}"
                         f"{r['UM']:>7.3f}{r['US']:>7.3f}{r['UC']:>7.3f}")
        if len(self.specs) > 1:
            lines += ["", "correlation of estimates:"]
            lines.append(" " * 28 + "".join(f"{j + 1:>8}" for j in range(len(self.specs))))
            for i, s in enumerate(self.specs):
                lines.append(f"{i + 1:>2} {s.name:<25}" + "".join(f"{c:>8.3f}" for c in u.corr[i]))
        if self.warnings:
            lines += ["", "warnings:"] + [f"- {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    # -- figure -----------------------------------------------------------------------
    def plot(self, path: str | Path | None = None, profiles: bool = True) -> Any:
        """Data vs fitted trajectories, one panel per series, plus profile panels.

        Parameters
        ----------
        path
            If given, save the figure there (PNG/SVG/PDF by suffix).
        profiles
            Add a panel per profiled parameter (when profiles were computed).

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        prof = self.uncertainty.profiles if profiles else {}
        n_panels = len(self.observations.series) + len(prof)
        ncol = min(n_panels, 3)
        nrow = math.ceil(n_panels / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.6 * nrow), squeeze=False)
        axes = axes.ravel()
        tunits = self.model.time_units or "time"
        offset = self.observations.time_offset
        for ax, s in zip(axes, self.observations.series):
            var = self.fitted[s.variable]
            units = var.attrs.get("units", "")
            ax.plot(self.fitted["time"].values + offset, var.values, color="C0", label="fitted model")
            ax.plot(s.times + offset, s.values, "o", color="C3", ms=4, label="observed")
            r2 = self.fit.loc[s.column, "R2"]
            ax.set_title(f"{s.column} (R² = {r2:.3f})", fontsize=10)
            ax.set_xlabel(f"time ({tunits}{f', model time + {offset:g}' if offset else ''})")
            ax.set_ylabel(f"{var.attrs.get('long_name', s.variable)} ({units or 'dimensionless'})")
            ax.legend(fontsize=8)
        for ax, (name, p) in zip(axes[len(self.observations.series):], prof.items()):
            spec = next(s for s in self.specs if s.name == name)
            ax.plot(p["values"], p["delta_deviance"], "o-", color="C0", ms=3)
            ax.axhline(p["threshold"], color="grey", ls="--", lw=1,
                       label=f"{int(round(self.uncertainty.level * 100))}% threshold")
            ax.axvline(self.values[name], color="C3", lw=1, label="estimate")
            ax.set_xlabel(f"{name} ({spec.units or 'dimensionless'})")
            ax.set_ylabel("Δ(−2 log L) (dimensionless)")
            ax.set_title(f"profile of {name}", fontsize=10)
            ax.legend(fontsize=8)
        for ax in axes[n_panels:]:
            ax.set_visible(False)
        fig.tight_layout()
        if path is not None:
            from ..outputs.io import atomic_write

            atomic_write(path, lambda tmp: save_plot(fig, tmp, path))
        return fig

    # -- back to scenarios ------------------------------------------------------------------
    def to_scenario(self, path: str | Path, *, name: str | None = None, question: str | None = None) -> Path:
        """Write the fitted values as a scenario YAML file (atomically).

        The header comments record the question, the data file and its
        SHA-256, the payoff, the fit statistics per series and the intervals,
        so the file documents where its numbers came from. ``sdcluster run``
        and ``sdcluster compare`` can use it as a baseline.

        Returns
        -------
        pathlib.Path
            The written path.
        """
        from ..outputs.io import atomic_write_text

        return atomic_write_text(path, self.scenario_text(path, name=name, question=question))

    def scenario_text(self, path: str | Path, *, name: str | None = None, question: str | None = None) -> str:
        """The text :meth:`to_scenario` writes to *path* (the model is referred to relative to its folder)."""
        path = Path(path)
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise OutputError(f"{path}: a scenario file must end in .yaml or .yml")
        obs = self.observations
        question = question or f"which parameter values reproduce the observed data in {Path(obs.source).name}?"
        header = [f"# Question: {question}",
                  f"# Calibrated with sdcluster {__version__} on {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
                  f"# data: {Path(obs.source).name}  sha256: {obs.sha256}",
                  f"# model: {self.model.path.name}  sha256: {self.model.sha256}",
                  f"# payoff {self.payoff_kind} = {self.payoff:.6g}; method {self.method}; {self.n_evals} evaluations; "
                  f"{'converged' if self.success else 'NOT converged'}",
                  "# fit per series (n, R2, RMSE, MAPE %, Theil UM/US/UC):"]
        for col, r in self.fit.iterrows():
            header.append(f"#   {col}: n={int(r['n'])} R2={r['R2']:.4f} RMSE={r['RMSE']:.4g} MAPE={r['MAPE']:.2f} "
                          f"UM={r['UM']:.3f} US={r['US']:.3f} UC={r['UC']:.3f}")
        u = self.uncertainty
        header.append(f"# {int(round(u.level * 100))}% intervals ({u.method}):")
        for j, s in enumerate(self.specs):
            header.append(f"#   {s.name}: {self.values[s.name]:.6g} [{u.ci[j, 0]:.4g}, {u.ci[j, 1]:.4g}] {s.units}")
        for w in self.warnings:
            header.append(f"# warning: {w}")
        body: dict[str, Any] = {
            "name": name or path.stem,
            "description": f"Parameters fitted to {Path(obs.source).name} ({obs.n} observations).",
            "model": self._model_ref(path),
        }
        if self.time:
            body["time"] = dict(self.time)
        body["parameters"] = {k: _round(v) for k, v in self.params.items()}
        return "\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)

    def _model_ref(self, target: Path) -> str:
        try:
            from ..core.model import bundled_models

            bundled = {Path(p).resolve() for p in bundled_models().values()}
        except Exception:  # noqa: BLE001 - bundled listing is optional here
            bundled = set()
        mpath = self.model.path.resolve()
        if mpath in bundled:
            return mpath.stem
        try:
            return os.path.relpath(mpath, target.resolve().parent)
        except ValueError:  # different drives on Windows
            return str(mpath)


def save_plot(fig: Any, tmp: str | Path, path: str | Path) -> None:
    """Save the calibration figure to *tmp* in the format of *path*'s suffix (PNG by default)."""
    from ..outputs.plot import savefig_reproducible

    savefig_reproducible(fig, tmp, Path(path).suffix.lstrip(".").lower() or "png", 120)


def _round(v: float) -> float:
    """Shorten a float for a readable YAML file without losing meaningful digits (10 significant)."""
    return float(f"{float(v):.10g}")
