"""A compiled execution path for PySD models: one fused, Numba-compiled step loop.

:func:`compile_translation` turns the text of a checked PySD translation into
a :class:`CompiledModel` (code generation in :mod:`.codegen`, compilation and
the on-disk cache in :mod:`.build`); :class:`sdcluster.core.engine.Engine` uses it
for single and batch runs when it can and falls back to its own loop (logging
why) when the model has a construct the generator does not reproduce.
Numbers are PySD's: same Euler scheme, same time bookkeeping, same
operations in the same order (tested to 1e-9 relative against plain PySD).
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .codegen import KernelSpec, Uncompilable, generate

log = logging.getLogger(__name__)

__all__ = ["CompiledModel", "Uncompilable", "compile_translation", "time_grid"]

#: PySD's relative precision for the final time and the save times (``Time.rprec``).
RPREC = 1e-5

#: Runs per kernel call when per-run schedules are tabulated (bounds memory).
CHUNK = 1024

#: One code generation / compilation at a time per process (threads of an ensemble load
#: models concurrently; CPython's AST constructor and Numba's compiler are not thread-safe);
#: models already compiled in this process, by translation text and cache root.
_COMPILE_LOCK = threading.Lock()
_COMPILED: dict[tuple[str, str], "CompiledModel"] = {}


def time_grid(initial_time: float, final_time: float, time_step: float,
              saveper: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PySD's time bookkeeping as arrays: every step's time, which steps are saved, saved times.

    The clock is built by repeated addition (``t + dt``, sequential
    ``np.add.accumulate``), the loop runs while ``t + dt * rprec < final_time``
    and a step is saved when ``(t - t0) % saveper`` or ``-(t - t0) % saveper``
    is below ``dt * rprec`` — the expressions of
    :class:`pysd.py_backend.components.Time`.
    """
    n = int(math.ceil((final_time - initial_time) / time_step)) + 3
    steps = np.full(n, time_step)
    steps[0] = initial_time
    times = np.add.accumulate(steps)
    inside = times + time_step * RPREC < final_time
    last = int(np.argmin(inside)) if not inside.all() else n - 1  # first time out of bounds
    times = times[: last + 1]
    prec = time_step * RPREC
    delay = times - initial_time
    save = (delay % saveper < prec) | (-delay % saveper < prec)
    rounded = np.round(times[save], -int(np.log10(time_step * RPREC)))
    return times, save, rounded


