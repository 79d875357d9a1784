"""Generate one fused simulation kernel from a validated PySD translation.

The input is the text of a translation that passed sdcluster's allow-list
check (:mod:`sdcluster.core.safety`); the model file itself is never read here.
The translation is parsed with :mod:`ast` and every construct is mapped to
a fixed, known piece of generated code — anything not on the list raises
:class:`Uncompilable` with the reason, and the model runs on the PySD engine.

The generated module defines ``kernel(...)``, a plain function over float64
arrays (compiled by :mod:`sdcluster.core.compiled.build`) that runs *N* parameter
sets one after another, each with the Euler scheme of
:meth:`pysd.py_backend.model.Model.run`:

1. per run: constants (model value, a per-run value, or a time schedule
   sampled on the time grid) and time-independent auxiliaries (again on
   every step when a schedule is given), then, at the initial time, the
   initial values of every stateful object in dependency order (PySD's
   initialisation, including its lowering of a DELAY's order);
2. per step: the time-dependent auxiliaries in dependency order, the
   outputs (save steps only; auxiliaries needed only by outputs are computed
   there), the derivatives of all states, then every state updated as
   ``state + ddt * dt``.

Stateful objects (INTEG, SMOOTH/SMOOTH3/SMOOTHI, DELAY1/DELAY3/DELAY1I —
PySD's ``Delay`` — and INITIAL) live in one state vector per run; lookups are NumPy arrays frozen into the kernel with
PySD's interpolation/extrapolation semantics; PySD's helper functions
(``if_then_else``, ``step``, ``ramp``, ``pulse``, ``xidz``, ``zidz``, ``integer``,
``quantum``, ``modulo``) are reproduced operation by operation.
"""
from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Any

from pysd.py_backend import functions as pysd_functions

#: Bump when the generated code changes for the same translation.
CODEGEN_VERSION = "1"

#: NumPy functions of scalars and their kernel equivalents (same IEEE operations; ``math`` for
#: cheaper compilation, helpers where NumPy's NaN handling differs from Python's).
NUMPY_FUNCTIONS = {"maximum": "_max", "minimum": "_min", "abs": "abs", "exp": "math.exp", "log": "math.log",
                   "log10": "math.log10", "sqrt": "math.sqrt", "sin": "math.sin", "cos": "math.cos",
                   "tan": "math.tan", "arcsin": "math.asin", "arccos": "math.acos", "arctan": "math.atan",
                   "sinh": "math.sinh", "cosh": "math.cosh", "tanh": "math.tanh", "floor": "np.floor",
                   "ceil": "np.ceil", "logical_and": "_and", "logical_or": "_or", "logical_not": "_not"}

#: Component functions that are the simulation's control variables.
CONTROL = {"time": "t", "time_step": "dt", "initial_time": "t0", "final_time": "tf", "saveper": "sp"}

STATEFUL_CLASSES = {"Integ", "NonNegativeInteg", "Smooth", "Delay", "Initial"}


class Uncompilable(Exception):
    """The translation uses a construct the kernel generator does not reproduce."""


@dataclass
class _Stateful:
    name: str
    cls: str
    args: dict[str, ast.expr]  # lambda bodies by role
    order: int = 1
    slot: int = 0


@dataclass
class _Lookup:
    name: str
    xs: list[float]
    ys: list[float]
    mode: str


@dataclass
class KernelSpec:
    """The generated module and how to call it."""

    source: str
    constants: list[str]  #: Python names of the settable constants, columns of the parameter matrix
    defaults: list[float]  #: their values in the model file
    outputs: list[str]  #: Python names that can be recorded, position in the output buffer


