"""Issue 18: scenario messages never quote a file that is not a scenario; YAML numbers as people write them."""
from __future__ import annotations

from pathlib import Path

import pytest

from sdcluster.errors import ScenarioError
from sdcluster.scenarios.scenario import load_scenarios

SECRET = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin\nTOPSECRET-LAST-LINE\n"


@pytest.mark.parametrize("content", [SECRET, "- TOPSECRET-a\n- TOPSECRET-b\n", "TOPSECRET: [1\n",
                                     "42\n", "\t\tTOPSECRET\n"])
def test_extends_a_non_scenario_never_quotes_it(write, folder: Path, content: str) -> None:
    secret = folder / "private" / "passwd"
    secret.parent.mkdir()
    secret.write_text(content, encoding="utf-8")
    path = write("x.yaml", "extends: private/passwd\nmodel: tiny.mdl\n")
    with pytest.raises(ScenarioError) as info:
        load_scenarios(path)
    message = str(info.value)
    assert "passwd" in message, message
    for piece in ("root:x", "TOPSECRET", "daemon", "/bin/bash"):
        assert piece not in message, message


def test_extends_etc_passwd(write) -> None:
    path = write("x.yaml", "extends: ../../../../../../../../etc/passwd\nmodel: tiny.mdl\n")
    with pytest.raises(ScenarioError) as info:
        load_scenarios(path)
    assert "root:" not in str(info.value) and "passwd" in str(info.value)


def test_extends_needs_a_yaml_file(write, folder: Path) -> None:
    (folder / "notes.txt").write_text("final_time: 5\n", encoding="utf-8")
    path = write("x.yaml", "extends: notes.txt\nmodel: tiny.mdl\n")
    with pytest.raises(ScenarioError, match=r"\.yaml or \.yml"):
        load_scenarios(path)


@pytest.mark.parametrize("written, value", [("1.0e7", 1.0e7), ("1e7", 1e7), ("2.5E+3", 2500.0),
                                            ("-1.5e-2", -0.015), (".5", 0.5), ("1_000.5", 1000.5)])
def test_yaml_floats_as_people_write_them(write, written: str, value: float) -> None:
    path = write("x.yaml", f"model: tiny.mdl\ntime: {{final_time: {written}}}\n")
    assert load_scenarios(path)[0].time["final_time"] == value


@pytest.mark.parametrize("written", ["1e", "e7", "1.0e7x", "'1e7'"])
def test_not_numbers_stay_refused(write, written: str) -> None:
    path = write("x.yaml", f"model: tiny.mdl\ntime: {{final_time: {written}}}\n")
    with pytest.raises(ScenarioError, match="not a number"):
        load_scenarios(path)
