"""Scenario files: parameter overrides and policy schedules in plain-text YAML.

A scenario file is a YAML mapping (loaded with ``yaml.safe_load`` semantics)::

    # Question: does early network brokering beat late brokering?
    name: early_brokering            # optional; default: the file name without .yaml
    description: Brokering budget from year 5 to 15.
    extends: baseline.yaml           # optional; relative to THIS file
    model: cluster_policy            # bundled model name, or a path relative to this file
    time: {initial_time: 0, final_time: 60, time_step: 0.125, saveper: 1}
    parameters:                      # constant overrides (model's own or Python names)
      initial firms: 20
    policies:                        # schedules added to parameters' base values
      - parameter: brokering budget
        shape: step                  # step | pulse | ramp | table
        start: 5
        end: 15
        amount: 2.0
    outputs: [firms, trust]

A *set* file holds several named scenarios under ``scenarios:``; its other
top-level fields are shared by every entry. An entry's ``extends`` may name a
sibling entry, a file, or one scenario of a set file as ``file.yaml#name``.

``extends`` merges fields: the child wins; ``time`` and ``parameters`` merge by
key; the child's ``policies`` are appended to the parent's.

Every problem raises :class:`~sdcluster.errors.ScenarioError` whose message
names the file and field path (``early.yaml: policies[1].start: ...``); when a
file has several problems they are all listed, one per line (also available
as the exception's ``problems`` attribute). Malformed input of any kind raises
``ScenarioError`` and nothing else.

This module holds the data model (:class:`Scenario`, :class:`Policy`) and the
checks against a model's catalogue; file reading and ``extends`` resolution
are in :mod:`sdcluster.scenarios.scenario_files`.
"""
from __future__ import annotations

import logging
import math
import numbers
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import ScenarioError, SdclusterError, suggest
from .schedules import Schedule

if TYPE_CHECKING:  # pragma: no cover
    from ..core.model import Model, VariableInfo

log = logging.getLogger(__name__)

__all__ = [
    "Policy", "Scenario", "ScenarioError", "load_scenario", "load_scenarios", "scenario_from_dict", "with_references",
]

#: Fields of ``time:``.
TIME_FIELDS = ("initial_time", "final_time", "time_step", "saveper")


