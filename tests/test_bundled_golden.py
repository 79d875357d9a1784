"""CI's drift guard: the bundled scenarios reproduce the checked-in golden results.

The golden file ``tests/golden/bundled_scenarios.nc`` is a checked-in test
fixture. After an intended change of a bundled model or scenario, rewrite it
with::

    sdcluster check scenarios/*.yaml --against tests/golden/bundled_scenarios.nc --update

and say why in the commit message.
"""
from __future__ import annotations

import subprocess
import sys


def test_bundled_scenarios_match_golden(repo_root):
    scenarios = sorted(str(p) for p in (repo_root / "scenarios").glob("*.yaml"))
    golden = repo_root / "tests" / "golden" / "bundled_scenarios.nc"
    assert scenarios and golden.is_file()
    proc = subprocess.run([sys.executable, "-m", "sdcluster", "check", *scenarios, "--against", str(golden),
                           "--no-progress"], capture_output=True, text=True, timeout=600, cwd=repo_root)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
