"""Policy space files: the decision levers, the budget, the objectives and what is uncertain.

A policy space is a YAML file a planner can read and diff::

    # Question: how should 20 million over ten years be split across the instruments, and when?
    name: budget_20M
    reference: ../baseline.yaml      # levers are set on top of this scenario; KPIs compare with it
    budget: {total: 20, units: million}
    instruments:
      brokering:
        amount:   {parameter: brokering budget, low: 0, high: 4}        # per time unit
        start:    {parameter: brokering start, low: 0, high: 20, integer: true}
        end:      {parameter: brokering end}                            # set to start + duration
        duration: 10                                                    # fixed (or {low:, high:})
      platform:
        share:    {low: 0, high: 1}                                     # share of the total budget
        amount:   {parameter: platform budget}                          # receives share x total / years
        ...
    objectives:
      - value_added:cum                                # compare's KPI syntax (min:/max: prefix)
      - kpi: min:cumulative_public_cost@end
        robustness: mean
    robustness: {measure: percentile, q: 10}           # default for objectives that name none
    uncertainty: {file: uncertainty/cluster_policy.yaml, runs: 200, seed: 1}
    compare_with: [../brokering.yaml, ../package.yaml]  # hand-written scenarios, same ensemble
    search: {population: 40, generations: 30, seed: 1, max_seconds: 540}

Each instrument has an annual ``amount`` parameter (the model's constant in money
per time unit) set either directly (``amount`` with ``low``/``high``) or from a
``share`` of the total budget; optionally a ``start`` and a ``duration`` (which
sets an ``end`` parameter to start + duration, or a duration parameter).
A setting is a fixed number or a range ``{low, high, integer}``. The planned cost
of an instrument is ``amount x`` its active years inside the simulated horizon;
the planned costs of all instruments must not exceed ``budget.total``.

Robustness measures (over the ensemble members, each candidate paired with the
same members):

``mean``
    mean KPI value;
``percentile`` (``q``)
    the ``q``-th percentile (take a low ``q`` for a KPI where higher is better);
``regret``
    minimax regret: the largest shortfall, over the members, of the candidate
    from the best of the reference and the ``compare_with`` scenarios in that
    member (0 where the candidate is best); lower is better;
``satisficing`` (``threshold``: a number or ``reference``)
    share of members in which the KPI is strictly better than the threshold
    (``reference``: than the reference scenario in the same member).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..analysis.compare import KPI, KPIError, parse_kpi
from ..errors import ScenarioError, suggest
from ..scenarios.scenario import Scenario, load_scenario, load_scenarios
from ..scenarios.scenario_files import _mapping, _number, _Problems, _read_yaml, _text, _unknown

__all__ = ["Setting", "Instrument", "Objective", "Robustness", "PolicySpace", "load_space",
           "MEASURES", "SEARCH_FIELDS", "ALGORITHMS"]

FIELDS = ("name", "description", "model", "reference", "budget", "instruments", "objectives", "robustness",
          "uncertainty", "compare_with", "search", "cost_variable")
INSTRUMENT_FIELDS = ("amount", "share", "start", "duration", "end", "description")
SETTING_FIELDS = ("parameter", "low", "high", "integer", "value")
MEASURES = ("mean", "percentile", "regret", "satisficing")
SEARCH_FIELDS = ("algorithm", "population", "generations", "max_evaluations", "max_seconds", "seed",
                 "chunk_size")
#: Search algorithms (pymoo): NSGA-II for several objectives, differential evolution or GA for one.
ALGORITHMS = ("auto", "nsga2", "de", "ga")
UNCERTAINTY_FIELDS = ("file", "runs", "seed")


@dataclass(frozen=True)
class Setting:
    """A lever's value: fixed (``low == high``) or a range to search.

    Attributes
    ----------
    parameter : str or None
        Model parameter the value is written to (``None`` for ``share`` and a
        ``duration`` that only sets an ``end`` parameter).
    low, high : float
        Bounds (equal for a fixed value).
    integer : bool
        Search whole numbers only.
    """

    parameter: str | None
    low: float
    high: float
    integer: bool = False

    @property
    def fixed(self) -> bool:
        """True when the value is not searched."""
        return self.low == self.high


@dataclass(frozen=True)
class Instrument:
    """One policy instrument: its amount (or budget share), start and duration settings."""

    name: str
    amount: Setting
    share: Setting | None = None
    start: Setting | None = None
    duration: Setting | None = None
    end_parameter: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Robustness:
    """How one objective's values over the ensemble members become one number (see module docstring)."""

    measure: str = "mean"
    q: float | None = None
    threshold: float | str | None = None

    @property
    def label(self) -> str:
        """Short text, e.g. ``p10``, ``mean``, ``regret``, ``share>reference``."""
        if self.measure == "percentile":
            return f"p{self.q:g}"
        if self.measure == "satisficing":
            t = self.threshold if isinstance(self.threshold, str) else f"{self.threshold:g}"
            return f"share>{t}"
        return self.measure

    def better(self, kpi_better: str) -> str:
        """Direction of the robust value: regret is lower-better, a satisficing share higher-better."""
        if self.measure == "regret":
            return "lower"
        if self.measure == "satisficing":
            return "higher"
        return kpi_better


