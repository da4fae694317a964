"""``khomc bisect`` and ``khomc list``'s ledgers on the 6.16 -> 6.17 -> 6.18 chain.

Each bisect below names the commit that flips a verdict the era pins
(properties/kho_eras/test_k6_16_k6_18.py) and is checked against the C: 89a3ecca49ee adds the
page magic that makes a second restore fail; f322a97aeb2a stops kho_fill_kimage from handing
over an FDT that no finalize in effect produced; fa759cd75bce allocates the bitmaps from the
page allocator while kho_abort still kfree()s them; b05addf6f059 stops the range unwind from
spinning (slow: range-abort's 13 prefixes).
"""

import io
import json

import pytest

from khomc import cli
from khomc.bisect import BisectError, bisect, chain
from khomc.engines.search import check
from khomc.engines.result import Verdict
from khomc.kho import k6_16, k6_17, k6_18

H, V, U = Verdict.HOLDS, Verdict.VIOLATED, Verdict.UNKNOWN


def _run(*argv):
    out = io.StringIO()
    code = cli.main(list(argv), out)
    return code, out.getvalue()


@pytest.mark.parametrize("scenario,prop,commit,before,after", [
    ("double-restore", "restore-at-most-once", "89a3ecca49ee", V, H),
    ("abort-then-kexec", "conversion-race-free", "f322a97aeb2a", V, H),
    ("test-kho-refinalize", "memory-safety", "fa759cd75bce", H, V),
    ("test-kho-refinalize", "restore-returns-preserved", "89a3ecca49ee", V, H),
    ("abort-then-kexec", "handed-over-metadata-live", "f322a97aeb2a", V, H),
])
def test_bisect_names_the_commit(scenario, prop, commit, before, after, tmp_path):
    r = bisect("k6.16", "k6.18", scenario, prop, trace_dir=str(tmp_path))
    c = r.culprit
    assert c is not None and c.commit == commit, r.render()
    assert (r.steps[r.first_flip - 1].verdict, c.verdict) == (before, after)
    assert len(r.steps) == 1 + len(k6_17.ERA.deltas) + len(k6_18.ERA.deltas)
    assert all(s.verdict is not U for s in r.steps)
    violated = [s for s in (r.steps[r.first_flip - 1], c) if s.verdict is V]
    assert violated and all(s.trace_path and json.load(open(s.trace_path)) for s in violated)


@pytest.mark.slow
def test_bisect_names_the_unwind_fix(tmp_path):
    """range-abort spins in 6.16's __kho_unpreserve; b05addf6f059 (Fixes: fc33e4b44b27) stops it."""
    r = bisect("k6.16", "k6.18", "range-abort", "terminates", trace_dir=str(tmp_path))
    assert r.culprit.commit == "b05addf6f059" and r.culprit.verdict is H
    assert [s.verdict for s in r.steps[:r.first_flip]] == [V] * r.first_flip


def test_bisect_cli_prints_the_commit_and_both_sides(tmp_path):
    code, out = _run("bisect", "k6.18", "double-restore", "restore-at-most-once",
                     "--good", "k6.16", "--bad", "k6.18", "--trace-dir", str(tmp_path))
    assert code == 0, out
    assert "first commit that flips restore-at-most-once: 89a3ecca49ee" in out
    assert "trace at k6.17+3:" in out and "trace at k6.18+1:" in out


def test_bisect_without_a_flip_says_so(tmp_path):
    code, out = _run("bisect", "k6.18", "test-kho", "kho-restore-succeeded",
                     "--good", "k6.16", "--bad", "k6.17", "--trace-dir", str(tmp_path))
    assert code == 1 and "no commit flips kho-restore-succeeded: HOLDS throughout" in out


@pytest.mark.parametrize("argv,needle", [
    (("k6.18", "test-kho", "memory-safety", "--good", "k6.18", "--bad", "k6.16"),
     "k6.18 is not an ancestor of k6.16"),
    (("k6.18", "test-kho", "memory-safety", "--good", "k6.99", "--bad", "k6.18"),
     "unknown spec 'k6.99'"),
    (("k6.18", "test-kho", "memory-safety", "--good", "v5", "--bad", "k6.18"),
     "v5 is not an ancestor of k6.18"),
    (("counter", "racy", "no-lost-update", "--good", "counter", "--bad", "counter"),
     "no commit ledger"),
    (("k6.18", "no-such", "memory-safety", "--good", "k6.16", "--bad", "k6.18"),
     "unknown scenario 'no-such'"),
    (("k6.18", "test-kho", "no-such-property", "--good", "k6.16", "--bad", "k6.17"),
     "unknown property 'no-such-property'"),
    (("k6.18", "test-kho", "memory-safety", "--good", "k6.16", "--bad", "k6.17", "-D", "x=1"),
     "has no parameter 'x'"),
    (("k6.18", "test-kho", "memory-safety", "--bad", "k6.17"), "--good"),
])
def test_bisect_bad_input_is_one_line_exit_2(argv, needle, capsys):
    code, _ = _run("bisect", *argv)
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1, err


