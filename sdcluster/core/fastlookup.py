"""Lookup (graphical function) evaluation with NumPy, keeping PySD's semantics.

PySD evaluates every lookup call through :meth:`xarray.DataArray.interp`, which
costs milliseconds per call and dominates the run time of lookup-heavy models.
:class:`FastLookup` wraps a PySD :class:`~pysd.py_backend.lookups.HardcodedLookups`
object and answers the same calls with :func:`numpy.interp`:

- inside the table: linear interpolation (``interp``) or hold-backward
  (``hold_backward``, the value at the largest ``x_i <= x``);
- outside the table: Vensim holds the end values; XMILE (``extrapolate``)
  extends the first/last segment linearly;
- subscripted lookups called with a scalar argument return a
  :class:`xarray.DataArray` over the lookup's own dimensions, as PySD does;
- arguments that are NumPy arrays (the vectorised ensemble engine) are
  evaluated element-wise for unsubscripted lookups.

Any other call (a subscripted argument, values replaced by the user with
``set_values``) is delegated to the wrapped PySD object, so results are always
PySD's own. The equality is tested to 1e-12 on both formats.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr


class FastLookup:
    """NumPy front for one PySD lookup object (see module docstring)."""

    __slots__ = ("_orig", "_data_id", "_x", "_y", "_coords", "_dims", "_mode", "py_name")

    def __init__(self, original: Any):
        self._orig = original
        self.py_name = original.py_name
        self._data_id = None
        self._refresh()

    def _refresh(self) -> None:
        data = self._orig.data
        self._data_id = id(data)
        self._x = self._y = None
        if not isinstance(data, xr.DataArray) or "lookup_dim" not in data.dims:
            return  # replaced by a constant: delegate
        data = data.transpose("lookup_dim", ...)
        self._x = np.asarray(data["lookup_dim"].values, dtype=float)
        self._y = np.asarray(data.values, dtype=float)
        self._dims = [d for d in data.dims if d != "lookup_dim"]
        self._coords = {d: data.coords[d].values for d in self._dims}
        self._mode = self._orig.interp

    # PySD's model calls ``set_values``/``initialize`` on the lookup object;
    # forward everything we do not implement.
    def __getattr__(self, name: str) -> Any:
        return getattr(self._orig, name)

    def __call__(self, x: Any, final_subs: Any = None) -> Any:
        if id(self._orig.data) != self._data_id:
            self._refresh()
        if self._x is None or isinstance(x, xr.DataArray):
            return self._orig(x, final_subs)
        if self._dims:
            if np.ndim(x) != 0:
                return self._orig(x, final_subs)
            values = self._interp_columns(float(x))
            return xr.DataArray(values, self._coords, self._dims)
        value = self._interp(x)
        if np.ndim(value) == 0:
            return float(value)
        return value

    def _interp(self, x: Any) -> Any:
        """Evaluate an unsubscripted table at scalar or array *x*."""
        xs, ys = self._x, self._y
        if self._mode == "hold_backward":
            idx = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 1)
            return ys[idx]
        out = np.interp(x, xs, ys)
        if self._mode == "extrapolate" and len(xs) > 1:
            hi = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            lo = (ys[1] - ys[0]) / (xs[1] - xs[0])
            out = np.where(x > xs[-1], ys[-1] + hi * (x - xs[-1]), out)
            out = np.where(x < xs[0], ys[0] + lo * (x - xs[0]), out)
        return out

    def _interp_columns(self, x: float) -> np.ndarray:
        """Evaluate every column of a subscripted table at scalar *x*."""
        xs, ys = self._x, self._y
        if x >= xs[-1] or x <= xs[0] or self._mode == "hold_backward":
            if x > xs[-1] and self._mode == "extrapolate" and len(xs) > 1:
                return ys[-1] + (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) * (x - xs[-1])
            if x < xs[0] and self._mode == "extrapolate" and len(xs) > 1:
                return ys[0] + (ys[1] - ys[0]) / (xs[1] - xs[0]) * (x - xs[0])
            idx = int(np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 1))
            return ys[idx].copy()
        i = int(np.searchsorted(xs, x, side="right") - 1)
        if xs[i] == x:
            return ys[i].copy()
        w = (x - xs[i]) / (xs[i + 1] - xs[i])
        return ys[i] + w * (ys[i + 1] - ys[i])


def install(module: Any, lookup_class: type) -> list[str]:
    """Replace every PySD lookup object in a translated *module* by a :class:`FastLookup`.

    Returns the Python names of the replaced objects. Idempotent.
    """
    replaced = []
    for name, obj in list(vars(module).items()):
        if isinstance(obj, lookup_class) and not isinstance(obj, FastLookup):
            setattr(module, name, FastLookup(obj))
            replaced.append(name)
    return replaced
