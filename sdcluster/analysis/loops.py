"""Feedback loops of a model and their dominance over a run (Loops that Matter).

>>> import sdcluster
>>> from sdcluster.analysis import loops
>>> model = sdcluster.load_model("cluster_lifecycle")       # doctest: +SKIP
>>> table = loops.structure(model)                          # doctest: +SKIP
>>> ds = loops.dominance(model)                             # doctest: +SKIP
>>> loops.dominant_periods(ds)                              # doctest: +SKIP

Method (Schoenberg, Davidsen & Eberlein 2020): every link on a loop gets a
*link score* at every time step (:mod:`sdcluster.analysis.linkscores`); a
loop's *loop score* is the product of its link scores; its *relative loop
score* is its loop score divided by the sum of the absolute loop scores of all
loops in its cycle partition (the loops through the same set of mutually
reachable stocks), so the magnitudes of a partition's relative scores sum to
1 whenever any of its loops is active. Scores are computed at every time step
of the run and reported at the saved times.

Loops are enumerated exhaustively (:func:`sdcluster.analysis.graph.elementary_circuits`,
at most :data:`~sdcluster.analysis.graph.MAX_LOOPS` loops). A model with more
loops is analysed by strongest-path discovery (Eberlein & Schoenberg 2020):
at sampled times, from every stock, a depth-first search follows links in
order of decreasing |link score| and keeps the loops it closes; only those
loops are scored, and their relative scores are shares of the discovered
loops' total (the ``ltm_mode`` attribute says which method was used).
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from ..errors import ScenarioError, suggest
from . import graph as graphmod
from .graph import CausalGraph, LoopAnalysisError, TooManyLoops
from .linkscores import Evaluator, link_score, stateful_composite

log = logging.getLogger(__name__)

#: Loops whose relative scores are summed until this share is reached form the dominant set.
DOMINANCE_THRESHOLD = 0.5
#: Simlin's confidence cut-off between "mostly reinforcing/balancing" and undetermined.
POLARITY_CONFIDENCE = 0.99
#: At most this many sampled times are searched for loops in discovery mode.
DISCOVERY_SAMPLES = 200
#: At most this many loops are kept in discovery mode (by their peak relative score).
DISCOVERY_MAX_LOOPS = 200


@dataclass(frozen=True)
class Loop:
    """One feedback loop.

    Attributes
    ----------
    name : str
        Stable readable name (``R1``, ``B3``, ``U2``: polarity letter and rank).
    nodes : tuple of str
        Python names along the loop, starting at its first stock.
    polarity : str
        ``"R"``, ``"B"`` or ``"U"`` (a link whose sign changes or is never seen).
    partition : int
        Index of its cycle partition (strongly connected component).
    group : str
        The user's loop name (from the model's ``.loops.yaml``) or ``""``.
    """

    name: str
    nodes: tuple[str, ...]
    polarity: str
    partition: int
    group: str = ""

    @property
    def links(self) -> list[tuple[str, str]]:
        """The loop's links ``(source, target)`` in order."""
        return [(self.nodes[i], self.nodes[(i + 1) % len(self.nodes)]) for i in range(len(self.nodes))]

    def describe(self, graph: CausalGraph) -> str:
        """``"Firms → entry rate → Firms"`` in the model's own names."""
        names = [graph.display(n) for n in self.nodes]
        return " → ".join(names + names[:1])


@dataclass
class LoopTable:
    """The loops of a model.

    Attributes
    ----------
    loops : list of Loop
    graph : CausalGraph
    mode : str
        ``"exhaustive"`` or ``"discovery"`` (too many loops to enumerate).
    link_polarity : dict
        ``{(source, target): "+" | "-" | "?"}`` observed over the reference run.
    note : str
        How the loops were found, and the limit that applied.
    """

    loops: list[Loop]
    graph: CausalGraph
    mode: str
    link_polarity: dict[tuple[str, str], str] = field(default_factory=dict)
    note: str = ""

    def to_frame(self) -> pd.DataFrame:
        """One row per loop: name, group, polarity, length, stocks, path."""
        rows = [{"loop": lp.name, "group": lp.group, "polarity": lp.polarity, "length": len(lp.nodes),
                 "stocks": ", ".join(self.graph.display(n) for n in lp.nodes if n in self.graph.stocks),
                 "path": lp.describe(self.graph)} for lp in self.loops]
        return pd.DataFrame(rows, columns=["loop", "group", "polarity", "length", "stocks", "path"])

    def __getitem__(self, name: str) -> Loop:
        for lp in self.loops:
            if lp.name == name:
                return lp
        raise KeyError(f"no loop named {name!r}.{suggest(name, [lp.name for lp in self.loops])}")