@dataclass(frozen=True)
class Objective:
    """A KPI (compare syntax) and its robustness measure."""

    kpi: KPI
    robustness: Robustness

    @property
    def label(self) -> str:
        """``"<robustness> of <kpi>"``, used as a column name."""
        return f"{self.robustness.label}({self.kpi.label})"

    @property
    def better(self) -> str:
        """``higher`` or ``lower``: direction of the robust value."""
        return self.robustness.better(self.kpi.better)


@dataclass
class PolicySpace:
    """A parsed policy space file (see the module docstring for the format)."""

    name: str
    reference: Scenario
    instruments: list[Instrument]
    objectives: list[Objective]
    budget: float
    budget_units: str = ""
    description: str = ""
    question: str = ""
    uncertainty: Path | None = None
    runs: int | None = None
    uncertainty_seed: int | None = None
    compare_with: list[Scenario] = field(default_factory=list)
    search: dict[str, Any] = field(default_factory=dict)
    cost_variable: str = "cumulative_public_cost"
    source: str | None = None
    sha256: str = ""

    @property
    def label(self) -> str:
        """How messages refer to the space: its file, or ``policy space 'name'``."""
        return self.source or f"policy space {self.name!r}"


# --------------------------------------------------------------------------- parsing
def _setting(value: Any, path: str, problems: _Problems, *, needs_parameter: bool,
             allow_parameter: bool = True) -> Setting | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = _number(value, path, "a number", problems)
        if x is None:
            return None
        if needs_parameter:
            problems.add(path, "needs the model parameter it sets: {parameter: NAME, low: .., high: ..}")
            return None
        return Setting(None, x, x)
    m = _mapping(value, path, problems, "a number or a mapping with parameter, low, high, integer")
    if m is None:
        return None
    n = len(problems.items)
    parameter = None
    for key in m:
        if key not in SETTING_FIELDS:
            _unknown(key, SETTING_FIELDS, path, problems)
    if "parameter" in m:
        if not allow_parameter:
            problems.add(f"{path}.parameter", "a share sets no parameter; put the parameter under 'amount'")
        else:
            p = _text(m["parameter"], f"{path}.parameter", problems, empty_ok=False)
            parameter = p.strip() if p else None
    elif needs_parameter:
        problems.add(path, "missing field 'parameter' (the model constant this lever sets)")
    if "value" in m and ("low" in m or "high" in m):
        problems.add(path, "give either 'value' (fixed) or 'low' and 'high' (searched), not both")
    if "value" in m:
        lo = hi = _number(m["value"], f"{path}.value", "a number", problems)
    elif "low" in m or "high" in m:
        missing = [f for f in ("low", "high") if f not in m]
        if missing:
            problems.add(path, f"missing field {missing[0]!r} (a range needs low and high)")
            return None
        lo = _number(m["low"], f"{path}.low", "a number", problems)
        hi = _number(m["high"], f"{path}.high", "a number", problems)
        if lo is not None and hi is not None and hi < lo:
            problems.add(f"{path}.high", f"value {hi:g} is below low {lo:g}")
    else:
        lo = hi = None
    integer = m.get("integer", False)
    if not isinstance(integer, bool):
        problems.add(f"{path}.integer", f"value {integer!r} is not true or false")
        integer = False
    if len(problems.items) > n:
        return None
    if lo is None:  # only a parameter: the amount of a share-funded instrument
        return Setting(parameter, math.nan, math.nan, integer)
    if integer and (lo != math.floor(lo) or hi != math.floor(hi)):
        problems.add(path, f"integer lever bounds must be whole numbers, got [{lo:g}, {hi:g}]")
        return None
    return Setting(parameter, lo, hi, integer)


