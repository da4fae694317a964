"""KHO 6.19 (LUO era): every scenario x property, verdicts and distinct-state counts pinned.

Each VIOLATED verdict, with its trace in traces/corpus/ (replayed by properties/test_corpus.py):

* test-kho-race / no-preserved-page-lost - a gap in the 6.19 design.  Preserve takes no KHO lock
  and no longer refuses after finalize (de51999e687c), and the reboot path finalizes once, in
  liveupdate_reboot, before machine_kexec.  A preserve that needs a new tracker entry (here
  test_kho's order-1 folio: a new ``kho_mem_phys`` and bitmap) and completes after that walk
  returns 0 but is in no chunk: the next kernel does not reserve the folio and test_kho prints
  "KHO restore failed".  A preserve into an existing bitmap is not lost (the chunks point at the
  live bitmaps), which is why fdbox-race (order-0 folios, the bitmap kho_init created) holds.
  7.1 closes it: the tree itself is handed over (test_k7_1.py pins HOLDS on the same scenario).
* refinalize-race / memory-safety - a flaw of the design.  kho_finalize may be re-run
  (9a4301f715c8), and kho_update_memory_map frees the published chunk list before it stores the
  new address.  The debugfs finalize takes kho_out.lock but not the kexec lock, and
  machine_kexec takes neither, so a reboot whose own finalize has finished can hand over the
  root FDT while the debugfs one sits between the free and the store: the next kernel walks a
  freed chunk list (KHO revival reads memory the old kernel may already have reused);
  handed-over-metadata-live fails with it, naming the cause (the chunk list, not a client page).
* subtree-full / conversion-race-free - a kernel bug present since 3dc92c311498 and fixed by
  9ec953298948 ("kho: fix error handling in kho_add_subtree()"): when the root FDT page is full
  so that fdt_add_subnode fits but fdt_setprop does not, kho_add_subtree returns the raw libfdt
  error and leaves the node without its address in the root FDT; the handover names a subtree
  its caller was told failed.  test_mainline_2026_04.py pins the fix flipping it.
* preserve-pages-race / no-preserved-page-lost and preserve-success-restorable - the same gap
  of the 6.19 design as test-kho-race, seen from the client's own record: kho_preserve_pages'
  order-1 part needs a new tracker entry; if it completes after liveupdate_reboot's finalize
  walked the tracker it returns 0 but its pages are in no chunk, so kho_restore_pages fails in
  the next kernel.  7.1 closes it (test_k7_1.py pins HOLDS).
* preserve-pages-pfn0 (not a default scenario) / preserve-success-restorable - a kernel bug
  of the range walk (khomc.scenarios.luo.preserve_pages_pfn0 has the arithmetic): a range at
  PFN 0 gets order ``(unsigned int)min(count_trailing_zeros(0), ...)`` = 0xffffffff, PFN 0
  alone is recorded, kho_preserve_pages returns 0, and kho_restore_pages(0, 3) in the next
  kernel returns NULL (order 0xffffffff > MAX_PAGE_ORDER); PFNs 1 and 2 were never reserved.
  no-preserved-page-lost, judged from what KHO accepted, is preserve-pages-race's gap here (the
  order-0xffffffff tracker entry is always new, so it can land after the reboot's finalize
  walk), not the PFN 0 bug.  Unfixed at every era (test_k7_1.py, test_mainline_2026_04.py).
* test-kho with luo=0, finalize=0 / no-preserved-page-lost (and the guards vacuous) - operator
  misuse, pinned so the difference is visible: with neither LUO nor the selftest's debugfs
  finalize (init.c@82ee50252dc8 writes it), the memory map stays 0 and the next kernel disables
  revival, so lib/test_kho.c cannot print "KHO restore succeeded".
* test-kho-race with fail_allocs=1 (allocation failures anywhere, lib/test_kho.c's vmalloc of
  folios_info and its chunk included) / deadlock-free - the model's initcall ordering: a failed
  kho_init leaves every other task waiting in kho_wait_ready (the C disables KHO and the test
  module returns; the model's waiters stay blocked, as in every 6.19 scenario at fail_allocs=1);
  no-preserved-page-lost - the same design gap as the default race.  The vmalloc error paths
  (kho_preserve_vmalloc's err_free -> kho_unpreserve_vmalloc, test_kho's err_unpreserve) hold.
* test-kho with the mutant subtree-error-keeps-node / memory-safety (and the handover and
  page-lost promises) - the use-after-free Pratyush Yadav found in review of the revision in
  20251022005719.3670224-4-pasha.tatashin@soleen.com: kho_add_subtree signals the debugfs error
  but leaves the subtree linked; test_kho unwinds (unpreserve, folio_put) and the handed-over
  root FDT names a freed page (handed-over-metadata-live names it: a subtree FDT the next kernel
  reads is freed).  The merged code WARNs instead (pinned HOLDS below).
* vmalloc-huge-unwind / no-preserved-page-lost and failed-preserve-undone - a kernel bug in
  kho_preserve_vmalloc's error path, present in every LUO era and in the newest stored mainline
  (no fix known).  On ``goto err_free`` it calls kho_unpreserve_vmalloc(preservation), which
  unpreserves each chunk entry for ``1 << preservation->order`` pages - but kho_preserve_vmalloc
  stores ``order`` (with total_pages and flags) only on success, so the unwind uses the caller's
  value: 0 for a zeroed struct.  For a VM_ALLOW_HUGE_VMAP area (two order-1 blocks here) each
  block preserved so far is unpreserved as one order-0 page, which was never tracked, and stays
  preserved: the call returns -ENOMEM (here the next chunk's allocation failed, on a build whose
  chunk holds one entry), and the next kernel reserves the block anyway.  With the mutant
  vmalloc-unwind-own-order (the unwind given the area's order) every promise holds, and so it
  does with fail_allocs=0 (test_vmalloc_huge_unwind_needs_the_failure_and_the_callers_order).
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build, scenarios

H, V = Verdict.HOLDS, Verdict.VIOLATED

BUILTIN = {"assertions": H, "deadlock-free": H, "terminates": H}
PROMISES = {"conversion-race-free": H, "no-preserved-page-lost": H, "memory-safety": H,
            "handed-over-metadata-live": H}
GUARDS = {"kexec-reached": H, "finalize-succeeded": H, "next-kernel-revived": H}
ALL = {**BUILTIN, **PROMISES, **GUARDS}

PINNED = {
    "test-kho": (142, {**ALL, "kho-restore-succeeded": H}),
    "test-kho-race": (2697, {**ALL, "kho-restore-succeeded": H, "no-preserved-page-lost": V}),
    "fdbox-race": (17693, ALL),
    "fdt-max-grow": (44, ALL),
    "refinalize-race": (155, {**ALL, "memory-safety": V, "handed-over-metadata-live": V}),
    "subtree-full": (7860, {**ALL, "conversion-race-free": V}),
    "preserve-pages-race": (838, {**ALL, "no-preserved-page-lost": V,
                                  "preserve-success-restorable": V}),
    "vmalloc-huge-unwind": (219, {**ALL, "no-preserved-page-lost": V,
                                  "failed-preserve-undone": V}),
    "preserve-pages-pfn0": (306, {**ALL, "no-preserved-page-lost": V,
                                  "preserve-success-restorable": V}),
}

VARIANTS = [
    # (scenario, parameters, distinct states, verdicts)
    ("test-kho", {"luo": False, "finalize": False}, 78,
     {**ALL, "no-preserved-page-lost": V, "finalize-succeeded": V, "next-kernel-revived": V,
      "kho-restore-succeeded": V}),
    ("test-kho", {"fail_allocs": 1}, 467, {**ALL, "kho-restore-succeeded": H}),
    ("test-kho-race", {"fail_allocs": 1}, 4822,
     {**ALL, "kho-restore-succeeded": H, "deadlock-free": V, "no-preserved-page-lost": V}),
    ("test-kho", {"fail_allocs": 1, "mutants": "subtree-error-keeps-node"}, 505,
     {**ALL, "kho-restore-succeeded": H, "conversion-race-free": V,
      "no-preserved-page-lost": V, "memory-safety": V, "handed-over-metadata-live": V}),
]


def test_every_k6_19_scenario_is_pinned():
    assert {s.name for s in scenarios("k6.19")} - {"memfd-luo", "luo-session-race", "three-preservers"} == set(PINNED)  # memfd-luo: test_memfd_luo.py; luo-session-race: test_luo_session.py


@pytest.mark.parametrize("name", sorted(PINNED))
def test_k6_19_scenario_verdicts_and_state_count(name):
    distinct, expected = PINNED[name]
    r = check(build("k6.19", name))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


@pytest.mark.parametrize("name,params,distinct,expected", VARIANTS,
                         ids=[f"{v[0]}-{'-'.join(f'{k}={x}' for k, x in v[1].items())}"
                              for v in VARIANTS])
def test_k6_19_variant(name, params, distinct, expected):
    r = check(build("k6.19", name, params))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


@pytest.mark.parametrize("prop", ["memory-safety", "handed-over-metadata-live"])
def test_refinalize_race_hands_over_a_freed_chunk_list(prop):
    """The counterexample's last steps: the debugfs task frees the old chunk, then the
    operator's machine_kexec snapshots memory with the root FDT still pointing at it."""
    r = check(build("k6.19", "refinalize-race"))
    steps = r.property(prop).trace.steps
    labels = [(s.task, e[0]) for s in steps for e in s.effects]
    assert labels[-1] == ("operator", "machine_kexec()")
    assert any(t == "debugfs" and lab.startswith("free_page(") for t, lab in labels[-4:])


@pytest.mark.parametrize("params", [{"fail_allocs": 0}, {"mutants": "vmalloc-unwind-own-order"}])
def test_vmalloc_huge_unwind_needs_the_failure_and_the_callers_order(params):
    r = check(build('k6.19', "vmalloc-huge-unwind", params))
    assert r.exhaustive and Verdict.VIOLATED not in {p.verdict for p in r.properties}