_STRUCTURES: "weakref.WeakKeyDictionary[Any, LoopTable]" = weakref.WeakKeyDictionary()


def structure(model: Any, *, names: str | Path | None = None, max_loops: int = graphmod.MAX_LOOPS) -> LoopTable:
    """The feedback loops of *model* with polarity and stable names.

    Parameters
    ----------
    model
        A :class:`sdcluster.Model`.
    names
        A loop-names YAML file (default: ``<model file stem>.loops.yaml`` next to
        the model file, when it exists); see :func:`read_loop_names`.
    max_loops
        Exhaustive-enumeration limit; beyond it the loops come from
        strongest-path discovery on the reference run.

    Notes
    -----
    Link polarity is the sign of the link score observed over the model's
    reference run (its own parameters and time settings): ``+`` or ``-``
    when the sign never changes, ``?`` when it changes or the link is never
    active. A loop's polarity is the product of its link polarities (``U``
    when any is ``?``). Loops are named in a fixed order — first, for each
    stock in alphabetical order, the shortest loop through it; then the
    others by length and variable names — and numbered per polarity letter.
    """
    key = (str(names), max_loops)
    cached = _STRUCTURES.get(model)
    if cached is not None and getattr(cached, "_key", None) == key:
        return cached
    g = graphmod.from_pysd(model.pysd)  # load_model has rejected algebraic loops
    names_file = _names_file(model, names)
    user = read_loop_names(names_file, g) if names_file else []
    try:
        cycles = graphmod.elementary_circuits(g, max_loops=max_loops)
        mode, note = "exhaustive", f"all {len(cycles)} loops enumerated (Johnson's algorithm; limit {max_loops})"
    except TooManyLoops as exc:
        cycles, mode = None, "discovery"
        note = f"{exc}; loops found by strongest-path search at up to {DISCOVERY_SAMPLES} times of the reference run"
    if mode == "exhaustive" and not cycles:
        table = LoopTable([], g, mode, {}, "the model has no feedback loops")
    else:
        try:
            scores, cycles, ev = _reference_scores(model, g, cycles)
            reference: Any = (scores, ev)
        except LoopAnalysisError as exc:
            if cycles is None:
                raise
            scores, reference = {}, exc
            note += f"; polarity unknown: {exc}"
        polarity = {lk: _sign_label(s) for lk, s in scores.items()}
        table = _name_loops(g, cycles, polarity, user, mode, note)
        table._reference = reference  # type: ignore[attr-defined]
    table._key = key  # type: ignore[attr-defined]
    _STRUCTURES[model] = table
    return table


def _names_file(model: Any, names: str | Path | None) -> Path | None:
    if names is not None:
        return Path(names)
    candidate = Path(model.path).with_suffix(".loops.yaml")
    return candidate if candidate.exists() else None


@dataclass(frozen=True)
class LoopGroup:
    """A named group of loops from a loop-names file (see :func:`read_loop_names`)."""

    name: str
    through: frozenset[str] = frozenset()
    any: frozenset[str] = frozenset()
    avoid: frozenset[str] = frozenset()
    max_length: int | None = None

    def matches(self, nodes: Sequence[str]) -> bool:
        """True when a loop along *nodes* belongs to this group."""
        ns = set(nodes)
        return (self.through <= ns and (not self.any or bool(self.any & ns)) and not (self.avoid & ns)
                and (self.max_length is None or len(ns) <= self.max_length))


