"""`khomc review`: checks the default matrix and writes REPORT.md and index.html."""

from khomc.cli import main


def test_review_writes_both_files(tmp_path):
    import io
    out = io.StringIO()
    code = main(["review", "--out", str(tmp_path / "rev"), "--spec", "counter", "--no-progress"],
                out=out)
    assert code == 0
    md = (tmp_path / "rev" / "REPORT.md").read_text()
    page = (tmp_path / "rev" / "index.html").read_text()
    assert "| counter | racy | N=2 | bfs, exhaustive | 12 | 0.0 | VIOLATED: no-lost-update; " \
        "HOLDS 4 of 5 |" in md
    assert "[VIOLATED in 2 of 3 (HOLDS 1)](#counter-racy-no-lost-update)" in md
    assert 'id="matrix"' in page and "VIOLATED" in page
    assert "khomc replay" in md
    # trace names carry the bounds, so reruns with other bounds do not overwrite them
    assert (tmp_path / "rev" / "traces" / "counter-racy-no-lost-update-n2.json").exists()
    assert "] counter/spin ... VIOLATED" in out.getvalue()


import pytest  # noqa: E402


@pytest.mark.slow
def test_default_review_is_concise_and_explains_every_violation(tmp_path):
    import io
    import re
    assert main(["review", "--out", str(tmp_path), "--no-progress"], out=io.StringIO()) == 0
    md = (tmp_path / "REPORT.md").read_text()
    assert len(md.encode()) <= 150_000
    matrix = md.split("## Matrix: kernel eras × property")[1].split("##")[0]
    assert "| counter |" not in matrix and "| spinkho |" not in matrix and "| k6.19 |" in matrix
    sections = re.split(r"^### ", md.split("## Violations")[1].split("\n## ")[0], flags=re.M)[1:]
    assert len(sections) >= 20
    full = {re.search(r'<a id="([^"]+)"', s).group(1) for s in sections if "**What broke.**" in s}
    for s in sections:
        if "(example)" in s.splitlines()[0]:
            continue                  # the toys in brief beside the kernel eras
        same = re.search(r"The same counterexample as \[[^]]+\]\(#([^)]+)\)", s)
        if same:
            assert same.group(1) in full
            continue
        assert "**What broke.**" in s
        if "(Splat: index.html.)" in s:       # the tersest level: a check's later violations
            continue
        assert "**Deciding steps.**" in s
        schedule = re.search(r"The schedule is \[[^]]+\]\(#([^)]+)\)'s above", s)
        assert (schedule and schedule.group(1) in full) or " VIOLATED ***" in s


def test_one_schedule_of_one_check_is_drawn_once(tmp_path):
    """6.18 vmalloc-chunk-full's no-preserved-page-lost, restore-returns-preserved and
    memory-safety are one shortest schedule: the first is drawn, the others say whose it is
    and keep their own explanation."""
    import io
    import re
    assert main(["review", "--out", str(tmp_path), "--spec", "k6.18", "--scenario",
                 "vmalloc-chunk-full", "--no-progress"], out=io.StringIO()) == 0
    md = (tmp_path / "REPORT.md").read_text()
    sections = re.split(r"^### ", md.split("## Violations")[1].split("\n## ")[0], flags=re.M)[1:]
    drawn = {re.search(r'<a id="([^"]+)"', s).group(1) for s in sections if " VIOLATED ***" in s}
    refs = [re.search(r"The schedule is \[[^]]+\]\(#([^)]+)\)'s above", s) for s in sections]
    refs = [m.group(1) for m in refs if m]
    assert len(refs) >= 2 and set(refs) <= drawn
    assert all("**What broke.**" in s for s in sections)


def test_the_tersest_level_keeps_every_violation_named(tmp_path):
    """When no other level fits, a check's later violations are one paragraph each: the same
    headings, each with what broke, and a shorter report."""
    import re
    from khomc.engines.search import check
    from khomc.registry import build
    from khomc.report import review
    r = check(build("k6.18", "vmalloc-chunk-full"))
    viols = review.violations([r], tmp_path)
    full = review.markdown([r], tmp_path, viols=viols, budget=None)
    tiny = review.markdown([r], tmp_path, viols=viols, budget=1)    # only the last level
    assert "(Splat: index.html.)" in tiny and "(Splat: index.html.)" not in full

    def heads(md):
        return re.findall(r"^### .*", md, flags=re.M)

    assert heads(tiny) == heads(full) and len(heads(tiny)) == 4
    assert tiny.count("**What broke.**") == 4 and len(tiny) < len(full)


def test_fold_rows_keeps_the_deciding_and_last_rows():
    from khomc.report.review import fold_rows
    splat = "\n".join(["BUG", "", "       CPU0 (a)    CPU1 (b)", "       ----        ----",
                       "    1  x;", "    2              y;", "=>  3  z;", "    4              w;",
                       "    5  v;", "       y;   <- sleeps forever", "", " *** p VIOLATED ***"])
    short = fold_rows(splat, 2)
    assert "=>  3  z;" in short and "    5  v;" in short and "<- sleeps forever" in short
    assert "    1  x;" not in short and "    4" not in short
    assert "(2 rows folded: see index.html)" in short and "(1 row folded" in short
    assert short.endswith(" *** p VIOLATED ***")
    assert fold_rows(splat, None) == splat and fold_rows(splat, 5) == splat


def test_markdown_shortens_itself_to_the_budget(tmp_path):
    """REPORT.md renders at the fullest brevity level that fits the byte budget, says so, and
    keeps every violation's section and splat footer."""
    from khomc.engines.result import Bounds
    from khomc.report import review

    class Quiet:
        def start(self, key): pass
        def update(self, key, d, rate): pass
        def finish(self, key, r): pass

    results, _ = review.collect(["spinkho", "counter"], Bounds(), "bfs", Quiet())
    viols = review.violations(results, tmp_path)
    full = review.markdown(results, tmp_path, viols=viols, budget=None)
    assert "Shortened to fit" not in full
    fit = review.markdown(results, tmp_path, viols=viols, budget=len(full.encode()) - 1)
    assert len(fit.encode()) < len(full.encode()) and "Shortened to fit" in fit
    assert fit.count("VIOLATED ***") == full.count("VIOLATED ***")
    assert fit.count("\n### ") == full.count("\n### ")


def test_cut_lines_cuts_only_long_lines():
    from khomc.report.review import cut_lines
    text = "short\n" + "x" * 50
    assert cut_lines(text, None) == text and cut_lines(text, 50) == text
    assert cut_lines(text, 10) == "short\n" + "x" * 9 + "…"


def test_cut_changes_keeps_the_first_lines_of_the_block():
    from khomc.report.review import cut_changes
    splat = "\n".join(["x", "", " State changes (of the deciding steps first):",
                       "  step 1 (a): p: 0 -> 1", "  step 2 (b): q: 0 -> 1",
                       "  (3 more changes of the other steps: see the trace)", "",
                       " *** p VIOLATED ***"])
    short = cut_changes(splat, 1)
    assert "step 1" in short and "step 2" not in short and "3 more" not in short
    assert "(more changes: see the trace)" in short and short.endswith("VIOLATED ***")
    assert cut_changes(splat, None) == splat


def test_a_check_up_to_symmetry_says_so_in_the_checks_table():
    """A scenario reviewed up to symmetry (Scenario.symmetry) says so in the checks table."""
    from khomc.engines.search import check
    from khomc.registry import build
    from khomc.report.review import _how_run
    plain = check(build("counter", "racy", {"N": 2}))
    sym = check(build("counter", "racy", {"N": 2}), symmetry=True)
    assert _how_run(plain) == "exhaustive"
    assert _how_run(sym) == "exhaustive up to symmetry"
