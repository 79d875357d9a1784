"""Ensembles: many parameter sets through one model, in vectorised chunks, locally or on Dask.

>>> from sdcluster.uncertainty.sampling import Uncertain, Uniform
>>> samples = Uncertain({"market size": Uniform(400, 800)}, seed=1).sample(10_000)   # doctest: +SKIP
>>> ds = run_ensemble(["scenarios/baseline.yaml", "scenarios/brokering_timing.yaml"], samples)  # doctest: +SKIP
>>> ds.firms.dims                                                                      # doctest: +SKIP
('scenario', 'run', 'time')

How it works. The runs are cut into chunks of ``chunk_size``; each chunk is
one call of :meth:`sdcluster.core.model.Model.run_batch`, which carries arrays of
shape ``(chunk,)`` through PySD's translated equations (see
:mod:`sdcluster.core.engine`) and equals the same runs made one by one with plain
PySD to 1e-9 relative. Chunks run one after another (``workers=1``), on a
local process pool (``workers=k``), or on a Dask distributed cluster
(``scheduler=`` a :class:`distributed.Client` or a scheduler address). The
chunk boundaries depend only on ``chunk_size``, so every back-end returns
bit-identical numbers.

Samples on top of scenarios. Each scenario's parameters and policies are
applied first; a sampled parameter then replaces the scenario's constant for
that parameter, run by run. When the scenario also schedules a policy on it,
the sample replaces the *base* value and the policy is still added
(``value(t) = sample + policy(t)``). Every scenario sees the same samples
(common random numbers), so scenario differences within a run are paired.

Initial values. A stock's initial value is set per run through the constant
its INTEG refers to (e.g. ``initial firms``): sample that constant.

Runs that fail numerically (NaN or infinite values in any output) are kept,
flagged in the ``failed`` variable and listed in a logged warning; the other
runs are unaffected.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..errors import ParameterError, RunError, ScenarioError, SdclusterError, suggest
from .sampling import Samples

if TYPE_CHECKING:  # pragma: no cover
    from ..core.model import Model
    from ..scenarios.scenario import Scenario

log = logging.getLogger(__name__)

__all__ = ["run_ensemble", "DEFAULT_CHUNK_SIZE", "DEFAULT_MAX_MEMORY", "EnsembleSize", "failed_runs",
           "format_bytes"]

#: Runs per vectorised chunk: large enough that NumPy work dominates the per-step
#: Python overhead, small enough to keep the working set in cache and memory bounded.
DEFAULT_CHUNK_SIZE = 5000

#: Refuse an ensemble whose estimated memory exceeds this many bytes (``max_memory=``, ``--max-memory``).
DEFAULT_MAX_MEMORY = 2 * 1024**3

SCENARIO_SUFFIXES = (".yaml", ".yml")


# --------------------------------------------------------------------------- size guard
@dataclasses.dataclass(frozen=True)
class EnsembleSize:
    """What an ensemble will hold, estimated before it runs.

    The result is ``scenarios x runs x times x outputs`` float64 numbers (plus
    one ``failed`` flag per scenario and run); the netCDF file holds the same
    numbers uncompressed. Memory adds to the result the chunks in flight
    (one per worker, plus the one being copied) or, afterwards, one
    variable's copy for percentile bands, whichever is larger.
    """

    runs: int
    scenarios: int
    times: int
    outputs: int
    chunk_size: int
    workers: int

    @property
    def file_bytes(self) -> int:
        """Approximate size of the written netCDF file."""
        return self.scenarios * self.runs * (self.times * self.outputs * 8 + 1)

    @property
    def memory_bytes(self) -> int:
        """Approximate peak memory of the results (the Python process itself not included)."""
        chunk = min(self.chunk_size, self.runs) * self.times * self.outputs * 8
        one_variable = self.scenarios * self.runs * self.times * 8
        return self.file_bytes + max((self.workers + 1) * chunk, one_variable)

    def describe(self) -> str:
        """``"20000 runs x 24 scenarios x 61 saved times x 150 outputs"``."""
        return (f"{self.runs} runs x {self.scenarios} scenario(s) x {self.times} saved times x "
                f"{self.outputs} output variable(s)")

    def check(self, max_memory: float | None) -> None:
        """Raise :class:`RunError` if the estimated memory exceeds *max_memory* bytes (``None``: no limit)."""
        if max_memory is None or self.memory_bytes <= max_memory:
            return
        raise RunError(
            f"ensemble too large: {self.describe()} needs about {format_bytes(self.memory_bytes)} of memory and "
            f"writes a file of about {format_bytes(self.file_bytes)}; the limit is {format_bytes(max_memory)}. "
            "Keep fewer variables (--outputs, or outputs= in Python; by default only the KPIs' variables), "
            "make fewer runs (--runs), save fewer times (saveper), or raise the limit "
            "(--max-memory, or max_memory=)")


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 kB"`` (powers of 1024, one decimal)."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _saved_times(model: "Model", time: Mapping[str, float]) -> int:
    """Number of saved times of a run with these time settings (validates them)."""
    s = model._settings(time.get("initial_time"), time.get("final_time"), time.get("time_step"), time.get("saveper"))
    return int(np.floor((s.final_time - s.initial_time) / s.saveper + 1e-9)) + 1


# --------------------------------------------------------------------------- parameter values
@dataclasses.dataclass(frozen=True)
class SampledSchedule:
    """A scheduled parameter whose base value is sampled: ``value(t) = base[run] + sum(policy(t))``.

    Mirrors :class:`sdcluster.scenarios.scenario.ScheduledValue` with an array base, so each run gets the
    same arithmetic as a single run with that base value.
    """

    base: np.ndarray
    schedules: tuple
    parameter: str = ""

    @property
    def batch_size(self) -> int | None:
        """Number of runs this value carries (None for a single run's value)."""
        return int(self.base.shape[0]) if np.ndim(self.base) else None

    def run_value(self, i: int) -> "SampledSchedule":
        """The schedule of run *i* alone (scalar base)."""
        return dataclasses.replace(self, base=self.base[i])

    def __call__(self, t: Any) -> Any:
        return self.base + sum(s(t) for s in self.schedules)

    def to_dict(self) -> dict[str, Any]:
        """Description for provenance attributes."""
        return {"base": {"sampled": int(self.base.size)}, "schedules": [s.to_dict() for s in self.schedules]}

    def subset(self, start: int, stop: int) -> "SampledSchedule":
        """The same schedule for runs ``start..stop-1``."""
        return dataclasses.replace(self, base=self.base[start:stop])


def _overlay(base: Mapping[str, Any], samples: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Scenario parameters with sampled arrays applied on top (see module docstring)."""
    out = dict(base)
    for py, arr in samples.items():
        current = out.get(py)
        schedules = getattr(current, "schedules", None)
        if callable(current) and schedules is not None:
            out[py] = SampledSchedule(arr, tuple(schedules), getattr(current, "parameter", py))
        elif callable(current):
            raise ParameterError(f"parameter {py!r} is a time schedule in the scenario and cannot also be sampled")
        else:
            out[py] = arr
    return out


def _slice(params: Mapping[str, Any], start: int, stop: int) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if isinstance(v, np.ndarray) and v.ndim > 0:
            out[k] = v[start:stop]
        elif isinstance(v, SampledSchedule):
            out[k] = v.subset(start, stop)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------- one chunk
@dataclasses.dataclass
class _Task:
    index: int
    scenario: str | None
    start: int
    stop: int
    model_path: str
    model_sha256: str
    params: dict[str, Any]
    time: dict[str, float]
    outputs: list[str] | None
    check_limits: bool


_WORKER_MODELS: dict[tuple[str, str, int], "Model"] = {}
_LOAD_LOCK = threading.Lock()


def _worker_model(path: str, sha256: str) -> "Model":
    """The model for a task, loaded once per worker process and thread.

    A Model is not thread-safe (PySD keeps state in its module), so a Dask
    worker running several chunks in threads gets one Model per thread;
    loading is serialised.
    """
    from ..core.model import load_model

    key = (path, sha256, threading.get_ident())
    if key not in _WORKER_MODELS:
        with _LOAD_LOCK:
            model = load_model(path)
        if model.sha256 != sha256:
            raise RunError(f"{path}: the model file changed while the ensemble was running "
                           f"(SHA-256 {model.sha256[:12]}..., expected {sha256[:12]}...)")
        _WORKER_MODELS[key] = model
    return _WORKER_MODELS[key]


def run_chunk(model: "Model", params: Mapping[str, Any], outputs: Sequence[str] | None = None,
              check_limits: bool = True, **time: float) -> xr.Dataset:
    """Run one chunk: *params* hold arrays of one length (and numbers, schedules).

    Returns the Dataset of :meth:`Model.run_batch` (dims ``run``, ``time``).
    """
    return model.run_batch(params, outputs=outputs, check_limits=check_limits, **time)


def _run_task(task: _Task) -> tuple[int, xr.Dataset]:
    """Entry point of a chunk in a worker process or on a Dask worker."""
    model = _worker_model(task.model_path, task.model_sha256)
    return task.index, run_chunk(model, task.params, task.outputs, task.check_limits, **task.time)


# --------------------------------------------------------------------------- back-ends
def _forkserver_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _connect(scheduler: Any, timeout: float) -> tuple[Any, bool]:
    """Return ``(client, owned)`` for a Client or a scheduler address."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - a dependency
        raise RunError("the Dask back-end needs the 'distributed' package") from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise RunError(f"scheduler = {scheduler!r}: give a dask.distributed Client or an address like "
                       "'tcp://10.0.0.5:8786'")
    try:
        client = Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise RunError(f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s "
                       f"({type(exc).__name__}: {exc}); check the address and that the scheduler is running") \
            from None
    return client, True


def _execute(tasks: list[_Task], model: "Model", workers: int, scheduler: Any,
             consume: Callable[[_Task, xr.Dataset], None]) -> None:
    """Run every task; hand each chunk's Dataset to *consume* as soon as it arrives."""
    if scheduler is not None:
        from distributed import as_completed

        futures = [scheduler.submit(_run_task, t, pure=False) for t in tasks]
        # a client made from an address is not the default client (set_as_default=False):
        # make it current here, or as_completed looks for a default one ("No clients found")
        with scheduler.as_current():
            for fut in as_completed(futures):
                i, ds = fut.result()
                fut.release()
                consume(tasks[i], ds)
    elif workers > 1 and len(tasks) > 1:
        ctx = _forkserver_context()
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_run_task, t) for t in tasks]
            for fut in concurrent.futures.as_completed(futures):
                i, ds = fut.result()
                consume(tasks[i], ds)
    else:
        for t in tasks:
            consume(t, run_chunk(model, t.params, t.outputs, t.check_limits, **t.time))


