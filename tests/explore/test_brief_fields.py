"""The explorer and the brief's scenario fields (issue 16): policies explored against their own
reference, context runs offered as references only, and the "dominant loop now" card."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sdcluster.errors import ParameterError
from sdcluster.explore import build_explorer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shock_explorer():
    """scenarios/technology_shock.yaml: a context run (the shock, against baseline) and its renewal policy."""
    return build_explorer([str(REPO / "scenarios" / "technology_shock.yaml")], use_uncertainty=False)


def test_a_context_run_is_a_reference_not_the_explored_policy(shock_explorer):
    ex = shock_explorer
    assert ex.scenarios["technology_shock"].role == "context"
    assert ex.base.name == "technology_shock_renewal"  # not the context run listed first
    assert ex.default_reference == "technology_shock"  # the policy's own reference, not the context run's
    assert ex.references[:2] == ["technology_shock", "baseline"] and "technology_shock_renewal" in ex.references
    assert ex.default_view().reference == "technology_shock"
    assert [ex.model.info(py).name.lower() for py in ex.instruments] == ["platform budget", "brand budget"]


def test_dominant_loop_now_names_a_loop_group_of_the_model(shock_explorer):
    from sdcluster.explore.app import layout

    ex = shock_explorer
    assert ex.loops_file == REPO / "models" / "cluster_policy.loops.yaml"
    groups = list(yaml.safe_load(ex.loops_file.read_text(encoding="utf-8")))
    view = ex.default_view()
    end = ex.dominant_loop(view)
    assert end.time == 60.0
    assert end.explored in groups and end.reference in groups, (end.explored, end.reference)
    assert 0 < abs(end.explored_score) <= 1 and 0 < abs(end.reference_score) <= 1
    early = ex.dominant_loop(view, 16.3)  # the saved time nearest the one asked for; the runs are cached
    assert early.time == 16.0 and early.seconds < end.seconds
    with pytest.raises(ParameterError, match=r"time 70 is outside the run \[0, 60\]"):
        ex.dominant_loop(view, 70)
    assert 'id="card-loop"' not in str(layout(build_explorer([str(REPO / "tests" / "ensemble" / "fixtures" /
                                                                   "baseline.yaml")], use_uncertainty=False)))
    assert "card-loop" in str(layout(ex))