# --------------------------------------------------------------------------- data
@dataclass
class Policy:
    """A schedule applied to one model parameter.

    Attributes
    ----------
    parameter : str
        The parameter's model name or Python name.
    schedule : Schedule
        A :mod:`sdcluster.scenarios.schedules` object; its value is added to the
        parameter's base value.
    description : str
        Optional note from the file.
    origin : str
        Where the policy was defined (``"early.yaml: policies[0]"``), used in messages.
    """

    parameter: str
    schedule: Schedule
    description: str = ""
    origin: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The policy as a scenario-file mapping."""
        d: dict[str, Any] = {"parameter": self.parameter, **self.schedule.to_dict()}
        if self.description:
            d["description"] = self.description
        return d


@dataclass
class Scenario:
    """One scenario: a model, time settings, parameter overrides and policy schedules.

    Usually read from a file with :func:`load_scenario`; can be built in code::

        Scenario("early", model="cluster_policy", parameters={"initial firms": 20},
                 policies=[Policy("brokering budget", Step(start=5, end=15, amount=2))])

    Attributes
    ----------
    name : str
        Label used for the ``scenario`` coordinate.
    description : str
        Free text for readers of a report.
    model : str or None
        Bundled model name or absolute model path (relative paths in files are
        resolved against the file).
    time : dict
        Any of ``initial_time``, ``final_time``, ``time_step``, ``saveper``.
    parameters : dict
        Constant overrides ``{name: value}``.
    policies : list of Policy
        Schedules; several may act on one parameter if they do not overlap in time.
    outputs : list of str or None
        Variables of interest (``None``: the model's defaults).
    question : str
        The question the scenario helps answer: the file's ``question:`` field,
        else its ``# Question:`` comment header. Scenarios with the same
        question are compared together.
    kpi : str or None
        The KPI that answers the question (``kpi:`` in the file, compare's syntax, e.g.
        ``trust@end``); the brief judges the question's policies by it. ``None``: the
        command line's headline KPI.
    reference : str or None
        Name of the scenario this one is compared with (``reference:`` in the file).
    reference_source : str or None
        Where the reference is defined (``/abs/file.yaml`` or ``/abs/file.yaml#name``), so
        that it can be loaded when it was not given.
    role : str or None
        ``"policy"`` (compared with its reference and ranked) or ``"context"`` (shown,
        never ranked); ``None``: see :attr:`is_policy`.
    source : str or None
        The file the scenario was read from.
    extends : list of str
        The scenarios it inherits from, nearest first (``file`` or ``file#name``).
    files : dict
        ``{path: sha256}`` of every file read to build the scenario.
    """

    name: str
    description: str = ""
    model: str | None = None
    time: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, float] = field(default_factory=dict)
    policies: list[Policy] = field(default_factory=list)
    outputs: list[str] | None = None
    question: str = ""
    kpi: str | None = None
    reference: str | None = None
    reference_source: str | None = None
    role: str | None = None
    source: str | None = None
    extends: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    #: where each parameter key was set: ``{key: (file label, field path)}``
    parameter_origins: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    # -- helpers ------------------------------------------------------------
    @property
    def label(self) -> str:
        """How messages refer to the scenario: its file, or ``scenario 'name'``."""
        return self.source or f"scenario {self.name!r}"

    @property
    def is_policy(self) -> bool:
        """Ranked against its reference: it names one and is not marked ``role: context``."""
        return self.reference is not None and self.role != "context"

    def _origin(self, key: str) -> tuple[str, str]:
        return self.parameter_origins.get(key, (self.label, f"parameters[{key!r}]"))

    def _policy_origin(self, i: int, policy: Policy) -> str:
        return policy.origin or f"{self.label}: policies[{i}]"

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved definition (after ``extends``), JSON-serialisable."""
        d: dict[str, Any] = {"name": self.name}
        if self.question:
            d["question"] = self.question
        if self.kpi:
            d["kpi"] = self.kpi
        if self.reference is not None:
            d["reference"] = self.reference
        if self.role is not None:
            d["role"] = self.role
        d["description"] = self.description
        d["model"] = self.model
        d["time"] = {k: float(v) if _is_real(v) else str(v) for k, v in self.time.items()}
        d["parameters"] = {str(k): float(v) if _is_real(v) else str(v) for k, v in self.parameters.items()}
        d["policies"] = [p.to_dict() for p in self.policies]
        d["outputs"] = None if self.outputs is None else list(self.outputs)
        d["source"] = self.source
        d["extends"] = list(self.extends)
        d["files"] = dict(self.files)
        return d

    def run_kwargs(self) -> dict[str, float]:
        """Time settings as keyword arguments for :meth:`Model.run <sdcluster.core.model.Model.run>`."""
        return {k: self.time[k] for k in TIME_FIELDS if k in self.time}

    # -- validation against a model ------------------------------------------
    def validate(self, model: "Model", *, allow_out_of_range: bool = False) -> list[str]:
        """Check the scenario against *model*'s catalogue.

        Checks parameter names, outputs, time settings, overlapping schedules
        on one parameter, and values against declared ranges.

        Parameters
        ----------
        model
            A loaded :class:`~sdcluster.core.model.Model`.
        allow_out_of_range
            Report values outside a parameter's declared range as warnings
            (logged and returned) instead of errors.

        Returns
        -------
        list of str
            Warnings.

        Raises
        ------
        ScenarioError
            Listing every problem found.
        """
        errors: list[str] = []
        warnings: list[str] = []
        catalogue = _Catalogue(model)

        # parameters
        base: dict[str, float] = {}
        seen: dict[str, tuple[str, str, str]] = {}
        for key, value in self.parameters.items():
            label, path = self._origin(key)
            if not isinstance(key, str):
                errors.append(f"{label}: parameters: parameter name {key!r} is not text")
                continue
            parent = path[: -len(f"[{key!r}]")] if path.endswith(f"[{key!r}]") else path
            if not _is_real(value):
                errors.append(f"{label}: {path}: value {_describe_value(value)} is not a finite number")
                continue
            info, problem = catalogue.parameter(key)
            if problem:
                errors.append(f"{label}: {parent}: {problem}")
                continue
            assert info is not None
            if info.py_name in seen:
                prev_label, _, prev_key = seen[info.py_name]
                if prev_label == label:
                    errors.append(f"{label}: {path}: parameter {info.name!r} is already set as {prev_key!r}")
                    continue
            seen[info.py_name] = (label, path, key)
            base[info.py_name] = value
            if not info.in_limits(value):
                msg = (f"{label}: {path}: value {value:g} is outside the declared range "
                       f"{info.range_text()} of {info.name!r} ({info.units or 'dimensionless'})")
                (warnings if allow_out_of_range else errors).append(msg)

        # policies
        resolved: list[tuple[int, Policy, "VariableInfo"]] = []
        for i, policy in enumerate(self.policies):
            if not isinstance(policy, Policy) or not isinstance(policy.schedule, Schedule) \
                    or not isinstance(policy.parameter, str):
                errors.append(f"{self.label}: policies[{i}]: expected a Policy(parameter, schedule), got "
                              f"{_describe_value(policy)}")
                continue
            origin = self._policy_origin(i, policy)
            info, problem = catalogue.parameter(policy.parameter)
            if problem:
                errors.append(f"{origin}.parameter: {problem}")
                continue
            assert info is not None
            resolved.append((i, policy, info))
        errors.extend(self._overlaps(resolved))
        for i, policy, info in resolved:
            start = base.get(info.py_name, info.default)
            if start is None or not isinstance(start, (int, float)) or not math.isfinite(start):
                errors.append(f"{self._policy_origin(i, policy)}.parameter: {info.name!r} has no numeric "
                              "base value to add a schedule to")
                continue
            lo, hi = policy.schedule.value_range()
            for extreme in (start + lo, start + hi):
                if not info.in_limits(extreme):
                    msg = (f"{self._policy_origin(i, policy)}: {info.name!r} reaches {extreme:g} (base {start:g} "
                           f"plus schedule), outside its declared range {info.range_text()} "
                           f"({info.units or 'dimensionless'})")
                    (warnings if allow_out_of_range else errors).append(msg)
                    break

        # time settings
        settings = dict(model.time_settings)
        for key, value in self.time.items():
            if key not in TIME_FIELDS:
                errors.append(f"{self.label}: time.{key}: unknown field.{suggest(str(key), TIME_FIELDS)}")
            elif not _is_real(value):
                errors.append(f"{self.label}: time.{key}: value {_describe_value(value)} is not a finite number")
            else:
                settings[key] = float(value)
        units = settings.get("time_units") or "model time units"
        t0, t1 = settings.get("initial_time"), settings.get("final_time")
        if t0 is not None and t1 is not None and t1 <= t0:
            errors.append(f"{self.label}: time.final_time: {t1:g} is not after initial_time {t0:g} ({units})")
        ts, sp = settings.get("time_step"), settings.get("saveper")
        if ts is not None and sp is not None and "saveper" in self.time and sp < ts * (1 - 1e-9):
            errors.append(f"{self.label}: time.saveper: {sp:g} is smaller than time_step {ts:g} ({units})")
        if t0 is not None and t1 is not None and t1 > t0:
            for i, policy, info in resolved:
                a, b = policy.schedule.support()
                if a >= t1 or b <= t0:
                    warnings.append(f"{self._policy_origin(i, policy)}: schedule on {info.name!r} is active "
                                    f"{_span(a, b)}, entirely outside the run {t0:g}..{t1:g} {units}")

        # outputs
        for j, name in enumerate(self.outputs or []):
            try:
                model.py_name(name)
            except SdclusterError:
                valid = [v.name for v in model.variables]
                errors.append(f"{self.label}: outputs[{j}]: unknown variable {name!r}.{suggest(name, valid)}")

        for w in warnings:
            log.warning("%s", w)
        if errors:
            hint = ("(values outside a declared range are accepted with a warning under "
                    "--allow-out-of-range / allow_out_of_range=True)"
                    if any("declared range" in e for e in errors) else "")
            raise _error(errors, hint)
        return warnings

    def _overlaps(self, resolved: list[tuple[int, Policy, Any]]) -> list[str]:
        """Messages for schedules on one parameter that overlap in time (sweep, O(n log n))."""
        out: list[str] = []
        by_param: dict[str, list[tuple[float, float, int, Policy]]] = {}
        for i, policy, info in resolved:
            a, b = policy.schedule.support()
            if a < b:  # an empty support never overlaps
                by_param.setdefault(info.py_name, []).append((a, b, i, policy))
        names = {info.py_name: info.name for _, _, info in resolved}
        for py, spans in by_param.items():
            spans.sort(key=lambda x: (x[0], x[2]))
            holder = spans[0]
            for cur in spans[1:]:
                if cur[0] < holder[1]:
                    first, later = sorted((holder, cur), key=lambda x: x[2])
                    out.append(
                        f"{self._policy_origin(later[2], later[3])}: overlaps "
                        f"{self._policy_origin(first[2], first[3])} on parameter {names[py]!r} (active "
                        f"{_span(later[0], later[1])} and {_span(first[0], first[1])}); schedules on one "
                        "parameter must not overlap in time; combine them into one 'table' policy")
                if cur[1] > holder[1]:
                    holder = cur
        return out

    def apply(self, model: "Model", *, allow_out_of_range: bool = False) -> dict[str, Any]:
        """Validate against *model* and return ``params`` for :meth:`Model.run`.

        Returns
        -------
        dict
            ``{python name: number or callable}``; a parameter with policies
            becomes a callable ``f(t) = base + sum(schedule(t))`` where *base* is
            the scenario's override or the model's default.
        """
        self.validate(model, allow_out_of_range=allow_out_of_range)
        catalogue = _Catalogue(model)
        params: dict[str, Any] = {}
        for key, value in self.parameters.items():
            info, _ = catalogue.parameter(key)
            params[info.py_name] = float(value)  # type: ignore[union-attr]
        scheduled: dict[str, list[Schedule]] = {}
        names: dict[str, str] = {}
        for policy in self.policies:
            info, _ = catalogue.parameter(policy.parameter)
            scheduled.setdefault(info.py_name, []).append(policy.schedule)  # type: ignore[union-attr]
            names[info.py_name] = info.name  # type: ignore[union-attr]
        for py, schedules in scheduled.items():
            start = params.get(py, catalogue.by_py[py].default)
            params[py] = ScheduledValue(float(start), tuple(schedules), names[py])
        return params


@dataclass(frozen=True)
class ScheduledValue:
    """A parameter's value over time: ``base + sum(s(t) for s in schedules)``.

    Accepts scalar times or NumPy arrays of times.
    """

    base: float
    schedules: tuple[Schedule, ...]
    parameter: str = ""

    def __call__(self, t: Any) -> Any:
        total = self.base + sum(s(t) for s in self.schedules)
        return float(total) if np.ndim(total) == 0 else total

    def to_dict(self) -> dict[str, Any]:
        """Description for provenance attributes."""
        return {"base": self.base, "schedules": [s.to_dict() for s in self.schedules]}


class _Catalogue:
    """Parameter lookup by model name, Python name or normalised name."""

    def __init__(self, model: "Model"):
        self.model = model
        self.by_py = {v.py_name: v for v in model.variables}
        self.params = {v.py_name: v for v in model.parameters}
        self.lookup: dict[str, Any] = {}
        for v in model.parameters:
            for k in (v.name, v.py_name, _norm(v.name), _norm(v.py_name)):
                self.lookup.setdefault(k, v)

    def parameter(self, name: str) -> tuple[Any, str]:
        """Return ``(info, "")`` or ``(None, problem message)``."""
        hit = self.lookup.get(name) or self.lookup.get(_norm(name))
        if hit is not None:
            return hit, ""
        try:
            py = self.model.py_name(name)
        except SdclusterError:
            py = None
        if py is not None and py in self.by_py:
            info = self.by_py[py]
            return None, (f"{info.name!r} is a {str(info.kind).lower()} variable, not a constant parameter; "
                          "only parameters can be set")
        valid = [v.name for v in self.model.parameters]
        return None, f"unknown parameter {name!r}.{suggest(str(name), valid)}"


def _is_real(value: Any) -> bool:
    """A finite real number (NumPy scalars included, bool excluded)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except (OverflowError, ValueError):
        return False


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "_", str(name).strip().lower())


def _span(a: float, b: float) -> str:
    return f"[{a:g}, {b:g})"


#: Most problems listed in one error message (all are kept in ``exc.problems``).
MAX_LISTED = 50


def _error(problems: Sequence[str], hint: str = "") -> ScenarioError:
    shown = list(problems[:MAX_LISTED])
    if len(problems) > MAX_LISTED:
        shown.append(f"... and {len(problems) - MAX_LISTED} more problems")
    exc = ScenarioError("\n".join([*shown, hint] if hint else shown))
    exc.problems = list(problems)  # type: ignore[attr-defined]
    return exc


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 50, 40


def _describe_value(value: Any) -> str:
    """Show a YAML value the way a planner wrote it (shortened, bounded for any input)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (empty)"
    if isinstance(value, str):
        return _REPR.repr(value)
    if isinstance(value, float):
        return str(value)
    if isinstance(value, int):
        text = str(value) if value.bit_length() < 200 else f"{str(value)[:20]}... ({len(str(value))} digits)"
        return text
    kind = {list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
    return f"{_REPR.repr(value)} ({kind})"


# --------------------------------------------------------------------------- public API
def load_scenarios(path: str | Path) -> list[Scenario]:
    """Load every scenario of a file (one scenario, or all entries of a set).

    ``path#name`` picks one entry of a set file.

    Raises
    ------
    ScenarioError
        For any problem with the file or the files it extends.
    """
    from .scenario_files import read_scenarios

    return read_scenarios(path)


def load_scenario(path: str | Path) -> Scenario:
    """Load a single scenario from *path* (``set.yaml#name`` for one entry of a set).

    Raises
    ------
    ScenarioError
        For any problem, or when the file holds several scenarios.
    """
    found = load_scenarios(path)
    if len(found) != 1:
        raise ScenarioError(f"{path}: holds {len(found)} scenarios ({', '.join(s.name for s in found)}); "
                            f"use load_scenarios(), or pick one as '{path}#NAME'")
    return found[0]


def scenario_from_dict(definition: Mapping[str, Any], *, name: str | None = None,
                       base_dir: str | Path | None = None) -> Scenario:
    """Build a scenario from a mapping with the same fields as a file.

    Parameters
    ----------
    definition
        Scenario fields (``name``, ``model``, ``parameters``, ``policies``, ...).
    name
        Name if the mapping has none (default ``"scenario"``).
    base_dir
        Folder against which ``extends`` and model paths resolve (default: the
        working directory).
    """
    from .scenario_files import scenario_from_mapping

    return scenario_from_mapping(definition, name=name, base_dir=base_dir)


def with_references(items: Iterable[Any] | str | Path | Scenario) -> list[Scenario]:
    """The scenarios of *items* plus every reference they name that is not among them.

    A scenario whose ``reference`` is not in the list is joined by the scenario its
    ``reference_source`` names (loaded from that file), and so on for the reference's own
    reference, so that every comparison has its baseline.

    Parameters
    ----------
    items
        Anything :func:`as_scenarios` accepts.

    Returns
    -------
    list of Scenario
        *items* first, in order, then the references that were added.
    """
    scenarios = as_scenarios(items)
    names = {s.name for s in scenarios}
    i = 0
    while i < len(scenarios):
        s = scenarios[i]
        if s.reference is not None and s.reference not in names and s.reference_source:
            ref = load_scenario(s.reference_source)
            scenarios.append(ref)
            names.add(ref.name)
        i += 1
    return scenarios


def as_scenarios(items: Iterable[Any] | str | Path | Scenario) -> list[Scenario]:
    """Turn paths, :class:`Scenario` objects and mappings into a flat list of scenarios."""
    if isinstance(items, (str, Path, Scenario, Mapping)):
        items = [items]
    out: list[Scenario] = []
    for item in items:
        if isinstance(item, Scenario):
            out.append(item)
        elif isinstance(item, (str, Path)):
            out.extend(load_scenarios(item))
        elif isinstance(item, Mapping):
            out.append(scenario_from_dict(item))
        else:
            raise ScenarioError(f"expected a scenario file path, a Scenario or a mapping, got {type(item).__name__}")
    return out