def read_loop_names(path: str | Path, g: CausalGraph) -> list[LoopGroup]:
    """Read a loop-names file (YAML)::

        R1 trust-cooperation spiral:
          doc: Trust makes joining worthwhile; joint work builds trust.
          through: [Trust, expected benefit ratio, engagement share]   # all of these
          any: [firm joining, firm leaving]                            # at least one of these
          avoid: [Collective goods]                                    # none of these
          max_length: 12                                               # at most 12 variables

    A loop belongs to the first group (in file order) it matches. Variables
    may be given by model name or Python name.

    Raises
    ------
    ScenarioError
        Malformed file or unknown variable (with the closest names).
    """
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read loop names: {exc}") from exc
    if not isinstance(spec, dict) or not spec:
        raise ScenarioError(f"{path}: expected a mapping of loop names to {{through: [...]}}")
    by_name = {v.lower(): k for k, v in g.names.items()}
    valid = sorted(set(g.names.values()))

    def resolve(var: Any, group: str, field_name: str) -> str:
        key = str(var)
        if key in g.inputs or key in g.names:
            return key
        hit = by_name.get(key.lower().strip())
        if hit is None:
            raise ScenarioError(f"{path}: loop {group!r}, {field_name}: unknown variable {key!r}.{suggest(key, valid)}")
        return hit

    out = []
    fields = ("through", "any", "avoid", "max_length", "doc")
    for group, entry in spec.items():
        if not isinstance(entry, dict) or not entry:
            raise ScenarioError(f"{path}: loop {group!r}: expected a mapping with any of {', '.join(fields)}")
        extra = set(entry) - set(fields)
        if extra:
            raise ScenarioError(f"{path}: loop {group!r}: unknown field(s) {sorted(extra)}; valid: {', '.join(fields)}")
        sets = {}
        for key in ("through", "any", "avoid"):
            value = entry.get(key) or []
            if not isinstance(value, list):
                raise ScenarioError(f"{path}: loop {group!r}, {key}: expected a list of variables, got {value!r}")
            sets[key] = frozenset(resolve(v, group, key) for v in value)
        max_length = entry.get("max_length")
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 1):
            raise ScenarioError(f"{path}: loop {group!r}, max_length: expected a positive integer, got {max_length!r}")
        out.append(LoopGroup(str(group), max_length=max_length, **sets))
    return out


def _sign_label(scores: np.ndarray) -> str:
    pos, neg = bool(np.any(scores > 0)), bool(np.any(scores < 0))
    return "+" if pos and not neg else "-" if neg and not pos else "?"


def _name_loops(g: CausalGraph, cycles: list[list[str]], polarity: Mapping[tuple[str, str], str],
                user: Sequence["LoopGroup"], mode: str, note: str) -> LoopTable:
    comps = g.components()
    comp_of = {n: i for i, c in enumerate(comps) for n in c}
    rotated = [_rotate(c, g) for c in cycles]
    order: list[tuple[str, ...]] = []
    seen: set[tuple[str, ...]] = set()
    for stock in sorted(g.stocks):
        through = [c for c in rotated if stock in c and c not in seen]
        if through:
            best = min(through, key=lambda c: (len(c), c))
            order.append(best)
            seen.add(best)
    order += sorted((c for c in rotated if c not in seen), key=lambda c: (len(c), c))
    counters: dict[str, int] = {}
    loops = []
    for nodes in order:
        signs = [polarity.get((nodes[i], nodes[(i + 1) % len(nodes)]), "?") for i in range(len(nodes))]
        letter = "U" if "?" in signs else ("B" if signs.count("-") % 2 else "R")
        counters[letter] = counters.get(letter, 0) + 1
        group = next((grp.name for grp in user if grp.matches(nodes)), "")
        loops.append(Loop(f"{letter}{counters[letter]}", nodes, letter, comp_of[nodes[0]], group))
    return LoopTable(loops, g, mode, dict(polarity), note)


