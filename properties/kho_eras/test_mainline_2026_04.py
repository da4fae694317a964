"""KHO in mainline after 9ec953298948 (April 2026; model/kho/mainline_2026_04): every scenario x
property pinned, and the fix's verdict change named by applying the ledger one delta at a time.

The default vmalloc-huge-unwind is VIOLATED (below, 6.19's bug).  The non-default preserve-pages-pfn0 /
preserve-success-restorable is VIOLATED: the range walk's PFN 0 bug (a kernel bug present in
every era, explained in khomc.scenarios.luo.preserve_pages_pfn0 and test_k7_1.py); no commit in
the stored sources changes ``min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn))``.  Later
mainline keeps it: 91e74fa8b1bc ("kho: make sure preservations do not span multiple NUMA
nodes", after every era here) follows it with ``while (pfn_to_nid(pfn) != pfn_to_nid(pfn +
(1UL << order) - 1)) order--;``, which at PFN 0 (order 0xffffffff, a 64-bit shift: count mod
64 = 63) asks for the node of PFN 2**63 - 1, far outside any memmap; Pratyush Yadav's
__kho_preserve_pages_order fix of 2026-05-19 (Fixes: 91e74fa8b1bc) moves that computation
into one helper for preserve and unpreserve, unchanged at PFN 0.  On the prefix without its last delta, subtree-full /
conversion-race-free is VIOLATED - the kernel bug 9ec953298948 fixes (Fixes: 3dc92c311498): with
the root FDT page full so that fdt_add_subnode fits and an fdt_setprop does not, kho_add_subtree
returned the raw libfdt error and left the incomplete node, which was handed over.

vmalloc-huge-unwind's two VIOLATED verdicts are 6.19's (test_k6_19.py): kho_preserve_vmalloc's
err_free unwinds with the caller's preservation->order, unchanged in this era.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.kho.mainline_2026_04 import ERA
from khomc.registry import build, scenario, scenarios

H, V = Verdict.HOLDS, Verdict.VIOLATED

BUILTIN = {"assertions": H, "deadlock-free": H, "terminates": H}
PROMISES = {"conversion-race-free": H, "no-preserved-page-lost": H, "memory-safety": H,
            "handed-over-metadata-live": H}
GUARDS = {"kexec-reached": H, "next-kernel-revived": H}
ALL = {**BUILTIN, **PROMISES, **GUARDS}
SPEC = "mainline-2026-04"

PINNED = {
    "test-kho": (69, {**ALL, "kho-restore-succeeded": H}),
    "test-kho-race": (630, {**ALL, "kho-restore-succeeded": H}),
    "fdbox-race": (10174, ALL),
    "fdt-max-grow": (25, ALL),
    "subtree-full": (4724, ALL),
    "preserve-pages-race": (118, {**ALL, "preserve-success-restorable": H}),
    "vmalloc-huge-unwind": (158, {**ALL, "no-preserved-page-lost": V,
                                  "failed-preserve-undone": V}),
    "preserve-pages-pfn0": (49, {**ALL, "preserve-success-restorable": V}),
}


def test_every_scenario_is_pinned():
    assert {s.name for s in scenarios(SPEC)} - {"memfd-luo", "luo-session-race", "three-preservers"} == set(PINNED)  # test_memfd_luo.py


@pytest.mark.parametrize("name", sorted(PINNED))
def test_scenario_verdicts_and_state_count(name):
    distinct, expected = PINNED[name]
    r = check(build(SPEC, name))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct
    assert r.seconds < 20, f"{name} took {r.seconds:.1f} s: no longer a default-size scenario"


def test_ledger_is_7_1_plus_blob_size_and_the_fix():
    assert [d.commit for d in ERA.ledger()] == [
        "cab056f2aae7", "3f2ad90060f6", "6b0dd42d7681",
        "20260126-kho-v5-0-7cd0f69ab204@debian.org",
        "00d0b372374f", "9ec953298948"]
    assert ERA.deltas[-1].fixes == "3dc92c311498"


def test_the_fix_is_the_commit_that_flips_subtree_full():
    sc = scenario(SPEC, "subtree-full")
    got = [check(sc.build(kernel=ERA.namespace(u), **sc.params)) for u in range(4)]
    assert [r.property("conversion-race-free").verdict for r in got] == [V, V, V, H]
    assert [r.distinct for r in got] == [7124, 4726, 4726, 4724]


def test_blob_size_is_written_and_required():
    """The handed-over root names every subtree with preserved-data and blob-size; a node
    without blob-size is -EINVAL to kho_retrieve_subtree (the size is checked after phys)."""
    from khomc.kho import rootfdt
    from khomc.kho.fdt import unflatten
    from khomc.kho.v5.kexec_handover_in import NextKernel
    k = ERA.namespace()
    blob = rootfdt.setup("kho-v2", "preserved-memory-map", 0x5000)
    blob, err = rootfdt.add_subtree_props(blob, "a", (("preserved-data", (0x7000).to_bytes(8, "little")),
                                                      ("blob-size", (16).to_bytes(8, "little"))), True)
    blob, err2 = rootfdt.add_subtree_props(blob, "b", (("preserved-data", (0x8000).to_bytes(8, "little")),), True)
    assert (err, err2) == (0, 0)
    nk = NextKernel(True, "", unflatten(blob).tree, frozenset(), frozenset(), ())
    assert k.kho_retrieve_subtree(nk, "a") == 0x7000
    assert k.kho_retrieve_subtree(nk, "b") == -22
    assert k.kho_retrieve_subtree(nk, "c") == -2


def test_a_failed_retrieve_is_remembered_since_00d0b372374f():
    """6.19's luo_retrieve_file calls .retrieve again after a failure; the stored 00d0b372374f
    returns the kept retrieve_status without calling it."""
    from types import SimpleNamespace
    from khomc.kho.k6_19 import ERA as K619
    got = []
    for era in (K619, ERA):
        k = era.namespace()
        calls = []
        ops = SimpleNamespace(failing=lambda *a: (calls.append(a), (-5, None))[1])
        inc = k.Incoming(ops, None, (), ())
        session = k.IncomingSession("s0")
        session.files.append(k.IncomingFile(k.FileHandler("x", (("retrieve", "failing"),)), 1, 0))
        errs = [k.luo_retrieve_file(inc, session, 1)[0] for _ in range(2)]
        got.append((errs, len(calls)))
    assert got == [([-5, -5], 2), ([-5, -5], 1)]


@pytest.mark.parametrize("params", [{"fail_allocs": 0}, {"mutants": "vmalloc-unwind-own-order"}])
def test_vmalloc_huge_unwind_needs_the_failure_and_the_callers_order(params):
    r = check(build('mainline-2026-04', "vmalloc-huge-unwind", params))
    assert r.exhaustive and Verdict.VIOLATED not in {p.verdict for p in r.properties}
