"""An interactive policy explorer in the browser (``sdcluster explore``).

>>> from sdcluster.explore import build_explorer, serve           # doctest: +SKIP
>>> serve(build_explorer(["scenarios/baseline.yaml", "scenarios/brokering.yaml"]))  # doctest: +SKIP

Modules: :mod:`~sdcluster.explore.controls` (controls from scenario files and the
parameter catalogue), :mod:`~sdcluster.explore.session` (runs, band, KPI cards,
saving; no web code), :mod:`~sdcluster.explore.app` (the Dash page) and
:mod:`~sdcluster.explore.server` (serving on 127.0.0.1, stopping cleanly).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from .session import DEFAULT_RUNS, Explorer, Result, View

log = logging.getLogger(__name__)

__all__ = ["Explorer", "Result", "View", "build_explorer", "default_uncertainty", "serve"]


def default_uncertainty(first_scenario: str | Path, model_name: str) -> Path | None:
    """``uncertainty/<model>.yaml`` next to the first scenario file, if it exists."""
    path = Path(str(first_scenario).split("#")[0]).parent / "uncertainty" / f"{model_name}.yaml"
    return path if path.is_file() else None


def build_explorer(targets: Sequence[str], *, uncertain: str | Path | None = None, use_uncertainty: bool = True,
                   runs: int | None = None, extra_instruments: Sequence[str] = (),
                   save_dir: str | Path | None = None) -> Explorer:
    """Load scenario files (or one model) and the uncertainty spec into an :class:`Explorer`.

    Parameters
    ----------
    targets
        Scenario files (``.yaml``, ``file#name`` allowed), all of one model; or one model
        (bundled name or file).
    uncertain
        Uncertain-parameter file; default :func:`default_uncertainty` for scenario files.
    use_uncertainty
        False: no band, central runs only.
    runs
        Sampled runs behind the band (default 200).
    extra_instruments, save_dir
        See :class:`Explorer`.

    Raises
    ------
    SdclusterError
        Bad files, a model that cannot be loaded, or scenarios of different models.
    """
    from ..uncertainty.ensemble import SCENARIO_SUFFIXES
    from ..errors import ParameterError
    from ..core.model import load_model
    from ..uncertainty.sampling import load_uncertain
    from ..scenarios.scenario import with_references
    from ..scenarios.simulate import _common_model, unique_scenarios

    targets = [str(t) for t in targets]
    is_scenario = [t.split("#")[0].lower().endswith(SCENARIO_SUFFIXES) for t in targets]
    if all(is_scenario):
        scenarios = with_references(unique_scenarios(targets))
        model = _common_model(scenarios, None)
    elif len(targets) == 1:
        scenarios, model = [], load_model(targets[0])
    else:
        raise ParameterError(f"explore takes scenario files (.yaml) or one model, not {targets}")
    spec = None
    if use_uncertainty:
        path = uncertain if uncertain is not None else (
            default_uncertainty(targets[0], model.name) if scenarios else None)
        if path is not None:
            spec = load_uncertain(path)
            log.info("uncertainty band from %s", path)
    return Explorer(model, scenarios, uncertain=spec, runs=runs or DEFAULT_RUNS, save_dir=save_dir,
                    extra_instruments=extra_instruments)


def serve(explorer: Explorer, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve *explorer* until Ctrl-C (see :func:`sdcluster.explore.server.serve`)."""
    from .server import serve as _serve

    _serve(explorer, host, port)
