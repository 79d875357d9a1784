r"""Payoff functions: how far a simulation is from the observations.

For series :math:`s` with :math:`n_s` non-missing observations
:math:`y_{si}`, simulated values :math:`m_{si}` (the model variable linearly
interpolated at the observation time), weight :math:`w_s` (default 1) and
optional known measurement error :math:`\sigma_s`:

``wss`` — weighted sum of squares, normalised per series
    .. math:: P = \sum_s \frac{w_s}{n_s} \sum_i \Big(\frac{y_{si}-m_{si}}{c_s}\Big)^2,
              \qquad c_s = \sigma_s \text{ if given, else } \overline{|y_s|}

    Dividing by :math:`c_s` makes series in different units comparable;
    dividing by :math:`n_s` keeps a long series from drowning a short one.

``gaussian`` — negative log-likelihood, independent normal errors
    .. math:: P = \sum_s w_s \Big[\frac{n_s}{2}\log(2\pi\sigma_s^2)
              + \frac{SSR_s}{2\sigma_s^2}\Big], \qquad SSR_s = \sum_i (y_{si}-m_{si})^2

    With :math:`\sigma_s` unknown it is estimated (profiled out) as
    :math:`\hat\sigma_s^2 = SSR_s/n_s`, giving
    :math:`P = \sum_s w_s \frac{n_s}{2}[\log(2\pi SSR_s/n_s) + 1]`.

``poisson`` — negative log-likelihood of counts (e.g. firm numbers)
    .. math:: P = \sum_s w_s \sum_i \big[m_{si} - y_{si}\log m_{si} + \log\Gamma(y_{si}+1)\big]

``negbin`` — negative binomial (NB2) for over-dispersed counts,
    variance :math:`m + \alpha_s m^2`, dispersion :math:`\alpha_s` per series
    profiled out over a log grid :math:`10^{-6} \ldots 10^{2}`:

    .. math:: P = -\sum_s w_s \sum_i \Big[\log\Gamma(y+\alpha^{-1}) - \log\Gamma(\alpha^{-1})
              - \log\Gamma(y+1) - \alpha^{-1}\log(1+\alpha m) + y\log\frac{\alpha m}{1+\alpha m}\Big]

A simulation that yields NaN/inf at an observation (or a non-positive mean for
the count payoffs) gets :math:`P = +\infty`: a bad point, not an error.

For least squares the same payoffs are written as residual vectors whose sum of
squares equals :math:`P` (``wss``), :math:`2P` up to a constant (``poisson``,
``negbin``: deviance residuals) or the Gaussian :math:`SSR` weighted by
:math:`w_s/\sigma_s^2` (``gaussian``), with the nuisance parameters
(:math:`\hat\sigma_s`, :math:`\alpha_s`) re-estimated between rounds — at the
fixed point this is the stationary point of the profiled likelihood.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, xlogy

from ..errors import CalibrationError
from .data import Observations

#: Payoff names accepted by :func:`sdcluster.calibrate.calibrate`.
PAYOFFS = ("wss", "gaussian", "poisson", "negbin")

#: Dispersion grid of the negative binomial payoff.
ALPHA_GRID = np.logspace(-6, 2, 321)


@dataclass
class Payoff:
    """A payoff over bound observations (see module docstring for formulas)."""

    kind: str
    obs: Observations

    def __post_init__(self) -> None:
        if self.kind not in PAYOFFS:
            raise CalibrationError(f"unknown payoff {self.kind!r}; choose one of {', '.join(PAYOFFS)}")
        self.y = [s.values for s in self.obs.series]
        self.w = np.array([s.weight for s in self.obs.series])
        self.n = np.array([s.n for s in self.obs.series])
        self.known_sigma = [s.sigma for s in self.obs.series]
        scale = []
        for s in self.obs.series:
            c = s.sigma if s.sigma is not None else float(np.mean(np.abs(s.values)))
            scale.append(c if c > 0 else 1.0)
        self.scale = np.array(scale)
        if self.kind in ("poisson", "negbin"):
            for s in self.obs.series:
                if np.any(s.values < 0):
                    raise CalibrationError(f"{self.obs.source}: payoff {self.kind!r} needs non-negative counts, "
                                           f"but series {s.column!r} has {float(s.values.min()):g}")

    @property
    def is_likelihood(self) -> bool:
        """True for negative log-likelihood payoffs."""
        return self.kind != "wss"

    # -- scalar payoff ----------------------------------------------------------
    def value(self, sims: list[np.ndarray]) -> np.ndarray:
        """Payoff of each run; *sims* holds one ``(N, n_s)`` array per series."""
        total = np.zeros(sims[0].shape[0])
        for k, (y, m) in enumerate(zip(self.y, sims)):
            total += self.w[k] * self._series_value(k, y, m)
        return np.where(np.isnan(total), np.inf, total)

    def _series_value(self, k: int, y: np.ndarray, m: np.ndarray) -> np.ndarray:
        bad = ~np.all(np.isfinite(m), axis=1)
        m = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(all="ignore"):
            if self.kind == "wss":
                out = np.sum(((y - m) / self.scale[k]) ** 2, axis=1) / self.n[k]
            elif self.kind == "gaussian":
                ssr = np.sum((y - m) ** 2, axis=1)
                sig = self.known_sigma[k]
                if sig is None:
                    floor = self.n[k] * (1e-12 * self.scale[k]) ** 2
                    out = self.n[k] / 2 * (np.log(2 * np.pi * np.maximum(ssr, floor) / self.n[k]) + 1)
                else:
                    out = self.n[k] / 2 * math.log(2 * np.pi * sig ** 2) + ssr / (2 * sig ** 2)
            elif self.kind == "poisson":
                bad |= np.any(m <= 0, axis=1)
                out = np.sum(m - xlogy(y, np.where(m > 0, m, 1.0)) + gammaln(y + 1), axis=1)
            else:
                bad |= np.any(m <= 0, axis=1)
                mm = np.where(m > 0, m, 1.0)
                out = np.min(self._nb_nll(y, mm, ALPHA_GRID[:, None, None]), axis=0)
        return np.where(bad, np.inf, out)

    @staticmethod
    def _nb_nll(y: np.ndarray, m: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
        """NB2 negative log-likelihood summed over the last axis."""
        r = 1.0 / alpha
        ll = (gammaln(y + r) - gammaln(r) - gammaln(y + 1) - r * np.log1p(alpha * m)
              + xlogy(y, alpha * m / (1 + alpha * m)))
        return -np.sum(ll, axis=-1)

    # -- nuisance parameters ---------------------------------------------------------
    def nuisance(self, sims: list[np.ndarray]) -> list[float | None]:
        """Estimated noise per series for one run (*sims*: 1-D arrays).

        ``gaussian``: :math:`\\sigma_s` (known or :math:`\\sqrt{SSR_s/n_s}`);
        ``negbin``: :math:`\\alpha_s`; otherwise ``None``.
        """
        out: list[float | None] = []
        for k, (y, m) in enumerate(zip(self.y, sims)):
            if self.kind == "gaussian":
                sig = self.known_sigma[k]
                if sig is None:
                    sig = max(float(np.sqrt(np.mean((y - m) ** 2))), 1e-12 * self.scale[k])
                out.append(sig)
            elif self.kind == "negbin":
                mm = np.maximum(m, 1e-300)
                out.append(float(ALPHA_GRID[np.argmin(self._nb_nll(y, mm, ALPHA_GRID[:, None]))]))
            else:
                out.append(None)
        return out

    # -- least squares form ----------------------------------------------------------
    def residuals(self, sims: list[np.ndarray], nuisance: list[float | None]) -> np.ndarray:
        """Residual vector of one run whose sum of squares the least-squares search minimises."""
        parts = []
        for k, (y, m) in enumerate(zip(self.y, sims)):
            with np.errstate(all="ignore"):
                if self.kind == "wss":
                    r = np.sqrt(self.w[k] / self.n[k]) * (y - m) / self.scale[k]
                elif self.kind == "gaussian":
                    r = np.sqrt(self.w[k]) * (y - m) / nuisance[k]
                else:
                    mm = np.where(m > 0, m, np.nan)
                    dev = 2 * (xlogy(y, y / mm) - (y - mm))
                    if self.kind == "negbin":
                        a = nuisance[k]
                        dev = 2 * (xlogy(y, y / mm) - (y + 1 / a) * np.log((1 + a * y) / (1 + a * mm)))
                    r = np.sqrt(self.w[k]) * np.sign(y - mm) * np.sqrt(np.maximum(dev, 0.0))
            parts.append(r)
        return np.concatenate(parts)

    def sd(self, sims: list[np.ndarray], nuisance: list[float | None]) -> np.ndarray:
        """Standard deviation of each observation under the payoff's error model.

        Used to whiten the Jacobian for the covariance. For ``wss`` this is
        :math:`c_s\\sqrt{n_s/w_s}`, to be multiplied by the residual scale
        :math:`s = \\sqrt{P/(n-p)}`.
        """
        parts = []
        for k, (y, m) in enumerate(zip(self.y, sims)):
            if self.kind == "wss":
                sd = np.full(y.shape, self.scale[k] * np.sqrt(self.n[k] / self.w[k]))
            elif self.kind == "gaussian":
                sd = np.full(y.shape, nuisance[k] / np.sqrt(self.w[k]))
            elif self.kind == "poisson":
                sd = np.sqrt(np.maximum(m, 1e-12) / self.w[k])
            else:
                a = nuisance[k]
                sd = np.sqrt(np.maximum(m + a * m ** 2, 1e-12) / self.w[k])
            parts.append(sd)
        return np.concatenate(parts)

    def deviance_scale(self, best: float, n_obs: int, n_par: int) -> float:
        """Factor turning payoff differences into :math:`\\Delta(-2\\log L)`.

        2 for likelihood payoffs; :math:`1/s^2 = (n-p)/P` for ``wss``.
        """
        if self.is_likelihood:
            return 2.0
        dof = max(n_obs - n_par, 1)
        return dof / best if best > 0 else math.inf
