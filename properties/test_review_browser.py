"""review/index.html renders in headless Chromium without console errors and shows the matrix.

Needs Debian's chromium (installed by .ci/run); skipped where it is absent.  The first test
shows the console check can fail.
"""

import io
import re
import shutil
import subprocess

import pytest

from khomc.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def render(path, profile):
    """(DOM after load, console messages) of a local HTML file."""
    p = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                        path.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    console = re.findall(r"CONSOLE[^\]]*\] (.*)", p.stderr)
    return p.stdout, console


def test_console_errors_are_detected(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); nope();</script></body></html>")
    _dom, console = render(page, tmp_path / "profile")
    assert any("boom" in c for c in console)
    assert any("Uncaught ReferenceError" in c for c in console)


def test_review_page_renders_with_the_matrix(tmp_path):
    code = main(["review", "--spec", "counter", "--workers", "1", "--no-progress",
                 "--out", str(tmp_path / "review")], out=io.StringIO())
    assert code == 0
    dom, console = render(tmp_path / "review" / "index.html", tmp_path / "profile")
    assert console == []
    assert 'id="matrix"' in dom and "VIOLATED" in dom and "HOLDS" in dom
    assert dom.count("<svg") >= 3


PROBE = """<script>
const svgs = [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width);
const ex = document.querySelector('.explanation');
const cells = [...document.querySelectorAll('#matrix td')].map(td => td.textContent);
const out = document.createElement('pre');
out.id = 'probe';
out.textContent = JSON.stringify({svgs: svgs, page: document.documentElement.scrollWidth,
  explanation: ex ? ex.textContent : null, cells: cells});
document.body.appendChild(out);
</script>"""


def test_matrix_explanation_and_svgs_fit_1400px_in_chromium(tmp_path):
    import json
    code = main(["review", "--spec", "k6.19", "--spec", "counter", "--workers", "1",
                 "--no-progress", "--out", str(tmp_path / "review")], out=io.StringIO())
    assert code == 0
    page = (tmp_path / "review" / "index.html").read_text()
    assert "<script" not in page                      # the report itself runs no scripts
    probe = tmp_path / "review" / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    p = subprocess.run([CHROMIUM, *FLAGS, "--window-size=1400,900",
                        f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                        probe.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="probe">(.*?)</pre>', p.stdout, re.S)
    assert m, p.stderr[-500:]
    got = json.loads(html_unescape(m.group(1)))
    assert any(re.fullmatch(r"VIOLATED in (\d+) of (\d+) \(HOLDS \d+\)", c) for c in got["cells"])
    assert any(re.fullmatch(r"HOLDS in (\d+) of \1", c) for c in got["cells"])
    assert got["explanation"].startswith("What broke.") and "PFN" in got["explanation"]
    assert got["svgs"] and max(got["svgs"]) <= 1400
    assert got["page"] <= 1400


def html_unescape(text):
    import html
    return html.unescape(text)