def _literal(node: ast.AST, what: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise Uncompilable(f"{what} is not a literal") from None


def _lambda_body(node: ast.expr, what: str) -> ast.expr:
    if not isinstance(node, ast.Lambda) or node.args.args:
        raise Uncompilable(f"{what}: expected a lambda without arguments")
    return node.body


class _Parsed:
    """Components, stateful objects and lookups of one translated module."""

    def __init__(self, source: str):
        tree = _parse(source)
        self.components: dict[str, dict[str, Any]] = {}
        self.statefuls: dict[str, _Stateful] = {}
        self.lookups: dict[str, _Lookup] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef):
                self._function(stmt)
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self._assign(stmt.targets[0].id, stmt.value)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Expr)):
                continue
            else:
                raise Uncompilable(f"module statement {type(stmt).__name__}")

    def _function(self, func: ast.FunctionDef) -> None:
        if func.name == "_init_outer_references":
            return
        meta: dict[str, Any] = {}
        for dec in func.decorator_list:
            if not (isinstance(dec, ast.Call) and ast.unparse(dec.func) == "component.add"):
                raise Uncompilable(f"decorator {ast.unparse(dec)} on {func.name}")
            for kw in dec.keywords:
                if kw.arg in ("comp_type", "comp_subtype", "subscripts"):
                    meta[kw.arg] = _literal(kw.value, f"{func.name}: {kw.arg}")
        if meta.get("subscripts"):
            raise Uncompilable(f"subscripted variable {func.name}")
        body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
            raise Uncompilable(f"{func.name}: body is not a single return expression")
        args = [a.arg for a in func.args.args]
        if args not in ([], ["x", "final_subs"]):
            raise Uncompilable(f"{func.name}: unexpected arguments {args}")
        self.components[func.name] = {"expr": body[0].value, "args": args,
                                      "type": meta.get("comp_type", ""), "subtype": meta.get("comp_subtype", "")}

    def _assign(self, name: str, value: ast.expr) -> None:
        if name in ("__pysd_version__", "__data", "_root", "component", "_control_vars"):
            return
        if name == "_subscript_dict":
            if _literal(value, "_subscript_dict"):
                raise Uncompilable("subscripts")
            return
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)):
            raise Uncompilable(f"module-level {name}")
        cls = value.func.id
        a = value.args
        if cls == "HardcodedLookups":
            if len(a) != 6 or _literal(a[2], name) or _literal(a[4], name):
                raise Uncompilable(f"subscripted lookup {name}")
            mode = _literal(a[3], name)
            if mode not in ("interpolate", "extrapolate", "hold_backward"):
                raise Uncompilable(f"lookup {name} with interpolation {mode!r}")
            xs, ys = _literal(a[0], name), _literal(a[1], name)
            self.lookups[name] = _Lookup(name, [float(v) for v in xs], [float(v) for v in ys], mode)
            return
        if cls not in STATEFUL_CLASSES:
            raise Uncompilable(f"{cls} (in {name})")
        if value.keywords:
            raise Uncompilable(f"{cls} (in {name}) with keyword arguments")
        roles = {"Integ": ("step", "initial"), "NonNegativeInteg": ("step", "initial"),
                 "Smooth": ("input", "smooth_time", "initial", "order"),
                 "Delay": ("input", "delay_time", "initial", "order", "tstep"),
                 "Initial": ("initial",)}[cls]
        if len(a) != len(roles) + 1:
            raise Uncompilable(f"{cls} (in {name}) with {len(a)} arguments")
        args = {}
        for role, node in zip(roles, a):
            if role == "tstep":
                if not (isinstance(node, ast.Name) and node.id == "time_step"):
                    raise Uncompilable(f"{name}: time step argument {ast.unparse(node)}")
                continue
            args[role] = _lambda_body(node, f"{name} {role}")
        st = _Stateful(name, cls, args)
        if "order" in args:
            order = args["order"]
            if not (isinstance(order, ast.Constant) and type(order.value) in (int, float)):
                raise Uncompilable(f"{name}: order {ast.unparse(order)} is not a number")
            if order.value != int(order.value) or order.value < 1:
                raise Uncompilable(f"{name}: order {order.value} is not a positive integer")
            st.order = int(order.value)
        self.statefuls[name] = st


def _parse(source: str) -> ast.Module:
    """:func:`ast.parse`, retried on CPython 3.11's spurious ``SystemError`` ("AST constructor
    recursion depth mismatch") when another thread parses at the same time (the safety check)."""
    for attempt in range(5):
        try:
            return ast.parse(source)
        except SystemError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _bind(func: Any, call: ast.Call) -> dict[str, ast.expr]:
    """Bind the arguments of a PySD helper call by PySD's own signature."""
    sig = inspect.signature(func)
    try:
        bound = sig.bind(*call.args, **{k.arg: k.value for k in call.keywords})
    except TypeError as exc:
        raise Uncompilable(f"call {ast.unparse(call)}: {exc}") from None
    return dict(bound.arguments)


