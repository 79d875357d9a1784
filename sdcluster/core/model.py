"""Load a Vensim/XMILE model through PySD and run it into xarray.

>>> import sdcluster
>>> model = sdcluster.load_model("cluster_lifecycle")          # doctest: +SKIP
>>> [p.name for p in model.parameters][:3]                      # doctest: +SKIP
>>> ds = model.run(params={"initial firms": 20}, final_time=40)  # doctest: +SKIP
"""
from __future__ import annotations

import importlib.resources
import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pysd
import xarray as xr

from .. import __version__
from .checked_load import load_pysd_model
from .engine import Engine, RunSettings, _batch_size, _run_value
from ..errors import ModelLoadError, ParameterError, RunError, suggest
from .translate import VENSIM_SUFFIXES, XMILE_SUFFIXES, cache_root, checked_source, translate

log = logging.getLogger(__name__)

#: PySD names of the simulation control variables.
CONTROL_VARS = ("initial_time", "final_time", "time_step", "saveper")

#: Execution engines a Model can use (see :class:`Model`).
ENGINES = ("auto", "compiled", "pysd")

#: From this many runs in one batch, ``engine="auto"`` uses the vectorised PySD engine (when the
#: model allows it): the compiled kernel runs the parameter sets one after another, the vectorised
#: engine's per-step overhead is shared by all of them (measured crossover on cluster_policy:
#: 2,000-5,000 runs, benchmarks/bench_compiled.py).
LARGE_BATCH = 3000


@dataclass(frozen=True)
class VariableInfo:
    """One entry of a model's catalogue.

    Attributes
    ----------
    name : str
        The model's own name (``"initial firms"``).
    py_name : str
        PySD's Python name (``"initial_firms"``), used for Dataset variables.
    units : str
        Units as written in the model ('' when none).
    description : str
        The model's comment for the variable.
    limits : tuple of float
        Declared range ``(low, high)``; ``nan`` where open.
    kind : str
        PySD type (``Constant``, ``Stateful``, ``Auxiliary``, ``Lookup``...).
    subtype : str
        PySD subtype (``Normal``, ``Integ``, ``Smooth``...).
    default : float or None
        The value in the model file, for scalar constants.
    subscripted : bool
        True for subscripted (array) variables.
    """

    name: str
    py_name: str
    units: str
    description: str
    limits: tuple[float, float]
    kind: str
    subtype: str
    default: float | None = None
    subscripted: bool = False

    def in_limits(self, value: float) -> bool:
        """True when *value* lies within the declared range (open ends allowed)."""
        lo, hi = self.limits
        return not (not math.isnan(lo) and value < lo) and not (not math.isnan(hi) and value > hi)

    def range_text(self) -> str:
        """The declared range as ``[lo, hi]`` with ``?`` for open ends."""
        lo, hi = ("?" if math.isnan(v) else f"{v:g}" for v in self.limits)
        return f"[{lo}, {hi}]"


def bundled_models() -> dict[str, Path]:
    """Return ``{file name: path}`` of every model shipped with sdcluster."""
    root = importlib.resources.files("sdcluster.bundled_models")
    out = {}
    for entry in root.iterdir():
        if entry.name.lower().endswith(VENSIM_SUFFIXES + XMILE_SUFFIXES):
            out[entry.name] = Path(str(entry))
    return dict(sorted(out.items()))


def resolve_model_path(path_or_name: str | Path) -> Path:
    """Turn a path or a bundled model name into an existing model file path.

    A bundled name without extension (``"cluster_lifecycle"``) picks the
    Vensim file; ``"cluster_lifecycle.xmile"`` picks the XMILE twin.
    """
    path = Path(path_or_name).expanduser()
    if path.exists():
        if path.is_dir():
            raise ModelLoadError(f"{path}: is a folder, not a model file")
        return path
    bundled = bundled_models()
    name = path.name
    if str(path_or_name) == name:  # a bare name: look among bundled models
        for candidate in (name, name + ".mdl", name + ".xmile"):
            if candidate in bundled:
                return bundled[candidate]
    if path.suffix and path.suffix.lower() not in VENSIM_SUFFIXES + XMILE_SUFFIXES:
        raise ModelLoadError(f"{path}: unsupported model file type {path.suffix!r}; expected one of "
                             f"{', '.join(VENSIM_SUFFIXES + XMILE_SUFFIXES)}")
    stems = sorted({Path(b).stem for b in bundled})
    hint = suggest(Path(name).stem, stems)
    raise ModelLoadError(f"{path}: model file not found, and not a bundled model name "
                         f"(bundled: {', '.join(stems) or 'none'}).{hint}")


