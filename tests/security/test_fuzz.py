"""Property-based fuzzing of the parsers that read user input.

Any input either works or raises the library's own error type -- never another
exception, never a hang. Each example runs under a wall-clock alarm (a hang
fails the test instead of blocking CI) and a hypothesis ``deadline``.
"""
from __future__ import annotations

import contextlib
import math
import signal
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdcluster.calibrate.data import Observations, read_csv
from sdcluster.errors import DataError, ParameterError, ScenarioError
from sdcluster.scenarios.params import parse_assignment
from sdcluster.scenarios.scenario import Scenario, load_scenario

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGALRM")

FUZZ = settings(max_examples=150, deadline=timedelta(milliseconds=1500),
                suppress_health_check=[HealthCheck.too_slow], derandomize=True)
HANG_SECONDS = 5


class Hang(Exception):
    """Raised by the alarm when one example runs too long."""


@contextlib.contextmanager
def no_hang(seconds: int = HANG_SECONDS) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no result after {seconds} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------------------
# --set NAME=VALUE
# ---------------------------------------------------------------------------

numberish = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["", " ", "1e309", "-1e309", "nan", "inf", "0x10", "1_000", "١٢", "1,5",
                     "  7  ", "1e", "--1", "+.5", "\x00", "=", "1=2"]),
    st.text(max_size=20),
)


@FUZZ
@given(st.one_of(st.text(max_size=200),
                 st.tuples(st.text(max_size=30), numberish).map(lambda t: f"{t[0]}={t[1]}")))
def test_parse_assignment(text: str) -> None:
    with no_hang():
        try:
            name, value = parse_assignment(text)
        except ParameterError as exc:
            assert str(exc)
            return
    assert isinstance(name, str) and name == name.strip() and name
    assert isinstance(value, float) and math.isfinite(value)
    assert text.rpartition("=")[0].strip() == name


# ---------------------------------------------------------------------------
# Calibration data (CSV)
# ---------------------------------------------------------------------------

cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(["", "NA", "nan", "-", "1e400", "1,5", " 3 ", '"4"', '"a,b"', '"', "\x00",
                     "１２", "٣", "1e-400", "0x1p3", "true"]),
    st.text(max_size=8),
)
column = st.one_of(st.sampled_from(["time", "Time", "year", "firms", "firms", "employment", "", " "]),
                   st.text(max_size=10))


@st.composite
def csv_text(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(column, min_size=0, max_size=5))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=6), max_size=12))
    sep = draw(st.sampled_from([",", ",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 3]))
    if draw(st.booleans()):
        text = "\ufeff" + text
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


@FUZZ
@given(st.one_of(csv_text(), st.binary(max_size=300)),
       st.sampled_from([",", ";", "\t", "", ",,", '"', "\n"]),
       st.one_of(st.none(), st.sampled_from(["time", "year", "nope"])),
       st.floats(allow_nan=True, allow_infinity=True, width=32))
def test_read_calibration_csv(data: bytes, sep: str, time: str | None, offset: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, no_hang():
        path = Path(tmp) / "obs.csv"
        path.write_bytes(data)
        try:
            obs = read_csv(path, sep=sep, time=time, time_offset=offset)
        except DataError as exc:
            assert str(exc)
            return
    assert isinstance(obs, Observations)


# ---------------------------------------------------------------------------
# Scenario files (YAML)
# ---------------------------------------------------------------------------

scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=15),
                   st.sampled_from(["cluster_lifecycle", "baseline.yaml", "../x.yaml", "/dev/zero",
                                    "/dev/stdin", "self.yaml", "step", "pulse", "ramp", "table"]))
value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=12), inner,
                                                                     max_size=4)), max_leaves=12)
policy = st.fixed_dictionaries(
    {}, optional={"parameter": scalar, "shape": st.sampled_from(["step", "pulse", "ramp", "table", "x"]),
                  "start": scalar, "end": scalar, "amount": scalar, "points": value,
                  "description": scalar})
scenario_doc = st.fixed_dictionaries(
    {}, optional={"name": scalar, "description": scalar, "extends": value, "model": scalar,
                  "time": st.one_of(value, st.fixed_dictionaries({}, optional={
                      k: scalar for k in ("initial_time", "final_time", "time_step", "saveper")})),
                  "parameters": st.one_of(value, st.dictionaries(st.text(max_size=12), scalar, max_size=3)),
                  "policies": st.one_of(value, st.lists(policy, max_size=3)),
                  "outputs": value, "scenarios": value, "bogus": scalar})


def _dump(doc: object) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return "{}"


@FUZZ
@given(st.one_of(
    scenario_doc.map(_dump),
    st.text(max_size=300),
    st.sampled_from(["a: &x [*x]", "a: !!python/object/apply:os.system ['true']", "- - - -",
                     "name: x\nname: y", "{", "\ufeffmodel: cluster_lifecycle", "a: " + "[" * 200,
                     "x: &a [1]\ny: &b [*a, *a, *a, *a]\nz: [*b, *b, *b, *b, *b, *b]"]),
))
def test_load_scenario(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, no_hang():
        path = Path(tmp) / "self.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        (Path(tmp) / "baseline.yaml").write_text("model: cluster_lifecycle\n", encoding="utf-8")
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            assert str(exc)
            return
    assert isinstance(scenario, Scenario)
