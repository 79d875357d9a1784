"""Policy space files: every problem named with file, field, value and what is valid; checked before any run."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sdcluster.design import bind, load_space
from sdcluster.errors import ParameterError, ScenarioError

FIXTURES = Path(__file__).parent / "fixtures"


def _edit(folder: Path, change) -> Path:
    path = folder / "space.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_fixture_space_parses(space_file):
    space = load_space(space_file)
    assert [i.name for i in space.instruments] == ["skills", "roads"]
    assert space.budget == 10
    assert [o.label for o in space.objectives] == ["p10(net_benefit:cum)", "mean(min:public_cost@end)"]
    assert space.question.startswith("how should 10 million")
    assert space.compare_with[0].name == "skills_only"


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.update(budgett=3), ["budgett", "Did you mean 'budget'"]),
    (lambda d: d["instruments"]["skills"].update(strat=1), ["instruments.skills.strat", "'start'"]),
    (lambda d: d["instruments"]["skills"]["amount"].update(high=-1), ["instruments.skills.amount.high", "below low"]),
    (lambda d: d["instruments"]["skills"]["start"].update(low=0.5), ["integer lever bounds"]),
    (lambda d: d["instruments"]["roads"].pop("end"), ["instruments.roads.duration", "sets nothing"]),
    (lambda d: d.update(robustness={"measure": "percentil", "q": 5}), ["robustness.measure", "'percentile'"]),
    (lambda d: d.update(robustness={"measure": "percentile"}), ["needs 'q'"]),
    (lambda d: d.update(objectives=["net_benefit:cum/cost"]), ["objectives[0]", "/cost"]),
    (lambda d: d.update(objectives=["net_benefit::cum"]), ["objectives[0]", "cannot read KPI"]),
    (lambda d: d.update(search={"algoritm": "de"}), ["search.algoritm", "'algorithm'"]),
    (lambda d: d.update(reference="missing.yaml"), ["reference", "not found"]),
    (lambda d: d.pop("budget"), ["missing field 'budget'"]),
])
def test_file_errors_name_field_and_fix(space_dir, change, expected):
    path = _edit(space_dir, change)
    with pytest.raises(ScenarioError) as exc:
        load_space(path)
    msg = str(exc.value)
    assert str(path) in msg
    for part in expected:
        assert part in msg


@pytest.fixture()
def no_runs(monkeypatch):
    """Make any model run fail the test: checks must happen before the first run."""
    from sdcluster.core.model import Model

    def boom(*args, **kwargs):  # pragma: no cover - reached only on a regression
        raise AssertionError("a model run happened before the space was checked")

    monkeypatch.setattr(Model, "run_batch", boom)
    monkeypatch.setattr(Model, "run", boom)


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["instruments"]["skills"]["amount"].update(parameter="skils budget"),
     ["instruments.skills.amount.parameter", "no constant parameter 'skils budget'", "'skills budget'"]),
    (lambda d: d["instruments"]["roads"].update(end="growth"),
     ["instruments.roads.end", "not a constant"]),
    (lambda d: d.update(objectives=["net_benefitt:cum"]),
     ["objectives[0]", "no variable 'net_benefitt'", "'net_benefit'"]),
    (lambda d: d["instruments"]["skills"]["amount"].update(high=50),
     ["instruments.skills.amount", "bound 50", "[0, 10]"]),
    (lambda d: d["instruments"]["roads"]["amount"].update(parameter="skills budget"),
     ["already set by instruments.skills.amount.parameter"]),
])
def test_model_errors_before_any_run(space_dir, model, no_runs, change, expected):
    from sdcluster.design import optimize

    path = _edit(space_dir, change)
    with pytest.raises(ParameterError) as exc:
        optimize(path, model=model)
    for part in expected:
        assert part in str(exc.value)


def test_lever_that_is_also_uncertain_is_refused(space_dir, model, no_runs):
    (space_dir / "uncertain.yaml").write_text(yaml.safe_dump({"parameters": {
        "skills budget": {"distribution": "uniform", "low": 0, "high": 1}}}))
    with pytest.raises(ParameterError, match="also uncertain"):
        bind(load_space(space_dir / "space.yaml"), model)


def test_bundled_example_space_binds_to_the_policy_model():
    """scenarios/design/budget_20M.yaml and the bundled uncertainty file check against cluster_policy."""
    root = FIXTURES.parents[2]
    space = load_space(root / "scenarios" / "design" / "budget_20M.yaml")
    assert len(space.instruments) == 6 and space.budget == 20
    problem = bind(space, runs=3)
    assert len(problem.names) == 12 and problem.members == 3
    X = problem.repair(problem.upper[None, :])  # every amount at its maximum: scaled to the budget
    assert problem.planned_cost(X)[0] == pytest.approx(20)
    params = problem.parameters(X)
    assert params["brokering_end"][0] == params["brokering_start"][0] + 10


def test_samples_outside_declared_range_are_refused(space_dir, model, no_runs):
    (space_dir / "uncertain.yaml").write_text(yaml.safe_dump({"parameters": {
        "skills efficiency": {"distribution": "uniform", "low": 0, "high": 5}}}))
    with pytest.raises(ParameterError, match=r"parameters.skills efficiency: \d+ of 24 sampled values lie outside"):
        bind(load_space(space_dir / "space.yaml"), model)