def load_model(path_or_name: str | Path, *, engine: str = "auto") -> "Model":
    """Load a Vensim (``.mdl``) or XMILE (``.xmile``/``.xml``/``.stmx``) model.

    Parameters
    ----------
    path_or_name
        A model file path, or the name of a model bundled with sdcluster.
    engine
        ``"auto"`` (default): runs use the compiled kernel
        (:mod:`sdcluster.core.compiled`, built on the first run and cached on disk)
        when the model compiles, else the PySD engine (the reason is logged);
        ``"compiled"``: the same, but a model that cannot be compiled raises
        :class:`~sdcluster.errors.RunError` on its first run; ``"pysd"``:
        always the PySD engine (:mod:`sdcluster.core.engine`).

    Returns
    -------
    Model
        Ready to :meth:`~Model.run`.

    Raises
    ------
    ModelLoadError
        Missing file, unsupported type, or a model PySD cannot translate or
        initialise. :class:`~sdcluster.errors.UnsafeModelError` (a subclass)
        when the translation contains code a model must not contain.

    Notes
    -----
    The translation is cached by content hash (see :mod:`sdcluster.core.translate`);
    nothing is ever written next to the model file.
    """
    if engine not in ENGINES:
        raise ModelLoadError(f"engine {engine!r} is not one of {', '.join(ENGINES)}{suggest(str(engine), ENGINES)}")
    path = resolve_model_path(path_or_name)
    translation = translate(path)
    source = checked_source(translation)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pysd_model = load_pysd_model(translation, path)
    except ModelLoadError:
        raise
    except RecursionError:
        raise ModelLoadError(f"{path}: the model failed to initialise in PySD: its initial values run into "
                             "simultaneous equations (an algebraic loop: variables that depend on each other "
                             "without a stock or delay between them); put a stock, SMOOTH or DELAY on the "
                             "loop") from None
    except Exception as exc:  # errors raised while evaluating the model's initial values
        detail = " ".join(str(exc).split())
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise ModelLoadError(f"{path}: the model failed to initialise in PySD: "
                             f"{type(exc).__name__}: {detail}") from None
    _reject_algebraic_loops(path, pysd_model)
    return Model(path, translation.source_sha256, translation.format, pysd_model, engine=engine, source=source)


def _reject_algebraic_loops(path: Path, pysd_model: Any) -> None:
    """Raise :class:`ModelLoadError` naming the first algebraic loop of the model, if it has one.

    Simultaneous equations (variables that depend on each other with no stock
    or delay between them) cannot be simulated step by step: PySD would recurse
    until Python's limit. Vensim reports them as "simultaneous equations" when
    the model is checked; so does sdcluster, at load time (a few milliseconds).
    """
    from ..analysis import graph  # the causal graph is read from PySD's dependency records

    g = graph.from_pysd(pysd_model)
    loops = graph.algebraic_loops(g)
    if loops:
        loop = " → ".join(g.display(n) for n in loops[0] + loops[0][:1])
        raise ModelLoadError(f"{path}: simultaneous equations (an algebraic loop without a stock or delay): "
                             f"{loop}; the model cannot be simulated step by step — put a stock, SMOOTH or "
                             "DELAY on the loop")


