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
    assert "| no-lost-update | final | **VIOLATED** |" in md
    assert 'id="matrix"' in page and "VIOLATED" in page
    assert "khomc replay" in md
    assert (tmp_path / "rev" / "traces" / "counter-racy-no-lost-update.json").exists()
    assert "] counter/spin ... VIOLATED" in out.getvalue()
