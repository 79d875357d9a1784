"""Policy schedules: exact values at boundaries, arrays, validation, overlap."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sdcluster.errors import ScenarioError
from sdcluster.scenarios.scenario import ScheduledValue
from sdcluster.scenarios.schedules import Pulse, Ramp, Step, Table


def accumulated(target: float, dt: float) -> float:
    """The clock value an Euler loop reaches by adding *dt* repeatedly."""
    t, n = 0.0, round(target / dt)
    for _ in range(n):
        t += dt
    return t


# ---------------------------------------------------------------- step
def test_step_half_open_interval():
    s = Step(start=5, end=15, amount=2.0)
    assert s(5.0) == 2.0          # on at start
    assert s(4.999999) == 0.0     # off just before
    assert s(14.999999) == 2.0    # still on just before end
    assert s(15.0) == 0.0         # off at end
    assert s(-1e6) == 0.0 and s(1e6) == 0.0


def test_step_without_end_stays_on():
    s = Step(start=0, amount=-1.5)
    assert s(0) == -1.5 and s(1e9) == -1.5 and s(-0.5) == 0.0


def test_step_accepts_arrays_and_returns_float_for_scalars():
    s = Step(start=5, end=15, amount=2.0)
    out = s(np.array([0.0, 5.0, 10.0, 15.0, 20.0]))
    np.testing.assert_array_equal(out, [0, 2, 2, 0, 0])
    assert isinstance(s(5), float)


def test_boundary_reached_by_accumulated_clock():
    # 0.1 added 50 times is 4.999999999999998, which must count as 5
    t = accumulated(5.0, 0.1)
    assert t != 5.0
    assert Step(start=5, amount=1)(t) == 1.0
    assert Step(start=0, end=5, amount=1)(t) == 0.0
    assert Pulse(start=5, width=1, amount=1)(t) == 1.0


def test_step_end_not_after_start_is_an_error():
    with pytest.raises(ScenarioError, match="end 5 is not after start 5"):
        Step(start=5, end=5, amount=1)
    with pytest.raises(ScenarioError, match="not a finite number"):
        Step(start=math.nan, amount=1)
    with pytest.raises(ScenarioError, match="not a finite number"):
        Step(start=0, amount=math.inf)


# ---------------------------------------------------------------- pulse
def test_single_pulse():
    p = Pulse(start=2, width=1, amount=3)
    assert [p(t) for t in (1.999, 2.0, 2.5, 2.999, 3.0, 10.0)] == [0, 3, 3, 3, 0, 0]
    assert p.support() == (2.0, 3.0)


def test_repeated_pulse_with_end():
    p = Pulse(start=2, width=1, amount=3, every=5, end=13)
    # pulses start at 2, 7 and 12 (12 < end 13); none at 17
    times = [1.9, 2, 2.5, 3, 6.99, 7, 7.99, 8, 12, 12.99, 13, 17, 17.5]
    expected = [0, 3, 3, 0, 0, 3, 3, 0, 3, 3, 0, 0, 0]
    assert [p(t) for t in times] == expected
    np.testing.assert_array_equal(p(np.array(times, dtype=float)), expected)
    assert p.support() == (2.0, 13.0)


def test_repeated_pulse_no_pulse_starting_at_end():
    p = Pulse(start=0, width=1, amount=1, every=5, end=10)
    assert p(5) == 1.0 and p(10) == 0.0 and p(10.5) == 0.0


def test_repeated_pulse_forever_and_back_to_back():
    p = Pulse(start=0, width=2, amount=1, every=2)   # width == every: always on from 0
    assert all(p(t) == 1.0 for t in np.arange(0, 50, 0.25))
    assert p(-0.25) == 0.0
    assert p.support() == (0.0, math.inf)


def test_pulse_validation():
    with pytest.raises(ScenarioError, match="width 0 must be greater than 0"):
        Pulse(start=0, width=0, amount=1)
    with pytest.raises(ScenarioError, match="shorter than the pulse width"):
        Pulse(start=0, width=2, amount=1, every=1)
    with pytest.raises(ScenarioError, match="needs 'every'"):
        Pulse(start=0, width=1, amount=1, end=5)


# ---------------------------------------------------------------- ramp
def test_ramp_exact_values():
    r = Ramp(start=2, end=10, amount=4)
    assert r(1.999) == 0.0
    assert r(2) == 0.0
    assert r(6) == 2.0
    assert r(10) == 4.0
    assert r(100) == 4.0            # held after end
    np.testing.assert_allclose(r(np.array([3.0, 4.0])), [0.5, 1.0], rtol=0, atol=1e-15)


def test_ramp_end_before_start():
    with pytest.raises(ScenarioError, match="end 1 is not after start 2"):
        Ramp(start=2, end=1, amount=1)


# ---------------------------------------------------------------- table
def test_table_linear_exact_at_points_and_held_outside():
    tb = Table(points=[(0, 0), (10, 1.5), (20, 0)])
    assert tb(-5) == 0.0
    assert tb(0) == 0.0
    assert tb(5) == 0.75
    assert tb(10) == 1.5
    assert tb(15) == 0.75
    assert tb(20) == 0.0 and tb(30) == 0.0
    held = Table(points=[(0, 1), (10, 2)])
    assert held(-1) == 1.0 and held(11) == 2.0


def test_table_step_interpolation():
    tb = Table(points=[(0, 1), (10, 2), (20, 0)], interpolation="step")
    assert [tb(t) for t in (-1, 0, 9.999, 10, 19.999, 20, 25)] == [1, 1, 1, 2, 2, 0, 0]
    # a clock a hair short of a point counts as on it
    assert tb(accumulated(10.0, 0.1)) == 2.0


def test_table_validation():
    with pytest.raises(ScenarioError, match=r"points\[1\]: time 5 is not after"):
        Table(points=[(5, 0), (5, 1)])
    with pytest.raises(ScenarioError, match="at least one"):
        Table(points=[])
    with pytest.raises(ScenarioError, match="interpolation"):
        Table(points=[(0, 1)], interpolation="cubic")


# ---------------------------------------------------------------- overlap / combination
def test_overlap_rules():
    a = Step(start=5, end=10, amount=1)
    assert not a.overlaps(Step(start=10, end=15, amount=1))  # adjacent half-open intervals
    assert a.overlaps(Step(start=9, end=15, amount=1))
    assert a.overlaps(Ramp(start=0, end=1, amount=1))         # a ramp holds its amount forever
    assert not a.overlaps(Table(points=[(10, 0), (12, 1), (14, 0)]))
    assert a.overlaps(Table(points=[(0, 1), (1, 1)]))         # holds 1 forever


def test_scheduled_value_adds_to_base():
    v = ScheduledValue(base=1.0, schedules=(Step(start=5, end=10, amount=2), Pulse(start=12, width=1, amount=-1)))
    assert [v(t) for t in (0, 5, 9.9, 10, 12, 13)] == [1, 3, 3, 1, 0, 1]
    np.testing.assert_array_equal(v(np.array([0.0, 5.0, 12.0])), [1, 3, 0])