class _Emitter:
    """Translate expressions of the parsed module to kernel source."""

    def __init__(self, parsed: _Parsed):
        self.p = parsed
        self.globals: list[str] = []  # module-level constant arrays
        self.constants: dict[str, int] = {}  # settable constants: column in the parameter matrix
        self.render: dict[str, str] = {}  # how other variables are read in the code being emitted
        self.delay_order: dict[str, str] = {}  # where each Delay's order is kept
        self._arrays: dict[tuple, str] = {}

    # -- dependencies -----------------------------------------------------
    def deps(self, node: ast.AST) -> set[str]:
        """Component and stateful names an expression reads."""
        out = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                name = sub.func.id
                if name in self.p.components or name in self.p.statefuls:
                    out.add(name)
        return out

    # -- expressions ------------------------------------------------------
    def array(self, values: list[float]) -> str:
        key = tuple(values)
        if key not in self._arrays:
            name = f"_A{len(self._arrays)}"
            self._arrays[key] = name
            self.globals.append(f"{name} = np.array({[float(v) for v in values]!r})")
        return self._arrays[key]

    def expr(self, node: ast.AST) -> str:
        e = self.expr
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return repr(node.value)
            if isinstance(node.value, (int, float)):
                return repr(float(node.value))
            raise Uncompilable(f"constant {node.value!r}")
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%",
                   ast.FloorDiv: "//"}
            if type(node.op) not in ops:
                raise Uncompilable(f"operator {type(node.op).__name__}")
            return f"({e(node.left)} {ops[type(node.op)]} {e(node.right)})"
        if isinstance(node, ast.UnaryOp):
            ops = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not "}
            if type(node.op) not in ops:
                raise Uncompilable(f"operator {type(node.op).__name__}")
            return f"({ops[type(node.op)]}{e(node.operand)})"
        if isinstance(node, ast.Compare):
            ops = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
            parts = [e(node.left)]
            for op, right in zip(node.ops, node.comparators):
                if type(op) not in ops:
                    raise Uncompilable(f"comparison {type(op).__name__}")
                parts += [ops[type(op)], e(right)]
            return f"({' '.join(parts)})"
        if isinstance(node, ast.BoolOp):
            op = " and " if isinstance(node.op, ast.And) else " or "
            return f"({op.join(e(v) for v in node.values)})"
        if isinstance(node, ast.IfExp):
            return f"({e(node.body)} if {e(node.test)} else {e(node.orelse)})"
        if isinstance(node, ast.Call):
            return self.call(node)
        raise Uncompilable(f"expression {ast.unparse(node)[:60]}")

    def call(self, node: ast.Call) -> str:
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np":
            return self.numpy(f.attr, node)
        if isinstance(f, ast.Subscript) and ast.unparse(f) == "__data['time']" and not node.args:
            return "t"
        if not isinstance(f, ast.Name):
            raise Uncompilable(f"call {ast.unparse(node)[:60]}")
        name = f.id
        if name in CONTROL and not node.args:
            return CONTROL[name]
        if name in self.p.components:
            comp = self.p.components[name]
            if not comp["args"]:
                if node.args or node.keywords:
                    raise Uncompilable(f"{name} called with arguments")
                if name in self.constants:
                    return f"C[{self.constants[name]}]"
                return self.render.get(name, f"v_{name}")
            return self.lookup_component(name, node)
        if name in self.p.statefuls:
            return self.stateful_value(self.p.statefuls[name])
        if name in self.p.lookups:
            return self.lookup(self.p.lookups[name], node)
        if name == "float" and len(node.args) == 1 and not node.keywords:
            return f"float({self.expr(node.args[0])})"
        helper = getattr(self, f"fn_{name}", None)
        if helper is None:
            raise Uncompilable(f"function {name}")
        return helper(node)

    def numpy(self, attr: str, node: ast.Call) -> str:
        if node.keywords:
            raise Uncompilable(f"np.{attr} with keyword arguments")
        if attr == "interp" and len(node.args) == 3:
            xs = _literal(node.args[1], "np.interp points")
            ys = _literal(node.args[2], "np.interp values")
            if not (isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys) and xs):
                raise Uncompilable("np.interp with non-list points")
            return f"_interp({self.expr(node.args[0])}, {self.array(xs)}, {self.array(ys)})"
        if attr not in NUMPY_FUNCTIONS:
            raise Uncompilable(f"function np.{attr}")
        return f"{NUMPY_FUNCTIONS[attr]}({', '.join(self.expr(a) for a in node.args)})"

    def lookup_component(self, name: str, node: ast.Call) -> str:
        body = self.p.components[name]["expr"]
        if not (isinstance(body, ast.Call) and isinstance(body.func, ast.Name) and body.func.id in self.p.lookups):
            raise Uncompilable(f"{name}: a function-like component that is not a lookup")
        if len(node.args) != 1 or node.keywords:
            raise Uncompilable(f"lookup {name} called with {len(node.args)} arguments")
        return self._lookup_code(self.p.lookups[body.func.id], node.args[0])

    def lookup(self, lk: _Lookup, node: ast.Call) -> str:
        args = list(node.args)
        if len(args) == 2 and ast.unparse(args[1]) in ("final_subs", "None"):
            args = args[:1]
        if len(args) != 1 or node.keywords:
            raise Uncompilable(f"lookup {lk.name} called with {len(node.args)} arguments")
        return self._lookup_code(lk, args[0])

    def _lookup_code(self, lk: _Lookup, arg: ast.expr) -> str:
        fn = {"interpolate": "_interp", "extrapolate": "_extrap", "hold_backward": "_hold"}[lk.mode]
        if len(lk.xs) < 2 and lk.mode == "extrapolate":
            fn = "_interp"
        return f"{fn}({self.expr(arg)}, {self.array(lk.xs)}, {self.array(lk.ys)})"

    def stateful_value(self, st: _Stateful) -> str:
        if st.cls in ("Integ", "NonNegativeInteg", "Initial"):
            return f"st[{st.slot}]"
        if st.cls == "Smooth":
            return f"st[{st.slot + st.order - 1}]"
        # Delay: state[-1] / delay_time, with the order PySD chose at initialisation
        return f"(st[{st.slot} + {self.delay_order[st.name]} - 1] / {self.expr(st.args['delay_time'])})"

    # -- PySD helper functions ----------------------------------------------
    def _time_arg(self, node: ast.expr, fname: str) -> None:
        if ast.unparse(node) != "__data['time']":
            raise Uncompilable(f"{fname} with time argument {ast.unparse(node)}")

    def fn_if_then_else(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.if_then_else, node)
        t = _lambda_body(a["val_if_true"], "if_then_else")
        f = _lambda_body(a["val_if_false"], "if_then_else")
        return f"({self.expr(t)} if {self.expr(a['condition'])} else {self.expr(f)})"

    def fn_step(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.step, node)
        self._time_arg(a["time"], "step")
        return f"_step(t, dt, {self.expr(a['value'])}, {self.expr(a['tstep'])})"

    def fn_ramp(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.ramp, node)
        self._time_arg(a["time"], "ramp")
        if a.get("finish") is None or ast.unparse(a["finish"]) == "None":
            return f"_ramp_open(t, {self.expr(a['slope'])}, {self.expr(a['start'])})"
        return f"_ramp(t, {self.expr(a['slope'])}, {self.expr(a['start'])}, {self.expr(a['finish'])})"

    def fn_pulse(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.pulse, node)
        self._time_arg(a["time"], "pulse")

        def opt(key: str, default: str) -> tuple[str, str]:
            v = a.get(key)
            if v is None or ast.unparse(v) == "None":
                return default, "False"
            return self.expr(v), "True"

        repeat = self.expr(a["repeat_time"]) if "repeat_time" in a else "0.0"
        width, has_w = opt("width", "0.0")
        mag, has_m = opt("magnitude", "0.0")
        end, has_e = opt("end", "0.0")
        return (f"_pulse(t, dt, {self.expr(a['start'])}, {repeat}, {width}, {has_w}, {mag}, {has_m}, "
                f"{end}, {has_e})")

    def fn_xidz(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.xidz, node)
        return f"_xidz({self.expr(a['numerator'])}, {self.expr(a['denominator'])}, {self.expr(a['x'])})"

    def fn_zidz(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.zidz, node)
        return f"_zidz({self.expr(a['numerator'])}, {self.expr(a['denominator'])})"

    def fn_integer(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.integer, node)
        return f"_integer({self.expr(a['x'])})"

    def fn_quantum(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.quantum, node)
        return f"_quantum({self.expr(a['a'])}, {self.expr(a['b'])})"

    def fn_modulo(self, node: ast.Call) -> str:
        a = _bind(pysd_functions.modulo, node)
        return f"_modulo({self.expr(a['x'])}, {self.expr(a['m'])})"


