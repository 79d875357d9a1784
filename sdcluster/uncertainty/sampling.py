"""Parameter distributions and samples for Monte Carlo ensembles.

Declare uncertain parameters in Python::

    from sdcluster.uncertainty.sampling import Uncertain, Uniform, Normal
    u = Uncertain({"initial firms": Uniform(10, 30), "normal attraction fraction": Normal(0.07, 0.01)},
                  method="lhs", seed=42)
    samples = u.sample(1000)          # Samples: {name: array of 1000 values}

or in a YAML file (``sdcluster ensemble --uncertain params.yaml``)::

    # Uncertain parameters of the cluster life-cycle model
    method: lhs          # lhs (Latin hypercube, default) | random
    seed: 42             # optional; default 0 (results are always reproducible)
    runs: 1000           # optional; the command line's --runs wins
    parameters:          # model's own names or Python names
      initial firms:              {distribution: uniform, low: 10, high: 30}
      normal attraction fraction: {distribution: normal, mean: 0.07, sd: 0.01}
      knowledge absorption time:  {distribution: truncnormal, mean: 10, sd: 4, low: 3, high: 30}
      market size:                {distribution: triangular, low: 400, mode: 600, high: 900}
      trust building time:        {distribution: lognormal, mu: 1.0, sigma: 0.25}   # of log(value)

Every distribution maps a probability ``u`` in (0, 1) to a value through its
inverse cumulative distribution (:meth:`Distribution.ppf`); Latin hypercube
sampling draws one ``u`` in each of *n* equal strata per parameter, in an
independent random order per parameter, so every marginal is evenly covered.
The same seed gives the same samples on every machine.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np
import yaml
from scipy import stats

from ..errors import ParameterError, suggest

__all__ = ["Distribution", "Uniform", "Normal", "TruncatedNormal", "Triangular", "LogNormal",
           "DISTRIBUTIONS", "METHODS", "Uncertain", "Samples", "distribution_from_dict",
           "load_uncertain", "unit_sample"]

#: Sampling methods.
METHODS = ("lhs", "random")


def _finite(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise ParameterError(f"{where}: {what} = {value!r} is not a finite number")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Distribution:
    """Base class: a univariate distribution with an inverse CDF."""

    kind: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()

    def check(self, where: str = "distribution") -> None:
        """Raise :class:`ParameterError` naming *where* if the arguments are invalid."""
        for name in self.fields:
            _finite(getattr(self, name), name, where)

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Values at probabilities *u* in (0, 1)."""
        raise NotImplementedError

    @property
    def support(self) -> tuple[float, float]:
        """Smallest and largest possible values (may be infinite)."""
        u = np.array([0.0, 1.0])
        lo, hi = self.ppf(u)
        return float(lo), float(hi)

    def to_dict(self) -> dict[str, Any]:
        """``{"distribution": kind, field: value, ...}`` (the file format)."""
        return {"distribution": self.kind, **{f: float(getattr(self, f)) for f in self.fields}}

    def __str__(self) -> str:
        return f"{self.kind}(" + ", ".join(f"{f}={getattr(self, f):g}" for f in self.fields) + ")"


@dataclasses.dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform between *low* and *high* (``low < high``)."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"
    fields: ClassVar[tuple[str, ...]] = ("low", "high")

    def check(self, where: str = "uniform") -> None:
        super().check(where)
        if not self.low < self.high:
            raise ParameterError(f"{where}: low = {self.low:g} must be below high = {self.high:g}")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)


@dataclasses.dataclass(frozen=True)
class Normal(Distribution):
    """Normal with *mean* and standard deviation *sd* (``sd > 0``)."""

    mean: float
    sd: float
    kind: ClassVar[str] = "normal"
    fields: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def check(self, where: str = "normal") -> None:
        super().check(where)
        if not self.sd > 0:
            raise ParameterError(f"{where}: sd = {self.sd:g} must be positive")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return stats.norm.ppf(u, loc=self.mean, scale=self.sd)


