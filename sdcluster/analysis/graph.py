"""The causal graph of a model and its feedback loops.

The graph is read from the dependency information PySD writes into every
translated module (``component.add(depends_on=..., other_deps=...)``):

- an auxiliary or flow ``z`` gets a link ``x -> z`` from every variable its
  equation reads (constants included; they never lie on a loop);
- a stock ``S`` (``INTEG``) gets a link from every variable its net-flow
  expression reads (its flows), never from its initial value;
- any other stateful function (SMOOTH, DELAY, TREND, ...) is a node of its own,
  named by PySD's private name (``_smooth_x``), with links from the inputs of
  its step and a link to the variable that returns it.

Feedback loops are the elementary circuits of this graph, enumerated with
Johnson's algorithm (Johnson 1975) within each strongly connected component,
up to :data:`MAX_LOOPS` circuits or :data:`MAX_SECONDS` seconds, whichever
comes first. A model that exceeds the limit is not enumerated: loop dominance
then uses the strongest-path discovery of :mod:`sdcluster.analysis.ltm`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import SdclusterError

#: Most loops enumerated exhaustively; beyond it loops are discovered during the run.
MAX_LOOPS = 5000
#: Longest time (s) spent enumerating loops before falling back to discovery.
MAX_SECONDS = 5.0

#: Dependency names that are not model variables.
_SKIP = {"time", "__lookup__", "__data__", "__external__", "__constant__"}


class LoopAnalysisError(SdclusterError):
    """Loops or loop dominance cannot be computed for this model (the message says why)."""


class TooManyLoops(LoopAnalysisError):
    """Exhaustive enumeration stopped at its limit."""

    def __init__(self, message: str, found: int):
        super().__init__(message)
        self.found = found


@dataclass
class CausalGraph:
    """Variables and causal links of a model.

    Attributes
    ----------
    inputs : dict
        ``{target: [source, ...]}``, sources in equation order.
    stocks : set
        Stocks (INTEG) — each has a net-flow expression.
    statefuls : dict
        ``{node: kind}`` of the non-INTEG stateful nodes (``"Smooth"``, ``"Delay"``, ...).
    names : dict
        ``{py_name: model name}`` for display.
    subscripted : set
        Variables with subscripts.
    """

    inputs: dict[str, list[str]]
    stocks: set[str] = field(default_factory=set)
    statefuls: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    subscripted: set[str] = field(default_factory=set)

    @property
    def outputs(self) -> dict[str, list[str]]:
        """``{source: [target, ...]}`` (targets sorted)."""
        out: dict[str, list[str]] = {}
        for target, sources in self.inputs.items():
            for s in sources:
                out.setdefault(s, []).append(target)
        return {k: sorted(v) for k, v in out.items()}

    @property
    def links(self) -> list[tuple[str, str]]:
        """Every link ``(source, target)``, sorted."""
        return sorted((s, t) for t, srcs in self.inputs.items() for s in srcs)

    def display(self, node: str) -> str:
        """The model's own name of *node* (the private name for internal nodes)."""
        return self.names.get(node, node)

    def components(self) -> list[list[str]]:
        """Strongly connected components with at least one link inside (Tarjan, iterative), sorted."""
        out = self.outputs
        nodes = sorted(set(self.inputs) | set(out))
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        result: list[list[str]] = []
        counter = 0
        for root in nodes:
            if root in index:
                continue
            work = [(root, iter(out.get(root, ())))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                node, it = work[-1]
                advanced = False
                for nxt in it:
                    if nxt not in index:
                        index[nxt] = low[nxt] = counter
                        counter += 1
                        stack.append(nxt)
                        on_stack.add(nxt)
                        work.append((nxt, iter(out.get(nxt, ()))))
                        advanced = True
                        break
                    if nxt in on_stack:
                        low[node] = min(low[node], index[nxt])
                if advanced:
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1 or node in out.get(node, ()):
                        result.append(sorted(comp))
        return sorted(result)


def from_pysd(pysd_model: Any) -> CausalGraph:
    """Build the causal graph of a loaded PySD model (see module docstring)."""
    module = pysd_model.components._components
    deps: dict[str, Any] = module.component.dependencies
    namespace: dict[str, str] = module.component.namespace  # real name -> py name
    names = {py: real for real, py in namespace.items()}
    inputs: dict[str, list[str]] = {}
    stocks: set[str] = set()
    statefuls: dict[str, str] = {}
    subscripted = {py for py in names if getattr(getattr(module, py, None), "subscripts", None)}

    def clean(d: dict[str, Any]) -> list[str]:
        return [k for k in d if k not in _SKIP and not k.startswith("__")]

    def dynamic(k: str) -> bool:  # a private stateful object with inputs in its step
        d = deps.get(k)
        return isinstance(d, dict) and bool(d.get("step"))

    for name, d in deps.items():
        if name.startswith("_") or not isinstance(d, dict):
            continue
        private = [k for k in clean(d) if k.startswith("_")]
        if len(d) == 1 and private and private[0].startswith("_integ_"):
            stocks.add(name)
            inputs[name] = clean(deps[private[0]].get("step", {}))
            continue
        srcs = []
        for k in clean(d):
            if not k.startswith("_"):
                srcs.append(k)
            elif dynamic(k):
                srcs.append(k)
                statefuls[k] = type(getattr(module, k)).__name__
                inputs[k] = clean(deps[k]["step"])
        inputs[name] = srcs
    return CausalGraph(inputs=inputs, stocks=stocks, statefuls=statefuls, names=names, subscripted=subscripted)


def algebraic_loops(graph: CausalGraph) -> list[list[str]]:
    """Groups of variables that depend on each other without a stock or delay between them.

    Such simultaneous equations cannot be simulated step by step; an empty
    list means the model has none.
    """
    dynamic = graph.stocks | set(graph.statefuls)
    inputs = {t: [s for s in srcs if s not in dynamic] for t, srcs in graph.inputs.items() if t not in dynamic}
    return CausalGraph(inputs=inputs).components()


def elementary_circuits(graph: CausalGraph, max_loops: int = MAX_LOOPS,
                        max_seconds: float = MAX_SECONDS) -> list[list[str]]:
    """Every feedback loop of *graph* as a node list starting at its smallest node.

    Johnson's algorithm per strongly connected component; loops are returned
    in a stable order (by length, then node names).

    Raises
    ------
    TooManyLoops
        When more than *max_loops* loops exist or enumeration takes longer
        than *max_seconds* (the message gives the count so far).
    """
    deadline = time.monotonic() + max_seconds
    out = graph.outputs
    loops: list[list[str]] = []
    for comp in graph.components():
        for cycle in _johnson(comp, out, deadline):
            loops.append(cycle)
            if len(loops) > max_loops:
                raise TooManyLoops(f"more than {max_loops} feedback loops; exhaustive enumeration stopped "
                                   "(loop dominance uses strongest-path discovery instead)", len(loops))
        if time.monotonic() > deadline:  # _johnson stops at the deadline
            raise TooManyLoops(f"loop enumeration stopped after {max_seconds:g} s with {len(loops)} loops "
                               "found (loop dominance uses strongest-path discovery instead)", len(loops))
    return sorted(loops, key=lambda c: (len(c), c))


def _johnson(comp: list[str], out: dict[str, list[str]], deadline: float) -> Iterator[list[str]]:
    """Johnson's elementary circuits in one strongly connected component (iterative)."""
    order = {n: i for i, n in enumerate(comp)}
    for start in comp:
        # subgraph induced by nodes >= start, restricted to start's SCC within it
        allowed = {n for n in comp if order[n] >= order[start]}
        sub = {n: [m for m in out.get(n, ()) if m in allowed] for n in allowed}
        reach = _scc_of(start, sub)
        if len(reach) == 1 and start not in sub[start]:
            continue
        sub = {n: [m for m in sub[n] if m in reach] for n in reach}
        blocked: set[str] = set()
        bmap: dict[str, set[str]] = {n: set() for n in reach}
        path = [start]
        blocked.add(start)
        stack = [(start, iter(sub[start]))]
        closed = [False]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt == start:
                    yield list(path)
                    closed[-1] = True
                elif nxt not in blocked:
                    path.append(nxt)
                    blocked.add(nxt)
                    stack.append((nxt, iter(sub[nxt])))
                    closed.append(False)
                if time.monotonic() > deadline:
                    return
                continue
            stack.pop()
            was_closed = closed.pop()
            if was_closed:
                _unblock(node, blocked, bmap)
                if closed:
                    closed[-1] = True
            else:
                for m in sub[node]:
                    bmap[m].add(node)
            path.pop()


def _unblock(node: str, blocked: set[str], bmap: dict[str, set[str]]) -> None:
    todo = [node]
    while todo:
        n = todo.pop()
        if n in blocked:
            blocked.discard(n)
            todo.extend(bmap[n])
            bmap[n].clear()


def _scc_of(start: str, sub: dict[str, list[str]]) -> set[str]:
    """Nodes reachable from *start* that can also reach it."""
    fwd = _reach(start, sub)
    rev: dict[str, list[str]] = {}
    for n, ms in sub.items():
        for m in ms:
            rev.setdefault(m, []).append(n)
    bwd = _reach(start, rev)
    return fwd & bwd


def _reach(start: str, adj: dict[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for m in adj.get(todo.pop(), ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen
