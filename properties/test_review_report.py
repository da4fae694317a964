"""The review report's parts: splats, SVG sequence diagrams, coverage, era changes, replay
against another era."""

import io
import xml.etree.ElementTree as ET

from khomc import registry
from khomc.cli import main
from khomc.engines.result import Bounds, CheckResult, PropertyResult, Verdict
from khomc.engines.search import check
from khomc.report.review import era_changes, matrix_cells
from khomc.report.splat import splat
from khomc.report.svg import sequence_diagram


def test_deadlock_splat_is_lockdep_shaped():
    t = check(registry.build("counter", "abba", {})).property("deadlock-free").trace
    text = splat(t)
    assert "WARNING: possible circular locking dependency detected" in text
    assert "CPU0 (cpu0)" in text and "CPU1 (cpu1)" in text
    assert text.count("<- sleeps forever") == 2
    assert text.rstrip().endswith("*** DEADLOCK: deadlock-free VIOLATED ***")


def test_sequence_diagram_is_valid_svg_with_lanes_and_arrows():
    t = check(registry.build("counter", "racy", {"N": 2})).property("no-lost-update").trace
    svg = sequence_diagram(t)
    root = ET.fromstring(svg)
    texts = [el.text for el in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"inc0", "inc1", "count"} <= set(texts)
    lines = [el for el in root.iter("{http://www.w3.org/2000/svg}line")
             if el.get("marker-end")]
    assert len(lines) == 4                        # two reads, two writes
    assert sum(1 for el in lines if el.get("stroke") == "#b00") == 2   # the writes


def test_coverage_lists_unreached_await_points():
    r = check(registry.build("spinkho", "ok", {"N": 2, "K": 1}))
    # the BUG variant's separate increment is dead code in the OK variant
    assert [(f, fn) for f, _l, fn in r.unreached] == [("spinkho.py", "driver")]
    assert check(registry.build("spinkho", "bug", {"N": 2, "K": 1})).unreached == []


def _result(spec, scenario, verdicts):
    r = CheckResult(spec, scenario, {}, "bfs", Bounds())
    r.properties = [PropertyResult(n, "always", v) for n, v in verdicts.items()]
    return r


def test_era_changes_and_matrix(monkeypatch):
    monkeypatch.setattr(registry.spec_module("spinkho"), "PREVIOUS", "counter", raising=False)
    monkeypatch.setattr(registry.spec_module("spinkho"), "CHANGES", "made it atomic",
                        raising=False)
    old = _result("counter", "x", {"p": Verdict.VIOLATED, "q": Verdict.HOLDS})
    new = _result("spinkho", "x", {"p": Verdict.HOLDS, "q": Verdict.HOLDS})
    (spec, prev, what, diffs), = era_changes([old, new])
    assert (spec, prev, what) == ("spinkho", "counter", "made it atomic")
    assert diffs == ["x / p: VIOLATED in counter -> HOLDS in spinkho"]
    cells = matrix_cells([old, _result("counter", "y", {"p": Verdict.HOLDS})])
    assert cells["counter"]["p"][0] is Verdict.VIOLATED and cells["counter"]["p"][1] == "x"


def test_replay_against_an_era(tmp_path):
    out = io.StringIO()
    path = "traces/corpus/counter-racy-no-lost-update.json"
    assert main(["replay", path, "--against", "counter", "--quiet"], out=out) == 1
    assert ": STILL: " in out.getvalue()
    # no scenario 'racy' in spinkho: the schedule CANNOT APPLY (exit 3), not a usage error
    assert main(["replay", path, "--against", "spinkho", "--quiet"], out=io.StringIO()) == 3
    assert main(["replay", path, "--against", "nosuch"], out=io.StringIO()) == 2


def test_review_report_has_every_part(tmp_path):
    out = io.StringIO()
    code = main(["review", "--spec", "counter", "--workers", "1", "--no-progress",
                 "--out", str(tmp_path)], out=out)
    assert code == 0
    md = (tmp_path / "REPORT.md").read_text()
    page = (tmp_path / "index.html").read_text()
    assert "## Examples (toy specs, not KHO)" in md and "*** DEADLOCK: deadlock-free VIOLATED ***" in md
    assert "(traces/counter-abba-deadlock-free-default.svg)" in md
    assert (tmp_path / "traces" / "counter-abba-deadlock-free-default.svg").exists()
    assert "## Coverage" in md
    assert page.count("<svg") >= 3 and 'id="matrix"' in page


def test_review_chooses_eras_and_scenarios(tmp_path):
    out = io.StringIO()
    code = main(["review", "--spec", "k6.19", "--spec", "k7.1", "--scenario", "test-kho-race",
                 "--workers", "1", "--no-progress", "--out", str(tmp_path)], out=out)
    assert code == 0
    md = (tmp_path / "REPORT.md").read_text()
    assert "| k6.19 | test-kho-race |" in md and "| k7.1 | test-kho-race |" in md
    assert "fdbox-race" not in md
    # 7.1 closes 6.19's lost preserve: the per-commit section names the radix-tree commit
    assert ("| `3f2ad90060f6` |" in md and
            "| test-kho-race | no-preserved-page-lost | VIOLATED | **HOLDS** |" in md)
    assert main(["review", "--scenario", "nosuch", "--out", str(tmp_path / "x")],
                out=io.StringIO()) == 2


def test_verdict_changes_render_commit_rows():
    from khomc.report.review import render_verdict_changes
    rows = [("3dc92c311498", "kho: add subtree API", "test-kho", "memory-safety", "HOLDS",
             "VIOLATED"),
            ("3dc92c311498", "kho: add subtree API", "fdbox-race", "no-preserved-page-lost",
             "VIOLATED", "HOLDS"),
            ("4e1d010e3bda", "kho: docs", "", "", "", "")]
    md = render_verdict_changes(rows)
    assert md.splitlines()[2] == ("| `3dc92c311498` | kho: add subtree API | test-kho | "
                                  "memory-safety | HOLDS | **VIOLATED** |")
    assert md.splitlines()[3].startswith("|  |  | fdbox-race |")      # same commit, not repeated
    assert "| `4e1d010e3bda` | kho: docs | — | no verdict changed" in md
    page = render_verdict_changes(rows, md=False)
    assert page.count("<tr>") == 4 and '<td class="VIOLATED">VIOLATED</td>' in page
    assert "No verdict changed" in render_verdict_changes([])
