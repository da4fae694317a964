"""KHO 7.1 (stateless, radix tree): every scenario x property, verdicts and state counts pinned.

Two kernel bugs: subtree-full / conversion-race-free, the kho_add_subtree error path that
7.1 keeps from 6.19 (a kernel bug since 3dc92c311498, fixed by 9ec953298948: a failed
fdt_setprop leaves the incomplete node in the handed-over root FDT and returns the raw libfdt
error; see test_k6_19.py and test_mainline_2026_04.py).  Where 6.19 broke and 7.1 fixed it,
both are shown:

* test-kho-race / no-preserved-page-lost: VIOLATED on k6.19 (a preserve that completes after
  liveupdate_reboot's finalize walked the tracker is in no chunk), HOLDS on k7.1 - the radix
  tree is handed over itself (its root address is in the root FDT from kho_init on), so every
  kho_radix_add_page that returned before machine_kexec is seen by the next kernel.
* refinalize-race has no 7.1 counterpart: there is no finalize, no chunk list to free.

vmalloc-huge-unwind's two VIOLATED verdicts are 6.19's (test_k6_19.py): kho_preserve_vmalloc's
err_free unwinds with the caller's preservation->order, unchanged in this era.

Another VIOLATED, in a non-default scenario: preserve-pages-pfn0 / preserve-success-restorable,
the range walk's PFN 0 bug that every era has (khomc.scenarios.luo.preserve_pages_pfn0):
``(unsigned int)min(count_trailing_zeros(0), ...)`` = 0xffffffff, kho_radix_add_page(0,
0xffffffff) sets key ``1UL << 53`` (52 - 0xffffffff is 53 as an unsigned int), ``pfn += 1 <<
order`` leaps past the end and the call returns 0; the next kernel decodes order 0xffffffff
and phys ``key << 11`` = 0, reserves [0, 2048) (page 0 only), and kho_restore_pages(0, 3)
returns NULL.  no-preserved-page-lost HOLDS: it judges what KHO accepted (PFN 0's record),
which the next kernel does reserve; the radix tree closes 6.19's late-preserve gap.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build, scenarios

H, V = Verdict.HOLDS, Verdict.VIOLATED

BUILTIN = {"assertions": H, "deadlock-free": H, "terminates": H}
PROMISES = {"conversion-race-free": H, "no-preserved-page-lost": H, "memory-safety": H,
            "handed-over-metadata-live": H}
GUARDS = {"kexec-reached": H, "next-kernel-revived": H}
ALL = {**BUILTIN, **PROMISES, **GUARDS}

PINNED = {
    "test-kho": (69, {**ALL, "kho-restore-succeeded": H}),
    "test-kho-race": (630, {**ALL, "kho-restore-succeeded": H}),
    "fdbox-race": (10174, ALL),
    "fdt-max-grow": (25, ALL),
    "subtree-full": (7124, {**ALL, "conversion-race-free": V}),
    "preserve-pages-race": (118, {**ALL, "preserve-success-restorable": H}),
    "vmalloc-huge-unwind": (158, {**ALL, "no-preserved-page-lost": V,
                                  "failed-preserve-undone": V}),
    "preserve-pages-pfn0": (49, {**ALL, "preserve-success-restorable": V}),
}


def test_every_k7_1_scenario_is_pinned():
    assert {s.name for s in scenarios("k7.1")} - {"memfd-luo", "luo-session-race", "three-preservers"} == set(PINNED)  # memfd-luo: test_memfd_luo.py


@pytest.mark.parametrize("name", sorted(PINNED))
def test_k7_1_scenario_verdicts_and_state_count(name):
    distinct, expected = PINNED[name]
    r = check(build("k7.1", name))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


def test_the_race_6_19_loses_is_closed_in_7_1():
    old = check(build("k6.19", "test-kho-race")).property("no-preserved-page-lost")
    new = check(build("k7.1", "test-kho-race")).property("no-preserved-page-lost")
    assert (old.verdict, new.verdict) == (V, H)


def test_test_kho_with_allocation_failures_still_restores_or_cold_boots():
    r = check(build("k7.1", "test-kho", {"fail_allocs": 1}))
    assert {p.name: p.verdict for p in r.properties} == {**ALL, "kho-restore-succeeded": H}


def test_radix_key_round_trips():
    from khomc.kho.k7_1.kexec_handover import decode_key, encode_key
    for pfn in range(1, 40):
        for order in (0, 1, 3):
            phys = (pfn << order) << 12
            assert decode_key(encode_key(phys, order)) == (phys, order)


def test_every_ledger_prefix_links_and_the_radix_commit_closes_the_race():
    """bisect's view: k7.1 with 0..3 of its deltas; the race flips at 3f2ad90060f6 (the FLB
    commit before it adds a call that takes no step: no FLB is registered)."""
    from khomc.kho.k7_1 import ERA
    from khomc.registry import scenario
    sc = scenario("k7.1", "test-kho-race")
    got = [check(sc.build(kernel=ERA.namespace(u), **sc.params)) for u in range(4)]
    assert [r.property("no-preserved-page-lost").verdict for r in got] == [V, V, H, H]
    assert [r.distinct for r in got] == [2697, 2697, 768, 630]
    assert [d.commit for d in ERA.deltas] == ["cab056f2aae7", "3f2ad90060f6", "6b0dd42d7681"]


def test_radix_root_is_allocated_as_kho_init_allocates_it():
    """019fc3687237's kho_init: ``tree->root = kzalloc(PAGE_SIZE, GFP_KERNEL)`` (slab), the
    other nodes ``get_zeroed_page`` (kho_radix_add_page)."""
    from khomc.kho.k7_1 import ERA
    k = ERA.namespace()
    assert "kzalloc" in k.kho_init.__code__.co_names
    assert "get_zeroed_page" not in k.kho_init.__code__.co_names
    assert "get_zeroed_page" in k._descend_add.__code__.co_names


@pytest.mark.parametrize("params", [{"fail_allocs": 0}, {"mutants": "vmalloc-unwind-own-order"}])
def test_vmalloc_huge_unwind_needs_the_failure_and_the_callers_order(params):
    r = check(build('k7.1', "vmalloc-huge-unwind", params))
    assert r.exhaustive and Verdict.VIOLATED not in {p.verdict for p in r.properties}


@pytest.mark.parametrize("module", ["khomc.kho.k7_1.kexec_handover",
                                    "khomc.kho.k6_19.kexec_handover"])
def test_doctests_of_the_pfn0_arithmetic(module):
    """encode_key / decode_key (7.1) and pfns (6.19) at PFN 0's order 0xffffffff."""
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_range_walk_at_pfn0_is_the_kernels_arithmetic():
    """The expressions the range walks use, at PFN 0 of a 3-page range: order 0xffffffff,
    pfn_high 0, the next pfn 0xffffffff80000000 (past the end: one iteration)."""
    from khomc.kernel.bitops import c_uint, c_ulong, count_trailing_zeros, ilog2, shl_int, shr_ulong
    pfn, end_pfn = 0, 3
    order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
    assert order == 0xFFFFFFFF and shr_ulong(pfn, order) == 0
    assert c_ulong(pfn + shl_int(1, order)) == 0xFFFFFFFF80000000
    pfn = 4                                    # any other pfn: the plain arithmetic
    order = c_uint(min(count_trailing_zeros(pfn), ilog2(12 - pfn)))
    assert (order, shr_ulong(pfn, order), c_ulong(pfn + shl_int(1, order))) == (2, 1, 8)
