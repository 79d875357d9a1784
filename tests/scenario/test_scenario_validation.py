"""Scenario files: parsing, extends, sets, and every validation error with its message."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdcluster.errors import ScenarioError
from sdcluster.scenarios.scenario import Policy, Scenario, load_scenario, load_scenarios, scenario_from_dict
from sdcluster.scenarios.schedules import Step, Table

BASE = """\
model: tiny.mdl
time: {final_time: 20}
parameters:
  initial firms: 10
"""


def load_error(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenarios(path)
    return str(info.value)


def validate_error(path: Path, model, **kw) -> str:
    scenario = load_scenario(path)
    with pytest.raises(ScenarioError) as info:
        scenario.validate(model, **kw)
    return str(info.value)


# ---------------------------------------------------------------- happy path
def test_full_file_loads(write, folder):
    path = write("early.yaml", """\
        # Question: does early brokering pay off?
        description: Brokering budget from year 5 to 15.
        model: tiny.mdl
        time: {initial_time: 0, final_time: 20, time_step: 0.25, saveper: 1}
        parameters:
          initial firms: 20
        policies:
          - parameter: brokering budget
            shape: step
            start: 5
            end: 15
            amount: 2.0
        outputs: [firms, knowledge]
        """)
    s = load_scenario(path)
    assert s.name == "early"                      # default: file stem
    assert s.question == "does early brokering pay off?"
    assert s.model == str((folder / "tiny.mdl").resolve())
    assert s.time == {"initial_time": 0, "final_time": 20, "time_step": 0.25, "saveper": 1}
    assert s.parameters == {"initial firms": 20.0}
    assert s.policies[0].schedule == Step(start=5, end=15, amount=2.0)
    assert s.outputs == ["firms", "knowledge"]


def test_relative_paths_resolve_against_the_file_not_the_cwd(write, folder, tmp_path_factory, monkeypatch):
    write("sub/base.yaml", "model: ../tiny.mdl\nparameters: {initial firms: 7}\n")
    path = write("sub/deeper/child.yaml", "extends: ../base.yaml\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    s = load_scenario(path)
    assert s.model == str((folder / "tiny.mdl").resolve())
    assert s.parameters == {"initial firms": 7.0}


def test_bundled_model_name_is_kept_as_a_name(write):
    s = load_scenario(write("a.yaml", "model: cluster_policy\n"))
    assert s.model == "cluster_policy"


def test_extends_merges_child_wins_parameters_by_key_policies_appended(write):
    write("base.yaml", """\
        model: tiny.mdl
        description: base
        time: {final_time: 20, saveper: 1}
        parameters: {initial firms: 10, entry fraction: 0.2}
        policies:
          - {parameter: brokering budget, shape: step, start: 1, end: 2, amount: 1}
        outputs: [firms]
        """)
    path = write("child.yaml", """\
        extends: base.yaml
        time: {final_time: 30}
        parameters: {initial_firms: 20}
        policies:
          - {parameter: brokering budget, shape: step, start: 5, amount: 2}
        """)
    s = load_scenario(path)
    assert s.name == "child"
    assert s.description == "base"
    assert s.time == {"final_time": 30.0, "saveper": 1.0}
    assert s.parameters == {"entry fraction": 0.2, "initial_firms": 20.0}
    assert [p.schedule.start for p in s.policies] == [1.0, 5.0]
    assert s.outputs == ["firms"]
    assert s.extends == ["base.yaml"]


def test_set_file_shared_fields_sibling_extends_and_selection(write):
    path = write("set.yaml", """\
        model: tiny.mdl
        parameters: {entry fraction: 0.05}
        scenarios:
          - name: low
            parameters: {initial firms: 5}
          - name: high
            extends: low
            parameters: {initial firms: 50}
            policies:
              - {parameter: brokering budget, shape: pulse, start: 2, width: 1, amount: 3}
        """)
    low, high = load_scenarios(path)
    assert (low.name, high.name) == ("low", "high")
    assert low.parameters == {"entry fraction": 0.05, "initial firms": 5.0}
    assert high.parameters == {"entry fraction": 0.05, "initial firms": 50.0}
    assert load_scenario(f"{path}#high").policies[0].schedule.width == 1.0
    other = write("other.yaml", "extends: set.yaml#low\nname: low2\n")
    assert load_scenario(other).parameters == low.parameters
    with pytest.raises(ScenarioError, match="holds 2 scenarios"):
        load_scenario(path)


def test_scenario_objects_and_mappings(tiny_model, folder):
    s = Scenario("x", parameters={"initial firms": 20},
                 policies=[Policy("brokering budget", Table(points=[(0, 0), (10, 2)]))])
    params = s.apply(tiny_model)
    assert params["initial_firms"] == 20.0
    assert params["brokering_budget"](5) == 1.0
    d = scenario_from_dict({"name": "d", "model": "tiny.mdl", "parameters": {"entry fraction": 0.3}},
                           base_dir=folder)
    assert d.name == "d" and d.parameters == {"entry fraction": 0.3}


# ---------------------------------------------------------------- unknown fields
def test_unknown_top_level_field_suggests_closest(write):
    msg = load_error(write("x.yaml", BASE + "descripton: typo\n"))
    assert msg.startswith("x.yaml: descripton: unknown field 'descripton'. Did you mean 'description'")


def test_unknown_time_field(write):
    msg = load_error(write("x.yaml", "time: {final_tim: 5}\n"))
    assert "time.final_tim: unknown field 'final_tim'. Did you mean 'final_time'" in msg


def test_unknown_policy_field_and_field_of_another_shape(write):
    msg = load_error(write("x.yaml", """\
        policies:
          - {parameter: brokering budget, shape: step, start: 1, amount: 1, amout: 2}
          - {parameter: brokering budget, shape: step, start: 1, amount: 1, width: 2}
        """))
    assert "policies[0].amout: unknown field 'amout'. Did you mean 'amount'?" in msg
    assert "policies[1].width: field 'width' does not apply to shape 'step'" in msg


def test_unknown_shape_and_missing_fields(write):
    msg = load_error(write("x.yaml", """\
        policies:
          - {parameter: brokering budget, shape: stpe, start: 1, amount: 1}
          - {parameter: brokering budget, shape: ramp, start: 1}
          - {shape: step, start: 1, amount: 1}
        """))
    assert "policies[0].shape: unknown shape 'stpe'. Did you mean 'step'?" in msg
    assert "policies[1]: missing field 'end' for shape 'ramp'" in msg
    assert "policies[1]: missing field 'amount' for shape 'ramp'" in msg
    assert "policies[2]: missing field 'parameter'" in msg


# ---------------------------------------------------------------- wrong types
@pytest.mark.parametrize("snippet, expected", [
    ("policies:\n  - {parameter: brokering budget, shape: step, start: five, amount: 1}\n",
     "x.yaml: policies[0].start: value 'five' is not a number (expected model time)"),
    ("policies:\n  - {parameter: brokering budget, shape: step, start: true, amount: 1}\n",
     "policies[0].start: value true is not a number"),
    ("parameters: {initial firms: many}\n",
     "x.yaml: parameters['initial firms']: value 'many' is not a number"),
    ("time: {final_time: [1, 2]}\n", "time.final_time: value [1, 2] (a list) is not a number"),
    ("time: 5\n", "x.yaml: time: expected a mapping"),
    ("parameters: [1, 2]\n", "x.yaml: parameters: expected a mapping"),
    ("policies: {a: 1}\n", "x.yaml: policies: expected a list of policies"),
    ("policies: [5]\n", "x.yaml: policies[0]: expected a mapping"),
    ("outputs: 5\n", "x.yaml: outputs: expected a list of variable names"),
    ("outputs: [firms, 3]\n", "x.yaml: outputs[1]: value 3 is not text"),
    ("description: [a]\n", "x.yaml: description: value ['a'] (a list) is not text"),
    ("model: 3\n", "x.yaml: model: value 3 is not text"),
    ("policies:\n  - {parameter: b, shape: table, points: [[0, 1], [1]]}\n",
     "policies[0].points[1]: expected a [time, value] pair"),
    ("policies:\n  - {parameter: b, shape: table, points: [[0, 1], [0, 2]]}\n",
     "policies[0].points[1][0]: time 0 is not after the previous point's time 0"),
    ("time: {time_step: 0}\n", "time.time_step: value 0 must be greater than 0"),
    ("time: {initial_time: 10, final_time: 5}\n", "time.final_time: final_time 5 is not after initial_time 10"),
])
def test_wrong_types_name_file_and_field(write, snippet, expected):
    msg = load_error(write("x.yaml", snippet))
    assert expected in msg


@pytest.mark.parametrize("value, expected", [
    (".nan", "is not a finite number"),
    (".inf", "is not a finite number"),
    ("-.inf", "is not a finite number"),
    ("1.0e+999", "is not a finite number"),
    ("1" + "0" * 400, "is too large"),
    ("1.0e+200", "is too large"),
])
def test_nan_inf_and_huge_numbers(write, value, expected):
    msg = load_error(write("x.yaml", f"parameters: {{initial firms: {value}}}\n"))
    assert "parameters['initial firms']" in msg and expected in msg


# ---------------------------------------------------------------- schedule timing
@pytest.mark.parametrize("shape", ["step", "ramp"])
def test_schedule_end_before_start(write, shape):
    msg = load_error(write("x.yaml", f"""\
        policies:
          - {{parameter: brokering budget, shape: {shape}, start: 5, end: 6, amount: 1}}
          - {{parameter: brokering budget, shape: {shape}, start: 15, end: 10, amount: 1}}
        """))
    assert msg == "x.yaml: policies[1].end: end 10 is before or at start 15; a schedule must end after it starts"


def test_pulse_every_shorter_than_width(write):
    msg = load_error(write("x.yaml", """\
        policies:
          - {parameter: b, shape: pulse, start: 0, width: 2, every: 1, amount: 1}
        """))
    assert "policies[0].every: repeat interval 1 is shorter than the pulse width 2" in msg


def test_overlapping_schedules_on_one_parameter(write, tiny_model):
    path = write("x.yaml", BASE + """\
        policies:
          - {parameter: brokering budget, shape: step, start: 5, end: 15, amount: 1}
          - {parameter: entry fraction, shape: step, start: 5, end: 15, amount: 0.1}
          - {parameter: brokering_budget, shape: pulse, start: 10, width: 1, amount: 1}
        """.replace("        ", ""))
    msg = validate_error(path, tiny_model)
    assert "x.yaml: policies[2]: overlaps x.yaml: policies[0] on parameter 'brokering budget'" in msg
    assert "policies[1]" not in msg.replace("x.yaml: policies[2]", "")  # other parameter: fine


def test_adjacent_schedules_do_not_overlap(write, tiny_model):
    path = write("x.yaml", BASE + """\
        policies:
          - {parameter: brokering budget, shape: step, start: 5, end: 10, amount: 1}
          - {parameter: brokering budget, shape: step, start: 10, end: 15, amount: 2}
        """.replace("        ", ""))
    params = load_scenario(path).apply(tiny_model)
    f = params["brokering_budget"]
    assert [f(t) for t in (4, 5, 9.5, 10, 14.5, 15)] == [0, 1, 1, 2, 2, 0]


def test_overlap_across_extends_is_detected(write, tiny_model):
    write("base.yaml", BASE + "policies:\n  - {parameter: brokering budget, shape: step, start: 0, amount: 1}\n")
    path = write("child.yaml", "extends: base.yaml\npolicies:\n"
                 "  - {parameter: brokering budget, shape: step, start: 3, end: 4, amount: 1}\n")
    msg = validate_error(path, tiny_model)
    assert "child.yaml: policies[0]: overlaps base.yaml: policies[0]" in msg


# ---------------------------------------------------------------- catalogue checks
def test_unknown_parameter_suggests_closest(write, tiny_model):
    path = write("x.yaml", BASE + "  brokring budget: 1\n")
    msg = validate_error(path, tiny_model)
    assert "x.yaml: parameters: unknown parameter 'brokring budget'. Did you mean 'brokering budget'" in msg


def test_unknown_parameter_in_policy(write, tiny_model):
    path = write("x.yaml", BASE + "policies:\n  - {parameter: entry fractoin, shape: step, start: 1, amount: 1}\n")
    msg = validate_error(path, tiny_model)
    assert "x.yaml: policies[0].parameter: unknown parameter 'entry fractoin'. Did you mean 'entry fraction'?" in msg


def test_setting_a_stock_is_refused(write, tiny_model):
    msg = validate_error(write("x.yaml", BASE + "  firms: 3\n"), tiny_model)
    assert "'firms' is a" in msg and "not a constant parameter" in msg


def test_unknown_output(write, tiny_model):
    msg = validate_error(write("x.yaml", BASE + "outputs: [firms, knowlege]\n"), tiny_model)
    assert "x.yaml: outputs[1]: unknown variable 'knowlege'. Did you mean 'knowledge'" in msg


def test_value_out_of_range_error_or_warning(write, tiny_model, caplog):
    path = write("x.yaml", BASE + "  entry fraction: 1.5\n")
    msg = validate_error(path, tiny_model)
    assert "x.yaml: parameters['entry fraction']: value 1.5 is outside the declared range [0, 1]" in msg
    warnings = load_scenario(path).validate(tiny_model, allow_out_of_range=True)
    assert len(warnings) == 1 and "outside the declared range" in warnings[0]
    assert "outside the declared range" in caplog.text


def test_schedule_pushing_parameter_out_of_range(write, tiny_model):
    path = write("x.yaml", BASE + "policies:\n  - {parameter: brokering budget, shape: step, start: 1, amount: 12}\n")
    msg = validate_error(path, tiny_model)
    assert "x.yaml: policies[0]: 'brokering budget' reaches 12 (base 0 plus schedule), outside its declared range" \
        in msg
    assert load_scenario(path).validate(tiny_model, allow_out_of_range=True)
    neg = write("y.yaml", BASE + "policies:\n  - {parameter: brokering budget, shape: table, points: [[0, 0], [5, -1]]}\n")
    assert "reaches -1" in validate_error(neg, tiny_model)


def test_out_of_range_in_parent_names_parent_file(write, tiny_model):
    write("base.yaml", BASE + "  firm lifetime: 0.5\n")
    msg = validate_error(write("child.yaml", "extends: base.yaml\n"), tiny_model)
    assert msg.startswith("base.yaml: parameters['firm lifetime']: value 0.5 is outside")


def test_all_problems_reported_together(write, tiny_model):
    path = write("x.yaml", BASE + "  brokring budget: 1\n  entry fraction: 3\noutputs: [nope]\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path).validate(tiny_model)
    assert len(info.value.problems) == 3


# ---------------------------------------------------------------- extends errors
def test_circular_extends(write):
    write("a.yaml", "extends: b.yaml\n")
    write("b.yaml", "extends: c.yaml\n")
    write("c.yaml", "extends: a.yaml\n")
    msg = load_error(Path(write("start.yaml", "extends: a.yaml\n")))
    assert "circular 'extends' chain" in msg
    assert "a.yaml -> " in msg and "b.yaml -> " in msg and "c.yaml -> " in msg


def test_self_extends_and_sibling_cycle(write):
    assert "circular 'extends' chain" in load_error(write("self.yaml", "extends: self.yaml\n"))
    msg = load_error(write("set.yaml", """\
        scenarios:
          - {name: a, extends: b}
          - {name: b, extends: a}
        """))
    assert "circular 'extends' chain" in msg and "set.yaml#a" in msg


def test_missing_extends_target(write):
    msg = load_error(write("x.yaml", "extends: nowhere.yaml\n"))
    assert "x.yaml: extends: scenario file 'nowhere.yaml' not found" in msg


def test_extending_a_set_needs_a_name(write):
    write("set.yaml", "scenarios:\n  - {name: a}\n  - {name: b}\n")
    msg = load_error(write("x.yaml", "extends: set.yaml\n"))
    assert "holds a set of scenarios; pick one as 'set.yaml#NAME' (names: a, b)" in msg
    assert "no scenario named 'c'" in load_error(write("y.yaml", "extends: set.yaml#c\n"))


def test_set_file_errors(write):
    assert "scenarios[1]: missing field 'name'" in load_error(write("s1.yaml", "scenarios:\n  - {name: a}\n  - {}\n"))
    assert "scenarios[1].name: name 'a' is used twice" in load_error(
        write("s2.yaml", "scenarios:\n  - {name: a}\n  - {name: a}\n"))
    assert "scenarios: expected a non-empty list" in load_error(write("s3.yaml", "scenarios: []\n"))


def test_missing_model_file(write):
    msg = load_error(write("x.yaml", "model: models/none.mdl\n"))
    assert "x.yaml: model: model file 'models/none.mdl' not found" in msg


# ---------------------------------------------------------------- YAML-level errors
def test_yaml_syntax_error_has_line_number(write):
    msg = load_error(write("x.yaml", "name: a\nparameters:\n  initial firms: [1,\n"))
    assert msg.startswith("x.yaml: line ") and "invalid YAML" in msg


def test_duplicate_key_is_an_error(write):
    msg = load_error(write("x.yaml", "parameters:\n  initial firms: 1\n  initial firms: 2\n"))
    assert "line 3" in msg and "duplicate key 'initial firms'" in msg


def test_same_parameter_twice_under_two_spellings(write):
    msg = load_error(write("x.yaml", "parameters:\n  initial firms: 1\n  initial_firms: 2\n"))
    assert "parameters['initial_firms']: parameter 'initial_firms' is already set as 'initial firms'" in msg


@pytest.mark.parametrize("text, expected", [
    ("", "the file is empty"),
    ("- a\n- b\n", "expected a mapping"),
    ("just text\n", "expected a mapping"),
    ("!!python/object:os.system {}\n", "invalid YAML"),
    ("? [a, b]\n: 1\n", "invalid YAML"),
])
def test_non_mapping_documents(write, text, expected):
    assert expected in load_error(write("x.yaml", text))


def test_missing_file_and_folder(folder):
    assert "scenario file not found" in load_error(folder / "nope.yaml")
    assert "is a folder" in load_error(folder)


def test_binary_file(folder):
    path = folder / "x.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    assert "not UTF-8" in load_error(path)


# ---------------------------------------------------------------- robustness
_yaml_scalars = st.one_of(st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True),
                          st.text(max_size=8), st.booleans(), st.none())
_yaml_values = st.recursive(_yaml_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(
    st.sampled_from(["name", "shape", "start", "end", "amount", "points", "parameter", "width", "every", "x"]),
    c, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(st.sampled_from(["name", "description", "extends", "model", "time", "parameters",
                                            "policies", "outputs", "scenarios", "bogus"]), _yaml_values, max_size=5))
def test_any_structure_loads_or_raises_scenario_error(folder, doc):
    import yaml

    path = folder / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    try:
        load_scenarios(path)
    except ScenarioError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("abc:-[]{}#&*!|>'\"%@`,?\n 0123456789.e")), max_size=60))
def test_any_text_loads_or_raises_scenario_error(folder, text):
    path = folder / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_scenarios(path)
    except ScenarioError:
        pass


def test_deeply_nested_yaml(folder):
    path = folder / "deep.yaml"
    path.write_text("parameters: " + "[" * 1500 + "]" * 1500 + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError):
        load_scenarios(path)


def test_cwd_independence_of_messages(write, folder, monkeypatch):
    path = write("x.yaml", "bogus: 1\n")
    monkeypatch.chdir(folder)
    assert load_error(Path("x.yaml")).startswith("x.yaml: bogus: unknown field 'bogus'")
    monkeypatch.chdir(os.path.dirname(folder))
    assert f"{folder.name}{os.sep}x.yaml: bogus" in load_error(path)


def test_set_entry_errors_name_the_entry(write, tiny_model):
    path = write("set.yaml", "model: tiny.mdl\nscenarios:\n  - name: a\n    parameters: {brokring budget: 1}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(f"{path}#a").validate(tiny_model)
    assert str(info.value).startswith("set.yaml: scenarios[0].parameters: unknown parameter 'brokring budget'")


def test_programmatic_scenario_with_bad_values(tiny_model):
    with pytest.raises(ScenarioError, match=r"parameters\['initial firms'\]: value 'ten' is not a finite number"):
        Scenario("p", parameters={"initial firms": "ten"}).validate(tiny_model)
    with pytest.raises(ScenarioError, match=r"policies\[0\]: expected a Policy"):
        Scenario("p", policies=[{"parameter": "x"}]).validate(tiny_model)


def test_alias_bomb_is_rejected_quickly(folder):
    import time

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("outputs: *a8")
    lines.append("parameters: {initial firms: *a8}")
    path = folder / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = time.perf_counter()
    msg = load_error(path)
    assert time.perf_counter() - start < 2.0
    assert "unknown field 'a0'" in msg and "outputs[0]" in msg and len(msg) < 5000


def test_extreme_schedule_numbers_do_not_crash(tiny_model):
    import numpy as np

    from sdcluster.scenarios.schedules import Pulse, Ramp

    p = Pulse(start=-1e100, width=1e-300, every=1e-300, end=1e100, amount=1)
    assert np.isfinite(p(np.array([0.0, 1e99]))).all()
    assert p.support()[1] == float("inf")
    r = Ramp(start=0, end=1e-300, amount=1e100)
    assert r(1.0) == 1e100


def test_fifo_is_refused_without_blocking(folder):
    fifo = folder / "pipe.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in load_error(fifo)


def test_symlink_loop(folder):
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    with pytest.raises(ScenarioError):
        load_scenarios(folder / "loop.yaml")


def test_many_policies_validate_quickly(tiny_model):
    import time

    from sdcluster.scenarios.schedules import Pulse

    policies = [Policy("brokering budget", Pulse(start=k, width=0.5, amount=1)) for k in range(5000)]
    policies.append(Policy("brokering budget", Pulse(start=100.25, width=0.5, amount=1)))
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        Scenario("many", policies=policies).validate(tiny_model)
    assert time.perf_counter() - start < 5.0
    assert info.value.problems == [
        "scenario 'many': policies[5000]: overlaps scenario 'many': policies[100] on parameter 'brokering budget' "
        "(active [100.25, 100.75) and [100, 100.5)); schedules on one parameter must not overlap in time; "
        "combine them into one 'table' policy"]