def test_chain_walks_previous():
    assert [e.name for e in chain(k6_16.ERA, k6_18.ERA)] == ["k6.17", "k6.18"]
    with pytest.raises(BisectError):
        chain(k6_18.ERA, k6_16.ERA)


def test_a_prefix_that_cannot_build_the_scenario_is_unknown(monkeypatch, tmp_path):
    """A scenario calling a function a later commit adds cannot be built before it: UNKNOWN,
    with the reason, never a verdict."""
    from khomc import registry
    from khomc.runtime import Scenario
    from khomc.scenarios import k6_16 as base

    def needs_pages(kernel=None, pages=8):
        kernel.kho_restore_pages                    # 8375b76517cb adds it
        return base._test_kho(kernel, 1, pages)

    sc = Scenario("needs-pages", needs_pages, {"pages": 8}, "test")
    real = registry.scenario
    monkeypatch.setattr(registry, "scenario",
                        lambda spec, name: sc if name == "needs-pages" else real(spec, name))
    r = bisect("k6.17", "k6.18", "needs-pages", "memory-safety", trace_dir=str(tmp_path))
    assert [s.verdict for s in r.steps[:4]] == [U] * 4
    assert "cannot be built" in r.steps[0].detail and r.steps[4].verdict is H
    assert r.culprit is None and "no commit named" in r.render()


def test_list_shows_every_delta_of_the_ledgers():
    code, out = _run("list")
    assert code == 0
    for d in k6_17.ERA.deltas + k6_18.ERA.deltas:
        assert f"    {d.line()}" in out
    assert "f322a97aeb2a kho: only fill kimage if KHO is finalized (Fixes: 3bdecc3c93f9): " \
           "kho_fill_kimage" in out
    assert "ledger: k6.18 = k6.17 + 11 commit(s)" in out
    assert "ledger: k6.16 is a base (kexec_handover, kexec_handover_in, test_kho)" in out


def _range_race(k):
    """A 3-page range preserve (an order-1 block, then an order-0 block) || finalize, load,
    kexec: the schedule 469661d0d3a5 is about."""
    from khomc.promises import k6_16 as props
    from khomc.scenarios import k6_16 as base
    m, kho, loaded = base._machine(k, "range-race", _range_race.__doc__, 8, 2)
    m.task("range", base.range_preserver, k, kho, 3)
    m.task("operator", base.operator, k, kho, loaded, 0, base.SELFTEST)
    props.register(m, kho, props.Watch(k, kho),
                   (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


def test_469661d0d3a5_moves_the_check_and_flips_no_verdict():
    """469661d0d3a5 ("kho: check if kho is finalized in __kho_preserve_order()") changes what
    a range preserve can do - 3136 states instead of 2908: each block re-reads
    ``kho_out.finalized``, so a block after a completed finalize returns -EBUSY and unwinds
    where 6.16's kho_preserve_phys, which checked once, went on - but no bound can flip a
    verdict of the 6.16 promises with it:

    * no-preserved-page-lost: kho_out_finalize_set sets ``finalized`` only after kho_finalize
      has serialized the tracker.  Every block a preserver runs between kho_mem_serialize's
      walk of the orders xarray and ``finalized = true`` passes its check, before or after the commit alike, and a block
      whose kho_mem_phys or bitmap is new there is in no chunk: the call returns 0 and the
      page is lost.  That schedule exists whenever a preserve can race a finalize, so the
      fixed code is VIOLATED wherever the unfixed one is; where no preserve races a
      finalize, the two read the same ``finalized`` and behave alike.
    * tracker-frozen-after-finalize: a block whose check ran just before ``finalized = true``
      sets its bit just after it, in both (preserve-race's schedule, one block suffices); the
      fix even adds a way to change the frozen tracker: the -EBUSY unwind clears the bits of
      the blocks already set, in the bitmaps the chunks point at.
    * Its stated purpose is the vmalloc calls (a667300bd53f, next in the ledger), which call
      __kho_preserve_order directly: at every prefix that has them the check is already in,
      so no prefix of the ledger has vmalloc without it.
    """
    before, after = k6_18.ERA.namespace(2), k6_18.ERA.namespace(3)
    assert [d.commit for d in after.APPLIED][-1] == "469661d0d3a5"
    rb, ra = check(_range_race(before)), check(_range_race(after))
    assert rb.exhaustive and ra.exhaustive
    assert (rb.distinct, ra.distinct) == (2908, 3136)
    verdicts = {p.name: p.verdict for p in ra.properties}
    assert verdicts == {p.name: p.verdict for p in rb.properties}
    assert verdicts["no-preserved-page-lost"] is V and verdicts["tracker-frozen-after-finalize"] is V