class Model:
    """A loaded model: its catalogue and a fast, isolated :meth:`run`.

    Use :func:`load_model` to create one. A Model is not thread-safe: use one
    instance per thread or process.
    """

    def __init__(self, path: Path, sha256: str, fmt: str, pysd_model: Any, *, engine: str = "pysd",
                 source: str | None = None):
        self.path = Path(path)
        self.engine = engine
        self._source = source  # checked translation text, input of the kernel generator
        self._compiled: Any = None  # CompiledModel, False when it cannot be compiled, None before trying
        self._coords_cache: dict[tuple, xr.Dataset] = {}  # coordinate-only Datasets of recent time grids
        self.compile_failure: str | None = None
        self.name = self.path.stem
        self.sha256 = sha256
        self.format = fmt
        self.pysd = pysd_model
        self._engine = Engine(pysd_model)
        # the file's time settings never change after loading; reading them resets the engine
        self._defaults = self._engine.default_settings()
        doc = pysd_model.doc  # a property PySD rebuilds on every access
        self._catalogue = _catalogue(doc, pysd_model)
        self.time_units = _time_units(doc)
        self._by_py = {v.py_name: v for v in self._catalogue}
        self._by_name = {v.name.lower(): v for v in self._catalogue}

    def __repr__(self) -> str:
        return (f"<sdcluster.Model {self.path.name} ({self.format}): {len(self.stocks)} stocks, "
                f"{len(self.parameters)} parameters>")

    # -- catalogue ----------------------------------------------------------
    @property
    def variables(self) -> list[VariableInfo]:
        """Every model variable (control variables excluded)."""
        return [v for v in self._catalogue if v.py_name not in CONTROL_VARS]

    @property
    def parameters(self) -> list[VariableInfo]:
        """Scalar constants a run may override."""
        return [v for v in self.variables if v.kind == "Constant" and v.default is not None]

    @property
    def stocks(self) -> list[VariableInfo]:
        """Stocks (INTEG variables)."""
        return [v for v in self.variables if v.kind == "Stateful" and v.subtype in ("Integ", "NonNegativeInteg")]

    @property
    def time_settings(self) -> dict[str, Any]:
        """The model file's ``initial_time``, ``final_time``, ``time_step``, ``saveper`` and ``time_units``."""
        return {**self._defaults.__dict__, "time_units": self.time_units}

    @property
    def vectorisable(self) -> bool:
        """True when :meth:`run_batch` evaluates all parameter sets in one pass."""
        return self.compiled is not None or self._engine.vectorisable

    @property
    def compiled(self) -> Any:
        """The compiled kernel (:class:`sdcluster.core.compiled.CompiledModel`), or ``None``.

        Built on first access (a few seconds, then cached on disk); ``None``
        with ``engine="pysd"`` or when the model cannot be compiled (the reason
        is logged and kept in :attr:`compile_failure`).
        """
        if self._compiled is None:
            self._compiled = False
            if self.engine != "pysd" and self._source is not None:
                from .compiled import Uncompilable, compile_translation

                try:
                    self._compiled = compile_translation(self._source, cache_root())
                except Uncompilable as exc:
                    self.compile_failure = str(exc)
                    log.info("%s: runs use the PySD engine (cannot compile: %s)", self.path.name, exc)
                except Exception as exc:  # Numba or the file system failed: never wrong, only slower
                    self.compile_failure = f"compilation failed ({type(exc).__name__}: {exc})"
                    log.warning("%s: runs use the PySD engine (%s)", self.path.name, self.compile_failure)
        return self._compiled or None

    def info(self, name: str) -> VariableInfo:
        """Catalogue entry for a model name or Python name."""
        return self._by_py[self.py_name(name)]

    def py_name(self, name: str) -> str:
        """Return the Python name of a variable given its model name or Python name.

        Raises
        ------
        ParameterError
            With the closest names when *name* is unknown.
        """
        if name in self._by_py:
            return name
        hit = self._by_name.get(str(name).lower().strip())
        if hit is not None:
            return hit.py_name
        valid = [v.name for v in self.variables]
        raise ParameterError(f"{self.path.name}: unknown variable {name!r}.{suggest(str(name), valid)}")

    # -- running ------------------------------------------------------------
    def run(self, params: Mapping[str, Any] | None = None, *, initial_time: float | None = None,
            final_time: float | None = None, time_step: float | None = None, saveper: float | None = None,
            outputs: Sequence[str] | None = None, check_limits: bool = True,
            progress: bool = False) -> xr.Dataset:
        """Simulate once from the model's initial state.

        Parameters
        ----------
        params
            Overrides ``{name: value}``; names are the model's own or Python
            names; values are numbers or callables of model time ``f(t)``
            (time schedules, see :mod:`sdcluster.scenarios.schedules`).
        initial_time, final_time, time_step, saveper
            Override the model's time settings (model time units).
        outputs
            Variables to return; default: every stock and auxiliary.
        check_limits
            Refuse constant values outside a parameter's declared range.
        progress
            Show a progress bar.

        Returns
        -------
        xarray.Dataset
            Dimension ``time``; one variable per output named by Python name
            with ``units``, ``long_name`` and ``description`` attributes;
            provenance in ``attrs``.
        """
        resolved = self._resolve_params(params or {}, check_limits)
        settings = self._settings(initial_time, final_time, time_step, saveper)
        names = self._outputs(outputs)
        with _progress_bar(progress, settings) as bar:
            times, values = self._simulate(resolved, settings, names, bar)
        return self._dataset(times, values, resolved, settings, dims=("time",))

    def run_batch(self, params: Mapping[str, Any], *, initial_time: float | None = None,
                  final_time: float | None = None, time_step: float | None = None,
                  saveper: float | None = None, outputs: Sequence[str] | None = None,
                  check_limits: bool = True) -> xr.Dataset:
        """Simulate *N* parameter sets; equal to *N* calls of :meth:`run`.

        Parameters
        ----------
        params
            ``{name: value}`` where at least one value is a 1-D array of
            length *N* (or a schedule callable with a ``batch_size`` of *N*,
            such as an ensemble's sampled base plus policy); scalars and other
            callables apply to every run.

        Returns
        -------
        xarray.Dataset
            Dimensions ``("run", "time")``. Each run's NaN results are kept
            (a parameter set that drives the model to NaN does not stop the
            others).

        Notes
        -----
        Vectorisable models (no subscripts, delays of fixed length, data or
        external functions) run all *N* sets in one pass; others fall back to
        a loop of :meth:`run`, logging the reason once.
        """
        resolved, settings, names = self._prepare_batch(params, check_limits, initial_time, final_time,
                                                        time_step, saveper, outputs)
        # the engines evaluate all sets in one pass, or one by one (logging why)
        times, values = self._simulate(resolved, settings, names)
        values = {k: v.T for k, v in values.items()}  # (run, time)
        return self._dataset(times, values, resolved, settings, dims=("run", "time"))

    def run_arrays(self, params: Mapping[str, Any] | None = None, *, batch: bool = False,
                   initial_time: float | None = None, final_time: float | None = None,
                   time_step: float | None = None, saveper: float | None = None,
                   outputs: Sequence[str] | None = None,
                   check_limits: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """:meth:`run` (or :meth:`run_batch` with ``batch=True``) returning plain arrays.

        For callers that run a model many times and read a few outputs
        (calibration): the same numbers without building a Dataset.

        Returns
        -------
        times : numpy.ndarray
            Saved times, shape ``(T,)``.
        values : dict
            ``{py_name: array}`` of shape ``(T,)``, or ``(N, T)`` with ``batch=True``.
        """
        if batch:
            resolved, settings, names = self._prepare_batch(params or {}, check_limits, initial_time, final_time,
                                                            time_step, saveper, outputs)
            times, values = self._simulate(resolved, settings, names)
            return times, {k: v.T for k, v in values.items()}
        resolved = self._resolve_params(params or {}, check_limits)
        settings = self._settings(initial_time, final_time, time_step, saveper)
        return self._simulate(resolved, settings, self._outputs(outputs))

    # -- helpers ------------------------------------------------------------
    def _prepare_batch(self, params: Mapping[str, Any], check_limits: bool, initial_time: float | None,
                       final_time: float | None, time_step: float | None, saveper: float | None,
                       outputs: Sequence[str] | None) -> tuple[dict[str, Any], RunSettings, list[str]]:
        """Validate the arguments of :meth:`run_batch`."""
        arrays, batched = {}, {}
        for key, value in params.items():
            if callable(value):
                if getattr(value, "batch_size", None) is not None:
                    batched[key] = value  # a schedule carrying one base value per run
            elif np.ndim(value) > 0:
                arrays[key] = np.asarray(value, dtype=float)
        sizes = {k: a.shape for k, a in arrays.items()}
        sizes.update({k: (v.batch_size,) for k, v in batched.items()})
        if not sizes:
            raise RunError("run_batch needs at least one parameter given as a 1-D array")
        if any(len(s) != 1 for s in sizes.values()) or len({s[0] for s in sizes.values()}) != 1:
            raise RunError(f"run_batch parameter arrays must be 1-D and of equal length; got {sizes}")
        resolved = self._resolve_params({k: v for k, v in params.items() if k not in arrays}, check_limits)
        for key, arr in arrays.items():
            py = self._check_settable(key)
            self._check_values(py, arr, check_limits)
            resolved[py] = arr
        return resolved, self._settings(initial_time, final_time, time_step, saveper), self._outputs(outputs)

    def _simulate(self, params: Mapping[str, Any], settings: RunSettings, names: list[str],
                  progress: Any = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Run on the compiled kernel when possible, else on the PySD engine.

        Runs whose outputs are not all finite are made again on the PySD engine,
        so that a run PySD would stop with an error (division by zero...) does
        so here too, and NaN/inf results are PySD's own.
        """
        batch = _batch_size(params)
        if (self.engine == "auto" and batch is not None and batch >= LARGE_BATCH
                and self._engine.vectorisable):
            return self._engine.run(params, settings, names, progress)
        compiled = self.compiled
        if compiled is None:
            if self.engine == "compiled":
                raise RunError(f"{self.path.name}: cannot run compiled: {self.compile_failure}")
            return self._engine.run(params, settings, names, progress)
        reason = compiled.unsupported(params, names)
        if reason is not None:
            if self.engine == "compiled":
                raise RunError(f"{self.path.name}: cannot run compiled: {reason}")
            log.info("%s: this run uses the PySD engine (%s)", self.path.name, reason)
            return self._engine.run(params, settings, names, progress)
        times, values, finite = compiled.run(params, settings, names, batch)
        if progress is not None:
            progress(int(round((settings.final_time - settings.initial_time) / settings.time_step)))
        if finite.all():
            return times, values
        if batch is None:
            return self._engine.run(params, settings, names)
        for i in np.flatnonzero(~finite):  # PySD's numbers for the runs that went non-finite
            _, one = self._engine.run({k: _run_value(v, i) for k, v in params.items()}, settings, names)
            for name, arr in one.items():
                values[name][:, i] = arr
        return times, values

    def loops(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> xr.Dataset:
        """Loop dominance over one run (Loops that Matter): see :func:`sdcluster.analysis.loops.dominance`."""
        from ..analysis.loops import dominance

        return dominance(self, params, **kwargs)

    # -- helpers ------------------------------------------------------------
    def _check_settable(self, name: str) -> str:
        try:
            py = self.py_name(name)
        except ParameterError:
            valid = [v.name for v in self.parameters]
            raise ParameterError(f"{self.path.name}: unknown parameter {name!r}.{suggest(str(name), valid)}") from None
        info = self._by_py[py]
        if info not in self.parameters:
            raise ParameterError(f"{self.path.name}: {info.name!r} is a {info.kind.lower()} "
                                 f"({info.subtype}), not a constant parameter; it cannot be set")
        return py

    def _check_values(self, py: str, values: Any, check_limits: bool) -> None:
        info = self._by_py[py]
        arr = np.atleast_1d(values)
        if not np.all(np.isfinite(arr)):
            raise ParameterError(f"{self.path.name}: parameter {info.name!r}: value {values!r} is not a finite number")
        if check_limits:
            bad = [float(v) for v in arr if not info.in_limits(float(v))]
            if bad:
                raise ParameterError(f"{self.path.name}: parameter {info.name!r}: value {bad[0]:g} is outside "
                                     f"its declared range {info.range_text()} ({info.units or 'dimensionless'})")

    def _resolve_params(self, params: Mapping[str, Any], check_limits: bool) -> dict[str, Any]:
        resolved: dict[str, Any] = {}
        for key, value in params.items():
            py = self._check_settable(key)
            if py in resolved:
                raise ParameterError(f"{self.path.name}: parameter {self._by_py[py].name!r} is given twice")
            if callable(value):
                resolved[py] = value
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ParameterError(f"{self.path.name}: parameter {self._by_py[py].name!r}: value {value!r} "
                                     "is not a number (or a schedule callable)")
            self._check_values(py, float(value), check_limits)
            resolved[py] = float(value)
        return resolved

    def _settings(self, initial_time, final_time, time_step, saveper) -> RunSettings:
        d = self._defaults
        s = RunSettings(
            d.initial_time if initial_time is None else initial_time,
            d.final_time if final_time is None else final_time,
            d.time_step if time_step is None else time_step,
            saveper if saveper is not None else (d.saveper if time_step is None else max(d.saveper, time_step)),
        )
        for field_name, value in s.__dict__.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value):
                raise RunError(f"{self.path.name}: {field_name} = {value!r} is not a finite number")
        if s.final_time <= s.initial_time:
            raise RunError(f"{self.path.name}: final_time {s.final_time:g} must be after initial_time "
                           f"{s.initial_time:g} ({self.time_units})")
        if s.time_step <= 0:
            raise RunError(f"{self.path.name}: time_step {s.time_step:g} must be positive ({self.time_units})")
        if s.saveper <= 0 or s.saveper < s.time_step * (1 - 1e-9):
            raise RunError(f"{self.path.name}: saveper {s.saveper:g} must be positive and at least the time "
                           f"step {s.time_step:g}")
        steps = (s.final_time - s.initial_time) / s.time_step
        if steps > 10_000_000:
            raise RunError(f"{self.path.name}: {steps:.3g} time steps requested; the limit is 10,000,000")
        return RunSettings(*(float(v) for v in s.__dict__.values()))

    def _outputs(self, outputs: Sequence[str] | None) -> list[str]:
        if outputs is None:
            return [v.py_name for v in self.variables
                    if v.kind in ("Stateful", "Auxiliary") and not v.subscripted]
        if isinstance(outputs, str):
            outputs = [outputs]
        names = []
        for name in outputs:
            py = self.py_name(name)
            if py not in names:
                names.append(py)
        return names

    def _dataset(self, times: np.ndarray, values: dict[str, np.ndarray], params: Mapping[str, Any],
                 settings: RunSettings, dims: tuple[str, ...]) -> xr.Dataset:
        data_vars = {}
        for name, arr in values.items():
            info = self._by_py[name]
            data_vars[name] = xr.Variable(dims, arr, attrs={
                "units": info.units, "long_name": info.name, "description": info.description})
        n = next(iter(values.values())).shape[0] if values and "run" in dims else 0
        key = (dims, n, times.tobytes())
        base = self._coords_cache.get(key)
        if base is None:
            coords = {"time": ("time", times, {"units": self.time_units, "long_name": "Time",
                                                "standard_name": "time"})}
            if "run" in dims:
                coords["run"] = ("run", np.arange(n), {"long_name": "ensemble run index"})
            base = xr.Dataset(coords=coords)
            if len(self._coords_cache) > 8:
                self._coords_cache.clear()
            self._coords_cache[key] = base
        ds = _fast_dataset(base, data_vars, self.provenance(params, settings))
        _warn_non_finite(ds, self.path)
        return ds

    def provenance(self, params: Mapping[str, Any], settings: RunSettings) -> dict[str, Any]:
        """Dataset attributes describing how a result was produced."""
        return {
            "title": f"sdcluster run of {self.path.name}",
            "model_file": self.path.name,
            "model_sha256": self.sha256,
            "model_format": self.format,
            "parameters": json.dumps({self._by_py[k].name: _describe(v) for k, v in params.items()},
                                     sort_keys=True),
            "initial_time": settings.initial_time,
            "final_time": settings.final_time,
            "time_step": settings.time_step,
            "saveper": settings.saveper,
            "time_units": self.time_units,
            "sdcluster_version": __version__,
            "pysd_version": pysd.__version__,
            "numpy_version": np.__version__,
            "xarray_version": xr.__version__,
            "Conventions": "CF-1.8",
        }


def _fast_dataset(base: xr.Dataset, data_vars: dict[str, xr.Variable], attrs: dict[str, Any]) -> xr.Dataset:
    """``xr.Dataset(data_vars, coords=base.coords, attrs=attrs)`` without the merge of aligned variables.

    Every variable is built on the dimensions of *base* (a Dataset holding only
    the coordinates, reused between runs), so xarray's alignment and merge
    (most of the cost of a fast run) have nothing to do; the Dataset is
    assembled directly (``_construct_direct``, xarray's internal constructor,
    with the public one as fallback).
    """
    construct = getattr(xr.Dataset, "_construct_direct", None)
    if construct is None:  # pragma: no cover - older/newer xarray without the internal constructor
        return xr.Dataset(data_vars, coords=base.coords, attrs=attrs)
    variables = {k: v.copy(deep=False) for k, v in base._variables.items()}
    variables.update(data_vars)
    return construct(variables, set(base._coord_names), dict(base.sizes), dict(attrs), dict(base._indexes))


def _describe(value: Any) -> Any:
    """JSON-friendly description of a parameter value."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if callable(value):
        return repr(value)
    if isinstance(value, np.ndarray):
        return {"array": {"n": int(value.size), "min": float(value.min()), "max": float(value.max())}}
    return float(value)


def _time_units(doc: Any) -> str:
    row = doc[doc["Py Name"] == "time_step"]
    units = str(row["Units"].iloc[0]) if len(row) else ""
    return "" if units in ("nan", "None") else units


def _clean(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "nan" else str(value)


def _catalogue(doc: Any, pysd_model: Any) -> list[VariableInfo]:
    """Read the catalogue from PySD's ``doc`` table and the initialised model."""
    out = []
    for row in doc.to_dict("records"):
        py = row["Py Name"]
        if py == "time":
            continue
        limits = row.get("Limits") or (np.nan, np.nan)
        if not isinstance(limits, tuple):
            limits = (np.nan, np.nan)
        lo, hi = (float(limits[0]) if len(limits) > 0 else np.nan, float(limits[1]) if len(limits) > 1 else np.nan)
        kind, subtype = _clean(row.get("Type")), _clean(row.get("Subtype"))
        subscripted = bool(row.get("Subscripts"))
        default = None
        if kind == "Constant" and not subscripted and py not in CONTROL_VARS:
            try:
                value = getattr(pysd_model.components, py)()
                default = float(value)
            except (TypeError, ValueError, AttributeError, NameError):
                default = None
        out.append(VariableInfo(name=_clean(row["Real Name"]), py_name=py, units=_clean(row.get("Units")),
                                description=_clean(row.get("Comment")), limits=(lo, hi), kind=kind,
                                subtype=subtype, default=default, subscripted=subscripted))
    return out


class _NullBar:
    def __call__(self, n: int) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _TqdmBar(_NullBar):
    def __init__(self, total: int):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, unit="step", desc="simulating", leave=False)

    def __call__(self, n: int) -> None:
        self._bar.update(n)

    def __exit__(self, *exc):
        self._bar.close()
        return False


def _progress_bar(enabled: bool, settings: RunSettings) -> _NullBar:
    if not enabled:
        return _NullBar()
    total = int(round((settings.final_time - settings.initial_time) / settings.time_step))
    return _TqdmBar(total)


def _warn_non_finite(ds: xr.Dataset, path: Path) -> None:
    """Log a warning naming the variables that became infinite or NaN (e.g. ``--set rate=1e308``)."""
    bad = []
    for name, var in ds.data_vars.items():
        values = np.asarray(var.values)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            first = np.argwhere(~np.isfinite(values))[0]
            bad.append(f"{var.attrs.get('long_name', name)} (from time {float(ds['time'].values[first[-1]]):g})"
                       if var.dims[-1] == "time" else str(var.attrs.get("long_name", name)))
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        log.warning("%s: the run produced infinite or NaN values in %s; check parameter values "
                    "(a value near 1e308 overflows)", path.name, shown)
