"""Mutation check: each claimed behaviour's test must FAIL on a model without the structure
that is claimed to produce it.

A mutant is a copy of the ``.mdl`` (equations only) with one structural edit - a cut link, a
flattened table, equalised time constants, a leak - written into ``tmp_path``. The test runs
the check that the model's own test suite uses for the claim and asserts that it fails. Every
edit must match the model text exactly once, so a mutant that no longer applies (the model
changed) fails loudly instead of silently testing nothing.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import sdcluster
from sdcluster.analysis import loops

pytestmark = pytest.mark.slow  # one PySD translation per mutant

ROOT = Path(__file__).resolve().parents[1].parent
SKETCH = "\\\\\\---/// Sketch information"


def _module(name: str, folder: Path = Path(__file__).parent):
    spec = importlib.util.spec_from_file_location(f"_mut_{name}", folder / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


lifecycle = _module("test_cluster_lifecycle")
cooperative = _module("test_cooperative_action")
policy = _module("test_cluster_policy")
loop_stories = _module("test_loop_stories", ROOT / "tests" / "analysis")



def flatten(name: str, value: float):
    """Edit that replaces the points of the inline lookup of *name* by a constant *value*."""
    def edit(text: str) -> str:
        pat = re.compile(r"(^" + re.escape(name) + r"= WITH LOOKUP \(\n\t[^\n]*,\n\t\t\(\[\(([-\d.e+]+),[^)]*\)-\(([-\d.e+]+),[^)]*\)\])[^\n]*\)\)",
                         re.M)
        assert len(pat.findall(text)) == 1, name
        return pat.sub(lambda m: f"{m.group(1)},({m.group(2)},{value}),({m.group(3)},{value})))", text)
    return edit


def mutant(src: Path, tmp_path: Path, label: str, edits) -> "sdcluster.Model":
    """Load a copy of *src* with *edits* (``(old, new)`` pairs or callables) applied."""
    head, sketch = src.read_text(encoding="utf-8").split(SKETCH, 1)
    for edit in edits:
        if callable(edit):
            head = edit(head)
        else:
            old, new = edit
            assert head.count(old) == 1, (label, old)
            head = head.replace(old, new)
    path = tmp_path / f"{src.stem}_{label}.mdl"
    path.write_text(head + SKETCH + sketch, encoding="utf-8")
    return sdcluster.load_model(str(path))


LC = ROOT / "models" / "cluster_lifecycle.mdl"
CA = ROOT / "models" / "cooperative_action.mdl"
CP = ROOT / "models" / "cluster_policy.mdl"


def shakeout_loop_story(model) -> None:
    """The life-cycle page's loop-dominance claim for the shakeout, on *model*'s default run."""
    ds = loops.dominance(model, names=LC.with_suffix(".loops.yaml"))  # a mutant copy has no names file
    loop_stories.check_shakeout_is_carried_by_increasing_returns(ds)


LIFECYCLE_MUTANTS = {
    # Klepper (1996): efficient scale grows with experience -> no growth, no shakeout
    "no_experience_scale": ([("*relative experience\\\n\t\t^scale experience elasticity)", ")")],
                            lifecycle.check_shakeout_regularities),
    # ... and the shakeout is no longer carried by the experience-scale loops
    "no_experience_scale_loops": ([("*relative experience\\\n\t\t^scale experience elasticity)", ")")],
                                  shakeout_loop_story),
    # entrants face no scale barrier -> entry never stops
    "no_entry_barrier": ([(")*effect of scale barrier on entry\n", ")\n")], lifecycle.check_shakeout_regularities),
    # no learning curve in price and demand -> output stops growing with the market saturated
    "no_learning_price": ([("effect of market saturation on price/effect of learning on productivity\n",
                            "effect of market saturation on price\n"),
                           ("*effect of learning on productivity\\\n\t\t^price elasticity of demand\n", "\n")],
                          lifecycle.check_shakeout_regularities),
    # large firms fail as often as small ones -> no surviving oligopoly
    "no_size_dependent_failure": ([("*effect of firm size on failure\n", "\n")], lifecycle.check_shakeout_regularities),
    # outside links carry no knowledge -> they cannot limit the shift's damage
    "no_outside_knowledge": ([("MAX(0, outside links)*absorptive capacity*capability gap", "absorptive capacity*capability gap")],
                             lifecycle.check_shift_deepens_decline_and_links_renew),
}

COOPERATIVE_MUTANTS = {
    "equal_trust_time_constants": ([("trust erosion time=\n\t1\n", "trust erosion time=\n\t4\n")],
                                   cooperative.test_trust_falls_faster_than_it_rises),
    "no_trust_gate": ([("* market pressure * breakthrough readiness", "* market pressure")],
                      cooperative.test_crisis_triggers_breakthrough_only_with_trust),
    "flat_participation_response": ([flatten("participation response", 0.5)],
                                    cooperative.test_critical_mass_of_cooperation),
    "flat_group_size_free_riding": ([flatten("effect of group size on free riding", 1)],
                                    cooperative.test_free_riding_in_large_group_unless_trust_high),
    "flat_coordination_overload": ([flatten("effect of coordination load on failure", 1)],
                                   cooperative.test_overheated_push_backfires),
    # a leak: failed breakthrough projects leave the pipeline without being counted
    "leaking_pipeline": ([("INTEG (\n\troutine failure + breakthrough failure,", "INTEG (\n\troutine failure,")],
                         cooperative.test_project_pipeline_mass_balance),
}


POLICY_MUTANTS = {
    # skilled workers do not move: the thin-air condition (2000 workers suffice only with migration) fails
    "no_migration": ([("net skilled migration=\n\t(indicated", "net skilled migration=\n\t0*(indicated")],
                     policy.test_thin_air_condition_is_the_skilled_labour_the_region_can_draw),
    # ... and the pool no longer follows the wage
    "no_migration_wage_gap": ([("net skilled migration=\n\t(indicated", "net skilled migration=\n\t0*(indicated")],
                              policy.test_migration_closes_the_wage_gap),
    # wages never rise: a small labour pool no longer limits a subsidised cluster
    "flat_wage": ([flatten("relative wage", 1)], policy.test_thin_air_condition_is_the_skilled_labour_the_region_can_draw),
    # no agglomeration S-curve: no critical mass of firms
    "flat_agglomeration": ([flatten("effect of agglomeration", 1)], policy.test_critical_mass_of_firms_inside_joined_model),
    # equal trust time constants: no asymmetry inside the joined model
    "equal_trust_time_constants": ([("trust erosion time=\n\t1\n", "trust erosion time=\n\t4\n")],
                                   policy.test_trust_falls_faster_than_it_rises_inside_joined_model),
    # coordination overload does not raise failures: a rushed budget split no longer backfires
    "flat_coordination_overload": ([flatten("effect of coordination load on failure", 1)],
                                   policy.test_overheating_is_the_budget_split_not_the_pace),
}


@pytest.mark.parametrize("label", sorted(LIFECYCLE_MUTANTS))
def test_lifecycle_claim_fails_on_mutant(tmp_path, label):
    edits, check = LIFECYCLE_MUTANTS[label]
    with pytest.raises(AssertionError):
        check(mutant(LC, tmp_path, label, edits))


@pytest.mark.parametrize("label", sorted(COOPERATIVE_MUTANTS))
def test_cooperative_claim_fails_on_mutant(tmp_path, label):
    edits, check = COOPERATIVE_MUTANTS[label]
    with pytest.raises(AssertionError):
        check(mutant(CA, tmp_path, label, edits))


@pytest.mark.parametrize("label", sorted(POLICY_MUTANTS))
def test_policy_claim_fails_on_mutant(tmp_path, label):
    edits, check = POLICY_MUTANTS[label]
    with pytest.raises(AssertionError):
        check(mutant(CP, tmp_path, label, edits))


def test_unmutated_policy_copy_passes(tmp_path):
    """Control for the policy mutants: the unedited copy passes every check they break."""
    model = mutant(CP, tmp_path, "identity", [])
    for check in {id(c): c for _, c in POLICY_MUTANTS.values()}.values():
        check(model)


def test_unmutated_copy_passes(tmp_path):
    """Control: a copy written the same way, with no edit, passes the checks (so a failure
    above comes from the mutant's structure, not from the copying)."""
    model = mutant(LC, tmp_path, "identity", [])
    lifecycle.check_shakeout_regularities(model)
    lifecycle.check_shift_deepens_decline_and_links_renew(model)
    shakeout_loop_story(model)