def _toposort(nodes: list[str], deps: dict[str, set[str]], what: str) -> list[str]:
    """Order *nodes* so that each comes after the members of *nodes* it depends on."""
    order: list[str] = []
    state: dict[str, int] = {}
    members = set(nodes)
    for root in nodes:
        if root in state:
            continue
        stack = [(root, iter(sorted(deps.get(root, set()) & members)))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                order.append(node)
            elif state.get(nxt) == 1:
                raise Uncompilable(f"{what}: circular dependency through {nxt}")
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(deps.get(nxt, set()) & members))))
    return order


def _closure(roots: set[str], deps: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(deps.get(n, ()))
    return seen


def generate(source: str) -> KernelSpec:
    """Generate the kernel module for a translated PySD model (see module docstring).

    Raises
    ------
    Uncompilable
        With the reason, for any construct the generator does not reproduce.
    """
    p = _Parsed(source)
    em = _Emitter(p)
    comps = {n: c for n, c in p.components.items() if n not in CONTROL and not c["args"]}
    slot = 0
    for st in p.statefuls.values():  # slots of the state vector
        st.slot = slot
        slot += st.order
    n_slots = max(slot, 1)
    defaults = {}
    for n, c in comps.items():  # settable constants: a number in the model file
        e = c["expr"]
        neg = isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub)
        lit = e.operand if neg else e
        if c["type"] == "Constant" and isinstance(lit, ast.Constant) and type(lit.value) in (int, float):
            defaults[n] = -lit.value if neg else lit.value
    em.constants = {n: j for j, n in enumerate(defaults)}

    def deps_of(node: ast.AST) -> set[str]:
        """Components read by *node* at a step (a Delay's value also reads its delay time)."""
        out = set()
        for dep in em.deps(node):
            if dep in p.statefuls:
                if p.statefuls[dep].cls == "Delay":
                    out |= deps_of(p.statefuls[dep].args["delay_time"])
            elif dep in comps:
                out.add(dep)
        return out

    aux = [n for n in comps if n not in defaults]
    step_deps = {n: deps_of(comps[n]["expr"]) for n in aux}
    order = _toposort(aux, step_deps, "equations")
    dynamic: set[str] = set()  # depends on time or a state, directly or through other variables
    for n in order:
        expr = comps[n]["expr"]
        if (em.deps(expr) & ({"time"} | set(p.statefuls)) or "__data" in ast.unparse(expr)
                or step_deps[n] & dynamic):
            dynamic.add(n)
    static = [n for n in order if n not in dynamic]
    ddt_inputs = set()
    for st in p.statefuls.values():
        for role in ("step", "input", "smooth_time", "delay_time"):
            if role in st.args:
                ddt_inputs |= deps_of(st.args[role])
    core = _closure(ddt_inputs, step_deps) & dynamic
    core_order = [n for n in order if n in core]
    out_only = [n for n in order if n in dynamic and n not in core]
    # initialisation: each stateful after what its initial value (and delay time) reads
    init_deps: dict[str, set[str]] = {}
    for n in aux:
        init_deps[n] = {d for d in em.deps(comps[n]["expr"]) if d in comps or d in p.statefuls}
    for st in p.statefuls.values():
        roots = [st.args["initial"]] + ([st.args["delay_time"]] if st.cls == "Delay" else [])
        init_deps[st.name] = {d for r in roots for d in em.deps(r) if d in comps or d in p.statefuls}
    needed = _closure(set(p.statefuls), init_deps)
    init_order = [n for n in _toposort(sorted(needed), init_deps, "initial values")
                  if n in p.statefuls or n in dynamic]
    outputs = list(defaults) + order + [n for n in CONTROL if n in p.components and n != "time"]

    # Few variables are assigned more than once (Numba's SSA pass is quadratic in
    # redefinitions x blocks): static values live in the array V, values of the
    # initialisation are locals of their own (i_<name>), per-step values are v_<name>.
    static_slot = {n: i for i, n in enumerate(static)}
    lines: list[str] = []

    def w(indent: int, text: str) -> None:
        lines.append("    " * indent + text)

    def read(name: str, phase: str) -> str:
        if name in em.constants:
            return f"C[{em.constants[name]}]"
        if name in static_slot:
            return f"V[{static_slot[name]}]"
        if name in CONTROL:
            return CONTROL[name]
        return f"{phase}_{name}"

    def emit(phase: str, node: ast.expr) -> str:
        em.render = {n: read(n, phase) for n in comps}
        return em.expr(node)

    w(0, "def kernel(P, mode, S, scol, times, DT, save, out_idx, out):")
    w(1, "dt = DT[0]")
    w(1, "t0 = DT[1]")
    w(1, "tf = DT[2]")
    w(1, "sp = DT[3]")
    w(1, "has_sched = S.shape[2] > 0")
    w(1, f"st = np.zeros({n_slots})")
    w(1, f"dd = np.zeros({n_slots})")
    w(1, f"V = np.zeros({max(len(static), 1)})")
    w(1, f"buf = np.zeros({len(outputs)})")
    w(1, "C = np.zeros(P.shape[1])")
    smooths = [st for st in p.statefuls.values() if st.cls == "Smooth"]
    smooth_index = {st.name: i for i, st in enumerate(smooths)}
    w(1, f"int_init = np.zeros({max(len(smooths), 1)}, dtype=np.bool_)")
    delays = [st for st in p.statefuls.values() if st.cls == "Delay"]
    w(1, f"orders = np.zeros({max(len(delays), 1)}, dtype=np.int64)")
    delay_index = {st.name: i for i, st in enumerate(delays)}
    em.delay_order = {n: f"orders[{i}]" for n, i in delay_index.items()}
    w(1, "for r in range(P.shape[0]):")
    w(2, "rs = r if S.shape[0] > 1 else 0")
    w(2, "for j in range(P.shape[1]):")
    w(3, "C[j] = P[r, j]")
    w(2, "si = 0")
    w(2, "failed = False")
    w(2, "for k in range(times.shape[0]):")
    w(3, "t = times[k]")
    w(3, "if k == 0 or has_sched:")
    w(4, "for j in range(P.shape[1]):")
    w(5, "if mode[j] == 2:")
    w(6, "C[j] = S[rs, k, scol[j]]")
    for n in static:
        w(4, f"V[{static_slot[n]}] = {emit('v', comps[n]['expr'])}")
    w(3, "if k == 0:")  # PySD's initialisation, at the initial time
    w(4, "pass")
    for n in init_order:
        if n in comps:
            w(4, f"i_{n} = {emit('i', comps[n]['expr'])}")
            continue
        st = p.statefuls[n]
        init = emit("i", st.args["initial"])
        if st.cls in ("Integ", "NonNegativeInteg", "Initial"):
            w(4, f"st[{st.slot}] = {init}")
        elif st.cls == "Smooth":
            # PySD keeps an int state (np.array of an int initial value) until the first update
            em.render = {c: read(c, "i") for c in comps}
            w(4, f"int_init[{smooth_index[n]}] = {_int_expr(p, em, defaults, st.args['initial'])}")
            w(4, f"xi_{n} = {init}")
            for i in range(st.order):
                w(4, f"st[{st.slot + i}] = xi_{n}")
        else:  # Delay: PySD lowers the order while order * dt > delay time
            o = em.delay_order[n]
            w(4, f"yi_{n} = {emit('i', st.args['delay_time'])}")
            w(4, f"{o} = {st.order}")
            w(4, f"while {o} > 0 and {o} * dt > yi_{n}:")
            w(5, f"{o} -= 1")
            w(4, f"if {o} < 1:")  # PySD fails on an empty delay: NaN here, so the run is redone on PySD
            w(5, f"{o} = 1")
            w(5, "failed = True")
            w(4, f"xi_{n} = {init} * yi_{n}")
            w(4, f"for i in range({o}):")
            w(5, f"st[{st.slot} + i] = xi_{n}")
    for n in core_order:
        w(3, f"v_{n} = {emit('v', comps[n]['expr'])}")
    w(3, "if save[k]:")
    for n in out_only:
        w(4, f"v_{n} = {emit('v', comps[n]['expr'])}")
    for i, n in enumerate(outputs):
        w(4, f"buf[{i}] = {read(n, 'v')}")
    w(4, "for j in range(out_idx.shape[0]):")
    w(5, "out[r, si, j] = buf[out_idx[j]]")
    w(4, "si += 1")
    w(3, "if k == times.shape[0] - 1:")
    w(4, "break")
    # every derivative first, then every update (PySD's order)
    for st in p.statefuls.values():
        s = st.slot
        if st.cls in ("Integ", "NonNegativeInteg"):
            w(3, f"dd[{s}] = {emit('v', st.args['step'])}")
        elif st.cls == "Smooth":
            w(3, f"x_{st.name} = {emit('v', st.args['input'])}")
            w(3, f"if k == 0 and int_init[{smooth_index[st.name]}]:")
            w(4, f"x_{st.name} = np.trunc(x_{st.name})")
            w(3, f"y_{st.name} = {emit('v', st.args['smooth_time'])}")
            for i in range(st.order):
                target = f"x_{st.name}" if i == 0 else f"st[{s + i - 1}]"
                w(3, f"dd[{s + i}] = ({target} - st[{s + i}]) * {float(st.order)!r} / y_{st.name}")
        elif st.cls == "Delay":
            o = em.delay_order[st.name]
            w(3, f"x_{st.name} = {emit('v', st.args['input'])}")
            w(3, f"y_{st.name} = {emit('v', st.args['delay_time'])}")
            w(3, f"for i in range({o}):")
            w(4, f"dd[{s} + i] = ((x_{st.name} if i == 0 else st[{s} + i - 1] / y_{st.name})"
                 f" - st[{s} + i] / y_{st.name}) * {o}")
    for st in p.statefuls.values():
        s = st.slot
        if st.cls == "Integ":
            w(3, f"st[{s}] = st[{s}] + dd[{s}] * dt")
        elif st.cls == "NonNegativeInteg":
            w(3, f"st[{s}] = _max(st[{s}] + dd[{s}] * dt, 0.0)")
        elif st.cls in ("Smooth", "Delay"):
            n = str(st.order) if st.cls == "Smooth" else em.delay_order[st.name]
            w(3, f"for i in range({n}):")
            w(4, f"st[{s} + i] = st[{s} + i] + dd[{s} + i] * dt")
    w(2, "if failed:")
    w(3, "out[r, :, :] = np.nan")
    src = "\n".join([HEADER, *em.globals, "", "", *lines, ""])
    return KernelSpec(source=src, constants=list(defaults), defaults=[float(v) for v in defaults.values()],
                      outputs=outputs)


