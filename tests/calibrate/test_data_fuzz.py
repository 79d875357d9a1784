"""Any CSV content either loads or raises DataError (never another exception, never a hang)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdcluster.calibrate import Observations
from sdcluster.errors import DataError

CELLS = st.one_of(st.sampled_from(["", "NA", "nan", "1", "-2.5", "1e3", "inf", "x", '"', '"a,b"', "1_0", " 3 "]),
                  st.text(max_size=6))


def _check(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_bytes(raw)
        try:
            obs = Observations.from_any(path)
        except DataError:
            return
        for s in obs.series:
            assert s.n > 0 and np.all(np.isfinite(s.values)) and np.all(np.diff(s.times) > 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes(raw):
    _check(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=1, max_size=6))
def test_random_tables(rows):
    text = "time,firms,jobs\n" + "\n".join(",".join(r) for r in rows)
    _check(text.encode("utf-8", "surrogatepass"))