@dataclass
class CompiledModel:
    """A model's compiled kernel and how to feed it."""

    spec: KernelSpec
    kernel: Callable
    from_cache: bool
    compile_seconds: float

    def __post_init__(self) -> None:
        self._const = {n: j for j, n in enumerate(self.spec.constants)}
        self._out = {n: j for j, n in enumerate(self.spec.outputs)}
        self._grids: dict[tuple, tuple] = {}

    def _grid(self, settings: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = (settings.initial_time, settings.final_time, settings.time_step, settings.saveper)
        if key not in self._grids:
            if len(self._grids) > 16:
                self._grids.clear()
            self._grids[key] = time_grid(*key)
        return self._grids[key]

    def unsupported(self, params: Mapping[str, Any], outputs: Sequence[str]) -> str | None:
        """Why this call cannot run compiled (``None`` when it can)."""
        for name in params:
            if name not in self._const:
                return f"parameter {name} is not a constant of the compiled model"
        for name in outputs:
            if name not in self._out:
                return f"output {name} is not recorded by the compiled model"
        return None

    def run(self, params: Mapping[str, Any], settings: Any, outputs: Sequence[str],
            batch: int | None) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Run once (*batch* ``None``) or *batch* times.

        Returns saved times and ``{py_name: array}`` as
        :meth:`sdcluster.core.engine.Engine.run` does (shape ``(T,)``, or ``(T, N)``
        for a batch), and a boolean array telling which runs have only finite
        outputs.
        """
        times, save, saved = self._grid(settings)
        n = 1 if batch is None else batch
        nc = len(self.spec.constants)
        mode = np.zeros(nc, dtype=np.int64)
        scol = np.full(nc, -1, dtype=np.int64)
        P = np.empty((n, nc))
        P[:] = self.spec.defaults
        scheduled, per_run = [], False
        for name, value in params.items():
            j = self._const[name]
            if callable(value):
                mode[j] = 2
                scol[j] = len(scheduled)
                scheduled.append(value)
                per_run |= getattr(value, "batch_size", None) is not None
            else:
                mode[j] = 1
                P[:, j] = value
        out_idx = np.array([self._out[o] for o in outputs] or [0], dtype=np.int64)
        DT = np.array([settings.time_step, settings.initial_time, settings.final_time, settings.saveper])
        out = np.empty((n, int(save.sum()), len(out_idx)))
        chunk = CHUNK if per_run else n
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            S = _tabulate(scheduled, times, a, b, per_run)
            self.kernel(P[a:b], mode, S, scol, times, DT, save, out_idx, out[a:b])
        finite = np.isfinite(out).all(axis=(1, 2))
        if batch is None:
            values = {name: out[0, :, j] for j, name in enumerate(outputs)}
        else:
            values = {name: out[:, :, j].T for j, name in enumerate(outputs)}
        return saved, values, finite


def _tabulate(scheduled: list[Callable], times: np.ndarray, a: int, b: int, per_run: bool) -> np.ndarray:
    """Values of the scheduled parameters on the time grid: ``(runs or 1, T, n_scheduled)``."""
    from ...scenarios.scenario import ScheduledValue
    from ...scenarios.schedules import Schedule

    S = np.empty((b - a if per_run else 1, times.size, len(scheduled)))
    for k, f in enumerate(scheduled):
        if getattr(f, "batch_size", None) is not None:
            if hasattr(f, "subset"):
                g = f.subset(a, b)
                vals = np.array([np.broadcast_to(g(t), (b - a,)) for t in times])
            else:
                vals = np.array([np.broadcast_to(f(t), (f.batch_size,))[a:b] for t in times])
            S[:, :, k] = vals.T
            continue
        if isinstance(f, (Schedule, ScheduledValue)):
            vals = np.asarray(f(times), dtype=float)
        else:
            vals = np.array([float(f(t)) for t in times])
        S[:, :, k] = vals
    return S


def compile_translation(source: str, root: Path) -> CompiledModel:
    """Generate and compile the kernel of a checked translation.

    Parameters
    ----------
    source
        Text of a PySD translation that passed :mod:`sdcluster.core.safety`
        (read through :func:`sdcluster.core.translate.checked_source`).
    root
        Translation cache root (compiled kernels are cached under it).

    Raises
    ------
    Uncompilable
        When the model uses a construct the generator does not reproduce.
    """
    from .build import load_kernel

    def make() -> tuple[str, dict]:
        spec = generate(source)
        return spec.source, {"constants": spec.constants, "defaults": spec.defaults, "outputs": spec.outputs}

    memo = (source, str(root))
    with _COMPILE_LOCK:
        if memo in _COMPILED:
            return _COMPILED[memo]
        start = _time.perf_counter()
        key = hashlib.sha256(f"{source}|{_generator_hash()}".encode()).hexdigest()
        kernel, spec, cached = load_kernel(key, make, root)
        seconds = _time.perf_counter() - start
        log.info("%s the compiled kernel in %.2f s", "loaded" if cached else "compiled", seconds)
        _COMPILED[memo] = CompiledModel(KernelSpec(source="", **spec), kernel, cached, seconds)
        return _COMPILED[memo]


def _generator_hash() -> str:
    """SHA-256 of the code generator's source: a changed generator never reuses old kernels."""
    from . import codegen

    return hashlib.sha256(Path(codegen.__file__).read_bytes()).hexdigest()
