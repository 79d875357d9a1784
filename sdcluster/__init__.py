"""sdcluster: system dynamics models of industrial clusters and cluster policy.

Load any Vensim (``.mdl``) or XMILE (``.xmile``) model through PySD, run it into
a self-describing :class:`xarray.Dataset`, compare policy scenarios, calibrate
to observed data and run fast ensembles.

>>> import sdcluster
>>> model = sdcluster.load_model("cluster_lifecycle")      # doctest: +SKIP
>>> ds = model.run(params={"initial firms": 20})           # doctest: +SKIP
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import SdclusterError  # noqa: E402
from .core.model import Model, load_model  # noqa: E402

__all__ = ["Model", "SdclusterError", "__version__", "load_model"]


#: top-level names of the library's layers, imported on first use
_LAZY_MODULES = {
    "compare": "analysis.compare", "lifecycle": "analysis.lifecycle", "loops": "analysis.loops",
    "calibrate": "calibrate", "design": "design",
    "ensemble": "uncertainty.ensemble", "sensitivity": "uncertainty.sensitivity",
    "plot": "outputs.plot", "report": "outputs.report",
}


def __getattr__(name: str):
    # Heavier, optional layers are imported on first use so that
    # ``import sdcluster`` stays fast.
    if name == "run_scenarios":
        from .scenarios.simulate import run_scenarios

        return run_scenarios
    if name == "optimize":
        from .design import optimize

        return optimize
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f".{_LAZY_MODULES[name]}", __name__)
    raise AttributeError(f"module 'sdcluster' has no attribute {name!r}")