def _instrument(name: str, value: Any, path: str, problems: _Problems) -> Instrument | None:
    m = _mapping(value, path, problems, "a mapping with amount (or share), start, duration, end")
    if m is None:
        return None
    n = len(problems.items)
    for key in m:
        if key not in INSTRUMENT_FIELDS:
            _unknown(key, INSTRUMENT_FIELDS, path, problems)
    if "amount" not in m:
        problems.add(path, "missing field 'amount' ({parameter: NAME, low: .., high: ..}: the instrument's "
                     "annual budget parameter)")
        return None
    amount = _setting(m["amount"], f"{path}.amount", problems, needs_parameter=True)
    share = _setting(m["share"], f"{path}.share", problems, needs_parameter=False, allow_parameter=False) \
        if "share" in m else None
    start = _setting(m["start"], f"{path}.start", problems, needs_parameter=True) if "start" in m else None
    duration = _setting(m["duration"], f"{path}.duration", problems, needs_parameter=False) \
        if "duration" in m else None
    end = None
    if "end" in m:
        e = m["end"]
        if isinstance(e, Mapping) and set(e) == {"parameter"}:
            e = e["parameter"]
        t = _text(e, f"{path}.end", problems, empty_ok=False)
        end = t.strip() if t else None
    if len(problems.items) > n or amount is None:
        return None
    if share is not None:
        if not math.isnan(amount.low):
            problems.add(f"{path}.amount", "with 'share' the amount is computed (share x total / years): give only "
                         "{parameter: NAME}")
        if share.low < 0 or share.high > 1:
            problems.add(f"{path}.share", f"range [{share.low:g}, {share.high:g}] must lie within [0, 1]")
    elif math.isnan(amount.low):
        problems.add(f"{path}.amount", "give low and high (or value), or fund the instrument with a 'share'")
    if amount.low < 0:
        problems.add(f"{path}.amount.low", f"value {amount.low:g} is negative; an amount is money spent")
    if duration is not None:
        if duration.low <= 0:
            problems.add(f"{path}.duration", f"value {duration.low:g} must be greater than 0")
        if duration.parameter is None and end is None:
            problems.add(f"{path}.duration", "sets nothing: give the model's end parameter as 'end: NAME' or "
                         "the duration's own parameter as 'duration: {parameter: NAME, ...}'")
        if duration.parameter is not None and end is not None:
            problems.add(f"{path}.end", "give either an end parameter or a duration parameter, not both")
    elif end is not None:
        problems.add(f"{path}.end", "an end parameter needs a 'duration' (end = start + duration)")
    if end is not None and start is None:
        problems.add(f"{path}.end", "end = start + duration needs a 'start'")
    if len(problems.items) > n:
        return None
    desc = m.get("description", "")
    return Instrument(name, amount, share, start, duration, end, str(desc or ""))


def _robustness(value: Any, path: str, problems: _Problems) -> Robustness | None:
    if isinstance(value, str):
        value = {"measure": value}
    m = _mapping(value, path, problems, f"a measure name ({', '.join(MEASURES)}) or a mapping with 'measure'")
    if m is None:
        return None
    for key in m:
        if key not in ("measure", "q", "threshold"):
            _unknown(key, ("measure", "q", "threshold"), path, problems)
    measure = m.get("measure")
    if measure not in MEASURES:
        hint = suggest(str(measure), MEASURES) if isinstance(measure, str) else ""
        problems.add(f"{path}.measure", f"unknown measure {measure!r}.{hint or ' Valid: ' + ', '.join(MEASURES) + '.'}")
        return None
    q = threshold = None
    if measure == "percentile":
        if "q" not in m:
            problems.add(path, "a percentile needs 'q' (0-100), e.g. {measure: percentile, q: 10}")
            return None
        q = _number(m["q"], f"{path}.q", "a percentile in [0, 100]", problems)
        if q is not None and not 0 <= q <= 100:
            problems.add(f"{path}.q", f"value {q:g} is outside [0, 100]")
            return None
    elif "q" in m:
        problems.add(f"{path}.q", f"'q' belongs to the percentile measure, not {measure!r}")
    if measure == "satisficing":
        t = m.get("threshold", "reference")
        if t != "reference":
            t = _number(t, f"{path}.threshold", "a number or 'reference'", problems)
        threshold = t
    elif "threshold" in m:
        problems.add(f"{path}.threshold", f"'threshold' belongs to the satisficing measure, not {measure!r}")
    return Robustness(measure, q, threshold)