class _Collector:
    """Copies chunk results into preallocated ``(scenario, run, time)`` arrays (memory: result + one chunk)."""

    def __init__(self, scenarios: list[str | None], n: int, bar: Callable[[int], None]):
        self.index = {s: i for i, s in enumerate(scenarios)}
        self.scenarios = scenarios
        self.n = n
        self.bar = bar
        self.arrays: dict[str, np.ndarray] = {}
        self.failed = np.zeros((len(scenarios), n), dtype=bool)
        self.first: xr.Dataset | None = None
        self.times: dict[str | None, np.ndarray] = {}

    def __call__(self, task: _Task, ds: xr.Dataset) -> None:
        t = np.asarray(ds["time"].values)
        if self.first is None:
            self.first = ds.isel(run=slice(0, 0))
            for name in ds.data_vars:
                self.arrays[name] = np.empty((len(self.scenarios), self.n, t.size))
        ref = self.times.setdefault(task.scenario, t)
        ref0 = next(iter(self.times.values()))
        for other in (ref, ref0):
            if t.shape != other.shape or not np.allclose(t, other, rtol=1e-12, atol=1e-12):
                raise ScenarioError(f"scenario {task.scenario!r} saves different times than {self.scenarios[0]!r}; "
                                    "scenarios in one ensemble need the same initial_time, final_time and saveper")
        s = self.index[task.scenario]
        for name, arr in self.arrays.items():
            block = np.asarray(ds[name].values)
            arr[s, task.start:task.stop] = block
            self.failed[s, task.start:task.stop] |= ~np.isfinite(block).all(axis=1)
        self.bar(task.stop - task.start)


