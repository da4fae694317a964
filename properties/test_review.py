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
        assert "**What broke.**" in s and "**Deciding steps.**" in s and " VIOLATED ***" in s