def _rotate(cycle: Sequence[str], g: CausalGraph) -> tuple[str, ...]:
    """Start a loop at its alphabetically first stock (first node when it has none)."""
    stocks = sorted(n for n in cycle if n in g.stocks) or sorted(cycle)
    i = list(cycle).index(stocks[0])
    return tuple(cycle[i:]) + tuple(cycle[:i])


# ---------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------
def _record(model: Any, g: CausalGraph, links: Sequence[tuple[str, str]], params: Mapping[str, Any] | None,
            run_kwargs: Mapping[str, Any]) -> tuple[xr.Dataset, Evaluator]:
    """Run *model* saving every time step, with every series the link scores need."""
    module = model.pysd.components._components
    deps = module.component.dependencies
    probe = Evaluator(model.pysd, g, {"time": np.zeros(2)})
    needed: set[str] = set()
    for s, t in links:
        needed.update((s, t))
        if t in g.statefuls:
            needed.update(k for k in deps[t]["step"] if not k.startswith("_"))
        else:
            needed.update(probe._equation(t)[1])
    public = {n for n in needed if not n.startswith("_")}
    owners = {k: t for t, srcs in g.inputs.items() for k in srcs if k in g.statefuls}
    public |= {owners[n] for n in needed if n in owners}
    bad = sorted(n for n in public if n in g.subscripted)
    if bad:
        raise LoopAnalysisError(f"{model.path.name}: loop scores of subscripted variables are not computed "
                                f"({', '.join(bad[:5])}); the loop structure is listed at the variable level")
    kwargs = dict(run_kwargs)
    step = kwargs.get("time_step") or model.time_settings["time_step"]
    kwargs["saveper"] = step
    ds = model.run(params, outputs=sorted(public), check_limits=kwargs.pop("check_limits", True), **kwargs)
    series = {k: ds[k].values.astype(float) for k in ds.data_vars}
    for node in g.statefuls:
        owner = owners.get(node)
        if owner in series:
            series[node] = series[owner]
    series["time"] = ds["time"].values.astype(float)
    ev = Evaluator(model.pysd, g, series)
    ev.run_attrs = dict(ds.attrs)
    return ds, ev


def _link_scores(ev: Evaluator, g: CausalGraph, links: Sequence[tuple[str, str]]) -> dict[tuple[str, str], np.ndarray]:
    out = {}
    nets: dict[str, np.ndarray] = {}
    for s, t in links:
        if (s, t) in out:
            continue
        if t in g.stocks:
            if t not in nets:
                nets[t] = ev.net_flow(t)
            out[(s, t)] = link_score(nets[t], ev.partial(t, s), ev.series[s])
        elif t in g.statefuls:
            out[(s, t)] = stateful_composite(ev, t, s)
        else:
            out[(s, t)] = link_score(ev.series[t], ev.partial(t, s), ev.series[s])
    return out


def _reference_scores(model: Any, g: CausalGraph, cycles: list[list[str]] | None,
                      params: Mapping[str, Any] | None = None, run_kwargs: Mapping[str, Any] | None = None):
    """Link scores of the loops' links over one run (and the loops, discovered when *cycles* is None)."""
    if cycles is not None:
        links = sorted({lk for c in cycles for lk in zip(c, list(c[1:]) + [c[0]])})
        _, ev = _record(model, g, links, params, run_kwargs or {})
        return _link_scores(ev, g, links), cycles, ev
    comps = g.components()
    inside = {n for c in comps for n in c}
    links = [(s, t) for s, t in g.links if s in inside and t in inside]
    _, ev = _record(model, g, links, params, run_kwargs or {})
    scores = _link_scores(ev, g, links)
    return scores, discover(g, scores), ev