def _int_expr(p: _Parsed, em: _Emitter, defaults: dict[str, Any], node: ast.expr) -> str:
    """Kernel expression telling whether *node* is a Python int at initialisation.

    PySD builds a SMOOTH state as ``np.array([initial] * order)``: an int
    initial value gives an int array, which truncates the input stored into it
    on the first step. Values set by the caller are floats.
    """
    def visit(n: ast.AST) -> str:
        if isinstance(n, ast.Constant):
            return repr(type(n.value) is int)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            return visit(n.operand)
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub, ast.Mult)):
            return f"({visit(n.left)} and {visit(n.right)})"
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div):
            return "False"
        if isinstance(n, ast.Call):
            f = ast.unparse(n.func)
            if f in CONTROL or f in ("float", "np.interp", "np.exp", "np.log", "np.sqrt", "ramp") \
                    or f in p.lookups or (f in p.components and p.components[f]["args"]):
                return "False"
            if f in p.statefuls:
                st = p.statefuls[f]
                return "False" if st.cls == "Delay" else visit(st.args["initial"])
            if f in defaults:
                return f"(mode[{em.constants[f]}] == 0)" if type(defaults[f]) is int else "False"
            if f in p.components:
                return visit(p.components[f]["expr"])
            if f in ("np.maximum", "np.minimum") and len(n.args) == 2:
                return f"({visit(n.args[0])} and {visit(n.args[1])})"
            if f == "step":
                return visit(_bind(pysd_functions.step, n)["value"])
            if f == "zidz":  # PySD returns the int 0 for a zero denominator, else a float quotient
                return f"(abs({em.expr(_bind(pysd_functions.zidz, n)['denominator'])}) < SMALL)"
            if f == "if_then_else":
                a = _bind(pysd_functions.if_then_else, n)
                return (f"({visit(_lambda_body(a['val_if_true'], f))} if {em.expr(a['condition'])} "
                        f"else {visit(_lambda_body(a['val_if_false'], f))})")
        raise Uncompilable(f"the type (int or float) of {ast.unparse(n)[:60]} is not known before the run")

    return visit(node)


