"""The bundled scenario library (``scenarios/*.yaml``): every file states its question, loads, validates and runs."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sdcluster
from sdcluster.scenarios.scenario import load_scenarios

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def library():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sdcluster.run_scenarios(FILES, progress=False)


import yaml

INSTRUMENTS = ["brand", "brokering", "entry_subsidy", "package", "park", "platform", "training"]


def file_question(path: Path) -> str:
    """The ``question:`` field of a file (top level; set files share it among their entries)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return " ".join(str(doc.get("question", "")).split())


def test_library_is_not_empty():
    names = {p.stem for p in FILES}
    assert {"baseline", "brokering", "platform", "training", "park", "entry_subsidy", "brand", "package",
            "brokering_timing", "overheated_push", "thin_air", "technology_shock", "matching_funds",
            "environment_only"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_file_states_one_question_and_uses_the_policy_model(path):
    q = file_question(path)
    assert q.endswith("?") and q.count("?") == 1, (path.name, q)
    scenarios = load_scenarios(path)
    assert scenarios
    for s in scenarios:
        assert s.question == q, (path.name, s.name)
        assert Path(str(s.model)).stem == "cluster_policy", (path.name, s.name, s.model)
        assert s.description, (path.name, s.name)


def test_every_policy_names_its_own_reference_and_context_runs_are_marked():
    scenarios = {s.name: s for p in FILES for s in load_scenarios(p)}
    policies = {n for n, s in scenarios.items() if s.is_policy}
    context = {n for n, s in scenarios.items() if s.role == "context"}
    assert context == {"thin_air", "small_skills_base", "technology_shock", "budding_cooperation"}
    assert set(scenarios) - policies - context == {"baseline"}
    for n in policies:  # a policy has at least one policy schedule its reference lacks
        ref = scenarios[scenarios[n].reference]
        assert len(scenarios[n].policies) > len(ref.policies), n
    assert scenarios["technology_shock_renewal"].reference == "technology_shock"
    assert scenarios["thin_air_package"].reference == "thin_air"
    assert scenarios["small_skills_base_package"].reference == "small_skills_base"
    assert scenarios["budding_overheated"].reference == "budding_cooperation"
    assert {scenarios[n].reference for n in INSTRUMENTS} == {"baseline"}


def test_one_question_per_file_except_the_comparable_instruments():
    by_file = {p.stem: file_question(p) for p in FILES}
    assert len({by_file[n] for n in INSTRUMENTS}) == 1
    others = [q for n, q in by_file.items() if n not in INSTRUMENTS]
    assert len(set(others)) == len(others) and by_file["brand"] not in others


def test_all_scenarios_run_together(library):
    names = [s.name for p in FILES for s in load_scenarios(p)]
    assert list(library["scenario"].values) == names
    assert len(set(names)) == len(names)
    for v, da in library.data_vars.items():
        assert np.all(np.isfinite(da.values)), v
    assert "cumulative_public_cost" in library
    assert library["time"].values[0] == 0 and library["time"].values[-1] == 60


def scheduled_total(defn: dict) -> float:
    """Public money the scenario's budget schedules ask for (steps only, which is all the library uses)."""
    total = 0.0
    for p in defn.get("policies", []):
        assert p["shape"] == "step" and p["parameter"].endswith("budget"), p
        total += p["amount"] * (p["end"] - p["start"])
    return total


def test_public_cost_equals_the_scheduled_budgets(library):
    defs = json.loads(library.attrs["scenarios"])
    for name, d in defs.items():
        cost = float(library["cumulative_public_cost"].sel(scenario=name).isel(time=-1))
        asked = scheduled_total(d)
        matching = d.get("parameters", {}).get("matching funds", 0) == 1
        if matching:  # matching funds spend at most the budget
            assert cost <= asked + 1e-9, name
        else:
            assert cost == pytest.approx(asked, rel=1e-9, abs=1e-12), name
    assert float(library["cumulative_public_cost"].sel(scenario="baseline").max()) == 0


def test_comparable_single_instrument_budgets(library):
    costs = {s: float(library["cumulative_public_cost"].sel(scenario=s).isel(time=-1))
             for s in ["brokering", "platform", "training", "park", "entry_subsidy", "brand", "package"]}
    assert all(c == pytest.approx(20.0) for c in costs.values()), costs


def test_compare_kpis_per_unit_cost(library):
    table = sdcluster.analysis.compare.kpi_table(library, ["value_added:cum/cost", "firms@30"], baseline="baseline")
    per_cost = table[table["kpi"].str.contains("cost")].set_index("scenario")["value"]
    assert np.isnan(per_cost["baseline"])
    assert np.isfinite(per_cost["brokering"])


def test_dead_or_collapsed_clusters_are_not_mature(library):
    """Stages of the bundled runs: thin air never forms a cluster, the shock collapses it, renewal restarts it."""
    from sdcluster.analysis.lifecycle import stages_by_scenario

    st = {k: [s.name for s in v] for k, v in stages_by_scenario(library["firms"]).items()}
    assert st["thin_air"] == ["no cluster"]  # 3 -> 2.5 firms (was "maturity 0-60")
    assert st["thin_air_package"][-1] == "no cluster"  # subsidised growth that does not last
    assert st["technology_shock"][-2:] == ["decline", "collapse"]  # 316 -> 68 firms
    assert st["technology_shock_renewal"][-1] == "renewal"
    assert st["baseline"][-1] == "maturity"


def test_each_policy_is_compared_with_its_own_reference(library):
    """Against one baseline the renewal policy looked harmful (-4.5 firms per million, rank 20)."""
    from sdcluster.brief import plan_questions
    from sdcluster.brief.questions import definitions_of

    names = [str(s) for s in library["scenario"].values]
    questions = plan_questions(names, definitions_of(library))
    table = sdcluster.analysis.compare.kpi_table(library, ["firms@end", "firms@end/cost"], questions=questions)
    rows = table[table.kpi == "firms@end"].set_index("scenario")
    assert rows.at["technology_shock_renewal", "reference"] == "technology_shock"
    end = library["firms"].isel(time=-1)
    delta = float(end.sel(scenario="technology_shock_renewal") - end.sel(scenario="technology_shock"))
    assert rows.at["technology_shock_renewal", "delta"] == pytest.approx(delta) and delta > 50
    assert rows.at["technology_shock_renewal", "rank"] == 1  # the only policy of its question
    per = table[table.kpi == "firms@end/cost"].set_index("scenario")
    assert per.at["technology_shock_renewal", "value"] == pytest.approx(delta / 30)  # firms gained / 30 million
    assert rows.at["budding_overheated", "delta"] < -30  # the push backfires against its own reference
    assert pd.isna(rows.at["thin_air", "rank"]) and pd.isna(rows.at["baseline", "rank"])  # context is not ranked
    assert len(questions) == 8
