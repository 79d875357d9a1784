"""The planner's brief: findings from the numbers, questions with references, checks before any run."""
from __future__ import annotations

import contextlib
import io
import math
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdcluster.brief.figures import frontier, highlighted
from sdcluster.brief.findings import PolicyResult, finding
from sdcluster.brief.questions import Question, plan_questions
from sdcluster.cli import main
from sdcluster.analysis.compare import parse_kpi
from sdcluster.errors import ScenarioError

TINY = Path(__file__).resolve().parents[1] / "scenario" / "fixtures" / "tiny.mdl"
FIRMS = parse_kpi("firms@60")


def result(name, gain, cost, ref="baseline", ref_value=293.4, **kw):
    return PolicyResult(name, ref, ref_value + gain, ref_value, gain, cost, gain / cost if cost else math.nan, **kw)


# ---------------------------------------------------------------- findings
def test_finding_says_which_timing_works_and_what_does_nothing():
    q = Question("Early or late?", ["brokering_early", "brokering_late"], ["baseline"],
                 {"brokering_early": "baseline", "brokering_late": "baseline"})
    head, lines = finding(q, [result("brokering_early", 37.6, 10), result("brokering_late", 0.594, 10)], FIRMS,
                          units="firm", time_units="Year")
    assert head.startswith("Brokering early does most: +37.6 firms at year 60 over baseline for 10.0 million")
    assert "no material effect: brokering late" in head
    assert lines[0] == "brokering early: +37.6 firms vs baseline (293 → 331) for 10.0 million (+3.76 firms per million)"
    assert lines[1].endswith("no material effect")


def test_finding_reports_robustness_harm_and_collapse():
    q = Question("Q?", ["a", "b"], ["baseline"], {"a": "baseline", "b": "baseline"})
    rs = [result("a", 38, 20, share_first=0.42, p_beats=1.0, gain_low=0.4, gain_high=45.8),
          result("b", 37.6, 20, share_first=0.58, p_beats=1.0)]
    head, lines = finding(q, rs, FIRMS, units="firm")
    assert "b does about as well" in head and "Not robust: a comes first in only 42% of runs; b in 58%" in head
    assert "90 % interval +0.400 to +45.8; beats baseline in 100% of runs" in lines[0]
    one = Question("Renewal?", ["renewal"], ["shock"], {"renewal": "shock"})
    head, _ = finding(one, [result("renewal", -0.06, 200, ref="shock", ref_value=2.55, p_beats=0.0,
                                   stage="no cluster", reference_stage="no cluster")], FIRMS, units="firm",
                      time_units="Year")
    assert head.startswith("Renewal does not improve firms at year 60 over shock (−0.0600 firms for 200 million)")
    assert "no cluster at the end, as without it" in head and "Robust: it does not beat shock in 100% of runs" in head


def test_costs_are_lower_is_better_in_findings_and_ratios_undefined_without_cost():
    q = Question("Q?", ["cheap", "free"], ["baseline"], {"cheap": "baseline", "free": "baseline"})
    rs = [result("cheap", 10, 5), result("free", 9.9, 0)]
    assert math.isnan(rs[1].per_cost)
    head, lines = finding(q, rs, FIRMS, units="firm")
    assert "per million" not in lines[1]
    spend = parse_kpi("total_public_spending@60")
    head, _ = finding(q, [result("cheap", -3, 5)], spend, units="million")
    assert head.startswith("Cheap does most: −3.00 million")  # less spending is the gain


def test_frontier_and_highlighting():
    assert frontier([20, 20, 10, 5, 30], [38, 1, 37, -1, 38]) == [2, 0]
    assert frontier([1, 2], [5, 3], sign=-1.0) == []  # both worse than the reference when lower is better
    rs = [result(n, g, 1) for n, g in zip("abcdefg", [7, 6, 5, 4, 3, 2, 1])]
    assert highlighted(rs) == ["a", "b", "c", "g"] and highlighted(rs[:3]) == ["a", "b", "c"]


