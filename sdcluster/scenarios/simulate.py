"""Run one or many scenarios into one :class:`xarray.Dataset` with dims (``scenario``, ``time``)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np
import xarray as xr

from ..errors import ScenarioError, SdclusterError
from .scenario import Scenario, as_scenarios

if TYPE_CHECKING:  # pragma: no cover
    from ..core.model import Model

log = logging.getLogger(__name__)

__all__ = ["run_scenarios"]

#: Dataset attributes of a single run that describe one parameter set, not the whole Dataset.
_PER_RUN_ATTRS = ("parameters", "title")


def unique_scenarios(items: Any) -> list[Scenario]:
    """Load *items* as scenarios (see :func:`run_scenarios`); refuse none or duplicate names."""
    scenarios = as_scenarios(items)
    if not scenarios:
        raise ScenarioError("no scenarios to run")
    names = [s.name for s in scenarios]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        where = "; ".join(f"{n!r} in " + ", ".join(s.label for s in scenarios if s.name == n) for n in dupes)
        raise ScenarioError(f"scenario names must be unique within one run: {where}")
    return scenarios


def run_scenarios(items: Iterable[str | Path | Scenario | Mapping[str, Any]] | str | Path | Scenario,
                  *, model: "Model | str | Path | None" = None, allow_out_of_range: bool = False,
                  outputs: list[str] | None = None, progress: bool = True) -> xr.Dataset:
    """Run scenarios and stack them along a ``scenario`` dimension.

    Parameters
    ----------
    items
        Scenario file paths (a set file contributes all its scenarios; use
        ``file.yaml#name`` for one), :class:`~sdcluster.scenarios.scenario.Scenario`
        objects, or mappings with scenario-file fields.
    model
        A loaded model, or a model path / bundled name, used for scenarios that
        name no model. Scenarios that do name one must name the same model.
    allow_out_of_range
        Turn values outside a parameter's declared range into logged warnings.
    outputs
        Variables to keep; default: the union of the scenarios' ``outputs``,
        or the model's default outputs when no scenario names any.
    progress
        Show a tqdm progress bar over scenarios.

    Returns
    -------
    xarray.Dataset
        Dims (``scenario``, ``time``); coordinate ``scenario`` holds the names.
        ``attrs`` hold the model provenance (file, SHA-256, versions, time
        settings) and ``scenarios``: a JSON string ``{name: resolved definition}``
        (each with the parameter values actually applied).

    Raises
    ------
    ScenarioError
        Malformed or invalid scenarios, duplicate names, scenarios that need
        different models, or different time grids.
    """
    scenarios = unique_scenarios(items)

    the_model = _common_model(scenarios, model)
    wanted = outputs
    if wanted is None:
        union: list[str] = []
        for s in scenarios:
            for o in s.outputs or []:
                if o not in union:
                    union.append(o)
        wanted = union or None

    # validate everything before the first (possibly long) run
    params = [s.apply(the_model, allow_out_of_range=allow_out_of_range) for s in scenarios]
    for name in wanted or []:
        try:
            the_model.py_name(name)
        except SdclusterError as exc:
            raise ScenarioError(f"outputs: {exc}") from None

    results: list[xr.Dataset] = []
    for scenario, p in _progress(list(zip(scenarios, params)), progress):
        try:
            ds = the_model.run(params=p, outputs=wanted, check_limits=not allow_out_of_range,
                               **scenario.run_kwargs())
        except SdclusterError as exc:
            raise ScenarioError(f"{scenario.label}: scenario {scenario.name!r} failed to run: {exc}") from exc
        results.append(ds)

    _check_grids(scenarios, results)
    definitions = {}
    for scenario, ds in zip(scenarios, results):
        d = scenario.to_dict()
        d["applied_parameters"] = json.loads(ds.attrs.get("parameters", "{}"))
        d["run_settings"] = {k: ds.attrs[k] for k in ("initial_time", "final_time", "time_step", "saveper")
                             if k in ds.attrs}
        definitions[scenario.name] = d
    attrs = {k: v for k, v in results[0].attrs.items() if k not in _PER_RUN_ATTRS}
    stripped = [ds.copy(deep=False) for ds in results]
    for ds in stripped:
        ds.attrs = {}
    out = xr.concat(stripped, dim=xr.DataArray([s.name for s in scenarios], dims="scenario", name="scenario"),
                    data_vars="all", coords="minimal", compat="override", join="exact",
                    combine_attrs="drop_conflicts")
    out["scenario"].attrs.update({"long_name": "scenario"})
    for name in out.data_vars:
        out[name].attrs = dict(results[0][name].attrs)
    out.attrs = attrs
    out.attrs["title"] = f"sdcluster scenarios on {attrs.get('model_file', 'model')}"
    out.attrs["scenarios"] = json.dumps(definitions, sort_keys=False)
    return out


def _common_model(scenarios: list[Scenario], model: "Model | str | Path | None") -> "Model":
    """Load the one model all scenarios use; ScenarioError when they differ."""
    from ..core.model import Model, load_model

    loaded: dict[str, Model] = {}

    def load(spec: str | Path, who: str) -> Model:
        key = str(spec)
        if key not in loaded:
            try:
                loaded[key] = load_model(spec)
            except SdclusterError as exc:
                raise ScenarioError(f"{who}: model: {exc}") from exc
        return loaded[key]

    default: Model | None = None
    if isinstance(model, Model):
        default = model
    elif model is not None:
        default = load(model, "run_scenarios(model=...)")

    chosen: Model | None = default
    chosen_by = "run_scenarios(model=...)" if default is not None else ""
    for s in scenarios:
        if s.model is None:
            if default is None:
                raise ScenarioError(f"{s.label}: model: scenario {s.name!r} names no model; add "
                                    "'model: <bundled name or path>' to the file or pass model=")
            continue
        m = load(s.model, s.label)
        if chosen is None:
            chosen, chosen_by = m, f"{s.label} ({Path(str(s.model)).name})"
        elif m.sha256 != chosen.sha256:
            raise ScenarioError(
                f"{s.label}: model: scenario {s.name!r} uses {Path(str(s.model)).name} but {chosen_by} uses "
                f"{chosen.path.name}; all scenarios in one run must use the same model "
                "(run them separately to compare models)")
    assert chosen is not None
    return chosen


def _check_grids(scenarios: list[Scenario], results: list[xr.Dataset]) -> None:
    ref = results[0]["time"].values
    for s, ds in zip(scenarios[1:], results[1:]):
        t = ds["time"].values
        if t.shape != ref.shape or not np.allclose(t, ref, rtol=1e-12, atol=1e-12):
            raise ScenarioError(
                f"{s.label}: time: scenario {s.name!r} saves times {_grid(t)} but {scenarios[0].name!r} saves "
                f"{_grid(ref)}; scenarios in one run need the same initial_time, final_time and saveper "
                "(put them in a shared base scenario)")


def _grid(t: np.ndarray) -> str:
    if len(t) < 2:
        return f"[{', '.join(f'{x:g}' for x in t)}]"
    return f"{t[0]:g}..{t[-1]:g} every {t[1] - t[0]:g}"


def _progress(jobs: list[tuple[Scenario, dict]], enabled: bool) -> Iterable[tuple[Scenario, dict]]:
    if not enabled or len(jobs) < 2:
        return jobs
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return jobs
    return tqdm(jobs, desc="scenarios", unit="scenario", leave=False)