class _Bar:
    def __init__(self, enabled: bool, total: int):
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit="run", desc="ensemble", leave=False)

    def __call__(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# --------------------------------------------------------------------------- targets
def _resolve_target(target: Any, model: Any) -> tuple["Model", list["Scenario"] | None]:
    """Return the model and the scenarios (None for a plain model ensemble)."""
    from ..core.model import Model, load_model
    from ..scenarios.scenario import Scenario

    if isinstance(target, Model):
        return target, None
    is_scenario = isinstance(target, (Scenario, Mapping)) or (
        isinstance(target, (str, Path)) and str(target).lower().split("#")[0].endswith(SCENARIO_SUFFIXES)) or (
        isinstance(target, (list, tuple)))
    if not is_scenario:
        return load_model(target), None
    from ..scenarios.simulate import _common_model, unique_scenarios

    scenarios = unique_scenarios(target)
    return _common_model(scenarios, model), scenarios


def _sample_arrays(model: "Model", samples: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], int]:
    if isinstance(samples, Samples):
        values, where = dict(samples), str(samples.meta.get("source", "samples"))
    elif isinstance(samples, Mapping):
        values, where = dict(samples), "samples"
    else:
        raise ParameterError(f"samples must be a Samples object or a mapping of parameter name to array, "
                             f"got {type(samples).__name__}")
    if not values:
        raise ParameterError(f"{where}: no sampled parameters")
    valid = [p.name for p in model.parameters]
    settable = {p.py_name for p in model.parameters}
    out: dict[str, np.ndarray] = {}
    for name, arr in values.items():
        try:
            py = model.py_name(name)
        except SdclusterError:
            py = None
        if py not in settable:
            raise ParameterError(f"{where}: {model.path.name} has no parameter {name!r}.{suggest(str(name), valid)}")
        if py in out:
            raise ParameterError(f"{where}: parameter {name!r} is sampled twice")
        a = np.asarray(arr, dtype=float)
        if a.ndim != 1:
            raise ParameterError(f"{where}: values of {name!r} must be a 1-D array, got shape {a.shape}")
        out[py] = a
    sizes = {a.shape[0] for a in out.values()}
    if len(sizes) != 1:
        raise ParameterError(f"{where}: sampled arrays differ in length {sorted(sizes)}")
    n = sizes.pop()
    if n <= 0:
        raise ParameterError(f"{where}: runs = {n}: the number of runs must be positive")
    return out, n


