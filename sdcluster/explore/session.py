"""What the explorer computes, free of any web code: views, runs, bands, KPIs, saved scenarios.

An :class:`Explorer` holds one loaded model, the scenarios given on the
command line and (optionally) an uncertainty spec. A :class:`View` is what a
page shows: control values, reference scenario, KPI and outputs; it
round-trips through a URL query string (:meth:`View.query`,
:meth:`Explorer.view_from_query`).

Each evaluation runs the *explored* scenario (the starting scenario with the
instrument controls applied) as one vectorised batch of ``runs + 1``
parameter sets through :func:`sdcluster.uncertainty.ensemble.run_ensemble`: the sampled
sets give the uncertainty band, the extra last set is the central run with the
uncertain parameters at their control values. The reference scenario is run
with the same samples (common random numbers, so "P(beats reference)" compares
paired runs) and cached, as it changes only with the reference and the
uncertain controls.
"""
from __future__ import annotations

import dataclasses
import datetime
import math
import re
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from .. import __version__
from ..analysis.compare import COST_VARIABLE, KPI, evaluate_kpi, parse_kpi
from ..uncertainty.ensemble import run_ensemble
from ..errors import ParameterError, ScenarioError, SdclusterError, suggest
from ..outputs.io import atomic_write_text, write_dataset
from ..analysis.lifecycle import Stage, StageError, stages
from ..core.model import bundled_models
from ..scenarios.scenario import TIME_FIELDS, Policy, Scenario, scenario_from_dict
from ..scenarios.schedules import Step
from .controls import Control, base_value_of, instrument_controls, instruments, uncertain_controls

if TYPE_CHECKING:  # pragma: no cover
    from ..core.model import Model
    from ..uncertainty.sampling import Uncertain

#: Default number of sampled runs behind the uncertainty band.
DEFAULT_RUNS = 200
#: Probabilities of the band's lower and upper edges.
BAND = (0.05, 0.95)
#: Scenario label of the explored setting in results.
EXPLORED = "explored"
#: Allowed names of saved scenario files (no folders, no hidden files).
SAVE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
_CACHE_SIZE = 8


@dataclasses.dataclass(frozen=True)
class View:
    """What one page shows: control values, reference, KPI and outputs."""

    values: Mapping[str, float]
    reference: str
    kpi: str
    outputs: tuple[str, ...]

    def query(self) -> str:
        """The view as a URL query string (``?key=value&...``)."""
        items = [(k, format(v, ".12g")) for k, v in self.values.items()]
        items += [("ref", self.reference), ("kpi", self.kpi), ("outputs", ",".join(self.outputs))]
        return "?" + urllib.parse.urlencode(items)


@dataclasses.dataclass
class Result:
    """One evaluation of a view.

    Attributes
    ----------
    central : xarray.Dataset
        Dims ``(scenario, time)``: the explored setting (``"explored"``) and the reference.
    low, high : xarray.Dataset or None
        Band edges of the explored setting over the ensemble (dim ``time``); None without uncertainty.
    runs : int
        Sampled runs behind the band (0 without uncertainty).
    kpi : KPI
        The KPI evaluated.
    cards : dict
        ``explored``, ``reference``, ``gain`` (KPI values, KPI units), ``cost`` and
        ``extra_cost`` (cumulative public cost at the end, cost units),
        ``cost_effectiveness`` (gain per extra cost), ``p_beats`` (share of paired runs
        in which the explored setting beats the reference); NaN where undefined.
    units : dict
        Units of the card values.
    stages : list of Stage
        Life-cycle stages of the first output in the explored central run.
    seconds : float
        Time taken.
    """

    central: xr.Dataset
    low: xr.Dataset | None
    high: xr.Dataset | None
    runs: int
    kpi: KPI
    cards: dict[str, float]
    units: dict[str, str]
    stages: list[Stage]
    seconds: float