def _objectives(value: Any, default: Robustness, path: str, problems: _Problems) -> list[Objective]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        problems.add(path, "expected a list of KPIs (compare's syntax, e.g. value_added:cum or "
                     "min:cumulative_public_cost@end)")
        return []
    out = []
    for i, entry in enumerate(value):
        p = f"{path}[{i}]"
        rob = default
        if isinstance(entry, Mapping):
            for key in entry:
                if key not in ("kpi", "robustness"):
                    _unknown(key, ("kpi", "robustness"), p, problems)
            if "robustness" in entry:
                rob = _robustness(entry["robustness"], f"{p}.robustness", problems) or default
            entry = entry.get("kpi")
            p = f"{p}.kpi"
        text = _text(entry, p, problems, empty_ok=False)
        if text is None:
            continue
        try:
            kpi = parse_kpi(text)
        except KPIError as exc:
            problems.add(p, str(exc))
            continue
        if kpi.per_cost:
            problems.add(p, f"KPI {text!r}: '/cost' objectives are not supported; add the cost as a second "
                         "objective (e.g. min:cumulative_public_cost@end) to get a cost-outcome front")
            continue
        out.append(Objective(kpi, rob))
    labels = [o.label for o in out]
    for lab in {x for x in labels if labels.count(x) > 1}:
        problems.add(path, f"objective {lab!r} is given twice")
    return out


def _scenario_ref(value: Any, path: str, base: Path, problems: _Problems, single: bool) -> list[Scenario]:
    text = _text(value, path, problems, empty_ok=False)
    if text is None:
        return []
    file_part, sep, member = text.strip().partition("#")
    target = str((base / file_part).expanduser()) + (sep + member if sep else "")
    try:
        return [load_scenario(target)] if single else load_scenarios(target)
    except ScenarioError as exc:
        problems.add(path, str(exc))
        return []


def load_space(path: str | Path) -> PolicySpace:
    """Read and check a policy space file (format in the module docstring).

    Only the file itself is checked here (fields, numbers, KPI syntax, the
    scenarios it names); :func:`sdcluster.design.check_space` checks it against
    the model before any run.

    Raises
    ------
    ScenarioError
        Listing every problem with its file, field, value and what is valid.
    """
    path = Path(path)
    label = str(path)
    if not path.exists():
        raise ScenarioError(f"{label}: policy space file not found")
    doc, question, sha = _read_yaml(path, label)
    problems = _Problems(label)
    if not isinstance(doc, Mapping):
        problems.add("", "expected a mapping with reference, budget, instruments and objectives")
        problems.raise_if_any()
    for key in doc:
        if key not in FIELDS:
            _unknown(key, FIELDS, "", problems)
    for key in ("reference", "budget", "instruments", "objectives"):
        if key not in doc:
            problems.add("", f"missing field {key!r}")
    problems.raise_if_any()
    base = path.resolve().parent
    ref = _scenario_ref(doc["reference"], "reference", base, problems, single=True)
    budget_m = doc["budget"]
    if isinstance(budget_m, (int, float)) and not isinstance(budget_m, bool):
        budget_m = {"total": budget_m}
    total, units = None, ""
    bm = _mapping(budget_m, "budget", problems, "a mapping {total: NUMBER, units: TEXT}")
    if bm is not None:
        for key in bm:
            if key not in ("total", "units"):
                _unknown(key, ("total", "units"), "budget", problems)
        if "total" not in bm:
            problems.add("budget", "missing field 'total' (the most public money the instruments may plan to spend)")
        else:
            total = _number(bm["total"], "budget.total", "an amount of money", problems)
            if total is not None and total <= 0:
                problems.add("budget.total", f"value {total:g} must be greater than 0")
        units = str(bm.get("units", "") or "")
    instruments = []
    im = _mapping(doc["instruments"], "instruments", problems, "a mapping of instrument name to its levers")
    if im is not None:
        if not im:
            problems.add("instruments", "no instruments given")
        for name, value in im.items():
            inst = _instrument(str(name), value, f"instruments.{name}", problems)
            if inst is not None:
                instruments.append(inst)
    default_rob = Robustness()
    if "robustness" in doc:
        default_rob = _robustness(doc["robustness"], "robustness", problems) or default_rob
    objectives = _objectives(doc["objectives"], default_rob, "objectives", problems)
    unc_file = runs = unc_seed = None
    if doc.get("uncertainty") is not None:
        u = doc["uncertainty"]
        if isinstance(u, str):
            u = {"file": u}
        um = _mapping(u, "uncertainty", problems, "a file name or a mapping {file, runs, seed}")
        if um is not None:
            for key in um:
                if key not in UNCERTAINTY_FIELDS:
                    _unknown(key, UNCERTAINTY_FIELDS, "uncertainty", problems)
            f = _text(um.get("file"), "uncertainty.file", problems, empty_ok=False)
            if f is not None:
                unc_file = (base / f.strip()).resolve()
                if not unc_file.is_file():
                    problems.add("uncertainty.file", f"file {f!r} not found (looked for {unc_file})")
            runs = _whole(um.get("runs"), "uncertainty.runs", problems, minimum=1)
            unc_seed = _whole(um.get("seed"), "uncertainty.seed", problems, minimum=0)
    compare_with: list[Scenario] = []
    cw = doc.get("compare_with") or []
    if isinstance(cw, str):
        cw = [cw]
    if not isinstance(cw, list):
        problems.add("compare_with", "expected a list of scenario files (file.yaml or file.yaml#name)")
        cw = []
    for i, entry in enumerate(cw):
        compare_with += _scenario_ref(entry, f"compare_with[{i}]", base, problems, single=False)
    search = _search(doc.get("search"), problems)
    cost_var = doc.get("cost_variable", "cumulative_public_cost")
    cost_var = _text(cost_var, "cost_variable", problems, empty_ok=False) or "cumulative_public_cost"
    name = _text(doc.get("name", path.stem), "name", problems, empty_ok=False) or path.stem
    description = str(doc.get("description") or "")
    problems.raise_if_any()
    return PolicySpace(name=name.strip(), reference=ref[0], instruments=instruments, objectives=objectives,
                       budget=float(total), budget_units=units, description=description.strip(),
                       question=question, uncertainty=unc_file, runs=runs, uncertainty_seed=unc_seed,
                       compare_with=compare_with, search=search, cost_variable=cost_var.strip(),
                       source=label, sha256=sha)


