"""Prove that a PySD translation contains only what a model translation can contain.

PySD turns a Vensim/XMILE model into a Python module by pasting text from the
model file (comments, units, names, lookup and data arguments, macro and
subscript names) into Python source. A hostile model can close a string early
and append its own code. Before sdcluster imports a translated module it parses
the module (never executes it) and walks its syntax tree against an
**allow-list** of the shapes PySD 3.14 generates:

* module level: the header docstring and imports (``pathlib.Path``, NumPy,
  xarray, ``scipy.stats`` and a fixed set of ``pysd.py_backend`` names), the
  fixed preamble (``__data``, ``_root``, ``component``, ``_control_vars``,
  literal ``_subscript_dict``/``_params``), component functions and the
  stateful/lookup/external/macro objects they use;
* component functions: one ``@component.add(...)`` decorator whose arguments
  are literals, an optional docstring that is one string, and a body in one of
  the shapes PySD's builder writes (``return <expr>``, or ``value =
  xr.DataArray(np.nan, ...)``, masks, ``.loc``/``.values`` assignments and
  ``return value``);
* expressions: arithmetic, comparisons, ``lambda:``, literals, subscripts,
  calls of names defined by the module or imported from the allow-list, a
  fixed set of NumPy/xarray functions, ``.loc``/``.values``, and the methods
  PySD writes only in PySD's shapes (``.rename`` with a literal ``str -> str``
  dict, ``.transpose`` with literal names...). Preamble names appear only where
  PySD puts them: ``_root`` as the folder argument of external-data objects and
  in ``Macro(_root.joinpath("<name>.py"), ...)``, ``__data``/``_subscript_dict``
  indexed by a literal.

Anything else (``import os``, ``__import__``, ``eval``, ``open``, dunder
attributes, f-strings, comprehensions, extra statements...) is refused with an
:class:`~sdcluster.errors.UnsafeModelError` naming the model file, the variable
and the model-file field the offending code came from.

PySD's translator itself calls ``eval`` on model text while parsing (lookup
ranges, numbers, strings); :func:`guarded_translation` restricts that to
literals for the duration of a translation.

Public functions: :func:`check_translated_source`,
:func:`check_translated_sources` (also checks the macro modules a translation
loads, from bytes already in memory), :func:`check_translated_file`,
:func:`guarded_translation` and :func:`literal_value`. See ``docs/security.md``
for the threat model.
"""
from __future__ import annotations

import ast
import builtins
import io
import logging
import re
import sys
import threading
import tokenize
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Union

from ..errors import ModelLoadError, UnsafeModelError

__all__ = ["check_translated_source", "check_translated_sources", "check_translated_file",
           "guarded_translation", "literal_value"]

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Allow-lists (PySD 3.14.3, pysd/builders/python/)
# ---------------------------------------------------------------------------

#: names importable from ``pysd.py_backend.<module>`` (see ImportsManager and
#: python_functions.functionspace). ``utils.load_modules`` (split views, uses
#: ``exec``) is deliberately absent.
PYSD_IMPORTS: dict[str, frozenset[str]] = {
    "functions": frozenset({
        "active_initial", "get_time_value", "if_then_else", "incomplete",
        "integer", "invert_matrix", "modulo", "not_implemented_function",
        "prod", "pulse", "quantum", "ramp", "step", "sum", "vector_rank",
        "vector_reorder", "vector_select", "vector_sort_order", "vmax", "vmin",
        "xidz", "zidz",
    }),
    "statefuls": frozenset({
        "Delay", "DelayFixed", "DelayN", "Forecast", "Initial", "Integ",
        "NonNegativeInteg", "SampleIfTrue", "Smooth", "Trend",
    }),
    "external": frozenset({"ExtConstant", "ExtData", "ExtLookup"}),
    "data": frozenset({"TabData"}),
    "lookups": frozenset({"HardcodedLookups"}),
    "allocation": frozenset({"allocate_available", "allocate_by_priority"}),
    "model": frozenset({"Macro"}),
}

#: third-party imports: ``import numpy as np``, ``import xarray as xr``,
#: ``from scipy import stats``.
PLAIN_IMPORTS = {"numpy": "np", "xarray": "xr"}
FROM_IMPORTS = {"scipy": frozenset({"stats"}), "pathlib": frozenset({"Path"}),
                "pysd": frozenset({"Component"})}

#: dotted names reachable from the imported modules.
MODULE_ATTRIBUTES = frozenset({
    "np.abs", "np.all", "np.arange", "np.arccos", "np.arcsin", "np.arctan",
    "np.array", "np.cos", "np.cosh", "np.empty", "np.exp", "np.full", "np.inf",
    "np.interp", "np.isnan", "np.linalg.inv", "np.linspace", "np.log",
    "np.logical_and", "np.logical_not", "np.logical_or", "np.max",
    "np.maximum", "np.min", "np.minimum", "np.moveaxis", "np.nan", "np.pi",
    "np.power", "np.prod", "np.random.uniform", "np.sin", "np.sinh", "np.sqrt",
    "np.squeeze", "np.sum", "np.tan", "np.tanh", "np.tile",
    "xr.DataArray", "xr.ones_like", "xr.zeros_like",
    "stats.truncexpon.rvs", "stats.truncnorm.rvs",
})
#: prefixes of MODULE_ATTRIBUTES that may appear as intermediate nodes.
_MODULE_PREFIXES = frozenset(
    ".".join(name.split(".")[:i])
    for name in MODULE_ATTRIBUTES for i in range(1, name.count(".") + 1))