def discover(g: CausalGraph, scores: Mapping[tuple[str, str], np.ndarray],
             samples: int = DISCOVERY_SAMPLES) -> list[list[str]]:
    """Strongest-path loop discovery (Eberlein & Schoenberg 2020) over link-score series.

    At up to *samples* evenly spaced times, a depth-first search from every
    stock follows links in order of decreasing |link score|, abandoning a
    path whose |score product| is no larger than the best one that reached the
    same variable before; each return to the start closes a loop.
    """
    n = len(next(iter(scores.values())))
    found: set[tuple[str, ...]] = set()
    out_links: dict[str, list[str]] = {}
    for s, t in scores:
        out_links.setdefault(s, []).append(t)
    for i in np.unique(np.linspace(1, n - 1, min(samples, n - 1)).astype(int)):
        weight = {lk: abs(float(v[i])) for lk, v in scores.items()}
        strongest_first = {src: sorted((t for t in targets if weight[(src, t)] > 0),
                                       key=lambda t, src=src: -weight[(src, t)])
                           for src, targets in out_links.items()}
        for stock in sorted(g.stocks):
            _strongest(stock, weight, strongest_first, found, g)
    return sorted((list(c) for c in found), key=lambda c: (len(c), c))


def _strongest(start: str, weight: Mapping[tuple[str, str], float], strongest_first: Mapping[str, list[str]],
               found: set[tuple[str, ...]], g: CausalGraph) -> None:
    """Depth-first strongest-path search from *start*, adding the loops it closes to *found*."""
    best: dict[str, float] = {}
    stack = [(start, 1.0, iter(strongest_first.get(start, ())))]
    path = [start]
    on_path = {start}
    while stack:
        cur, sc, nxts = stack[-1]
        nxt = next(nxts, None)
        if nxt is None:
            stack.pop()
            on_path.discard(path.pop())
            continue
        nsc = sc * weight[(cur, nxt)]
        if nxt == start:
            found.add(_rotate(path, g))
            continue
        if nxt in on_path or nsc <= best.get(nxt, 0.0):
            continue
        best[nxt] = nsc
        stack.append((nxt, nsc, iter(strongest_first.get(nxt, ()))))
        path.append(nxt)
        on_path.add(nxt)