@dataclasses.dataclass(frozen=True)
class TruncatedNormal(Distribution):
    """Normal(*mean*, *sd*) restricted to [*low*, *high*] (``sd > 0``, ``low < high``)."""

    mean: float
    sd: float
    low: float
    high: float
    kind: ClassVar[str] = "truncnormal"
    fields: ClassVar[tuple[str, ...]] = ("mean", "sd", "low", "high")

    def check(self, where: str = "truncnormal") -> None:
        super().check(where)
        if not self.sd > 0:
            raise ParameterError(f"{where}: sd = {self.sd:g} must be positive")
        if not self.low < self.high:
            raise ParameterError(f"{where}: low = {self.low:g} must be below high = {self.high:g}")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return np.clip(stats.truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd), self.low, self.high)


@dataclasses.dataclass(frozen=True)
class Triangular(Distribution):
    """Triangular on [*low*, *high*] with peak at *mode* (``low <= mode <= high``, ``low < high``)."""

    low: float
    mode: float
    high: float
    kind: ClassVar[str] = "triangular"
    fields: ClassVar[tuple[str, ...]] = ("low", "mode", "high")

    def check(self, where: str = "triangular") -> None:
        super().check(where)
        if not self.low < self.high:
            raise ParameterError(f"{where}: low = {self.low:g} must be below high = {self.high:g}")
        if not self.low <= self.mode <= self.high:
            raise ParameterError(f"{where}: mode = {self.mode:g} must lie between low = {self.low:g} "
                                 f"and high = {self.high:g}")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        c = (self.mode - self.low) / (self.high - self.low)
        return stats.triang.ppf(u, c, loc=self.low, scale=self.high - self.low)


