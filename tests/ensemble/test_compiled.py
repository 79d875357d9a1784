"""The compiled path (sdcluster.core.compiled) equals plain PySD to 1e-9, falls back with a reason, and
refuses a tampered artefact."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

import sdcluster
import sdcluster.core.compiled
from sdcluster.core.compiled import build
from sdcluster.scenarios.schedules import Pulse, Ramp, Step, Table

_REPO = Path(__file__).resolve().parents[2]
BUNDLED = sorted((_REPO / "models").glob("*.mdl")) + sorted((_REPO / "models").glob("*.xmile"))
CORE = _REPO / "tests" / "core" / "fixtures"
RTOL = 1e-9


def _plain_run(plain, path, params, names, **time):
    import warnings

    model = plain(path)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return model.run(params=params, return_columns=names, **time)


def _assert_equal(ds, df, label):
    np.testing.assert_allclose(ds.time.values, df.index.values, rtol=0, atol=1e-12)
    for name in ds.data_vars:
        np.testing.assert_allclose(ds[name].values, df[name].values, rtol=RTOL, atol=1e-12,
                                   err_msg=f"{label}: {name}")


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_model_compiled_equals_plain_pysd(path, plain, sampler):
    model = sdcluster.load_model(path, engine="compiled")
    assert model.compiled is not None, model.compile_failure
    params = sampler(model, 3, seed=13, spread=0.25)
    time = {"time_step": 0.5, "saveper": 1.0}  # plain PySD is slow: a coarser grid, the same for both
    batch = model.run_batch(params, **time)
    one = model.run({k: float(v[2]) for k, v in params.items()}, **time)
    for name in one.data_vars:
        np.testing.assert_array_equal(batch[name].values[2], one[name].values)
    df = _plain_run(plain, path, {model.info(k).name: float(v[2]) for k, v in params.items()},
                    list(one.data_vars), **time)
    _assert_equal(one, df, path.name)


@pytest.mark.parametrize("path", [CORE / "small_cluster.mdl", CORE / "small_cluster.xmile",
                                  CORE / "lookup_modes.xmile"], ids=lambda p: p.name)
def test_suite_models_compiled_equal_plain_pysd(path, plain):
    model = sdcluster.load_model(path, engine="compiled")
    ds = model.run()
    _assert_equal(ds, _plain_run(plain, path, {}, list(ds.data_vars)), path.name)


@pytest.mark.parametrize("params", [
    {},  # int initial values: PySD truncates the first input of SMOOTHI(..., 0)
    {"denominator": 0.0, "delay time": 0.5, "initial a": 12.5},  # ZIDZ guard; DELAY3 order lowered to 2
    {"threshold": 20.0, "growth rate": 0.8, "pulse width": 0.6, "modulus": 3.0},
], ids=["defaults", "guards", "switched"])
def test_function_zoo_compiled_equals_plain_pysd(functions_model, plain, params):
    model = sdcluster.load_model(functions_model.path, engine="compiled")
    ds = model.run(params, check_limits=False)
    _assert_equal(ds, _plain_run(plain, model.path, params, list(ds.data_vars)), "functions.mdl")


def test_function_zoo_batch_with_nan_runs_equals_pysd_engine(functions_model, sampler):
    compiled = sdcluster.load_model(functions_model.path, engine="compiled")
    pysd_engine = sdcluster.load_model(functions_model.path, engine="pysd")
    params = sampler(compiled, 6, seed=3, spread=0.6)
    params["initial a"] = np.array([10.0, -5.0, 20.0, 3.0, 40.0, 7.0])  # run 1 goes NaN (LN, SQRT)
    params["delay time"] = np.array([0.5, 4.0, 0.6, 3.0, 9.0, 1.0])  # some DELAY3 orders lowered
    a = compiled.run_batch(params, check_limits=False)
    b = pysd_engine.run_batch(params, check_limits=False)
    assert np.isnan(a.shape.values[1]).any() and np.isfinite(a.shape.values[0]).all()
    for name in a.data_vars:
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=RTOL, atol=1e-12, err_msg=name)


def test_schedules_compiled_equal_pysd_engine():
    compiled = sdcluster.load_model("cluster_policy", engine="compiled")
    pysd_engine = sdcluster.load_model("cluster_policy", engine="pysd")
    budgets = ["platform budget", "training budget", "entry subsidy budget"]
    schedules = [Step(start=10, amount=0.3, end=30), Pulse(start=5, width=2, amount=0.2, every=10),
                 Ramp(start=0, end=20, amount=0.25), Table(points=((0, 0.0), (15, 0.4), (40, 0.1)))]
    for i, sched in enumerate(schedules):
        params = {budgets[i % len(budgets)]: sched}
        a = compiled.run(params, final_time=40, outputs=["firms", "capability"])
        b = pysd_engine.run(params, final_time=40, outputs=["firms", "capability"])
        for name in a.data_vars:
            np.testing.assert_allclose(a[name].values, b[name].values, rtol=RTOL, err_msg=f"{sched}: {name}")


def test_uncompilable_model_falls_back_with_logged_reason(fixtures, caplog):
    model = sdcluster.load_model(fixtures / "unsupported.mdl")
    with caplog.at_level(logging.INFO, logger="sdcluster.core.model"):
        ds = model.run(outputs=["level"])
    assert model.compiled is None and "DelayFixed" in model.compile_failure
    assert "cannot compile" in caplog.text and "DelayFixed" in caplog.text
    assert np.isfinite(ds.level.values).all()
    strict = sdcluster.load_model(fixtures / "unsupported.mdl", engine="compiled")
    with pytest.raises(sdcluster.errors.RunError, match="DelayFixed"):
        strict.run()
    sub = sdcluster.load_model(CORE / "subscripted_lookup.mdl")
    assert sub.compiled is None and "subscript" in sub.compile_failure


def test_unknown_engine_is_refused():
    with pytest.raises(sdcluster.errors.ModelLoadError, match="engine 'numba'"):
        sdcluster.load_model("cluster_lifecycle", engine="numba")


@pytest.fixture(scope="module")
def compiled_cache(tmp_path_factory):
    """A cache root holding the translation and compiled kernel of the core test model."""
    root = tmp_path_factory.mktemp("compiled-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("SDCLUSTER_CACHE_DIR", str(root))
    mp.setattr(sdcluster.core.compiled, "_COMPILED", {})
    try:
        reference = sdcluster.load_model(CORE / "small_cluster.mdl").run()
    finally:
        mp.undo()
    return root, reference


def _tamper(entry: Path, attack: str) -> None:
    if attack == "machine code":
        target = next(entry.glob("__pycache__/*.nbc"))
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif attack == "kernel source":
        with open(entry / "kernel.py", "a") as fh:
            fh.write("\nimport os\n")
    elif attack == "spec":
        spec = json.loads((entry / "spec.json").read_text())
        spec["defaults"][0] += 1.0  # a different default value for the first constant
        (entry / "spec.json").write_text(json.dumps(spec))
    else:
        (entry / "__pycache__" / "planted.nbi").write_bytes(b"not numba")


@pytest.mark.parametrize("attack", ["machine code", "kernel source", "spec", "extra file"])
def test_tampered_compiled_artefact_is_refused(compiled_cache, tmp_path, attack):
    (entry,) = list((compiled_cache[0] / ".compiled").iterdir())
    manifest = json.loads((entry / "manifest.json").read_text())
    assert {k.rsplit(".", 1)[-1] for k in manifest["files"]} >= {"py", "json", "nbi", "nbc"}
    copy = tmp_path / entry.name
    shutil.copytree(entry, copy)
    assert build._read_valid(copy) is not None
    _tamper(copy, attack)
    assert build._read_valid(copy) is None


def test_tampered_compiled_artefact_is_rebuilt(compiled_cache, tmp_path, monkeypatch, caplog):
    root, reference = compiled_cache
    shutil.copytree(root, tmp_path / "cache")
    monkeypatch.setenv("SDCLUSTER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sdcluster.core.compiled, "_COMPILED", {})  # as in a new process
    assert sdcluster.load_model(CORE / "small_cluster.mdl").compiled.from_cache
    (entry,) = list((tmp_path / "cache" / ".compiled").iterdir())
    _tamper(entry, "machine code")
    monkeypatch.setattr(sdcluster.core.compiled, "_COMPILED", {})
    with caplog.at_level(logging.WARNING, logger="sdcluster.core.compiled.build"):
        model = sdcluster.load_model(CORE / "small_cluster.mdl")
        again = model.run()
    assert "was modified" in caplog.text
    assert not model.compiled.from_cache  # rebuilt from the checked translation
    for name in reference.data_vars:
        np.testing.assert_array_equal(again[name].values, reference[name].values)
    assert build._read_valid(next((tmp_path / "cache" / ".compiled").iterdir())) is not None
