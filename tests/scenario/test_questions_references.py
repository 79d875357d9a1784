"""Questions, references and roles in scenario files: parsing, resolution and their error messages."""
from __future__ import annotations

import textwrap

import pytest

from sdcluster.errors import ScenarioError
from sdcluster.scenarios.scenario import load_scenario, load_scenarios

BASE = """\
model: tiny.mdl
time: {final_time: 20}
"""


def error(path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenarios(path)
    return str(info.value)


def test_set_states_question_and_entries_name_their_references(write):
    write("base.yaml", BASE + "question: What without policy?\n")
    path = write("set.yaml", BASE + textwrap.dedent("""\
        question: Does the push pay off?
        reference: base.yaml
        scenarios:
          - {name: push}
          - {name: shocked, role: context}
          - {name: shocked_push, reference: shocked, extends: shocked}
        """))
    push, shocked, shocked_push = load_scenarios(path)
    assert {s.question for s in (push, shocked, shocked_push)} == {"Does the push pay off?"}
    assert (push.reference, push.is_policy) == ("base", True)
    assert (shocked.reference, shocked.role, shocked.is_policy) == ("base", "context", False)
    # role and reference are not inherited through extends
    assert (shocked_push.reference, shocked_push.role, shocked_push.is_policy) == ("shocked", None, True)
    assert shocked_push.reference_source.endswith("set.yaml#shocked")
    assert push.to_dict()["reference"] == "base" and shocked.to_dict()["role"] == "context"
    assert load_scenario(write("b2.yaml", BASE + "extends: base.yaml\n")).question == ""  # not inherited


def test_reference_to_one_scenario_of_another_set(write):
    write("set.yaml", BASE + "scenarios: [{name: a}, {name: b}]\n")
    s = load_scenario(write("p.yaml", BASE + "reference: set.yaml#b\n"))
    assert s.reference == "b" and s.reference_source.endswith("set.yaml#b")


@pytest.mark.parametrize("text, expected", [
    ("scenarios: [{name: alpha}, {name: beta, reference: alpah}]",
     "set.yaml: scenarios[1].reference: no scenario named 'alpah' in set.yaml (the scenarios of this file: "
     "alpha, beta). Did you mean 'alpha'?"),
    ("scenarios: [{name: alpha, reference: alpha}]",
     "set.yaml: scenarios[0].reference: scenario 'alpha' names itself as its reference"),
    ("reference: nowhere.yaml\nscenarios: [{name: alpha}]",
     "set.yaml: reference: scenario file 'nowhere.yaml' not found"),
    ("scenarios: [{name: alpha, role: contxt}]",
     "set.yaml: scenarios[0].role: value 'contxt' is not a role. Did you mean 'context'?"),
    ("question: 3\nscenarios: [{name: alpha}]", "set.yaml: question: value 3 is not text"),
])
def test_bad_references_and_roles_name_file_field_value_and_choices(write, text, expected):
    assert error(write("set.yaml", BASE + text + "\n")).startswith(expected)


def test_a_single_scenario_file_refers_to_files_not_names(write):
    msg = error(write("one.yaml", BASE + "reference: baseline\n"))
    assert "one.yaml: reference: no scenario named 'baseline' in one.yaml (this file holds one scenario)" in msg
    assert "'file.yaml#name'" in msg