def test_questions_group_policies_with_their_references():
    defs = {"base": {"question": "Without policy?"},
            "p1": {"question": "Which?", "reference": "base"}, "p2": {"question": "Which?", "reference": "base"},
            "shock": {"question": "Shock?", "reference": "base", "role": "context"},
            "fix": {"question": "Shock?", "reference": "shock"}}
    qs = plan_questions(list(defs), defs)
    assert [(q.text, q.policies, q.context) for q in qs] == [
        ("Without policy?", [], ["base"]), ("Which?", ["p1", "p2"], ["base"]), ("Shock?", ["fix"], ["shock"])]
    over = plan_questions(list(defs), defs, baseline="base")
    assert over[2].references == {"shock": "base", "fix": "base"} and over[2].policies == ["fix"]
    with pytest.raises(ScenarioError, match=r"compared with 'shok'.*Did you mean 'shock'"):
        plan_questions(["base", "shock", "fix"], {"fix": {"reference": "shok"}})
    with pytest.raises(ScenarioError, match="--baseline 'bas' is not one of.*Did you mean 'base'"):
        plan_questions(list(defs), defs, baseline="bas")
    with pytest.raises(ScenarioError, match="no scenario names a reference"):
        plan_questions(["a", "b"], {})


# ---------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def brief_output(tmp_path_factory, brief_results):
    base = tmp_path_factory.mktemp("brief")
    brief_results.to_netcdf(base / "in.nc")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["compare", str(base / "in.nc"), "--formats", "png", "-o", str(base / "out")])
    return base / "out", rc, buf.getvalue()


def test_brief_answers_each_question_against_its_own_reference(brief_output):
    out, rc, stdout = brief_output
    assert rc == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="question" id="q(\d)"><h2 class="question-text">([^<]*)</h2>', html)
    assert [q for _, q in sections] == ["What happens without policy?", "Which instrument grows the cluster most?",
                                        "Does renewal help after a shock?"]
    q3 = html[html.index('id="q3"'):html.index('id="appendix"')]
    assert "Renewal does most: +41.0 firms at year 60 over shock" in q3
    assert "Without it, shock ends in collapse" in q3  # the context run's stage, not "maturity"
    assert 'id="fig-q3" class="cost-outcome"' in q3
    assert '<details id="appendix">' in html and '<details id="appendix" open' not in html
    assert html.index('id="kpi-table"') > html.index('<details id="appendix">')  # tables only in the appendix
    table = pd.read_csv(out / "kpis.csv")
    firms = table[table.kpi == "firms@end"].set_index("scenario")
    assert firms.at["renewal", "reference"] == "shock" and firms.at["renewal", "rank"] == 1
    assert firms[["rank"]].loc[["baseline", "shock"]].isna().all().all()  # context and references: not ranked
    assert firms.at["platform", "rank"] == 1 and firms.at["subsidy", "rank"] == 2
    # the terminal prints the findings, not the table
    assert "Q3. Does renewal help after a shock?" in stdout and "rank" not in stdout
    assert len(stdout.splitlines()) < 20 and len(table) > 30
    for k in (2, 3):
        assert (out / "figures" / f"question_{k}.png").read_bytes()[:4] == b"\x89PNG"


TIME = "time: {final_time: 20, time_step: 0.25, saveper: 1}\n"


@pytest.fixture
def tiny_files(tmp_path):
    shutil.copy(TINY, tmp_path / "tiny.mdl")
    (tmp_path / "base.yaml").write_text(f"name: base\nquestion: Without policy?\nmodel: tiny.mdl\n{TIME}"
                                        "outputs: [firms, knowledge]\n")
    (tmp_path / "push.yaml").write_text(textwrap.dedent("""\
        question: Does brokering pay?
        reference: base.yaml
        extends: base.yaml
        scenarios:
          - name: early
            policies: [{parameter: brokering budget, shape: step, start: 2, end: 8, amount: 1}]
          - name: late
            policies: [{parameter: brokering budget, shape: step, start: 12, end: 18, amount: 1}]
        """))
    (tmp_path / "u.yaml").write_text("seed: 3\nparameters:\n  entry fraction: {distribution: uniform, low: 0.05, "
                                     "high: 0.15}\n  firms per budget: {distribution: uniform, low: 1, high: 3}\n")
    return tmp_path


