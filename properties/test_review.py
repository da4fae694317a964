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