def dominance(model_or_ds: Any, params: Mapping[str, Any] | None = None, *, scenario: Any = None,
              names: str | Path | None = None, max_loops: int = graphmod.MAX_LOOPS,
              threshold: float = DOMINANCE_THRESHOLD, **run_kwargs: Any) -> xr.Dataset:
    """Loop dominance over one run: link, loop and relative loop scores.

    Parameters
    ----------
    model_or_ds
        A :class:`sdcluster.Model`, or a Dataset returned by this function
        (returned unchanged).
    params
        Parameter overrides (numbers or time schedules), as for :meth:`Model.run`.
    scenario
        A :class:`sdcluster.scenarios.scenario.Scenario` (its parameters and schedules
        are used; exclusive with *params*).
    names
        Loop-names YAML file (see :func:`structure`).
    max_loops
        Exhaustive-enumeration limit.
    threshold
        Share of the partition's activity the dominant loop set must explain.
    **run_kwargs
        ``initial_time``, ``final_time``, ``time_step``, ``saveper``,
        ``check_limits``. Scores are computed at every time step and reported
        every ``saveper``.

    Returns
    -------
    xarray.Dataset
        Dimensions ``time`` and ``loop``: ``loop_score``,
        ``relative_loop_score`` (time, loop); ``dominant`` (time; the names
        of the dominant loop set, comma separated); per loop ``polarity``,
        ``runtime_polarity``, ``length``, ``partition``, ``group``, ``path``.
        Attributes carry the run's provenance and ``ltm_mode``.
    """
    if isinstance(model_or_ds, xr.Dataset):
        if "relative_loop_score" not in model_or_ds:
            raise LoopAnalysisError("dominance() needs a Model (and the run's params or scenario) to compute "
                                    "scores; a result Dataset without 'relative_loop_score' cannot be analysed")
        return model_or_ds
    model = model_or_ds
    if scenario is not None:
        if params:
            raise ScenarioError("give either params or scenario, not both")
        params = scenario.apply(model, allow_out_of_range=not run_kwargs.get("check_limits", True))
        run_kwargs = {**scenario.run_kwargs(), **run_kwargs}
    table = structure(model, names=names, max_loops=max_loops)
    g = table.graph
    saveper = run_kwargs.pop("saveper", None)
    if isinstance(getattr(table, "_reference", None), Exception):
        raise table._reference  # type: ignore[attr-defined]
    if not table.loops:
        return _empty(model, table, params, run_kwargs)
    reference = not params and not run_kwargs
    if reference:  # the reference run, already scored
        scores, ev = table._reference  # type: ignore[attr-defined]
    else:
        if table.mode == "exhaustive":
            links = sorted({lk for lp in table.loops for lk in lp.links})
        else:
            inside = {n for c in g.components() for n in c}
            links = [(s, t) for s, t in g.links if s in inside and t in inside]
        ev = _record(model, g, links, params, run_kwargs)[1]
        scores = _link_scores(ev, g, links)
    if table.mode == "exhaustive" or reference:
        loops = table.loops
    else:
        found = discover(g, scores)
        known = {lp.nodes: lp for lp in table.loops}
        extra = [tuple(c) for c in found if tuple(c) not in known]
        loops = list(table.loops) + _name_loops(g, [list(c) for c in extra], table.link_polarity, [], "discovery",
                                                "").loops
        loops = _unique_names(loops, len(table.loops))
    times = ev.series["time"]
    loop_score = np.ones((len(times), len(loops)))
    for j, lp in enumerate(loops):
        for lk in lp.links:
            loop_score[:, j] *= scores[lk]
    rel = _relative(loop_score, [lp.partition for lp in loops])
    if table.mode == "discovery":  # keep the loops that matter
        keep = np.argsort(-np.nanmax(np.abs(rel), axis=0), kind="stable")[:DISCOVERY_MAX_LOOPS]
        keep = np.sort(keep)
        loops = [loops[j] for j in keep]
        loop_score = loop_score[:, keep]
        rel = _relative(loop_score, [lp.partition for lp in loops])
    idx = _saved_indices(times, model, saveper, ev.run_attrs)
    ds = _dataset(model, table, loops, times[idx], loop_score[idx], rel[idx], rel, ev.run_attrs, threshold)
    for stock in sorted(g.stocks & set(ev.series)):  # the stocks, for reading the scores against behaviour
        info = model.info(stock)
        ds[stock] = ("time", ev.series[stock][idx], {"units": info.units, "long_name": info.name,
                                                      "description": info.description})
    if scenario is not None:
        ds.attrs["scenario"] = scenario.name
    return ds


def _unique_names(loops: list[Loop], n_known: int) -> list[Loop]:
    used = {lp.name for lp in loops[:n_known]}
    out = list(loops[:n_known])
    for lp in loops[n_known:]:
        name, k = lp.name, 0
        while name in used:
            k += 1
            name = f"{lp.name}.{k}"
        used.add(name)
        out.append(Loop(name, lp.nodes, lp.polarity, lp.partition, lp.group))
    return out


def _relative(loop_score: np.ndarray, partitions: Sequence[int]) -> np.ndarray:
    rel = np.zeros_like(loop_score)
    parts = np.asarray(partitions)
    for p in np.unique(parts):
        cols = parts == p
        total = np.abs(loop_score[:, cols]).sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel[:, cols] = np.where(total > 0, loop_score[:, cols] / total, 0.0)
    return rel


def runtime_polarity(relative: np.ndarray) -> tuple[str, float]:
    """Simlin's runtime classification of a loop's relative-score series: R, B, Rux, Bux or U, and confidence."""
    v = relative[np.isfinite(relative) & (relative != 0)]
    if v.size == 0:
        return "", 0.0
    pos, neg = float(v[v > 0].sum()), float(-v[v < 0].sum())
    conf = abs(pos - neg) / (pos + neg)
    if neg == 0:
        return "R", 1.0
    if pos == 0:
        return "B", 1.0
    if conf >= POLARITY_CONFIDENCE:
        return ("Rux" if pos > neg else "Bux"), conf
    return "U", conf