@pytest.mark.parametrize("extra, message", [
    (["--baseline", "bse"], "--baseline 'bse' is not one of the scenarios"),
    (["--kpi", "frims@end"], "--kpi 'frims@end': tiny.mdl has no variable 'frims'"),
    (["--kpi", "firms@70"], "--kpi 'firms@70': time 70 is outside the simulated period [0, 20]"),
    (["--uncertain", "nope.yaml"], "nope.yaml: uncertain-parameter file not found"),
])
def test_bad_names_fail_before_the_first_run(tiny_files, monkeypatch, capsys, extra, message):
    """A misspelt --baseline or KPI used to fail only after every scenario had run."""
    import sdcluster.core.model

    def no_run(*a, **k):
        raise AssertionError("a scenario ran before the arguments were checked")

    monkeypatch.setattr(sdcluster.core.model.Model, "run", no_run)
    monkeypatch.chdir(tiny_files)
    rc = main(["compare", "push.yaml", *extra, "-o", "out"])
    err = capsys.readouterr().err
    assert rc == 1 and message in err, err
    assert not (tiny_files / "out").exists()


def test_references_are_run_too_and_uncertainty_is_paired(tiny_files, monkeypatch, capsys):
    monkeypatch.chdir(tiny_files)
    rc = main(["compare", "push.yaml", "--uncertain", "u.yaml", "--runs", "16", "--no-progress", "--formats", "png",
               "-o", "out"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "Q1. Does brokering pay?" in cap.out and "Q2. Without policy?" in cap.out and "beats base in 100% of runs" in cap.out
    unc = pd.read_csv(tiny_files / "out" / "uncertainty.csv").set_index("scenario")
    assert list(unc.index) == ["early", "late"] and (unc["runs"] == 16).all()
    assert unc["share_first"].sum() == pytest.approx(1.0)
    import xarray as xr

    from sdcluster.uncertainty.ensemble import run_ensemble
    from sdcluster.uncertainty.sampling import load_uncertain
    from sdcluster.scenarios.scenario import load_scenarios

    with xr.open_dataset(tiny_files / "out" / "uncertainty.nc") as ens:
        assert list(ens["scenario"].values) == ["early", "late", "base"]
        samples = load_uncertain("u.yaml").sample(16)
        plain = run_ensemble([*load_scenarios("push.yaml"), *load_scenarios("base.yaml")], samples,
                             outputs=["firms"])
        np.testing.assert_allclose(ens["firms"].values, plain["firms"].values, rtol=1e-12)


def test_brief_explains_each_policy_by_the_loops_that_lead(loops_brief, brief_output):
    """Issue 14 item 5: with --loops, one sentence per policy on the shift in loop dominance against its
    reference, naming loop groups of models/cluster_policy.loops.yaml; in the report and the terminal."""
    out, rc, stdout, groups = loops_brief
    assert rc == 0, stdout
    html = (out / "report.html").read_text(encoding="utf-8")
    q = html[html.index("Does network brokering work better early"):]
    q = q[:q.index("</section>")]
    sentences = re.findall(r'<ul class="loop-shifts">(.*?)</ul>', q)[0].split("</li><li>")
    assert len(sentences) == 2  # brokering early and brokering late, each against baseline
    for s, policy in zip(sentences, ("brokering early", "brokering late")):
        assert s.removeprefix("<li>").startswith(f"With {policy}, ")
    named = [g for g in groups if g in q]
    assert named, f"no loop group of cluster_policy.loops.yaml named in: {sentences}"
    assert "(baseline: " in sentences[0]
    terminal = [line.strip() for line in stdout.splitlines() if line.strip().startswith("Loops: ")]
    assert any(line.startswith("Loops: With brokering early, ") and any(g in line for g in groups)
               for line in terminal), stdout
    # without --loops (the default) the brief has no loop sentences and costs nothing extra
    assert 'class="loop-shifts"' not in (brief_output[0] / "report.html").read_text(encoding="utf-8")


def test_loops_need_scenario_files(tmp_path, brief_results, capsys):
    brief_results.to_netcdf(tmp_path / "in.nc")
    assert main(["compare", str(tmp_path / "in.nc"), "--loops", "-o", str(tmp_path / "out")]) == 1
    assert "--loops runs the scenarios again" in capsys.readouterr().err