#: attributes allowed on any value (DataArrays): ``x.loc[...]``, ``x.values``.
VALUE_ATTRIBUTES = frozenset({"loc", "values"})
#: methods PySD's expression builder calls on DataArrays, each only in the
#: shape it writes (see ``_method_call``): ``.rename({'a': 'b'})``,
#: ``.transpose('a', 'b')``, ``.expand_dims({'a': ...}, 0)``,
#: ``.reset_coords(drop=True)``.
VALUE_METHODS = frozenset({"rename", "transpose", "expand_dims", "reset_coords"})
#: attributes of the time object, only as ``__data['time'].<attr>``.
TIME_ATTRIBUTES = frozenset({"stage", "initial_time", "final_time", "time_step", "saveper"})
#: external-data objects; PySD passes them ``_root`` (and only them).
EXTERNAL_OBJECTS = frozenset({"ExtData", "ExtLookup", "ExtConstant"})
#: preamble names an expression may use only as ``name['literal']``.
_SUBSCRIPTED_PREAMBLE = frozenset({"__data", "_subscript_dict"})

#: builtins a translation calls.
SAFE_BUILTINS = frozenset({"bool", "float", "int", "len"})

#: callables that build the module-level objects, with the model-file field
#: their arguments come from.
OBJECT_FIELDS = {
    "Integ": "equation", "NonNegativeInteg": "equation", "Smooth": "equation",
    "Delay": "equation", "DelayN": "equation", "DelayFixed": "equation",
    "Trend": "equation", "Forecast": "equation", "Initial": "equation",
    "SampleIfTrue": "equation",
    "HardcodedLookups": "lookup",
    "ExtData": "data-file arguments (file, tab, cell)",
    "ExtLookup": "lookup data-file arguments (file, tab, cell)",
    "ExtConstant": "data-file arguments (file, tab, cell)",
    "TabData": "name",
    "Macro": "macro",
}

#: decorator keywords and the model-file field each comes from.
DECORATOR_FIELDS = {
    "name": "name", "units": "units", "limits": "units (range)",
    "subscripts": "subscript", "comp_type": "equation",
    "comp_subtype": "equation", "depends_on": "name", "other_deps": "name",
}

#: parameters a component function may take (lookups: ``x, final_subs=None``).
FUNCTION_ARGS = frozenset({"x", "final_subs"})

_MACRO_FILE = re.compile(r"^[^\W\d]\w*\.py$")
_PREAMBLE = frozenset({"__pysd_version__", "__data", "_root", "component",
                       "_params", "_subscript_dict", "_control_vars"})
_BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass
class _Where:
    """Where a node came from: the variable and the field of the model file."""

    variable: Optional[str]
    field: str
    kind: str = "variable"


class _Refusal(Exception):
    def __init__(self, node: ast.AST, what: str, where: _Where):
        super().__init__(what)
        self.node, self.what, self.where = node, what, where