@dataclasses.dataclass
class DominantLoop:
    """The loop group that leads at one time of the explored central run and of the reference.

    Attributes
    ----------
    time : float
        The time looked at (the saved time nearest the one asked for).
    explored, reference : str
        The loop group (from the model's ``.loops.yaml``; unnamed loops form "other R/B/U")
        with the largest |relative loop score| in each run.
    explored_score, reference_score : float
        Its relative loop score (sign: reinforcing + / balancing -), dimensionless.
    seconds : float
        Time taken.
    """

    time: float
    explored: str
    explored_score: float
    reference: str
    reference_score: float
    seconds: float


class Explorer:
    """The model, scenarios and controls behind one explorer app.

    Parameters
    ----------
    model
        The loaded model.
    scenarios
        Scenarios given on the command line (all of *model*); empty: the model's defaults.
    uncertain
        Distributions of the uncertain parameters (band, P(beats reference)); None: no band.
    runs
        Sampled runs behind the band.
    save_dir
        Folder where "save as scenario" writes.
    extra_instruments
        Parameters to offer as instruments besides those the scenarios schedule.

    Notes
    -----
    Thread-safe: evaluations are serialised by a lock (a Model runs one thing at a time).
    """

    def __init__(self, model: "Model", scenarios: Sequence[Scenario] = (), *, uncertain: "Uncertain | None" = None,
                 runs: int = DEFAULT_RUNS, save_dir: str | Path | None = None,
                 extra_instruments: Sequence[str] = ()):
        self.model = model
        scenarios = list(scenarios) or [Scenario("model defaults", description=f"{model.path.name} as it is")]
        names = [s.name for s in scenarios]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ScenarioError(f"scenario name(s) {dup} given twice; every scenario needs its own name")
        if EXPLORED in names:
            raise ScenarioError(f"a scenario may not be called {EXPLORED!r} here: the explorer uses that label "
                                "for the setting being explored")
        grids = {s.name: {k: s.time.get(k) for k in TIME_FIELDS} for s in scenarios}
        if len({tuple(g.values()) for g in grids.values()}) > 1:
            raise ScenarioError("the scenarios differ in their time settings, so their runs cannot be compared "
                                f"time by time: {grids}; give them the same 'time:'")
        self.scenarios = {s.name: s for s in scenarios}
        self.base = _pick_base(scenarios)
        self.default_reference = _pick_reference(scenarios, self.base)
        # references first: the starting scenario's own, the context runs and named references, then policies
        named = {s.reference for s in scenarios}
        self.references = list(dict.fromkeys([self.default_reference, *(s.name for s in scenarios if s.role == "context"
                                                                        or s.name in named), *self.scenarios]))
        settings = model.time_settings
        self.period = (float(self.base.time.get("initial_time", settings["initial_time"])),
                       float(self.base.time.get("final_time", settings["final_time"])))
        extra = list(extra_instruments)
        if len(scenarios) == 1 and not scenarios[0].policies and not extra:
            extra = [p.name for p in model.parameters if "budget" in p.name.lower()]
        # a context run's policies set the scene (a shock, a push), they are not instruments to explore
        self.instruments = instruments([s for s in scenarios if s.role != "context"] or scenarios, model, extra)
        self.controls: list[Control] = instrument_controls(model, self.base, self.instruments, self.period, scenarios)
        self.uncertain = uncertain
        self.samples = None
        if uncertain is not None:
            self.controls += uncertain_controls(model, self.base, uncertain)
            self.samples = uncertain.sample(runs)
        self.by_key = {c.key: c for c in self.controls}
        self.outputs = self._outputs(scenarios)
        self.save_dir = Path(save_dir) if save_dir is not None else Path.cwd()
        self._lock = threading.Lock()
        self._cache: dict[Any, Any] = {}

    # -- views ----------------------------------------------------------------
    def default_view(self) -> View:
        """The starting scenario's values, the default reference, first output's final value as KPI."""
        return View({c.key: c.default for c in self.controls}, self.default_reference,
                    f"{self.outputs[0]}@end", tuple(self.outputs[:2]))

    def view_from_query(self, query: str | Mapping[str, Any]) -> tuple[View, list[str]]:
        """Read a view from a URL query string; bad entries fall back to defaults and are listed."""
        if isinstance(query, str):
            pairs = urllib.parse.parse_qsl(query.lstrip("?"), keep_blank_values=True)
        else:
            pairs = [(str(k), v) for k, v in query.items()]
        default = self.default_view()
        values, reference, kpi, outputs = dict(default.values), default.reference, default.kpi, default.outputs
        errors: list[str] = []
        for key, text in pairs:
            if key == "ref":
                try:
                    reference = self.reference_name(text)
                except ScenarioError as exc:
                    errors.append(str(exc))
            elif key == "kpi":
                try:
                    self.kpi(text)
                    kpi = str(text).strip()
                except SdclusterError as exc:
                    errors.append(str(exc))
            elif key == "outputs":
                try:
                    outputs = tuple(self.output_names(str(text).split(",")))
                except ParameterError as exc:
                    errors.append(str(exc))
            elif key in self.by_key:
                try:
                    values[key] = self.by_key[key].check(text)
                except ParameterError as exc:
                    errors.append(str(exc))
            else:
                valid = list(self.by_key) + ["ref", "kpi", "outputs"]
                errors.append(f"link: unknown setting {key!r}.{suggest(key, valid) or ' Valid: ' + ', '.join(valid)}")
        return View(values, reference, kpi, outputs), errors

    def reference_name(self, name: str) -> str:
        """Check a reference scenario name."""
        if name not in self.scenarios:
            raise ScenarioError(f"reference: no scenario named {name!r}.{suggest(str(name), list(self.scenarios))}"
                                f" Loaded: {', '.join(self.scenarios)}.")
        return name

    def kpi(self, text: str) -> KPI:
        """Parse a KPI string; its variable may be a model name and must be an output of the explorer."""
        k = parse_kpi(str(text).strip())
        try:
            py = self.model.py_name(k.variable)
        except ParameterError:
            py = k.variable
        if py not in self.outputs:
            raise ParameterError(f"KPI {text!r}: {k.variable!r} is not among the outputs "
                                 f"({', '.join(self.outputs)}).{suggest(k.variable, self.outputs)}")
        return dataclasses.replace(k, variable=py, per_cost=False, cost_variable=None, text="")

    def output_names(self, names: Sequence[str]) -> list[str]:
        """Python names of chosen outputs (at least one, each an explorer output)."""
        out = []
        for name in (n.strip() for n in names if n and n.strip()):
            try:
                py = self.model.py_name(name)
            except ParameterError:
                py = name
            if py not in self.outputs:
                raise ParameterError(f"outputs: {name!r} is not an output of this explorer.{suggest(name, self.outputs)}")
            if py not in out:
                out.append(py)
        if not out:
            raise ParameterError(f"outputs: choose at least one of {', '.join(self.outputs)}")
        return out

    # -- scenarios ------------------------------------------------------------
    def scenario(self, values: Mapping[str, float], name: str = EXPLORED) -> Scenario:
        """The starting scenario with the control values applied (instrument policies replaced)."""
        policies = [p for p in self.base.policies if self.model.py_name(p.parameter) not in self.instruments]
        for py in self.instruments:
            amount, start, duration = (values[f"{py}.{r}"] for r in ("amount", "start", "duration"))
            if amount != 0 and duration > 0:
                policies.append(Policy(self.model.info(py).name, Step(start=start, amount=amount,
                                                                        end=start + duration)))
        scenario = self._with_assumptions(self.base, values)
        return dataclasses.replace(scenario, name=name, policies=policies, source=None, extends=[], files={},
                                   parameter_origins={})

    def _with_assumptions(self, scenario: Scenario, values: Mapping[str, float]) -> Scenario:
        """*scenario* with the uncertain controls' values as constant overrides (only those that differ)."""
        params = dict(scenario.parameters)
        for c in self.controls:
            if c.role == "uncertain" and values[c.key] != base_value_of(scenario, self.model, c.parameter):
                params = {k: v for k, v in params.items() if self.model.py_name(k) != c.parameter}
                params[self.model.info(c.parameter).name] = float(values[c.key])
        return dataclasses.replace(scenario, parameters=params, model=None)

    # -- running ----------------------------------------------------------------
    def evaluate(self, view: View) -> Result:
        """Run the explored setting and the reference; compute band, KPI cards and stages."""
        t0 = time.perf_counter()
        kpi = self.kpi(view.kpi)
        for key, control in self.by_key.items():
            control.check(view.values.get(key))
        reference = self.reference_name(view.reference)
        assumptions = tuple((c.key, float(view.values[c.key])) for c in self.controls if c.role == "uncertain")
        with self._lock:
            explored = self._cached(("explored", tuple(sorted(view.values.items()))),
                                    lambda: self._simulate(self.scenario(view.values)))
            ref = self._cached(("reference", reference, assumptions),
                               lambda: self._simulate(self._with_assumptions(self.scenarios[reference], view.values)))
        central = xr.concat([explored[0], ref[0]], dim=pd.Index([EXPLORED, reference], name="scenario"),
                            combine_attrs="override")
        low, high = explored[2]
        cards, units = self._cards(central, explored[1], ref[1], kpi, reference)
        first = view.outputs[0] if view.outputs else self.outputs[0]
        try:
            stage_list = stages(central[first].sel(scenario=EXPLORED))
        except StageError:
            stage_list = []
        return Result(central, low, high, 0 if self.samples is None else self.samples.n, kpi, cards, units,
                      stage_list, time.perf_counter() - t0)

    def _cached(self, key: Any, compute: Any) -> Any:
        if key not in self._cache:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = compute()
        return self._cache[key]

    def _simulate(self, scenario: Scenario) -> tuple[xr.Dataset, xr.Dataset | None, tuple]:
        """``(central run over time, ensemble over (run, time) or None, (band low, band high))``."""
        if self.samples is None:
            ds = self.model.run(params=scenario.apply(self.model), outputs=self.outputs, **scenario.run_kwargs())
            return ds, None, (None, None)
        arrays = {}
        for c in self.controls:
            if c.role == "uncertain":
                arrays[c.parameter] = np.append(self.samples[_sample_name(self.samples, self.model, c.parameter)],
                                                base_value_of(scenario, self.model, c.parameter))
        ds = run_ensemble(scenario, arrays, model=self.model, outputs=self.outputs).isel(scenario=0, drop=True)
        central = ds.isel(run=-1, drop=True).drop_vars([n for n in ds.coords if n.startswith("param_")] + ["failed"],
                                                        errors="ignore")
        ens = ds.isel(run=slice(0, -1))
        ok = ens.drop_vars("failed").isel(run=~ens["failed"].values)  # failed runs (NaN) are left out of the band
        q = ok.quantile(list(BAND), dim="run") if ok.sizes["run"] else None
        band = (None, None) if q is None else tuple(q.sel(quantile=p, drop=True) for p in BAND)
        return central, ens, band

    def _cards(self, central: xr.Dataset, ens: xr.Dataset | None, ref_ens: xr.Dataset | None, kpi: KPI,
               reference: str) -> tuple[dict[str, float], dict[str, str]]:
        values = evaluate_kpi(central, kpi)
        explored, ref = (float(v) for v in values.values)
        gain = explored - ref
        cards = {"explored": explored, "reference": ref, "gain": gain, "cost": math.nan, "extra_cost": math.nan,
                 "cost_effectiveness": math.nan, "p_beats": math.nan}
        units = {k: values.attrs.get("units", "") for k in ("explored", "reference", "gain")}
        if COST_VARIABLE in central and kpi.measure not in ("t>=", "t<=", "peak_time"):
            cost = evaluate_kpi(central, f"{COST_VARIABLE}@end")
            cards["cost"] = float(cost.values[0])
            cards["extra_cost"] = float(cost.values[0] - cost.values[1])
            units["cost"] = units["extra_cost"] = cost.attrs.get("units", "")
            if cards["extra_cost"] != 0:  # else undefined (NaN), as in compare
                ce = evaluate_kpi(central, dataclasses.replace(kpi, per_cost=True, text=""), baseline=reference)
                cards["cost_effectiveness"] = float(ce.values[0])
                units["cost_effectiveness"] = ce.attrs.get("units", "")
        if ens is not None and ref_ens is not None:
            e = evaluate_kpi(ens.drop_vars("failed").rename(run="scenario"), kpi).values
            r = evaluate_kpi(ref_ens.drop_vars("failed").rename(run="scenario"), kpi).values
            ok = np.isfinite(e) & np.isfinite(r)
            if ok.any():
                beats = e[ok] > r[ok] if kpi.better == "higher" else e[ok] < r[ok]
                cards["p_beats"] = float(beats.mean())
        units["p_beats"] = "1"
        return cards, units

    # -- feedback loops ----------------------------------------------------------
    @property
    def loops_file(self) -> Path | None:
        """The model's loop-names file (``<model>.loops.yaml``), or None: no "dominant loop" card."""
        path = Path(self.model.path).with_suffix(".loops.yaml")
        return path if path.is_file() else None

    def dominant_loop(self, view: View, at: float | None = None) -> DominantLoop:
        """The loop group that leads at time *at* (default: the end of the run), explored vs reference.

        Loop dominance (:func:`sdcluster.analysis.loops.dominance`) of the central runs only;
        it takes about a second per run of ``cluster_policy`` (plus finding the model's loops
        once), so the page computes it on request, not on every change.
        """
        from ..analysis.loops import dominance, group_scores

        t0 = time.perf_counter()
        if at is not None:
            lo, hi = self.period
            if not (isinstance(at, (int, float)) and math.isfinite(at) and lo <= at <= hi):
                raise ParameterError(f"dominant loop: time {at!r} is outside the run [{lo:g}, {hi:g}]")
        reference = self.reference_name(view.reference)
        assumptions = tuple((c.key, float(view.values[c.key])) for c in self.controls if c.role == "uncertain")
        with self._lock:
            runs = [self._cached(("loops", "explored", tuple(sorted(view.values.items()))),
                                 lambda: dominance(self.model, scenario=self.scenario(view.values))),
                    self._cached(("loops", reference, assumptions),
                                 lambda: dominance(self.model, scenario=self._with_assumptions(
                                     self.scenarios[reference], view.values)))]
        leads = []
        for ds in runs:
            scores = group_scores(ds)
            when = scores.sel(time=scores["time"].values[-1] if at is None else at, method="nearest")
            best = int(np.argmax(np.abs(when.values)))
            leads += [str(when["group"].values[best]), float(when.values[best])]
        return DominantLoop(float(when["time"]), *leads, seconds=time.perf_counter() - t0)

    # -- keeping results --------------------------------------------------------
    def results(self, view: View) -> xr.Dataset:
        """The view's numbers as one Dataset: central runs ``(scenario, time)`` and the band edges."""
        res = self.evaluate(view)
        ds = res.central.copy()
        if res.low is not None and res.high is not None:
            for name in res.central.data_vars:
                for p, edge in zip(BAND, (res.low, res.high)):
                    var = edge[name].copy()
                    var.attrs = {**res.central[name].attrs,
                                 "long_name": f"{res.central[name].attrs.get('long_name', name)}, "
                                              f"{100 * p:g}th percentile of {res.runs} runs ({EXPLORED})"}
                    ds[f"{name}_p{round(100 * p):02d}"] = var
        ds.attrs.update({"title": f"sdcluster explore: {self.base.name} vs {view.reference}",
                         "explorer_view": view.query(), "reference": view.reference,
                         "ensemble_runs": res.runs, "sdcluster_version": __version__})
        return ds

    def results_bytes(self, view: View, suffix: str) -> bytes:
        """The view's results as a netCDF (``.nc``) or CSV (``.csv``) file's bytes."""
        with tempfile.TemporaryDirectory(prefix="sdcluster-explore-") as tmp:
            path = Path(tmp) / f"results{suffix}"
            write_dataset(self.results(view), path)
            return path.read_bytes()

    def scenario_document(self, view: View, name: str) -> str:
        """The explored setting as scenario-file text (self-contained: no ``extends``)."""
        s = self.scenario(view.values, name)
        doc: dict[str, Any] = {"name": name,
                               "description": f"Saved from 'sdcluster explore' starting from {self.base.name!r}.",
                               "model": self._model_spec()}
        if s.time:
            doc["time"] = {k: float(v) for k, v in s.time.items()}
        if s.parameters:
            doc["parameters"] = {str(k): float(v) for k, v in s.parameters.items()}
        if s.policies:
            doc["policies"] = [p.to_dict() for p in s.policies]
        if s.outputs:
            doc["outputs"] = list(s.outputs)
        question = self.base.question or f"what does this setting do compared with {view.reference}?"
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        header = (f"# Question: {question}\n# Saved by sdcluster {__version__} explore on {stamp}; reference "
                  f"{view.reference}; view: {view.query()}\n")
        return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)

    def save_scenario(self, view: View, name: str) -> Path:
        """Write the explored setting as ``<save_dir>/<name>.yaml``; refuse bad names and existing files."""
        name = str(name).strip()
        if name.lower().endswith((".yaml", ".yml")):
            name = name.rsplit(".", 1)[0]
        if not SAVE_NAME.match(name):
            raise ScenarioError(f"save as: {name!r} is not a valid name; use letters, digits, '_' and '-' "
                                "(up to 80, no folders)")
        path = self.save_dir / f"{name}.yaml"
        if path.exists():
            raise ScenarioError(f"save as: {path} already exists; choose another name")
        text = self.scenario_document(view, name)
        scenario_from_dict(yaml.safe_load(text), base_dir=self.save_dir).validate(self.model)
        return atomic_write_text(path, text)

    # -- helpers ------------------------------------------------------------
    def _model_spec(self) -> str:
        for name, path in bundled_models().items():
            if path.resolve() == self.model.path.resolve():
                return Path(name).stem if name.endswith(".mdl") else name
        return str(self.model.path.resolve())

    def _outputs(self, scenarios: Sequence[Scenario]) -> list[str]:
        names: list[str] = []
        for s in scenarios:
            for o in s.outputs or []:
                py = self.model.py_name(o)
                if py not in names:
                    names.append(py)
        if not names:
            names = [v.py_name for v in self.model.stocks]
        if COST_VARIABLE not in names and COST_VARIABLE in {v.py_name for v in self.model.variables}:
            names.append(COST_VARIABLE)
        return names


def _pick_base(scenarios: Sequence[Scenario]) -> Scenario:
    """The starting scenario: the first policy (it names a reference and is not ``role: context``),
    else the first scenario that is neither the fallback reference nor a context run, else the first."""
    policy = next((s for s in scenarios if s.is_policy), None)
    if policy is not None:
        return policy
    fallback = _fallback_reference(scenarios)
    return next((s for s in scenarios if s.name != fallback and s.role != "context"), scenarios[0])


def _pick_reference(scenarios: Sequence[Scenario], base: Scenario) -> str:
    """The scenario a view is compared with by default: *base*'s own ``reference`` when it was loaded,
    else :func:`_fallback_reference`."""
    if base.reference in {s.name for s in scenarios}:
        return base.reference
    return _fallback_reference(scenarios)


def _fallback_reference(scenarios: Sequence[Scenario]) -> str:
    """A scenario named ``baseline``, else the first without policies, else the first."""
    for s in scenarios:
        if s.name == "baseline":
            return s.name
    return next((s.name for s in scenarios if not s.policies), scenarios[0].name)


def _sample_name(samples: Any, model: "Model", py: str) -> str:
    return next(n for n in samples if model.py_name(n) == py)
