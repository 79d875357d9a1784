"""Scenario discovery: PRIM finds the region of the uncertain parameters where a policy fails."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdcluster.design import optimize
from sdcluster.design.discovery import discover, failures

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def skills_bet(model):
    return optimize(FIXTURES / "skills_bet.yaml", model=model)


def test_prim_box_isolates_low_skills_efficiency(skills_bet):
    """The skills-only programme fails to repay its taxes where skills are bought inefficiently."""
    d = discover(skills_bet)
    failed = failures(skills_bet, 1)
    np.testing.assert_array_equal(d.failed, failed)
    assert 0 < failed.mean() < 0.5
    box1 = d.boxes[d.boxes["box"] == 1]
    assert list(box1["parameter"]) == ["skills efficiency"]  # roads gain does not matter to a skills bet
    hi = float(box1["high"].iloc[0])
    assert hi < 0.5 and float(box1["low"].iloc[0]) == pytest.approx(d.x["skills efficiency"].min())
    # coverage and density as reported agree with the members inside the box
    inside = (d.x["skills efficiency"] >= box1["low"].iloc[0]) & (d.x["skills efficiency"] <= hi)
    assert box1["coverage"].iloc[0] == pytest.approx(failed[inside].sum() / failed.sum())
    assert box1["density"].iloc[0] == pytest.approx(failed[inside].mean())


def test_cli_writes_discovery(tmp_path):
    from sdcluster.cli import main

    out = tmp_path / "bet"
    assert main(["optimize", str(FIXTURES / "skills_bet.yaml"), "-o", str(out), "--runs", "40",
                 "--discover"]) == 0
    boxes = pd.read_csv(out / "discovery.csv")
    assert "skills efficiency" in set(boxes["parameter"])
    assert (out / "discovery.png").stat().st_size > 0
    assert "PRIM box 1" in (out / "summary.md").read_text()