def _whole(value: Any, path: str, problems: _Problems, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(path, f"value {value!r} must be a whole number >= {minimum}")
        return None
    return int(value)


def _search(value: Any, problems: _Problems) -> dict[str, Any]:
    if value is None:
        return {}
    m = _mapping(value, "search", problems, f"a mapping with any of {', '.join(SEARCH_FIELDS)}")
    if m is None:
        return {}
    out: dict[str, Any] = {}
    for key, v in m.items():
        p = f"search.{key}"
        if key not in SEARCH_FIELDS:
            _unknown(key, SEARCH_FIELDS, "search", problems)
        elif key == "algorithm":
            if v not in ALGORITHMS:
                problems.add(p, f"unknown algorithm {v!r}.{suggest(str(v), ALGORITHMS) or ' Valid: ' + ', '.join(ALGORITHMS)}")
            else:
                out[key] = v
        elif key == "max_seconds":
            x = _number(v, p, "seconds", problems)
            if x is not None and x <= 0:
                problems.add(p, f"value {x:g} must be greater than 0")
            elif x is not None:
                out[key] = x
        else:
            x = _whole(v, p, problems, minimum=0 if key == "seed" else (4 if key == "population" else 1))
            if x is not None:
                out[key] = x
    return out


def _roles(inst: Instrument) -> list[tuple[str, Setting]]:
    out = [("share", inst.share)] if inst.share is not None else [("amount", inst.amount)]
    out += [(r, s) for r, s in (("start", inst.start), ("duration", inst.duration)) if s is not None]
    return out


def parameters_of(space: PolicySpace) -> list[tuple[str, str]]:
    """``(field path, parameter name)`` of every model parameter the levers set."""
    out = []
    for inst in space.instruments:
        out.append((f"instruments.{inst.name}.amount.parameter", inst.amount.parameter))
        if inst.start is not None:
            out.append((f"instruments.{inst.name}.start.parameter", inst.start.parameter))
        if inst.duration is not None and inst.duration.parameter is not None:
            out.append((f"instruments.{inst.name}.duration.parameter", inst.duration.parameter))
        if inst.end_parameter is not None:
            out.append((f"instruments.{inst.name}.end", inst.end_parameter))
    return out


def objective_variables(space: PolicySpace) -> list[tuple[str, str]]:
    """``(field path, variable)`` of every variable the objectives read."""
    return [(f"objectives[{i}]", o.kpi.variable) for i, o in enumerate(space.objectives)]