def _saved_indices(times: np.ndarray, model: Any, saveper: float | None, attrs: Mapping[str, Any]) -> np.ndarray:
    step = float(attrs["time_step"])
    every = saveper if saveper is not None else model.time_settings["saveper"]
    stride = max(int(round(float(every) / step)), 1)
    idx = np.arange(0, len(times), stride)
    return idx


def _dominant_sets(rel: np.ndarray, names: Sequence[str], partitions: Sequence[int],
                   threshold: float) -> list[str]:
    """Per time: the smallest same-sign set of loops (largest first) explaining *threshold* of the
    largest partition's activity (Simlin's greedy rule)."""
    out = []
    names = list(names)
    parts = np.asarray(partitions)
    main = np.bincount(parts).argmax() if len(parts) else 0
    cols = np.flatnonzero(parts == main)
    for row in rel:
        best: list[str] = []
        best_share = 0.0
        for sign in (1, -1):
            vals = [(abs(row[j]), names[j]) for j in cols if np.sign(row[j]) == sign]
            vals.sort(key=lambda v: (-v[0], v[1]))
            chosen, share = [], 0.0
            for v, nm in vals:
                chosen.append(nm)
                share += v
                if share >= threshold:
                    break
            if share > best_share:
                best, best_share = chosen, share
        out.append(", ".join(sorted(best)))
    return out


def _dataset(model: Any, table: LoopTable, loops: list[Loop], times: np.ndarray, score: np.ndarray,
             rel: np.ndarray, rel_full: np.ndarray, run_attrs: Mapping[str, Any], threshold: float) -> xr.Dataset:
    g = table.graph
    names = [lp.name for lp in loops]
    runtime = [runtime_polarity(rel_full[:, j]) for j in range(len(loops))]
    time_units = model.time_units
    ds = xr.Dataset(
        {
            "loop_score": (("time", "loop"), score, {
                "long_name": "loop score (product of the loop's link scores)",
                "units": "1",
                "description": "Loops that Matter loop score; sign + reinforcing, - balancing"}),
            "relative_loop_score": (("time", "loop"), rel, {
                "long_name": "relative loop score", "units": "1",
                "description": "loop score / sum of |loop scores| of the loops in the same cycle partition"}),
            "dominant": (("time",), np.array(_dominant_sets(rel, names, [lp.partition for lp in loops], threshold),
                                             dtype=object), {
                "long_name": "dominant loop set",
                "description": f"smallest same-polarity set of loops whose |relative scores| sum to at least "
                               f"{threshold:g} (largest partition)"}),
            "polarity": (("loop",), np.array([lp.polarity for lp in loops], dtype=object), {
                "long_name": "loop polarity from link polarities (R, B, U)"}),
            "runtime_polarity": (("loop",), np.array([r[0] for r in runtime], dtype=object), {
                "long_name": "loop polarity from the sign of its scores in this run (R, B, Rux, Bux, U)"}),
            "polarity_confidence": (("loop",), np.array([r[1] for r in runtime]), {
                "long_name": "|sum of positive - sum of negative relative scores| / sum of their magnitudes",
                "units": "1"}),
            "length": (("loop",), np.array([len(lp.nodes) for lp in loops]), {"long_name": "number of variables",
                                                                             "units": "1"}),
            "partition": (("loop",), np.array([lp.partition for lp in loops]), {
                "long_name": "cycle partition (strongly connected component) index"}),
            "group": (("loop",), np.array([lp.group for lp in loops], dtype=object), {
                "long_name": "named loop group (model's loop-names file)"}),
            "path": (("loop",), np.array([lp.describe(g) for lp in loops], dtype=object), {
                "long_name": "variables along the loop"}),
            "stocks": (("loop",), np.array([",".join(n for n in lp.nodes if n in g.stocks) for lp in loops],
                                          dtype=object), {"long_name": "stocks on the loop (Python names)"}),
        },
        coords={"time": ("time", times, {"units": time_units, "long_name": "Time", "standard_name": "time"}),
                "loop": ("loop", np.array(names, dtype=object), {"long_name": "loop name"})},
    )
    ds.attrs.update({k: v for k, v in run_attrs.items() if k not in ("title", "saveper")})
    ds.attrs.update({"title": f"Loop dominance (Loops that Matter) of {model.path.name}",
                     "saveper": float(times[1] - times[0]) if len(times) > 1 else float(run_attrs["saveper"]),
                     "ltm_mode": table.mode, "ltm_note": table.note,
                     "ltm_method": "Schoenberg, Davidsen & Eberlein (2020) link scores (2020 flow-to-stock "
                                   "score, as Simlin); relative scores within cycle partitions",
                     "dominance_threshold": threshold})
    return ds


