"""`khomc review` behaves like a tool: progress, Ctrl-C, --expect, refused options, trace names
with bounds, exit codes (README: 0 report written, 1 a verdict differs from --expect, 2 bad
input or a check failed, 130 interrupted)."""

import io
import json
import os
import signal
import subprocess
import sys

import pytest

from khomc.cli import REVIEW_REFUSES, main
from khomc.engines.result import Bounds, CheckResult, Verdict
from khomc.report.progress import ReviewProgress
from khomc.report.review import bounds_tag

ERA_ARGS = ["--spec", "k6.19", "--spec", "counter", "--no-progress"]


def _review(tmp_path, *extra, name="rev"):
    out, err = io.StringIO(), io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        code = main(["review", "--out", str(tmp_path / name), *extra], out=out)
    finally:
        sys.stderr = old
    return code, out.getvalue(), err.getvalue()


# three checks, two of them VIOLATED: enough for --expect (the whole of k6.19 took 23 s a run)
EXPECT_ARGS = [*ERA_ARGS, "--scenario", "refinalize-race", "--scenario", "racy",
               "--scenario", "locked"]


def test_violations_alone_exit_0_and_expect_decides(tmp_path):
    exp = tmp_path / "expect.json"
    code, out, _ = _review(tmp_path, *EXPECT_ARGS, "--workers", "1", "--write-expect", str(exp))
    assert code == 0                          # a k6.19 violation and a counter one: still 0
    assert set(json.loads(exp.read_text())["verdicts"]) == {
        "k6.19/refinalize-race", "counter/racy", "counter/locked"}
    d = json.loads(exp.read_text())
    assert d["format"] == "khomc-expect" and d["version"] == 1
    assert d["verdicts"]["k6.19/refinalize-race"]["memory-safety"] == "VIOLATED"
    code, out, _ = _review(tmp_path, *EXPECT_ARGS, "--workers", "1", "--expect", str(exp))
    assert code == 0 and "every verdict is as in" in out
    d["verdicts"]["k6.19/refinalize-race"]["memory-safety"] = "HOLDS"
    exp.write_text(json.dumps(d))
    code, out, _ = _review(tmp_path, *EXPECT_ARGS, "--workers", "1", "--expect", str(exp))
    assert code == 1
    assert "differs: k6.19/refinalize-race / memory-safety: expected HOLDS, got VIOLATED" in out


@pytest.mark.parametrize("content", ["", "{", "[]", '{"format": "khomc-expect", "version": 9}',
                                     '{"format": "khomc-expect", "version": 1, "verdicts": '
                                     '{"a/b": {"p": "MAYBE"}}}'])
def test_a_bad_expect_file_is_one_line_exit_2_before_any_check(tmp_path, content):
    exp = tmp_path / "e.json"
    exp.write_text(content)
    code, out, err = _review(tmp_path, *ERA_ARGS, "--expect", str(exp))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "khomc: error:" in err
    assert out == ""                           # refused before any work
    code, _, err = _review(tmp_path, *ERA_ARGS, "--expect", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err


@pytest.mark.parametrize("opt", sorted(REVIEW_REFUSES))
def test_options_that_do_not_apply_are_refused(tmp_path, opt, capsys):
    args = [opt] if opt in ("--por", "--derandomize", "--no-shrink", "--json") else [opt, "1"]
    assert main(["review", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"review: {opt} does not apply" in err
    assert not (tmp_path / "x").exists()


def test_sampling_engines_are_refused(capsys):
    assert main(["review", "--engine", "pct"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_trace_names_carry_the_bounds(tmp_path):
    code, _, _ = _review(tmp_path, "--spec", "counter", "--scenario", "racy", "--no-progress",
                         "--workers", "1")
    code2, _, _ = _review(tmp_path, "--spec", "counter", "--scenario", "racy", "--no-progress",
                          "--workers", "2", "--max-states", "1000")
    names = sorted(p.name for p in (tmp_path / "rev" / "traces").glob("*.json"))
    assert names == ["counter-racy-no-lost-update-n2-ms1000.json",
                     "counter-racy-no-lost-update-n2.json"]
    assert bounds_tag({"pages": 8, "mutants": ""}, Bounds(time_limit=2.5)) == "pages8-tl2-5"


class _TTY(io.StringIO):
    def isatty(self):
        return True


def _finished(verdict):
    r = CheckResult("k6.19", "x", {}, "bfs", Bounds(), distinct=7, seconds=0.1)
    from khomc.engines.result import PropertyResult
    r.properties = [PropertyResult("p", "always", verdict)]
    return r


def test_progress_on_a_terminal_is_rich_and_plain_elsewhere(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    tty = _TTY()
    with ReviewProgress(2, tty) as p:
        assert p.live
        p.start("k6.19/x")
        p.update("k6.19/x", 1234, 567.0)
        p._progress.refresh()
        p.finish("k6.19/x", _finished(Verdict.VIOLATED))
    text = tty.getvalue()
    assert "ETA" in text and "1,234 states" in text and "567 states/s" in text
    assert "[1/2] k6.19/x ... VIOLATED (7 states, 0.1 s)" in text and "\x1b[" in text
    monkeypatch.setenv("NO_COLOR", "1")
    tty = _TTY()
    with ReviewProgress(1, tty) as p:
        p.start("k6.19/x")
        p.finish("k6.19/x", _finished(Verdict.VIOLATED))
    assert "\x1b[31m" not in tty.getvalue() and "VIOLATED" in tty.getvalue()
    plain = io.StringIO()
    with ReviewProgress(1, plain) as p:
        assert not p.live
        p.start("k6.19/x")
        p.update("k6.19/x", 5, 1.0)
        p.finish("k6.19/x", _finished(Verdict.HOLDS))
    assert plain.getvalue() == "[1/1] k6.19/x ... HOLDS (7 states, 0.1 s)\n"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_writes_the_partial_report_and_exits_130(tmp_path, workers):
    out = tmp_path / "rev"
    env = dict(os.environ, PYTHONHASHSEED="0")
    p = subprocess.Popen([sys.executable, "-m", "khomc.cli", "review", "--out", str(out),
                          "--workers", workers, "--spec", "k6.18", "--spec", "k6.19",
                          "--spec", "k7.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    from khomc import registry
    total = sum(sc.default for spec in ("k6.18", "k6.19", "k7.1")
                for sc in registry.scenarios(spec))
    first = p.stdout.readline()                # one check finished; the others not
    assert first.startswith(f"[1/{total}] ")
    p.send_signal(signal.SIGINT)
    rest, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    md = (out / "REPORT.md").read_text()
    assert "Interrupted (Ctrl-C): this report is partial" in md
    assert "UNKNOWN in" in md                  # cells of the checks that did not finish
    assert "not run: interrupted" in (out / "results.json").read_text()
    assert 'id="matrix"' in (out / "index.html").read_text()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_search_options_review_offers_are_honoured(tmp_path, workers):
    code, _, _ = _review(tmp_path, "--spec", "counter", "--no-progress", "--workers", workers,
                         "--engine", "dfs", "--first", "--compact", "--symmetry")
    assert code == 0
    got = {r["scenario"]: r for r in json.loads((tmp_path / "rev" / "results.json").read_text())}
    assert got["racy"]["engine"] == "dfs" and got["racy"]["stop"] == "first"
    assert "64-bit fingerprints" in got["locked"]["reductions"]
    assert any("symmetry" in x for x in got["racy"]["reductions"])