def _dotted(node: ast.AST) -> Optional[str]:
    """``np.random.uniform`` for an Attribute chain on a Name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _describe(node: ast.AST, source: str) -> str:
    seg = ast.get_source_segment(source, node) or ast.dump(node)[:80]
    seg = " ".join(seg.split())
    return seg if len(seg) <= 120 else seg[:117] + "..."


class _Checker:
    """One pass over a translated module; raises _Refusal at the first offence."""

    def __init__(self, tree: ast.Module, source: str):
        self.tree, self.source = tree, source
        self.module_names: set[str] = set()
        self.imported_names: set[str] = set()
        self.macro_files: list[str] = []
        self.macro_params: set[str] = set()

    # -- module --------------------------------------------------------
    def run(self) -> list[str]:
        body = list(self.tree.body)
        self._collect_names(body)
        where = _Where(None, "model header")
        for index, stmt in enumerate(body):
            if isinstance(stmt, ast.FunctionDef):
                where = _Where(self._component_name(stmt), "equation")
                self._function(stmt)
            elif index == 0 and _is_docstring(stmt):
                continue
            else:
                self._module_statement(stmt, where)
        return self.macro_files

    def _collect_names(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef):
                self.module_names.add(stmt.name)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.module_names.add(target.id)
                if (len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                        and stmt.targets[0].id == "_params"):
                    try:
                        params = ast.literal_eval(stmt.value)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        params = {}  # refused later by _module_assign
                    if isinstance(params, dict):
                        self.macro_params |= {v for v in params.values()
                                              if isinstance(v, str) and v.isidentifier()}
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    self.module_names.add(alias.asname or alias.name)
                    self.imported_names.add(alias.asname or alias.name)

    def _module_statement(self, stmt: ast.stmt, where: _Where) -> None:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return self._import(stmt, _Where(where.variable, "model header"))
        if isinstance(stmt, ast.Assign):
            return self._module_assign(stmt, where)
        if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Attribute)
                and stmt.value.func.attr == "add"
                and isinstance(stmt.value.func.value, ast.Name)
                and stmt.value.func.value.id in self.module_names
                and stmt.value.func.value.id.startswith("_")):
            # ``_ext_data_x.add(...)`` / ``_hardcodedlookup_x.add(...)``
            field = "data-file arguments (file, tab, cell) or lookup"
            return self._call_args(stmt.value, _Where(where.variable, field))
        raise _Refusal(stmt, f"a module-level statement of type "
                       f"{type(stmt).__name__} that no translation contains",
                       _Where(where.variable, _guess_field(stmt, where)))

    def _import(self, stmt: Union[ast.Import, ast.ImportFrom], where: _Where) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.name not in PLAIN_IMPORTS or alias.asname != PLAIN_IMPORTS[alias.name]:
                    raise _Refusal(stmt, f"import of module {alias.name!r}", where)
            return
        module = stmt.module or ""
        if stmt.level:
            raise _Refusal(stmt, "a relative import", where)
        if module.startswith("pysd.py_backend.") and module.count(".") == 2:
            allowed = PYSD_IMPORTS.get(module.rsplit(".", 1)[1], frozenset())
        else:
            allowed = FROM_IMPORTS.get(module, frozenset())
        for alias in stmt.names:
            if alias.name not in allowed or alias.asname not in (None, alias.name):
                raise _Refusal(stmt, f"import of {alias.name!r} from {module!r}", where)

    def _module_assign(self, stmt: ast.Assign, where: _Where) -> None:
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            raise _Refusal(stmt, "an assignment to something other than a plain "
                           "module-level name", _Where(where.variable, _guess_field(stmt, where)))
        name, value = stmt.targets[0].id, stmt.value
        if name == "__pysd_version__":
            return self._literal(value, str, where)
        if name == "__data":
            if ast.dump(value) != ast.dump(ast.parse(
                    '{"scope": None, "time": lambda: 0}', mode="eval").body):
                raise _Refusal(stmt, "a changed '__data' preamble", where)
            return None
        if name == "_root":
            if ast.dump(value) != ast.dump(ast.parse(
                    "Path(__file__).parent", mode="eval").body):
                raise _Refusal(stmt, "a changed '_root' preamble", where)
            return None
        if name == "component":
            if ast.dump(value) != ast.dump(ast.parse("Component()", mode="eval").body):
                raise _Refusal(stmt, "a changed 'component' preamble", where)
            return None
        if name == "_subscript_dict":
            return self._literal(value, dict, _Where(None, "subscript range"))
        if name == "_params":
            return self._literal(value, dict, _Where(None, "macro parameters"))
        if name == "_control_vars":
            if not isinstance(value, ast.Dict):
                raise _Refusal(stmt, "a changed '_control_vars' preamble", where)
            return self._expr(value, set(), _Where("control variables", "equation"))
        if (name.startswith("__") or name in _PREAMBLE or name in _BUILTIN_NAMES
                or name in self.imported_names):
            raise _Refusal(stmt, f"an assignment to reserved name {name!r}", where)
        # a stateful / lookup / external / macro object
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id in OBJECT_FIELDS):
            raise _Refusal(stmt, f"module-level object {name!r} built by "
                           f"{_describe(value, self.source)!r}",
                           _Where(where.variable, _guess_field(stmt, where)))
        sub = _Where(where.variable, OBJECT_FIELDS[value.func.id])
        if value.func.id == "Macro":
            self._macro_path(value, sub)
            value = ast.Call(func=value.func, args=value.args[1:], keywords=value.keywords)
        elif value.func.id in EXTERNAL_OBJECTS:
            roots = [a for a in value.args if isinstance(a, ast.Name) and a.id == "_root"]
            first = value.args[0] if value.args else None
            if len(roots) != 1 or not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                raise _Refusal(value, f"an external-data object {name!r} not in the shape PySD writes "
                               "(a literal file name and the model folder '_root')", sub)
            value = ast.Call(func=value.func, args=[a for a in value.args if a not in roots],
                             keywords=value.keywords)
        self._call_args(value, sub)

    def _macro_path(self, call: ast.Call, where: _Where) -> None:
        first = call.args[0] if call.args else None
        ok = (isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute)
              and first.func.attr == "joinpath"
              and isinstance(first.func.value, ast.Name) and first.func.value.id == "_root"
              and len(first.args) == 1 and not first.keywords
              and isinstance(first.args[0], ast.Constant)
              and isinstance(first.args[0].value, str)
              and _MACRO_FILE.match(first.args[0].value))
        if not ok:
            raise _Refusal(call, "a macro whose file is not a plain '<name>.py' "
                           "next to the model", where)
        self.macro_files.append(first.args[0].value)  # type: ignore[union-attr]

    def _literal(self, node: ast.expr, kind: type, where: _Where) -> None:
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise _Refusal(node, "a non-literal value where a translation "
                           "writes a constant", where) from None
        if not isinstance(value, kind):
            raise _Refusal(node, f"a {type(value).__name__} where a translation "
                           f"writes a {kind.__name__}", where)

    # -- component functions -------------------------------------------
    def _component_name(self, func: ast.FunctionDef) -> str:
        for deco in func.decorator_list:
            if isinstance(deco, ast.Call):
                for kw in deco.keywords:
                    if (kw.arg == "name" and isinstance(kw.value, ast.Constant)
                            and isinstance(kw.value.value, str)):
                        return kw.value.value
        return func.name

    def _function(self, func: ast.FunctionDef) -> None:
        variable = self._component_name(func)
        where = _Where(variable, "equation")
        if (func.name.startswith("__") or func.name in _PREAMBLE
                or func.name in _BUILTIN_NAMES or func.name in self.imported_names):
            raise _Refusal(func, f"a function named {func.name!r}", _Where(variable, "name"))
        if func.name == "_init_outer_references" and not func.decorator_list:
            expected = ast.parse("def _init_outer_references(data):\n"
                                 "    for key in data:\n"
                                 "        __data[key] = data[key]\n").body[0]
            if ast.dump(func) != ast.dump(expected):
                raise _Refusal(func, "a changed '_init_outer_references'", where)
            return
        if func.returns is not None or func.type_comment:
            raise _Refusal(func, "an annotated function", where)
        self._decorators(func, variable)
        args = func.args
        params = [a.arg for a in args.args]
        if (args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg
                or not set(params) <= FUNCTION_ARGS
                or any(a.annotation is not None for a in args.args)
                or any(not (isinstance(d, ast.Constant) and d.value is None)
                       for d in args.defaults)):
            raise _Refusal(func, f"a function signature ({_describe(args, self.source)}) "
                           "that no translation writes", _Where(variable, "name"))
        body = list(func.body)
        if body and _is_docstring(body[0]):
            body = body[1:]
        comment = _Where(variable, "comment (documentation)")
        for stmt in body:
            if isinstance(stmt, ast.Expr):
                # only a docstring can be a bare expression: text that broke
                # out of the comment's triple quotes
                raise _Refusal(stmt, f"code {_describe(stmt, self.source)!r} "
                               "outside the docstring", comment)
        self._body(func, body, variable, set(params))

    def _body(self, func: ast.FunctionDef, body: list[ast.stmt], variable: str,
              local_names: set[str]) -> None:
        """A component body is ``return <expr>``, or PySD's array assembly::

            value = xr.DataArray(np.nan, {...}, [...])
            [def_subs|except_subs = xr.zeros_like|ones_like(value, dtype=bool)]
            value.loc[...] = <expr>  /  value.values[<mask>.values] = <expr>
            <mask>.loc[...] = True|False
            return value
        """
        where = _Where(variable, "equation")
        last = body[-1] if body else None
        if not isinstance(last, ast.Return) or last.value is None:
            raise _Refusal(last or func, "a component function without a final 'return <value>'",
                           _Where(variable, _body_field(body, len(body) - 1)))
        if len(body) == 1:
            return self._expr(last.value, local_names, where)
        first = body[0]
        if not (_assigns(first, "value") and _dotted(first.value.func) == "xr.DataArray"  # type: ignore
                and len(first.value.args) == 3 and not first.value.keywords  # type: ignore
                and _dotted(first.value.args[0]) == "np.nan"  # type: ignore
                and isinstance(first.value.args[1], ast.Dict)  # type: ignore
                and isinstance(first.value.args[2], ast.List)):  # type: ignore
            raise _Refusal(first, f"a statement {_describe(first, self.source)!r} where a "
                           "translation writes 'return' or 'value = xr.DataArray(np.nan, ...)'",
                           _Where(variable, _body_field(body, 0)))
        self._call_args(first.value, where)  # type: ignore[arg-type]
        if not (isinstance(last.value, ast.Name) and last.value.id == "value"):
            raise _Refusal(last, "an array component that does not return 'value'", where)
        local_names = local_names | {"value"}
        for position, stmt in enumerate(body[1:-1], start=1):
            field = _Where(variable, _body_field(body, position))
            if any(_assigns(stmt, mask) for mask in ("def_subs", "except_subs")):
                call = stmt.value  # type: ignore[attr-defined]
                if not (_dotted(call.func) in ("xr.zeros_like", "xr.ones_like")
                        and len(call.args) == 1 and isinstance(call.args[0], ast.Name)
                        and call.args[0].id == "value" and len(call.keywords) == 1
                        and call.keywords[0].arg == "dtype"
                        and isinstance(call.keywords[0].value, ast.Name)
                        and call.keywords[0].value.id == "bool"):
                    raise _Refusal(stmt, f"assignment {_describe(stmt, self.source)!r}", field)
                local_names = local_names | {stmt.targets[0].id}  # type: ignore[attr-defined]
                continue
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
            if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute)
                    and target.value.attr in ("loc", "values")
                    and isinstance(target.value.value, ast.Name)
                    and target.value.value.id in local_names - FUNCTION_ARGS):
                self._expr(target.slice, local_names, field)
                self._expr(stmt.value, local_names, field)  # type: ignore[union-attr]
                continue
            raise _Refusal(stmt, f"a statement {_describe(stmt, self.source)!r} inside a "
                           "component function that no translation writes", field)

    def _decorators(self, func: ast.FunctionDef, variable: str) -> None:
        decos = func.decorator_list
        if len(decos) != 1:
            raise _Refusal(func, f"{len(decos)} decorators on function {func.name!r}",
                           _Where(variable, "name"))
        deco = decos[0]
        if not (isinstance(deco, ast.Call) and _dotted(deco.func) == "component.add"
                and not deco.args):
            raise _Refusal(deco, f"decorator {_describe(deco, self.source)!r}",
                           _Where(variable, "name"))
        seen = set()
        for kw in deco.keywords:
            field = DECORATOR_FIELDS.get(kw.arg or "")
            if field is None or kw.arg in seen:
                raise _Refusal(kw, f"decorator argument {kw.arg!r}",
                               _Where(variable, _guess_decorator(kw)))
            seen.add(kw.arg)
            where = _Where(variable, field)
            if kw.arg == "limits":
                self._limits(kw.value, where)
            elif kw.arg in ("name", "units", "comp_type", "comp_subtype"):
                self._literal(kw.value, str, where)
            elif kw.arg == "subscripts":
                self._literal(kw.value, list, where)
            else:
                self._literal(kw.value, dict, where)
        if "name" not in seen:
            raise _Refusal(deco, "a component without a name", _Where(variable, "name"))

    def _limits(self, node: ast.expr, where: _Where) -> None:
        if not isinstance(node, ast.Tuple):
            raise _Refusal(node, "limits that are not a tuple", where)
        for elt in node.elts:
            inner = elt.operand if (isinstance(elt, ast.UnaryOp)
                                    and isinstance(elt.op, ast.USub)) else elt
            if isinstance(inner, ast.Constant) and type(inner.value) in (int, float):
                continue
            if _dotted(inner) in ("np.nan", "np.inf"):
                continue
            raise _Refusal(elt, f"limit {_describe(elt, self.source)!r}", where)

    # -- expressions ---------------------------------------------------
    def _call_args(self, call: ast.Call, where: _Where, local_names: Iterable[str] = ()) -> None:
        for arg in call.args:
            self._expr(arg, set(local_names), where)
        for kw in call.keywords:
            if kw.arg is None:
                raise _Refusal(kw, "'**' argument unpacking", where)
            self._expr(kw.value, set(local_names), where)

    def _method_call(self, call: ast.Call, where: _Where) -> list[ast.AST]:
        """Check ``<value>.<method>(...)`` against the one shape PySD writes; return the
        sub-expressions still to check."""
        method, args, kws = call.func.attr, call.args, call.keywords  # type: ignore[attr-defined]
        receiver = call.func.value  # type: ignore[attr-defined]
        if method == "rename":
            ok = (len(args) == 1 and not kws and isinstance(args[0], ast.Dict)
                  and all(k is not None and _is_str(k) for k in args[0].keys)
                  and all(_is_str(v) for v in args[0].values))
            rest: list[ast.AST] = []
        elif method == "transpose":
            ok, rest = bool(args) and not kws and all(_is_str(a) for a in args), []
        elif method == "reset_coords":
            ok = (not args and len(kws) == 1 and kws[0].arg == "drop"
                  and isinstance(kws[0].value, ast.Constant) and kws[0].value.value is True)
            rest = []
        else:  # expand_dims({'dim': coords}, axis)
            ok = (len(args) == 2 and not kws and isinstance(args[0], ast.Dict)
                  and all(k is not None and _is_str(k) for k in args[0].keys)
                  and isinstance(args[1], ast.Constant) and type(args[1].value) is int)
            rest = list(args[0].values) if ok else []  # type: ignore[union-attr]
        if not ok:
            raise _Refusal(call, f"a call of '.{method}' in a shape no translation writes "
                           f"({_describe(call, self.source)!r})", where)
        return [receiver, *rest]

    def _name_ok(self, name: str, local_names: set[str]) -> bool:
        if (name in ("Path", "component", "__file__", "Component", "_root", "_params")
                or name in _SUBSCRIPTED_PREAMBLE or name in OBJECT_FIELDS):
            # only inside the fixed preamble, as module-level objects, as the
            # '_root' argument of external objects, or as name['literal']
            return False
        if name.startswith("__"):
            return False
        if name in SAFE_BUILTINS or name in self.imported_names:
            return True
        if name in _BUILTIN_NAMES:
            # PySD never gives a variable the name of a builtin; a module that
            # defines one could use the builtin before its own definition runs
            return False
        if name in local_names or name in self.module_names:
            return True
        # macro parameters become components of the macro module at run time
        return name in self.macro_params and name not in _BUILTIN_NAMES

    def _expr(self, root: ast.AST, local_names: set[str], where: _Where) -> None:
        # iterative (explicit stack): genuine equations can be sums of
        # thousands of terms, deeper than Python's recursion limit
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Constant):
                if isinstance(node.value, (bytes, type(Ellipsis))):
                    raise _Refusal(node, f"constant {node.value!r}", where)
            elif isinstance(node, ast.Name):
                if node.id in ("inf", "nan") and node.id not in self.module_names:
                    raise _Refusal(node, _NON_FINITE, where)
                if not isinstance(node.ctx, ast.Load) or not self._name_ok(node.id, local_names):
                    raise _Refusal(node, f"name {node.id!r}", where)
            elif isinstance(node, ast.Attribute):
                dotted = _dotted(node)
                root_name = dotted.split(".", 1)[0] if dotted else None
                if root_name in ("np", "xr", "stats") and root_name in self.imported_names:
                    if dotted not in MODULE_ATTRIBUTES and dotted not in _MODULE_PREFIXES:
                        raise _Refusal(node, f"attribute {dotted!r}", where)
                    continue
                if node.attr in TIME_ATTRIBUTES and _is_preamble_item(node.value, "__data", "time"):
                    continue
                if node.attr not in VALUE_ATTRIBUTES:
                    raise _Refusal(node, f"attribute {node.attr!r}", where)
                stack.append(node.value)
            elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                  and node.value.id in _SUBSCRIPTED_PREAMBLE):
                if not _is_preamble_item(node, node.value.id, None):
                    self._expr(node.slice, local_names, where)  # report a payload as such first
                    raise _Refusal(node, f"'{node.value.id}' indexed by something other than a "
                                   "literal name", where)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in VALUE_METHODS):
                stack.extend(self._method_call(node, where))
            elif isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg is None:
                        raise _Refusal(kw, "'**' argument unpacking", where)
                    stack.append(kw.value)
                stack.extend(node.args)
                stack.append(node.func)
            elif isinstance(node, ast.Lambda):
                a = node.args
                if a.posonlyargs or a.args or a.kwonlyargs or a.vararg or a.kwarg:
                    raise _Refusal(node, "a lambda with parameters", where)
                stack.append(node.body)
            elif isinstance(node, ast.Dict):
                if any(k is None for k in node.keys):
                    raise _Refusal(node, "'**' dict unpacking", where)
                stack.extend(k for k in node.keys if k is not None)
                stack.extend(node.values)
            elif isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
                                   ast.List, ast.Tuple, ast.Set, ast.Subscript, ast.Slice)):
                if isinstance(node, (ast.List, ast.Tuple, ast.Subscript)) and \
                        not isinstance(node.ctx, ast.Load):
                    raise _Refusal(node, "an assignment inside an expression", where)
                stack.extend(child for child in ast.iter_child_nodes(node)
                             if not isinstance(child, (ast.operator, ast.unaryop, ast.boolop,
                                                       ast.cmpop, ast.expr_context)))
            else:
                raise _Refusal(node, f"a {type(node).__name__} expression "
                               f"({_describe(node, self.source)!r})", where)


def _assigns(stmt: ast.stmt, name: str) -> bool:
    """``name = <call>``."""
    return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == name
            and isinstance(stmt.value, ast.Call))


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_preamble_item(node: ast.AST, name: str, key: Optional[str]) -> bool:
    """``name['key']`` (any literal string key when *key* is None)."""
    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and node.value.id == name and _is_str(node.slice)
            and (key is None or node.slice.value == key))  # type: ignore[attr-defined]


_NON_FINITE = "a non-finite number"


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _body_field(body: list[ast.stmt], position: int) -> str:
    """Field of a function-body statement: code before a stray string came from the comment."""
    later = body[position + 1:]
    if any(isinstance(s, ast.Expr) for s in later):
        return "comment (documentation)"
    return "equation"


def _guess_field(stmt: ast.stmt, where: _Where) -> str:
    if where.variable is None:
        return "model header"
    return "comment, name or data-file arguments"


def _guess_decorator(kw: ast.keyword) -> str:
    return "name or units"


# ---------------------------------------------------------------------------
# Attribution against the model file (best effort, only on refusal)
# ---------------------------------------------------------------------------

def _read_model_text(model_file: str) -> Optional[str]:
    try:
        return Path(model_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _grow_match(text: str, line: str, start: int, end: int) -> tuple[int, int]:
    """Widest window ``line[a:b]`` around ``line[start:end]`` found in *text*.

    Returns the position of the window in *text* and its length (``-1, 0`` if
    not even the node itself occurs).
    """
    a, b = start, max(end, start + 1)
    if text.find(line[a:b]) < 0:
        return -1, 0
    grew = True
    while grew:
        grew = False
        if a > 0 and text.find(line[a - 1:b]) >= 0:
            a, grew = a - 1, True
        if b < len(line) and text.find(line[a:b + 1]) >= 0:
            b, grew = b + 1, True
    return text.find(line[a:b]), b - a


def _normalise(text: str) -> tuple[str, list[int]]:
    """*text* without whitespace and with ``'`` as ``"`` (black rewrites both),
    plus the original offset of every kept character."""
    chars, index = [], []
    for i, ch in enumerate(text):
        if not ch.isspace() and ch != "\\":
            chars.append('"' if ch == "'" else ch)
            index.append(i)
    return "".join(chars), index


def _locate_node(model_file: str, node: ast.AST, source: str) -> Optional[_Where]:
    """Attribute an offending node to a variable/field of the model file."""
    text = _read_model_text(model_file)
    lineno = getattr(node, "lineno", None)
    if text is None or lineno is None:
        return None
    lines = source.splitlines()
    end_lineno = getattr(node, "end_lineno", None) or lineno
    first, last = max(0, lineno - 6), min(len(lines), end_lineno + 6)
    line = "\n".join(lines[first:last])  # black may have split the text over lines
    offset = sum(len(lines[k]) + 1 for k in range(first, lineno - 1))
    begin = offset + node.col_offset  # type: ignore[attr-defined]
    end_col = getattr(node, "end_col_offset", None)
    end = (sum(len(lines[k]) + 1 for k in range(first, end_lineno - 1)) + end_col
           if end_col is not None else begin + 1)
    norm_text, text_index = _normalise(text)
    norm_line, line_index = _normalise(line)
    # node span in normalised-window coordinates
    start = next((k for k, i in enumerate(line_index) if i >= begin), len(norm_line))
    stop = next((k for k, i in enumerate(line_index) if i >= end), len(norm_line))
    pos, length = _grow_match(norm_text, norm_line, start, max(stop, start + 1))
    if length < 8 or pos < 0:
        return None
    return _locate_at(model_file, text, text_index[pos])


def _locate_in_model(model_file: str, snippet: str) -> Optional[_Where]:
    """Find *snippet* (or its start) in the model file and attribute it."""
    text = _read_model_text(model_file)
    if text is None:
        return None
    for probe in (snippet, snippet[:40], snippet[:20]):
        if len(probe.strip()) >= 6 and text.find(probe) >= 0:
            return _locate_at(model_file, text, text.find(probe))
    return None


def _locate_at(model_file: str, text: str, pos: int) -> Optional[_Where]:
    if Path(model_file).suffix.lower() == ".mdl":
        return _locate_vensim(text, pos)
    return _locate_xmile(text, pos)


def _locate_vensim(text: str, pos: int) -> Optional[_Where]:
    """Variable and field (equation ~ units ~ comment) of offset *pos* in a .mdl."""
    start = text.rfind("|", 0, pos) + 1
    stop = text.find("|", pos)
    record = text[start:stop if stop >= 0 else len(text)]
    offset = pos - start
    # drop a leading '{UTF-8}' marker and whitespace from the record
    head_match = re.match(r"\s*(\{[^}]*\}\s*)?", record)
    skip = head_match.end() if head_match else 0
    parts = record.split("~")
    fields = ["equation", "units", "comment (documentation)"]
    acc = 0
    for i, part in enumerate(parts):
        if offset <= acc + len(part):
            head = parts[0][skip:] if i or offset >= skip else parts[0][skip:]
            if head.lstrip().startswith(":MACRO:"):
                macro = re.match(r'\s*:MACRO:\s*("(?:\\"|[^"])*"|[^(]*)', head)
                return _Where(_unquote(macro.group(1).strip()) if macro else None,
                              "macro definition", "macro")
            name_match = re.match(r'\s*("(?:\\"|[^"])*"|[^=(\[:~]*)', head)
            name = name_match.group(1).strip() if name_match else None
            field = fields[i] if i < len(fields) else "comment (documentation)"
            if i == 0:
                rel = offset - skip
                after = head[name_match.end():].lstrip() if name_match else ""
                if after.startswith(":") and not after.startswith(":="):
                    # a subscript range definition
                    return _Where(_unquote(name) or None, "subscript", "subscript range")
                elif name_match and rel < name_match.end():
                    field = "name"
                elif head.rfind("[", 0, rel) > head.rfind("]", 0, rel):
                    field = "subscript"
                elif re.search(r"GET\s*(XLS|DIRECT|DATA)", head[:rel], re.I):
                    field = "data-file arguments (file, tab, cell)"
            return _Where(_unquote(name) or None, field)
        acc += len(part) + 1
    return None


def _unquote(name: Optional[str]) -> Optional[str]:
    if name and len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].replace('\\"', '"')
    return name


def _locate_xmile(text: str, pos: int) -> Optional[_Where]:
    """Variable and field (tag) of offset *pos* in an XMILE file."""
    opening = text.rfind("<", 0, pos)
    tag_match = re.match(r"<\s*/?\s*([\w:-]+)", text[opening:])
    tag = tag_match.group(1) if tag_match else ""
    in_tag = text.find(">", opening) > pos  # inside an attribute
    var = None
    for m in re.finditer(r"<(stock|flow|aux|gf|macro|module)\b[^>]*?\bname\s*=\s*([\"'])(.*?)\2",
                         text[:pos], re.S):
        var = m.group(3)
    fields = {"doc": "comment (documentation)", "units": "units", "eqn": "equation",
              "xpts": "lookup", "ypts": "lookup", "gf": "lookup", "dim": "subscript",
              "elem": "subscript", "macro": "macro", "parm": "macro"}
    field = fields.get(tag, tag or "unknown")
    if in_tag and tag in ("stock", "flow", "aux", "gf", "macro", "module"):
        field = "name"
        var = None
        m = re.match(r"<\s*\w+[^>]*?\bname\s*=\s*([\"'])(.*?)\1", text[opening:], re.S)
        var = m.group(2) if m else None
    elif tag in ("dim", "elem"):
        var = None
    return _Where(var, field)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def _refuse(model_file: str, where: _Where, what: str, origin: str) -> UnsafeModelError:
    shown = where.variable
    if shown and len(shown) > 60:
        shown = shown[:57] + "..."
    var = f"{where.kind} {shown!r}" if shown else "the model header"
    return UnsafeModelError(
        f"Refusing to load model {model_file!r}: the text in the {where.field} field of "
        f"{var} would be executed as Python code ({what}{origin}). A translated model may "
        "only contain equations, constants and PySD runtime calls; nothing from this "
        "file has been run. Remove the offending characters (e.g. triple quotes or a "
        "trailing backslash) from that field.")


_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)


def _check_encoding(source: str, model_file: str) -> None:
    """Refuse a coding cookie: the import would decode the file differently from this check."""
    for line in source.splitlines()[:2]:
        match = _CODING.match(line)
        if match and match.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise UnsafeModelError(
                f"Refusing to load model {model_file!r}: its translation declares the source "
                f"encoding {match.group(1)!r}, which would make Python read it differently "
                "from the check. Nothing from this file has been run.")


def _check(source: str, model_file: str) -> list[str]:
    _check_encoding(source, model_file)
    try:
        tree = ast.parse(source)
    except (RecursionError, MemoryError):
        raise UnsafeModelError(
            f"Refusing to load model {model_file!r}: its translation is nested too deeply "
            "to be checked (an equation with thousands of nested terms?). Nothing from "
            "this file has been run.") from None
    except (SyntaxError, ValueError) as exc:
        raise UnsafeModelError(
            f"Refusing to load model {model_file!r}: its translation is not valid "
            f"Python ({exc.__class__.__name__}: {exc}); a field of the model broke "
            "out of its string. Nothing from this file has been run.") from None
    try:
        return _Checker(tree, source).run()
    except _Refusal as refusal:
        where = refusal.where
        try:
            located = _locate_node(model_file, refusal.node, source)
        except Exception:  # attribution is best effort; the refusal stands
            log.debug("could not attribute refusal in %s", model_file, exc_info=True)
            located = None
        if located is not None and located.field != "equation":
            where = _Where(located.variable or where.variable, located.field, located.kind)
        line = getattr(refusal.node, "lineno", None)
        if refusal.what == _NON_FINITE:
            var = f"variable {where.variable!r}" if where.variable else "a variable"
            raise ModelLoadError(f"{model_file}: the equation of {var} has a number that is not finite "
                                 "(a value beyond 1.8e308 such as 1e999, or NaN); write a finite number") from None
        origin = f" at line {line} of the translation" if line else ""
        log.warning("refused translation of %s: %s", model_file, refusal.what)
        raise _refuse(model_file, where, f"found {refusal.what}", origin) from None
    except RecursionError:
        raise UnsafeModelError(
            f"Refusing to load model {model_file!r}: its translation is nested too "
            "deeply to be checked. Nothing from this file has been run.") from None


def check_translated_source(source: str, *, model_file: str) -> None:
    """Refuse a translated PySD module that contains anything a translation cannot.

    Parameters
    ----------
    source : str
        Text of the translated module (the ``.py`` PySD wrote). It is parsed,
        never executed.
    model_file : str
        The ``.mdl``/``.xmile`` file it was translated from; named in the error
        and searched to attribute the offending text to a variable and field.

    Raises
    ------
    UnsafeModelError
        If the module contains a statement, name, attribute or expression
        outside the allow-list. The message names the model file, the variable,
        the field (comment, units, name, lookup, data-file arguments, macro,
        subscript) and what was found.

    Notes
    -----
    Macro sub-modules referenced by ``Macro(_root.joinpath("x.py"), ...)`` must
    be plain file names next to the model; their contents are checked only by
    :func:`check_translated_file`, which can read them.
    """
    _check(source, model_file)


def check_translated_sources(main: str, files: Mapping[str, bytes], *, model_file: str) -> dict[str, str]:
    """Check the module *main* of a translation and every macro module it loads.

    Parameters
    ----------
    main : str
        File name of the translated main module (``"model.py"``).
    files : mapping of str to bytes
        The files of the translation (name -> bytes), already read; nothing is
        read from disk, so the text checked is the text the caller will run.
    model_file : str
        The model file it was translated from (for messages).

    Returns
    -------
    dict
        ``{file name: source text}`` of the checked modules.

    Raises
    ------
    UnsafeModelError
        If any of the modules fails :func:`check_translated_source`, declares
        an encoding other than UTF-8, or a referenced macro module is missing.
    """
    todo, checked = [main], {}
    while todo:
        name = todo.pop()
        if name in checked:
            continue
        try:
            data = files[name]
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            if encoding not in ("utf-8", "utf-8-sig"):
                raise UnsafeModelError(
                    f"Refusing to load model {model_file!r}: its translation {name!r} "
                    f"declares the source encoding {encoding!r}. Nothing from this file has "
                    "been run.")
            source = data.decode(encoding)
        except (KeyError, UnicodeDecodeError, SyntaxError) as exc:
            raise UnsafeModelError(
                f"Refusing to load model {model_file!r}: cannot read its translation "
                f"{name!r} ({exc.__class__.__name__}). Nothing from this file has been run.") from None
        checked[name] = source
        todo.extend(_check(source, model_file))
    return checked


def check_translated_file(py_path: Union[str, Path], model_file: Union[str, Path]) -> None:
    """Check a translated module file and every macro module next to it that it loads.

    See :func:`check_translated_sources`; this reads the files first.
    """
    py_path = Path(py_path)
    files = {p.name: p.read_bytes() for p in py_path.parent.glob("*.py") if p.is_file()}
    check_translated_sources(py_path.name, files, model_file=str(model_file))


# ---------------------------------------------------------------------------
# Translation-time guard
# ---------------------------------------------------------------------------

#: PySD translator modules that call ``eval`` on text taken from the model file
#: (Vensim lookup ranges ``[(x0,y0)-(x1,y1)]``, lookup points, numbers,
#: string arguments; XMILE arrays and numbers).
_EVAL_MODULES = ("pysd.translators.vensim.vensim_element",
                 "pysd.translators.xmile.xmile_element")
_guard_lock = threading.RLock()


_ARITHMETIC = (ast.Expression, ast.Constant, ast.Tuple, ast.List, ast.UnaryOp, ast.BinOp,
               ast.UAdd, ast.USub, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Load)
_NUMBER = re.compile(r"\s*[-+]?[0-9][0-9_]*\.?[0-9_]*(?:[eE][-+]?[0-9]+)?\s*")


def literal_value(text: Any) -> Any:
    """Evaluate *text* if it is a literal or plain arithmetic on number literals.

    Accepts what PySD's translator evaluates in genuine models: numbers,
    strings, tuples/lists of them (lookup points and ranges) and ``+ - * /``
    between numbers (``0.05+0.05``). No names, calls, attributes or powers.

    Raises
    ------
    ValueError
        For anything else.
    """
    if not isinstance(text, str):
        return ast.literal_eval(text)
    tree = ast.parse(text.strip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ARITHMETIC):
            raise ValueError(f"not a literal: {type(node).__name__}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str)):
            raise ValueError("not a number or string")
        if isinstance(node, ast.BinOp) and not all(
                isinstance(side, (ast.Constant, ast.BinOp, ast.UnaryOp)) for side in (node.left, node.right)):
            raise ValueError("arithmetic on something other than numbers")
    if not any(isinstance(node, ast.BinOp) for node in ast.walk(tree)):
        return ast.literal_eval(tree)
    # only number literals and + - * / remain: evaluating is harmless
    return eval(compile(tree, "<model number>", "eval"), {"__builtins__": {}}, {})  # noqa: S307


def _literal_evaluator(model_file: str) -> Any:
    def literal_eval(text: Any, *_: Any) -> Any:
        try:
            return literal_value(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, ZeroDivisionError,
                OverflowError):
            text = str(text)
            shown = " ".join(text.split())
            shown = shown if len(shown) <= 120 else shown[:117] + "..."
            where = (_locate_in_model(model_file, text.replace("),(", ")-(", 1)[:60])
                     or _locate_in_model(model_file, text[:60]))
            var = (f"variable {where.variable!r}" if where and where.variable
                   else "a variable")
            if _NUMBER.fullmatch(text):
                raise ModelLoadError(
                    f"{model_file}: the equation of {var} holds a number of {len(text.strip())} "
                    f"characters ({shown[:40]!r}); Python reads integers of at most "
                    f"{sys.get_int_max_str_digits() or 'unlimited'} digits. Write it with an exponent "
                    "(1.5e300).") from None
            field = "lookup field" if "(" in text or "[" in text else "equation"
            raise UnsafeModelError(
                f"Refusing to load model {model_file!r}: the {field} of {var} holds "
                f"{shown!r}, which is not a literal value (a lookup range, lookup point, "
                "number or string); PySD's translator would evaluate it as Python code. "
                "Nothing from this file has been run. Lookup ranges must look like "
                "[(0,0)-(10,1)].") from None
    return literal_eval


@contextmanager
def guarded_translation(model_file: Union[str, Path]) -> Iterator[None]:
    """Translate a model with PySD's internal ``eval`` restricted to literals.

    PySD 3.14's Vensim and XMILE translators call the builtin ``eval`` on
    pieces of the model text while parsing (for example the range
    ``[(0,0)-(10,1)]`` of a lookup, which the grammar lets contain any
    character except ``]``). A hostile lookup range therefore runs code during
    *translation*, before any generated module exists. Inside this context the
    name ``eval`` in those translator modules is bound to
    :func:`ast.literal_eval`; anything that is not a literal (number, string,
    tuple, list) raises :class:`~sdcluster.errors.UnsafeModelError`.

    Parameters
    ----------
    model_file : str or pathlib.Path
        The model being translated (named in errors).

    Raises
    ------
    UnsafeModelError
        From within the block, when the translator meets non-literal text.

    Notes
    -----
    The guard rebinds a module global of PySD for the duration of the block and
    holds a lock, so translations in threads of one process run one at a time.
    """
    import importlib

    modules = [importlib.import_module(name) for name in _EVAL_MODULES]
    evaluator = _literal_evaluator(str(model_file))
    with _guard_lock:
        saved = [module.__dict__.get("eval", _MISSING) for module in modules]
        for module in modules:
            module.eval = evaluator  # type: ignore[attr-defined]
        try:
            yield
        except ModelLoadError:
            raise
        except Exception as exc:
            # parsimonious wraps errors raised by visitors in VisitationError
            cause: Optional[BaseException] = exc
            while cause is not None:
                if isinstance(cause, ModelLoadError):
                    raise cause from None
                cause = cause.__cause__ or cause.__context__
            raise
        finally:
            for module, old in zip(modules, saved):
                if old is _MISSING:
                    module.__dict__.pop("eval", None)
                else:
                    module.eval = old  # type: ignore[attr-defined]


_MISSING = object()
