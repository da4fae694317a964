"""``khomc prove``: the table, JSON, and the exit codes 0 / 1 / 2 / 3."""

import io
import json
import sys

import khomc.smt as smt
from khomc.cli import main
from khomc.smt.core import IN_DOMAIN, ObligationResult, Status


def khomc(*args):
    out, err = io.StringIO(), io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        code = main(list(args), out=out)
    finally:
        sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_prove_an_era_prints_the_table_and_exits_0():
    code, out, _ = khomc("prove", "v5")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["obligation", "eras", "kind", "status", "time"]
    row = next(line for line in lines if "kho_preserve_phys v5, unrolled" in line)
    assert "REFUTED" in row and "start_pfn=1, nr_pages=2" in row and "known-bug" in row
    assert "0 not as expected; seed 0" in lines[-1]


def test_prove_json():
    code, out, _ = khomc("prove", "6.18", "--json", "--seed", "7")
    assert code == 0
    rows = json.loads(out)
    assert all(r["seed"] == 7 and r["status"] == r["expected"] for r in rows)
    assert any(r["counterexample"].get("block_order") == 11 for r in rows)


def test_unknown_era_is_a_usage_error():
    code, out, err = khomc("prove", "6.17")
    assert code == 2 and out == ""
    assert err.strip() == ("khomc: error: unknown era '6.17'; known eras: "
                           "v5, 6.16, 6.18, 6.19, 7.1")


def _fake(status, kind=IN_DOMAIN, cex=None, reason=""):
    return ObligationResult("fake", ("7.1",), kind, status, 0.0, 0, "d", "s",
                            counterexample=cex or {}, reason=reason)


def _patch(monkeypatch, *results):
    monkeypatch.setattr(smt, "plan",
                        lambda era: [(("7.1",), lambda seed, r=r: r) for r in results])


def test_in_domain_refuted_exits_1(monkeypatch):
    _patch(monkeypatch, _fake(Status.PROVED), _fake(Status.REFUTED, cex={"pfn": 3}))
    code, out, _ = khomc("prove", "7.1")
    assert code == 1 and "pfn=3 (expected PROVED)" in out


def test_unknown_exits_3(monkeypatch):
    _patch(monkeypatch, _fake(Status.REFUTED, cex={"pfn": 3}),
           _fake(Status.UNKNOWN, reason="z3: timeout"))
    code, out, _ = khomc("prove", "7.1")
    assert code == 3 and "z3: timeout" in out