def _check_workers(workers: Any) -> int:
    if workers in (None, "auto"):
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise RunError(f"workers = {workers!r}: give a positive whole number or 'auto'")
    return int(workers)


# --------------------------------------------------------------------------- public API
def run_ensemble(target: Any, samples: Mapping[str, Any], *, model: Any = None,
                 outputs: Sequence[str] | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 workers: int | str = 1, scheduler: Any = None, timeout: float = 10.0,
                 allow_out_of_range: bool = False, progress: bool = False,
                 max_memory: float | None = DEFAULT_MAX_MEMORY, **time: float) -> xr.Dataset:
    """Run every parameter set of *samples* through a model or through each of several scenarios.

    Parameters
    ----------
    target
        A loaded :class:`~sdcluster.core.model.Model`, a model path or bundled name, or
        scenarios: a scenario file (``.yaml``), a :class:`~sdcluster.scenarios.scenario.Scenario`,
        or a list of them.
    samples
        :class:`~sdcluster.uncertainty.sampling.Samples` or ``{parameter name: 1-D array}``
        (model's own or Python names), all arrays of length *N*.
    model
        Model for scenarios that name none.
    outputs
        Variables to keep (default: the scenarios' outputs, else all stocks and
        auxiliaries). Keep this short for large ensembles: the result holds
        ``scenarios x N x times x outputs`` numbers.
    chunk_size
        Runs per vectorised pass; bounds the working memory.
    workers
        Local processes (``1``: in this process; ``"auto"``: one per core).
    scheduler
        A :class:`distributed.Client` or scheduler address: run the chunks on Dask.
    timeout
        Seconds to wait for a scheduler address to answer.
    allow_out_of_range
        Accept sampled values outside a parameter's declared range.
    progress
        Show a progress bar (runs done).
    max_memory
        Refuse, before running, an ensemble whose estimated memory
        (:class:`EnsembleSize`) exceeds this many bytes; ``None``: no limit.
    **time
        ``initial_time``, ``final_time``, ``time_step``, ``saveper`` for a model
        target (scenarios carry their own).

    Returns
    -------
    xarray.Dataset
        Dims ``(run, time)``, or ``(scenario, run, time)`` for scenarios; the
        sampled values as coordinates ``param_<python name>`` over ``run``;
        ``failed`` (bool) flags runs with NaN/infinite outputs; attrs: model
        provenance, ``samples`` (JSON: method, seed, distributions), ``runs``,
        ``chunk_size``, ``backend`` and, for scenarios, ``scenarios`` (JSON).

    Raises
    ------
    ParameterError
        Unknown sampled parameter, arrays of different lengths, no runs, or a
        value outside a parameter's declared range.
    RunError
        Bad ``chunk_size``/``workers``, unreachable scheduler, failed chunk, or
        an ensemble larger than *max_memory*.
    ScenarioError
        Invalid scenarios.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise RunError(f"chunk_size = {chunk_size!r}: give a positive whole number")
    workers = _check_workers(workers)
    the_model, scenarios = _resolve_target(target, model)
    arrays, n = _sample_arrays(the_model, samples)
    check = not allow_out_of_range
    for py, arr in arrays.items():  # validate every value before the first (possibly long) chunk
        if not np.all(np.isfinite(arr)):
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ParameterError(f"samples: {the_model.info(py).name!r} run {bad}: value {arr[bad]!r} is not finite")
        if check:
            info = the_model.info(py)
            lo, hi = info.limits
            outside = np.flatnonzero((arr < lo) | (arr > hi))  # NaN limits (open ends) compare False
            if outside.size:
                i = outside[0]
                raise ParameterError(
                    f"samples: {info.name!r}: {outside.size} of {n} values lie outside its declared range "
                    f"{info.range_text()} ({info.units or 'dimensionless'}), e.g. run {i}: {arr[i]:g}; "
                    "narrow or truncate the distribution, or allow out-of-range values")

    jobs: list[tuple[str | None, dict[str, Any], dict[str, float], list[str] | None]] = []
    if scenarios is None:
        jobs.append((None, _overlay({}, arrays), dict(time), list(outputs) if outputs else None))
    else:
        if time:
            raise RunError(f"time settings {sorted(time)} apply to a model ensemble; scenarios carry their own "
                           "(put them in the scenario's time:)")
        wanted = list(outputs) if outputs else None
        if wanted is None:
            union: list[str] = []
            for s in scenarios:
                union += [o for o in (s.outputs or []) if o not in union]
            wanted = union or None
        for s in scenarios:
            base = s.apply(the_model, allow_out_of_range=allow_out_of_range)
            jobs.append((s.name, _overlay(base, arrays), s.run_kwargs(), wanted))

    size = EnsembleSize(runs=n, scenarios=len(jobs), times=max(_saved_times(the_model, j[2]) for j in jobs),
                        outputs=len(the_model._outputs(jobs[0][3])), chunk_size=chunk_size,
                        workers=1 if scheduler is not None else workers)
    size.check(max_memory)
    log.info("ensemble size: %s; about %s in memory", size.describe(), format_bytes(size.memory_bytes))
    tasks = []
    for name, params, tkw, outs in jobs:
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            tasks.append(_Task(len(tasks), name, start, stop, str(the_model.path), the_model.sha256,
                               _slice(params, start, stop), tkw, outs, check))
    backend = "dask" if scheduler is not None else (f"processes({workers})" if workers > 1 and len(tasks) > 1
                                                    else "serial")
    log.info("ensemble: %d runs x %d scenario(s) of %s in %d chunk(s) of <= %d (%s)", n, len(jobs),
             the_model.path.name, len(tasks), chunk_size, backend)
    client, owned = _connect(scheduler, timeout) if scheduler is not None else (None, False)
    bar = _Bar(progress, n * len(jobs))
    collector = _Collector([j[0] for j in jobs], n, bar)
    try:
        _execute(tasks, the_model, workers, client, collector)
    except SdclusterError:
        raise
    except Exception as exc:
        raise RunError(f"ensemble of {the_model.path.name} failed in a chunk: {type(exc).__name__}: {exc}") from exc
    finally:
        bar.close()
        if owned:
            client.close()
    return _assemble(the_model, collector, jobs, arrays, samples, n, chunk_size, backend)


def _assemble(model: "Model", col: _Collector, jobs: list, arrays: dict, samples: Any, n: int,
              chunk_size: int, backend: str) -> xr.Dataset:
    first = col.first
    assert first is not None
    has_scenario = jobs[0][0] is not None
    dims = ("scenario", "run", "time") if has_scenario else ("run", "time")
    data = {}
    for name, arr in col.arrays.items():
        data[name] = xr.Variable(dims, arr if has_scenario else arr[0], attrs=dict(first[name].attrs))
    failed = col.failed if has_scenario else col.failed[0]
    data["failed"] = xr.Variable(dims[:-1], failed, attrs={
        "long_name": "run failed", "units": "1",
        "description": "True where any output of the run is NaN or infinite"})
    coords: dict[str, Any] = {"run": ("run", np.arange(n), {"long_name": "ensemble run index"}),
                              "time": ("time", first["time"].values, dict(first["time"].attrs))}
    if has_scenario:
        coords["scenario"] = ("scenario", [j[0] for j in jobs], {"long_name": "scenario"})
    for py, arr in arrays.items():
        info = model.info(py)
        coords[f"param_{py}"] = ("run", arr, {"long_name": info.name, "units": info.units,
                                              "description": f"sampled value of {info.name}"})
    out = xr.Dataset(data, coords=coords)
    _report_failures(out, arrays)
    attrs = {k: v for k, v in first.attrs.items() if k not in ("parameters", "title")}
    attrs["title"] = f"sdcluster ensemble of {model.path.name}"
    attrs["runs"] = n
    attrs["chunk_size"] = chunk_size
    attrs["backend"] = backend
    meta = dict(getattr(samples, "meta", {}) or {})
    attrs["samples"] = json.dumps({**meta, "parameters": [model.info(p).name for p in arrays]}, default=str)
    if meta.get("seed") is not None:
        attrs["seed"] = int(meta["seed"])
    if has_scenario:
        attrs["scenarios"] = json.dumps({j[0]: _describe_params(j[1]) for j in jobs}, default=str)
    out.attrs = attrs
    return out


def _describe_params(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if isinstance(v, np.ndarray):
            out[k] = "sampled"
        elif hasattr(v, "to_dict"):
            out[k] = v.to_dict()
        elif callable(v):
            out[k] = repr(v)
        else:
            out[k] = float(v)
    return out


def failed_runs(ds: xr.Dataset) -> np.ndarray:
    """Indices of runs that failed (NaN/infinite output) in any scenario."""
    if "failed" not in ds:
        return np.array([], dtype=int)
    f = ds["failed"]
    if "scenario" in f.dims:
        f = f.any("scenario")
    return ds["run"].values[np.asarray(f.values, dtype=bool)]


def _report_failures(ds: xr.Dataset, arrays: Mapping[str, np.ndarray]) -> None:
    idx = failed_runs(ds)
    if idx.size == 0:
        return
    examples = []
    for i in idx[:3]:
        vals = ", ".join(f"{k}={arrays[k][i]:g}" for k in list(arrays)[:4])
        examples.append(f"run {int(i)} ({vals})")
    log.warning("%d of %d runs produced NaN or infinite values (kept, flagged in 'failed'): %s%s",
                idx.size, ds.sizes["run"], "; ".join(examples), " ..." if idx.size > 3 else "")
