"""A question's scenario files may name the KPI that answers it (``kpi:``); the brief judges that question by it."""
from __future__ import annotations

from pathlib import Path

import pytest

from sdcluster.brief.questions import plan_questions
from sdcluster.cli import main
from sdcluster.errors import ScenarioError
from sdcluster.scenarios.scenario import load_scenarios

ROOT = Path(__file__).resolve().parents[2]


def test_kpi_field_is_parsed_carried_and_checked(tmp_path):
    good = tmp_path / "q.yaml"
    good.write_text("question: Does it pay?\nkpi: trust@end\nmodel: cluster_policy\n"
                    "scenarios:\n  - name: a\n  - name: b\n    reference: a\n", encoding="utf-8")
    scenarios = load_scenarios(good)
    assert [s.kpi for s in scenarios] == ["trust@end", "trust@end"]
    assert scenarios[1].to_dict()["kpi"] == "trust@end"
    bad = tmp_path / "bad.yaml"
    bad.write_text("question: Does it pay?\nkpi: trust@@end\nmodel: cluster_policy\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad.yaml.*kpi: value 'trust@@end' is not a KPI"):
        load_scenarios(bad)


def test_one_question_one_kpi():
    defs = {"a": {"question": "Q?", "kpi": "trust@end"},
            "b": {"question": "Q?", "kpi": "firms@end", "reference": "a", "source": "b.yaml"}}
    with pytest.raises(ScenarioError, match=r"b.yaml: kpi: 'firms@end' differs from 'trust@end'"):
        plan_questions(["a", "b"], defs)
    ok = plan_questions(["a", "b"], {**defs, "b": {**defs["b"], "kpi": None}})
    assert ok[0].kpi == "trust@end"


def test_the_brief_answers_each_question_in_its_own_kpi(tmp_path, capsys):
    out = tmp_path / "out"
    files = [str(ROOT / "scenarios" / f) for f in ("baseline.yaml", "overheated_push.yaml", "brokering_timing.yaml")]
    assert main(["compare", *files, "-o", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    heat = text[text.index("When does pushing collective action too hard backfire?"):]
    heat = heat[:heat.index("\n\n")]
    assert "dmnl at year 60" in heat and "(0.114 → 0.838)" in heat      # trust, the file's kpi: trust@end
    timing = text[text.index("Does network brokering work better early"):]
    assert "firms at year 60" in timing[:timing.index("\n\n")]          # the headline for a question without one
    # rebuilt from the saved results, the question keeps its KPI
    assert main(["compare", str(out / "results.nc"), "-o", str(tmp_path / "again"), "--no-progress"]) == 0
    again = capsys.readouterr().out
    assert "dmnl at year 60" in again[again.index("too hard backfire?"):]
