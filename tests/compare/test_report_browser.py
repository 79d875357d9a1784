"""The HTML report in a real headless browser (Debian's ``chromium``).

The page must render, every ``<img>`` must decode (``naturalWidth > 0``) and
the KPI table must be in the rendered DOM. A screenshot is saved to
``$SDCLUSTER_ARTIFACTS`` (the CI artefact folder) when set, else to the test's
temporary folder.

Without Chromium the test fails when the ``CI`` environment variable is set
(install it with ``apt-get install -y chromium``) and is skipped elsewhere.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]

#: Injected into a copy of the report (the report itself has no scripts): after
#: load, mark each image with whether it decoded, and the body as checked.
PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = document.images;
  for (var i = 0; i < imgs.length; i++) {
    imgs[i].setAttribute('data-loaded', (imgs[i].complete && imgs[i].naturalWidth > 0) ? 'yes' : 'no');
  }
  var t = document.getElementById('kpi-table');
  document.body.setAttribute('data-checked', 'images=' + imgs.length + ';kpi-rows=' +
      (t ? t.tBodies[0].rows.length : -1));
});
</script>"""


def chromium() -> str:
    exe = os.environ.get("SDCLUSTER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    msg = "Chromium not found: install Debian's package with 'apt-get install -y chromium' (or set SDCLUSTER_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def run_browser(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [exe, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
    return proc


def test_report_renders_with_all_images_and_kpi_table(cli_output, tmp_path):
    exe = chromium()
    out, rc = cli_output[:2]
    assert rc == 0
    report = out / "report.html"
    html = report.read_text(encoding="utf-8")
    n_img = html.count("<img ")
    n_rows = html[html.index('id="kpi-table"'):].split("</table>")[0].count("<tr") - 1
    assert n_img == 5 and n_rows > 0

    # screenshot first, so the CI artefact exists even when a check below fails
    folder = Path(os.environ.get("SDCLUSTER_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "compare_report.png"
    if shot.exists():
        shot.unlink()
    run_browser(exe, tmp_path / "profile2", "--window-size=1280,2400", f"--screenshot={shot}",
                report.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert float(pixels[..., :3].std()) > 0.05  # not a blank page

    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_browser(exe, tmp_path / "profile1", "--virtual-time-budget=10000", "--dump-dom",
                      probed.as_uri()).stdout
    assert f'data-checked="images={n_img};kpi-rows={n_rows}"' in dom, dom[:500]
    assert dom.count('data-loaded="yes"') == n_img
    assert 'data-loaded="no"' not in dom
    assert re.search(r'<table id="kpi-table"', dom)
