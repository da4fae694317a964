"""The review's "Verdict changes per commit": a change between an era and the one before it is
attributed to the commit of the ledger that makes it (each prefix re-checked exhaustively), and
an era step that is a new base design keeps its era-to-era row, saying why."""

from khomc import registry
from khomc.engines.search import check
from khomc.report.review import verdict_change_rows


def _results(*pairs):
    out = []
    for spec, sc in pairs:
        r = check(registry.build(spec, sc, {}))
        r.spec, r.scenario = spec, sc
        out.append(r)
    return out


def test_double_restore_is_attributed_to_the_page_magic_commit():
    rows = verdict_change_rows(_results(("k6.17", "double-restore"), ("k6.18", "double-restore")))
    flips = {(c, sc, p, a, b) for c, _s, sc, p, a, b in rows if sc}
    assert ("89a3ecca49ee", "double-restore", "restore-at-most-once", "VIOLATED", "HOLDS") in flips
    assert all(c != "k6.17 → k6.18" for c, *_ in rows)          # no era-level row left


def test_a_prefix_too_big_to_recheck_keeps_the_era_row():
    rows = verdict_change_rows(_results(("k6.17", "double-restore"), ("k6.18", "double-restore")),
                               max_states=10)
    assert rows and all(c == "k6.17 → k6.18" and "not bisected" in s for c, s, *_ in rows)


def test_an_undecided_verdict_is_not_a_change():
    """UNKNOWN on one side (a bound, or a cycle of orbits left undecided up to symmetry)
    against HOLDS on the other is not a design change, so no row names it."""
    from khomc.engines.result import Verdict
    old, new = _results(("v5", "fdt-max-grow"), ("k6.16", "test-kho"))
    new.scenario = old.scenario
    rows = verdict_change_rows([old, new])
    assert rows and all(p != "terminates" for _c, _s, _sc, p, _a, _b in rows)
    term = next(p for p in new.properties if p.name == "terminates")
    term.verdict = Verdict.UNKNOWN
    assert verdict_change_rows([old, new]) == rows
    term.verdict = Verdict.VIOLATED
    assert ("terminates", "HOLDS", "VIOLATED") in {(p, a, b) for *_x, p, a, b in
                                                  verdict_change_rows([old, new])}
