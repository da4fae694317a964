"""KHO 6.16 and 6.18: every scenario x property, with the verdict and the distinct-state count pinned.

Every VIOLATED verdict is a finding with its trace in traces/corpus/ (replayed by
properties/test_corpus.py) and the reasoning below.  Where 6.18 fixed or broke what 6.16 did,
both verdicts are pinned side by side.

* preserve-race / no-preserved-page-lost, 6.16 AND 6.18 - a flaw of the design (the race the v5
  review asked about, 20250321134629.GA252045@nvidia.com).  kho_preserve_folio reads
  kho_out.finalized with no lock, and kho_out_finalize_set sets it only after kho_finalize has
  returned.  A preserve of an order-1 folio passes the check, kho_finalize serializes the
  tracker (kho_mem_serialize walks the orders xarray), and only then does the preserver
  xa_cmpxchg its new order-1 kho_mem_phys into the xarray and set its bit: preserve returned 0,
  but no chunk points at that bitmap, so the next kernel never reserves the folio.  (A preserve
  into an already-existing bitmap survives, because the chunks point at the LIVE bitmaps; only a
  new order or a new bitmap index is lost.)  6.18's 469661d0d3a5 moves the check into
  __kho_preserve_order but leaves it unlocked and before xa_load_or_alloc, so the same schedule
  still loses the folio.
* test-kho-refinalize / no-preserved-page-lost and kho-restore-succeeded, 6.16 and 6.18 -
  a flaw of the design's abort.  test_kho preserves its data folios at module init ("anytime
  before finalization", v7's API) and only the FDT folio in its FINALIZE callback.  kho_abort
  frees every bitmap, unpreserving the client's data folios too; the second finalize re-runs
  the callbacks, which re-preserve only the FDT folio.  The next kernel finds the subtree but
  not the data: "KHO restore failed".  Pratyush Yadav and Pasha Tatashin discussed exactly this
  (../shared/reference/kho-semantics.md §5, "Abort semantics"); 6.19's 99cd2ffac697 stops abort
  from unpreserving.
* abort-then-kexec / conversion-race-free, 6.16 - a flaw of the design.  kho_fill_kimage set
  image->kho.fdt at kexec_file_load regardless of finalization, and kho_abort neither clears the
  root FDT page nor stops a loaded image, so a kexec after "echo 0 > finalize" hands over the
  aborted finalize's FDT, whose preserved-memory-map points at chunk pages and bitmaps that
  kho_abort has kfree()d.  (The next kernel here still restores test_kho's folios, because the
  model never reuses freed memory - KASAN's quarantine; in a running kernel those pages are
  free for reuse, and the next kernel would reserve whatever their bytes say.)
* abort-then-kexec / no-preserved-page-lost, 6.18 - the 6.16 flaw closed the other way.
  f322a97aeb2a makes kho_fill_kimage pass the FDT only if finalized, so the stale FDT is gone,
  but the finalized state is sampled at kexec_file_load, and here the load came before the
  finalize: no KHO state is handed over at all, test_kho's preserved folios are lost and
  next-kernel-revived is unreachable.  (Had the load come after the finalize, the abort would
  not have withdrawn the FDT from the loaded image either: the sample is not re-taken.)
* fdbox-race / no-preserved-page-lost, 6.18 (HOLDS in 6.16) - a usage 6.18 no longer supports.
  The operator loads the next kernel before finalizing (v5's goal: move kexec_file_load out of
  the blackout window, 20250323190204.742672-1-changyuanl@google.com); since f322a97aeb2a the
  image then carries no KHO FDT, and the FDBoxes' saved fds are gone.  6.19's d7255959b69a
  ("allow kexec load before finalization") brings the order back.
* double-restore / restore-at-most-once, 6.16 (HOLDS in 6.18) - driver misuse that 6.16 cannot
  detect.  test_kho lists its folio twice; 6.16's kho_restore_folio reads the order from
  page->private and hands the same page out twice.  6.18's page magic (89a3ecca49ee) is cleared
  by the first restore, so the second returns NULL (and test_kho reports "KHO restore failed",
  pinned as kho-restore-succeeded VIOLATED in 6.18 double-restore).
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build, scenarios

H, V = Verdict.HOLDS, Verdict.VIOLATED

BASE = {"assertions": H, "deadlock-free": H, "terminates": H, "conversion-race-free": H,
        "no-preserved-page-lost": H, "memory-safety": H, "restore-at-most-once": H,
        "kexec-reached": H, "finalize-succeeded": H, "next-kernel-revived": H}
TK = {**BASE, "kho-restore-succeeded": H}
LOST = {"no-preserved-page-lost": V}

PINNED = {
    "k6.16": {
        "test-kho": (165, TK),
        "fdbox-race": (227169, BASE),
        "preserve-race": (1437, {**BASE, **LOST}),
        "test-kho-refinalize": (258, {**TK, **LOST, "kho-restore-succeeded": V}),
        "abort-then-kexec": (200, {**TK, "conversion-race-free": V}),
        "double-restore": (165, {**TK, "restore-at-most-once": V}),
    },
    "k6.18": {
        "test-kho": (165, TK),
        "fdbox-race": (227169, {**BASE, **LOST, "next-kernel-revived": V}),
        "preserve-race": (1437, {**BASE, **LOST}),
        "test-kho-refinalize": (258, {**TK, **LOST, "kho-restore-succeeded": V}),
        "abort-then-kexec": (200, {**TK, **LOST, "next-kernel-revived": V,
                                   "kho-restore-succeeded": V}),
        "double-restore": (165, {**TK, "kho-restore-succeeded": V}),
    },
}

CASES = [(spec, sc) for spec in PINNED for sc in PINNED[spec]]


@pytest.mark.parametrize("spec", sorted(PINNED))
def test_every_scenario_is_pinned(spec):
    assert {s.name for s in scenarios(spec)} == set(PINNED[spec])


@pytest.mark.parametrize("spec,name", CASES, ids=[f"{a}/{b}" for a, b in CASES])
def test_verdicts_and_state_count(spec, name):
    distinct, expected = PINNED[spec][name]
    r = check(build(spec, name))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct
    assert r.seconds < 20, f"{spec}/{name} took {r.seconds:.1f} s: no longer a default scenario"


@pytest.mark.parametrize("spec", ["k6.16", "k6.18"])
def test_selftest_prints_restore_succeeded(spec):
    """The kernel selftest's sequence (module init, finalize, load, kexec) passes in both."""
    r = check(build(spec, "test-kho"))
    assert r.property("kho-restore-succeeded").verdict is H
    assert r.property("no-preserved-page-lost").verdict is H


def test_preserve_race_schedule_is_the_unlocked_check():
    t = check(build("k6.16", "preserve-race")).property("no-preserved-page-lost").trace
    def label(s):
        return " ".join(e[0] for e in s.effects)
    labels = [label(s) for s in t.steps]
    check_at = next(i for i, s in enumerate(t.steps)
                    if s.task == "late" and "kho_out.finalized" in label(s))
    walk_at = next(i for i, s in enumerate(t.steps)
                   if s.task == "operator" and label(s).startswith("xa_for_each(kho_out.ser"))
    insert_at = next(i for i, s in enumerate(t.steps)
                     if s.task == "late" and label(s).startswith("xa_cmpxchg(kho_out.ser"))
    assert check_at < walk_at < insert_at, labels


def test_6_18_variant_is_a_parameterisation_not_a_copy():
    from khomc.scenarios import k6_18 as k6_18_scenarios
    src = open(k6_18_scenarios.__file__).read()
    assert "async def" not in src