@dataclasses.dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal: ``log(value)`` is Normal(*mu*, *sigma*) (``sigma > 0``); median ``exp(mu)``."""

    mu: float
    sigma: float
    kind: ClassVar[str] = "lognormal"
    fields: ClassVar[tuple[str, ...]] = ("mu", "sigma")

    def check(self, where: str = "lognormal") -> None:
        super().check(where)
        if not self.sigma > 0:
            raise ParameterError(f"{where}: sigma = {self.sigma:g} must be positive")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return stats.lognorm.ppf(u, self.sigma, scale=math.exp(self.mu))


#: Distribution names accepted in files, and their classes.
DISTRIBUTIONS: dict[str, type[Distribution]] = {
    cls.kind: cls for cls in (Uniform, Normal, TruncatedNormal, Triangular, LogNormal)}
_ALIASES = {"truncated_normal": "truncnormal", "truncated normal": "truncnormal", "triang": "triangular",
            "lognorm": "lognormal", "norm": "normal", "unif": "uniform"}


def distribution_from_dict(spec: Any, where: str = "distribution") -> Distribution:
    """Build a distribution from ``{"distribution": kind, field: value, ...}``.

    Raises
    ------
    ParameterError
        Naming *where*, for an unknown kind, missing or unknown fields, or
        invalid values (non-finite, ``sd <= 0``, ``low >= high``...).
    """
    if not isinstance(spec, Mapping):
        raise ParameterError(f"{where}: expected a mapping like {{distribution: uniform, low: 0, high: 1}}, "
                             f"got {spec!r}")
    kind = spec.get("distribution")
    if kind is None:
        raise ParameterError(f"{where}: missing 'distribution' (one of {', '.join(DISTRIBUTIONS)})")
    key = _ALIASES.get(str(kind).lower().strip(), str(kind).lower().strip())
    if key not in DISTRIBUTIONS:
        raise ParameterError(f"{where}.distribution: unknown distribution {kind!r}; valid: "
                             f"{', '.join(DISTRIBUTIONS)}.{suggest(str(kind), list(DISTRIBUTIONS))}")
    cls = DISTRIBUTIONS[key]
    args = {k: v for k, v in spec.items() if k != "distribution"}
    unknown = sorted(set(args) - set(cls.fields), key=str)
    if unknown:
        raise ParameterError(f"{where}: unknown field {unknown[0]!r} for a {key} distribution; it takes "
                             f"{', '.join(cls.fields)}.{suggest(str(unknown[0]), list(cls.fields))}")
    missing = [f for f in cls.fields if f not in args]
    if missing:
        raise ParameterError(f"{where}: a {key} distribution needs {', '.join(cls.fields)}; missing "
                             f"{', '.join(missing)}")
    values = {f: _finite(args[f], f, f"{where}.{f}") for f in cls.fields}
    dist = cls(**values)
    dist.check(where)
    return dist


def unit_sample(n: int, d: int, method: str = "lhs", seed: int | None = 0) -> np.ndarray:
    """Probabilities of shape ``(n, d)`` strictly inside (0, 1).

    ``lhs``: Latin hypercube (one point per stratum ``[k/n, (k+1)/n)`` in each
    column, strata in independent random order); ``random``: independent uniforms.
    """
    _check_runs(n)
    if method not in METHODS:
        raise ParameterError(f"sampling method {method!r} is unknown; valid: {', '.join(METHODS)}."
                             + suggest(str(method), list(METHODS)))
    rng = np.random.default_rng(seed)
    if method == "random":
        u = rng.random((n, d))
    else:
        jitter = rng.random((n, d))
        u = np.empty((n, d))
        for j in range(d):
            u[:, j] = (rng.permutation(n) + jitter[:, j]) / n
    tiny = np.finfo(float).eps
    return np.clip(u, tiny, 1 - tiny)


def _check_runs(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ParameterError(f"runs = {n!r}: the number of runs must be a positive whole number")
    return int(n)


class Samples(Mapping[str, np.ndarray]):
    """Sampled parameter values: ``{parameter name: array of n values}`` plus how they were drawn.

    Attributes
    ----------
    n : int
        Number of runs.
    meta : dict
        ``method``, ``seed`` and the distributions (for provenance).
    """

    def __init__(self, values: Mapping[str, Any], meta: Mapping[str, Any] | None = None):
        arrays = {str(k): np.asarray(v, dtype=float) for k, v in values.items()}
        sizes = {k: a.shape for k, a in arrays.items()}
        if any(len(s) != 1 for s in sizes.values()) or len({s[0] for s in sizes.values()}) > 1:
            raise ParameterError(f"samples must be 1-D arrays of equal length; got shapes {sizes}")
        self._values = arrays
        self.n = next(iter(sizes.values()))[0] if sizes else 0
        self.meta = dict(meta or {})

    def __getitem__(self, key: str) -> np.ndarray:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def subset(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Values of runs ``start..stop-1``."""
        return {k: v[start:stop] for k, v in self._values.items()}

    def to_dataset(self):
        """The samples as an :class:`xarray.Dataset` over ``run`` (one variable per parameter)."""
        import xarray as xr

        return xr.Dataset({k: ("run", v) for k, v in self._values.items()},
                          coords={"run": np.arange(self.n)})

    def __repr__(self) -> str:
        return f"<Samples n={self.n} parameters={list(self._values)}>"