HEADER = '''"""Simulation kernel generated by sdcluster.core.compiled.codegen from a checked PySD translation."""
import math

import numpy as np
from numba import njit

SMALL = 1e-6


@njit
def _max(a, b):
    """np.maximum of two floats (NaN propagates)."""
    return a if (a >= b or a != a) else b


@njit
def _min(a, b):
    """np.minimum of two floats (NaN propagates)."""
    return a if (a <= b or a != a) else b


@njit
def _and(a, b):
    return a != 0 and b != 0


@njit
def _or(a, b):
    return a != 0 or b != 0


@njit
def _not(a):
    return a == 0


@njit
def _step(t, dt, value, tstep):
    return value * (1.0 if t + dt / 2 > tstep else 0.0)


@njit
def _ramp(t, slope, start, finish):
    final = _min(finish, t)
    return (1.0 if t + SMALL > start else 0.0) * slope * (final - start)


@njit
def _ramp_open(t, slope, start):
    return (1.0 if t + SMALL > start else 0.0) * slope * (t - start)


@njit
def _pulse(t, dt, start, repeat, width, has_width, magnitude, has_magnitude, end, has_end):
    w = width if has_width else 0.5 * dt
    out = magnitude / dt if has_magnitude else 1.0
    if repeat == 0:
        return out if (start - SMALL <= t and t < start + w) else 0.0
    if start <= t and (not has_end or t < end):
        return out if (t - start + SMALL) % repeat < w else 0.0
    return 0.0


@njit
def _xidz(num, den, x):
    if abs(den) < SMALL:
        return x
    return num / den


@njit
def _zidz(num, den):
    if abs(den) < SMALL:
        return 0.0
    return num / den


@njit
def _integer(x):
    return np.trunc(x)


@njit
def _quantum(a, b):
    if b < SMALL:
        return a
    return b * np.trunc(a / b)


@njit
def _modulo(x, m):
    return x - _quantum(x, m)


@njit
def _index(x, xs):
    """Largest j with xs[j] <= x (xs[0] <= x <= xs[-1])."""
    lo = 0
    hi = xs.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= x:
            lo = mid
        else:
            hi = mid
    return hi if xs[hi] <= x else lo


@njit
def _interp(x, xs, ys):
    """np.interp at a scalar, operation by operation (numpy/core/src/multiarray/compiled_base.c)."""
    n = xs.shape[0]
    if x != x:
        return x
    if x > xs[n - 1]:
        return ys[n - 1]
    if x < xs[0]:
        return ys[0]
    if n == 1:
        return ys[0]
    j = _index(x, xs)
    if j == n - 1 or xs[j] == x:
        return ys[j]
    slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
    res = slope * (x - xs[j]) + ys[j]
    if res != res:
        res = slope * (x - xs[j + 1]) + ys[j + 1]
        if res != res and ys[j] == ys[j + 1]:
            res = ys[j]
    return res


@njit
def _extrap(x, xs, ys):
    """XMILE lookup: linear extrapolation of the end segments."""
    n = xs.shape[0]
    if x > xs[n - 1]:
        return ys[n - 1] + (ys[n - 1] - ys[n - 2]) / (xs[n - 1] - xs[n - 2]) * (x - xs[n - 1])
    if x < xs[0]:
        return ys[0] + (ys[1] - ys[0]) / (xs[1] - xs[0]) * (x - xs[0])
    return _interp(x, xs, ys)


@njit
def _hold(x, xs, ys):
    """Hold-backward lookup: the value at the largest xs[j] <= x (first value below the table)."""
    if x < xs[0]:
        return ys[0]
    return ys[_index(x, xs)]
'''