def _empty(model: Any, table: LoopTable, params: Mapping[str, Any] | None, run_kwargs: Mapping[str, Any]) -> xr.Dataset:
    first = model.stocks[0].py_name if model.stocks else model.variables[0].py_name
    full = model.run(params, outputs=[first], **run_kwargs)
    n = full.sizes["time"]
    return _dataset(model, table, [], full["time"].values, np.zeros((n, 0)), np.zeros((n, 0)), np.zeros((n, 0)),
                    full.attrs, DOMINANCE_THRESHOLD)


def dominant_periods(ds: xr.Dataset, by: str = "loop", stock: str | None = None) -> list[tuple[float, float, str]]:
    """Contiguous periods with the same dominant set: ``[(start, end, "R1, R2"), ...]``.

    With ``by="group"`` the dominant set is computed on the named loop groups
    (each group's relative score is the sum of its loops'), optionally only
    among the loops through *stock* (see :func:`group_scores`).
    """
    if by not in ("loop", "group"):
        raise LoopAnalysisError(f"dominant_periods: by={by!r}; valid: 'loop', 'group'")
    if by == "group":
        grouped = group_scores(ds, stock=stock).transpose("time", "group")
        labels = _dominant_sets(grouped.values, list(grouped["group"].values), [0] * grouped.sizes["group"],
                                float(ds.attrs.get("dominance_threshold", DOMINANCE_THRESHOLD)))
    else:
        labels = list(ds["dominant"].values)
    times = ds["time"].values
    periods = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            periods.append((float(times[start]), float(times[i - 1]), labels[start]))
            start = i
    return periods


def group_scores(ds: xr.Dataset, partition: int | None = None, stock: str | None = None) -> xr.DataArray:
    """Relative scores summed per named loop group (unnamed loops form ``"other R"``, ``"other B"``, ``"other U"``).

    Parameters
    ----------
    partition
        Only the loops of this cycle partition (default: the one with most loops).
    stock
        Only the loops through this stock, their scores renormalised among
        themselves (each time's magnitudes sum to 1): which loops drive
        *that* stock. ``None``: every loop of the partition.
    """
    parts = ds["partition"].values
    if stock is not None:
        through = [i for i, s in enumerate(ds["stocks"].values) if stock in s.split(",")]
        if not through:
            raise LoopAnalysisError(f"no loop passes through stock {stock!r}")
        sel = ds.isel(loop=through)
        score = sel["loop_score"]
        total = np.abs(score).sum("loop")
        rel = xr.where(total > 0, score / total, 0.0)
    else:
        if partition is None:
            partition = int(np.bincount(parts).argmax()) if len(parts) else 0
        sel = ds.isel(loop=np.flatnonzero(parts == partition))
        rel = sel["relative_loop_score"]
    labels = [g if g else f"other {p}" for g, p in zip(sel["group"].values, sel["polarity"].values)]
    out = rel.assign_coords(group=("loop", labels)).groupby("group").sum("loop")
    out.attrs = {"long_name": "relative loop score of the loop group"
                 + (f" (loops through {stock})" if stock else ""), "units": "1"}
    return out


def to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Scores in long form: time, loop, group, polarity, loop_score, relative_loop_score."""
    df = ds[["loop_score", "relative_loop_score"]].to_dataframe().reset_index()
    meta = pd.DataFrame({"loop": ds["loop"].values, "group": ds["group"].values,
                         "polarity": ds["polarity"].values})
    return df.merge(meta, on="loop")