@dataclasses.dataclass
class Uncertain:
    """A set of uncertain parameters, each with a distribution.

    Parameters
    ----------
    distributions
        ``{parameter name: Distribution or dict spec}`` (model's own or Python names).
    method
        ``"lhs"`` (Latin hypercube) or ``"random"``.
    seed
        Seed of the random generator (``None``: fresh entropy, not reproducible).
    runs
        Default number of runs (used when :meth:`sample` gets none).
    source
        Where the declaration came from (for error messages).
    """

    distributions: dict[str, Distribution]
    method: str = "lhs"
    seed: int | None = 0
    runs: int | None = None
    source: str = "uncertain parameters"

    def __post_init__(self) -> None:
        if not self.distributions:
            raise ParameterError(f"{self.source}: parameters: no uncertain parameters declared")
        checked = {}
        for name, dist in self.distributions.items():
            where = f"{self.source}: parameters.{name}"
            if not isinstance(dist, Distribution):
                dist = distribution_from_dict(dist, where)
            else:
                dist.check(where)
            checked[str(name)] = dist
        self.distributions = checked
        if self.method not in METHODS:
            raise ParameterError(f"{self.source}: method: {self.method!r} is unknown; valid: "
                                 f"{', '.join(METHODS)}.{suggest(str(self.method), list(METHODS))}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer))
                                      or self.seed < 0):
            raise ParameterError(f"{self.source}: seed: {self.seed!r} must be a non-negative whole number")
        if self.runs is not None:
            try:
                _check_runs(self.runs)
            except ParameterError as exc:
                raise ParameterError(f"{self.source}: {exc}") from None

    @property
    def names(self) -> list[str]:
        """Parameter names, in declaration order."""
        return list(self.distributions)

    def validate(self, model: Any) -> dict[str, str]:
        """Check every name against *model*'s parameters; return ``{name: python name}``.

        Raises
        ------
        ParameterError
            Naming the source, the field and the closest valid names.
        """
        valid = [p.name for p in model.parameters]
        py_of = {}
        for name in self.distributions:
            try:
                py = model.py_name(name)
            except Exception:
                py = None
            if py is None or py not in {p.py_name for p in model.parameters}:
                raise ParameterError(f"{self.source}: parameters.{name}: {model.path.name} has no parameter "
                                     f"{name!r}.{suggest(name, valid)}")
            if py in py_of.values():
                raise ParameterError(f"{self.source}: parameters.{name}: parameter given twice")
            py_of[name] = py
        return py_of

    def sample(self, n: int | None = None, *, seed: int | None | str = "default",
               method: str | None = None) -> Samples:
        """Draw *n* parameter sets (default: :attr:`runs`)."""
        n = self.runs if n is None else n
        if n is None:
            raise ParameterError(f"{self.source}: the number of runs is not given (runs: or --runs)")
        n = _check_runs(n)
        seed = self.seed if seed == "default" else seed
        method = method or self.method
        u = unit_sample(n, len(self.distributions), method, seed)
        values = {name: dist.ppf(u[:, j]) for j, (name, dist) in enumerate(self.distributions.items())}
        return Samples(values, {"method": method, "seed": seed, "source": self.source,
                                "distributions": {k: d.to_dict() for k, d in self.distributions.items()}})

    def transform(self, u: np.ndarray) -> Samples:
        """Map probabilities ``u`` of shape ``(n, d)`` to parameter values (used by sensitivity analysis)."""
        u = np.asarray(u, dtype=float)
        values = {name: dist.ppf(u[:, j]) for j, (name, dist) in enumerate(self.distributions.items())}
        return Samples(values, {"source": self.source,
                                "distributions": {k: d.to_dict() for k, d in self.distributions.items()}})

    def to_dict(self) -> dict[str, Any]:
        """The file format of this declaration."""
        out: dict[str, Any] = {"method": self.method, "seed": self.seed}
        if self.runs is not None:
            out["runs"] = self.runs
        out["parameters"] = {k: d.to_dict() for k, d in self.distributions.items()}
        return out


_FILE_FIELDS = ("method", "seed", "runs", "parameters")


def load_uncertain(path: str | Path) -> Uncertain:
    """Read an ``--uncertain`` YAML file (format in the module docstring).

    Raises
    ------
    ParameterError
        Naming the file and field: missing file, bad YAML, unknown fields or
        distributions, invalid arguments.
    """
    path = Path(path)
    label = str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"{label}: uncertain-parameter file not found") from None
    except OSError as exc:
        raise ParameterError(f"{label}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ParameterError(f"{label}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, Mapping):
        raise ParameterError(f"{label}: expected a mapping with 'parameters:' (and optional method, seed, runs)")
    for key in doc:
        if key not in _FILE_FIELDS:
            raise ParameterError(f"{label}: unknown field {key!r}; valid: {', '.join(_FILE_FIELDS)}."
                                 + suggest(str(key), list(_FILE_FIELDS)))
    params = doc.get("parameters")
    if not isinstance(params, Mapping) or not params:
        raise ParameterError(f"{label}: parameters: expected a mapping of parameter name to distribution, "
                             f"got {params!r}")
    return Uncertain(dict(params), method=str(doc.get("method", "lhs")), seed=doc.get("seed", 0),
                     runs=doc.get("runs"), source=label)
