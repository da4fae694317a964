"""KHO 6.16, 6.17 and 6.18: every scenario x property, with the verdict and the distinct-state count pinned.

The three eras are one commit ledger (khomc.kho.k6_16 -> k6_17 -> k6_18); which commit flips
which verdict is properties/kho_eras/test_bisect.py's.  6.18's test_kho keeps folios_info in a
preserved vmalloc area (a667300bd53f, 90eb9ae35727), hence its larger test_kho state counts.  6.17's three hotfixes change no modelled
behaviour: its pins equal 6.16's.  Every VIOLATED verdict has its reasoning below.

* preserve-race / no-preserved-page-lost, every era - a flaw of the design (the race the v5
  review asked about, 20250321134629.GA252045@nvidia.com).  kho_preserve_folio reads
  kho_out.finalized with no lock, and kho_out_finalize_set sets it only after kho_finalize has
  returned.  A preserve of an order-1 folio passes the check, kho_finalize serializes the
  tracker (kho_mem_serialize walks the orders xarray), and only then does the preserver
  xa_cmpxchg its new order-1 kho_mem_phys into the xarray and set its bit: preserve returned 0,
  but no chunk points at that bitmap, so the next kernel never reserves the folio.  (A preserve
  into an already-existing bitmap survives, because the chunks point at the LIVE bitmaps; only a
  new order or a new bitmap index is lost.)  6.18's 469661d0d3a5 moves the check into
  __kho_preserve_order but leaves it unlocked and before the xarray walk, so the same schedule
  still loses the folio.
* preserve-race and range-abort / tracker-frozen-after-finalize, every era - the same flaw
  seen from the tracker: after finalize succeeded (finalized set, the tracker serialized), a
  preserve that passed the unlocked check earlier still sets bits - 6.16's kho_preserve_phys
  checks once for the whole range, 6.18 (469661d0d3a5) before each block, both unlocked.
* test-kho-refinalize / no-preserved-page-lost, every era - a flaw of the design's abort.
  test_kho preserves its data folios at module init ("anytime before finalization", v7's API)
  and only the FDT folio in its FINALIZE callback.  kho_abort frees every bitmap, unpreserving
  the client's data folios too; the second finalize re-runs the callbacks, which re-preserve
  only the FDT folio.  The next kernel finds the subtree but does not reserve the data.  In
  6.16/6.17 test_kho still prints "KHO restore succeeded" (kho-restore-succeeded HOLDS) in the
  runs where the folio is order 0: 6.16's kho_restore_folio makes a folio of ANY page
  (page->private is 0, so order 0) and the bytes are still there - restore returns memory that
  was not preserved (restore-returns-preserved VIOLATED in 6.16 and 6.17: the kernel's
  kho_restore_folio makes no check).  6.18's magic (89a3ecca49ee) refuses the unpreserved page:
  "KHO restore failed" in every run (kho-restore-succeeded VIOLATED), and
  restore-returns-preserved HOLDS.  6.19's 99cd2ffac697 stops abort from
  unpreserving.
* test-kho-refinalize and abort-then-kexec / memory-safety, 6.18 - a kernel bug as written at
  v6.18.  fa759cd75bce allocates the tracker's bitmaps (xa_load_or_alloc) and the chunks
  (new_chunk) with get_zeroed_page, but kho_abort still frees each bitmap with kfree(bits) and
  kho_mem_ser_free each chunk with kfree(tmp): freeing page-allocator memory with the slab
  allocator's kfree.  The allocator (khomc.kernel.alloc) does what kfree() does with a non-slab
  page that is not a large kmalloc: free_large_kmalloc WARNs "Not a kmalloc allocation",
  dumps the page and returns without freeing it (a leak, reported as that WARNING at the first
  abort after a preserve).  No fixing commit in 6.18.
* abort-then-kexec / conversion-race-free, 6.16 and 6.17 - a flaw of the design, fixed by
  f322a97aeb2a (Fixes: 3bdecc3c93f9).  kho_fill_kimage set image->kho.fdt at kexec_file_load
  regardless of finalization, and kho_abort neither clears the root FDT page nor stops a loaded
  image, so a kexec after "echo 0 > finalize" hands over the aborted finalize's FDT, whose
  preserved-memory-map points at chunk pages and bitmaps that kho_abort has kfree()d: the next
  kernel parses freed memory (handed-over-metadata-live VIOLATED; HOLDS from f322a97aeb2a on,
  which hands over no FDT unless finalized).  (The
  next kernel here still restores test_kho's folios, because the model never reuses freed
  memory - KASAN's quarantine; in a running kernel those pages are free for reuse.)
* abort-then-kexec with ``-D reuse=1`` (test_abort_then_kexec_with_reuse) / no-preserved-
  page-lost and restore-returns-preserved, 6.16 and 6.17 - the same kernel bug (fixed by
  f322a97aeb2a), now with the allocator reusing freed memory as a running kernel does.  One
  more kernel user kmallocs a page and writes its own data after kho_abort kfree()d the
  tracker: the allocator hands it the freed bitmap, and the next kernel, given the aborted FDT,
  reads that user's bytes as the bitmap - it reserves pages nobody preserved and test_kho's
  restore returns one of them (no KASAN report: the block is live again, the stale pointer is
  the next kernel's).  6.18 (nothing handed over without a finalize in effect) keeps its
  reuse=0 verdicts.
* abort-then-kexec / no-preserved-page-lost, next-kernel-revived and kho-restore-succeeded,
  6.18 - f322a97aeb2a closes the 6.16 flaw the other way: the FDT is passed only if finalized,
  sampled at kexec_file_load, and here the load came before the finalize: no KHO state is
  handed over at all and test_kho's preserved folios are lost.  (Had the load come after the
  finalize, the abort would not have withdrawn the FDT from the loaded image either.)
* fdbox-race / no-preserved-page-lost and next-kernel-revived, 6.18 (HOLDS in 6.16, 6.17) - a
  usage 6.18 no longer supports.  The operator loads the next kernel before finalizing (v5's
  goal: move kexec_file_load out of the blackout window,
  20250323190204.742672-1-changyuanl@google.com); since f322a97aeb2a the image then carries no
  KHO FDT, and the FDBoxes' saved fds are gone.  6.19's d7255959b69a ("allow kexec load before
  finalization") brings the order back.
* range-abort / terminates, 6.16 and 6.17 (HOLDS in 6.18) - a kernel bug, fixed by
  b05addf6f059 "kho: warn and exit when unpreserved page wasn't preserved" (Fixes:
  fc33e4b44b27).  A 3-page kho_preserve_phys has preserved its order-1 block when a concurrent
  finalize fails and kho_abort empties the tracker; the order-0 block's allocation then fails,
  and the unwind ``__kho_unpreserve(start, failed)`` finds no kho_mem_phys for order 1: the
  loop ``continue``s without advancing pfn, forever.  6.18 (469661d0d3a5 onwards) reaches the
  same unwind through -EBUSY too, and b05addf6f059 returns instead.
* range-abort / memory-safety, every era - a flaw of the design: preservers take no lock, and
  kho_abort (after a finalize that failed, here at its own kho_preserve_folio of the root FDT
  page) kfree()s every kho_mem_phys and bitmap while a preserver still uses the kho_mem_phys it
  has just loaded from the orders xarray: a use-after-free (KASAN).  (In 6.18 the first report
  can also be fa759cd75bce's kfree of a page, below.)
* scratch-preserve / nothing-preserved-in-scratch and tracker-frozen-after-finalize, every era
  (default configuration) - a flaw of the design that e38f65d317df ("kho: warn and fail on
  metadata or preserved memory in scratch area") detects only with CONFIG_KEXEC_HANDOVER_DEBUG.
  The client's folio is movable memory from the CMA pageblocks of a scratch area;
  kho_preserve_folio accepts it, and the next kernel, which takes its early allocations from
  scratch, would overwrite it before anyone restores it.  With ``-D debug=1`` 6.18 refuses the
  preserve (-EINVAL) and every promise HOLDS (test_scratch_check_needs_the_debug_config); 6.16
  and 6.17 have no check to enable.  (The late preserve after finalize is also the
  tracker-frozen race above.)
* range-race / no-preserved-page-lost and tracker-frozen-after-finalize, every era;
  restore-returns-preserved, 6.18 - the preserve-race flaw with a range: the order-1 block's
  new kho_mem_phys is installed after kho_finalize's walk of the orders xarray (and before
  ``finalized = true``), so no chunk points at it; the call returns 0 and the block is not
  reserved.  6.16/6.17's kho_preserve_phys user has no restore call (it reads the range where
  it left it, and the bytes are there); 6.18's kho_restore_pages finds no KHO magic on the
  lost block and returns NULL (restore-returns-preserved).  469661d0d3a5 moves the check
  into __kho_preserve_order and changes the state count, not a verdict
  (test_bisect.py::test_469661d0d3a5_moves_the_check_and_flips_no_verdict).
* range-pfn0 (not a default scenario) / no-preserved-page-lost, every era;
  restore-returns-preserved, 6.18 - a kernel bug of the range walk, as written at every era's
  commit (and still at 6.19, 7.1 and mainline-2026-04: properties/kho_eras/test_k6_19.py and
  test_k7_1.py).  A range starting at PFN 0 (memory at physical address 0: arm64 boards such
  as the Raspberry Pi 4 have DRAM there) gets ``order = min(count_trailing_zeros(0), ...)`` =
  -1 (COUNT_TRAILING_ZEROS_0), an ``unsigned int`` 0xffffffff; PFN 0 is recorded at that
  order and ``pfn += 1 << order`` (an int shift, count mod 32 on x86-64 and arm64: INT_MIN,
  sign-extended) jumps past the end: the call returns 0 having recorded PFN 0 only.  The next
  kernel reserves [0, 2048) (``int sz = 1 << (order + PAGE_SHIFT)``, the unsigned sum
  wrapping to 11): page 0 stays out of the buddy allocator, PFNs 1..npages-1 do not, and the
  client's data there is lost.  6.18's kho_restore_pages then finds order 0xffffffff > 
  MAX_PAGE_ORDER in PFN 0's page->private and returns NULL (restore-returns-preserved; the
  client's failed restore also fails no-preserved-page-lost, which judges the clients'
  restores).  With one page (``-D npages=1``) nothing is lost: 6.16 HOLDS everything and
  6.18 fails only because of the NULL restore (test_range_pfn0_one_page).
* vmalloc-race / tracker-frozen-after-finalize, 6.18 - the same unlocked check seen from
  kho_preserve_vmalloc, which calls kho_preserve_pages for its chunk and each page.  Nothing
  is lost: every block is order 0, and the order-0 kho_mem_phys and bitmap always exist by
  the time kho_finalize walks the tracker (kho_finalize's own preserve of the root FDT page
  makes them), so a late bit lands in a live bitmap a chunk points at;
  restore-returns-preserved HOLDS, and fails on a restore that returns the area's pages out of
  order (test_vmalloc_restore_order_is_checked).
* vmalloc-chunk-full / restore-returns-preserved, no-preserved-page-lost and memory-safety,
  6.18 - a kernel bug (fixed by 6.19: kernel/liveupdate/kexec_handover.c@dd03dd60e8cd sets
  ``err = -ENOMEM`` before ``goto err_free``; the fixing commit is not among the stored
  sources).  kho_preserve_vmalloc (a667300bd53f, as at v6.18: kernel/kexec_handover.c@a4a508df)
  fills a chunk and calls new_vmalloc_chunk for the next; when that returns NULL it jumps to
  ``err_free`` with ``err`` still the last kho_preserve_pages's 0, so the caller gets 0 after
  kho_vmalloc_free_chunks has unpreserved every page and freed the chunks.  No allocation has
  to fail: new_vmalloc_chunk also returns NULL when its kho_preserve_pages of the new chunk
  page gets -EBUSY because a concurrent finalize set ``finalized`` after the area's last page
  was preserved (469661d0d3a5's check), the schedule the default pin finds with
  ``fail_allocs=0`` too (test_vmalloc_chunk_full_needs_no_allocation_failure).  The client
  hands over a ``struct kho_vmalloc`` whose ``first`` is a freed page (memory-safety), its
  pages are not reserved (no-preserved-page-lost), and kho_restore_vmalloc returns NULL
  (restore-returns-preserved).  In the kernel a chunk holds 511 entries, so the race needs an
  area of 511·k pages; the scenario lowers the chunk to 2 entries (an abstraction of the loop's
  bound only, stated in khomc.kho.k6_18.vmalloc).  tracker-frozen-after-finalize is
  vmalloc-race's.
* vmalloc-huge / restore-returns-preserved and no-preserved-page-lost, 6.18 - a kernel bug
  (fixed by 6.19: kernel/liveupdate/kexec_handover.c@dd03dd60e8cd writes ``page + j``; the
  fixing commit is not among the stored sources).  kho_restore_vmalloc
  (kernel/kexec_handover.c@a4a508df2aa3) fills the area's pages array with ``pages[idx++] =
  page`` for each of a block's ``1 << order`` pages, so a VM_ALLOW_HUGE_VMAP area of two
  order-1 blocks comes back as (head, head, head2, head2): the reserved set is right, the
  restore is not (vfree of that area would free each head twice and leak the tails, and a
  small-page mapping of it would show each head twice).  Order-0 areas (vmalloc-race, test_kho,
  memfd) cannot see it (test_vmalloc_huge_restore_repeats_the_heads).
* scratch-load / restore-returns-preserved, nothing-preserved-in-scratch and
  no-preserved-page-lost, every era (default configuration) - a flaw of the design (the
  scratch flaw above, seen from the kexec side).  kho_locate_mem_hole places every kexec
  segment top-down in the kho_scratch[] areas and checks it only against the other segments
  (kimage_is_destination_range), never against preserved memory.  The driver preserved the
  user's movable folio, which lies at the first page of the lowmem scratch area; the one-page
  scratch array (kho_fill_kimage's kexec_add_buffer, 64 KiB aligned) lands exactly there, and
  machine_kexec's relocation copies it over the folio: the next kernel reserves the page, but
  the driver's kho_restore_folio returns the scratch array's bytes, not its own (a success
  return that is not restorable: no-preserved-page-lost).  With ``-D pages=16`` the array lands
  on a free page and only the scratch and tracker verdicts remain
  (test_scratch_load_overwrites_only_under_the_segment).  6.18 with ``-D debug=1``:
  e38f65d317df's kho_preserve_folio refuses the scratch page (-EINVAL) and every promise HOLDS
  (test_scratch_check_needs_the_debug_config).  scratch-load / tracker-frozen-after-finalize:
  the unlocked-check race of preserve-race.
* finalize-retry / finalize-retry-works, every era - a kernel bug in the debugfs code of
  6.16-6.18 (no fix in these eras).  The first finalize runs test_kho's FINALIZE callback, whose
  kho_add_subtree puts a ``sub_fdts/kho_test`` blob on kho_out.ser.fdt_list; then new_chunk's
  allocation fails and kho_finalize aborts.  kho_out_finalize_set returns the error before
  kho_out_update_debugfs_fdt, and kho_abort does not touch fdt_list, so the blob stays; the
  retry's kho_add_subtree writes the node and then gets -EEXIST from debugfs_create_blob, the
  callback returns NOTIFY_BAD and the retry fails with no allocation failure left: once a
  finalize has failed after a subtree was added, KHO cannot be finalized until reboot.
* finalize-retry / no-preserved-page-lost, every era - the abort flaw above (test-kho-refinalize):
  the failed finalize's kho_abort unpreserves test_kho's data folios, and nothing finalizes
  again; 6.16/6.17 hand over the unfinished root FDT page (refused by the next kernel), 6.18
  hands over nothing.  finalize-retry / memory-safety, 6.18: fa759cd75bce's kfree of a page.
* double-restore / restore-at-most-once, 6.16 and 6.17 (HOLDS in 6.18) - driver misuse that 6.16
  cannot detect.  test_kho lists its folio twice; 6.16's kho_restore_folio reads the order from
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
        "handed-over-metadata-live": H, "restore-returns-preserved": H,
        "tracker-frozen-after-finalize": H, "nothing-preserved-in-scratch": H,
        "no-preserved-page-lost": H, "memory-safety": H, "restore-at-most-once": H,
        "kexec-reached": H, "finalize-succeeded": H, "next-kernel-revived": H}
TK = {**BASE, "kho-restore-succeeded": H}
LOST = {"no-preserved-page-lost": V}
THAWED = {"tracker-frozen-after-finalize": V}

RANGE = {"assertions": H, "deadlock-free": H, "terminates": H, "conversion-race-free": H,
         "handed-over-metadata-live": H, "restore-returns-preserved": H,
         "tracker-frozen-after-finalize": V, "nothing-preserved-in-scratch": H,
         "no-preserved-page-lost": H, "memory-safety": V, "restore-at-most-once": H,
         "finalize-succeeded": H}
SCRATCH = {p: v for p, v in BASE.items() if p != "next-kernel-revived"}
SCRATCH_V = {**SCRATCH, "nothing-preserved-in-scratch": V, **THAWED}
LOAD = {**BASE, "nothing-preserved-in-scratch": V, "restore-returns-preserved": V, **LOST,
        **THAWED}
RETRY = {**{p: v for p, v in TK.items() if p != "next-kernel-revived"}, **LOST,
         "finalize-retry-works": V}

K6_16 = {
    "scratch-preserve": (1974, SCRATCH_V),
    "scratch-load": (7148, LOAD),
    "range-race": (3630, {**BASE, **LOST, **THAWED}),
    "range-abort": (13410, {**RANGE, "terminates": V}),
    "finalize-retry": (142, RETRY),
    "test-kho": (185, TK),
    "fdbox-race": (252341, BASE),
    "preserve-race": (2600, {**BASE, **LOST, **THAWED}),
    "test-kho-refinalize": (298, {**TK, **LOST, "restore-returns-preserved": V}),
    "abort-then-kexec": (226, {**TK, "conversion-race-free": V,
                               "handed-over-metadata-live": V}),
    "double-restore": (185, {**TK, "restore-at-most-once": V}),
    "range-pfn0": (70, {**BASE, **LOST}),
}

PINNED = {
    "k6.16": K6_16,
    "k6.17": dict(K6_16),
    "k6.18": {
        "scratch-preserve": (1974, SCRATCH_V),
        "scratch-load": (8318, LOAD),
        "range-race": (3891, {**BASE, **LOST, **THAWED, "restore-returns-preserved": V}),
        "vmalloc-race": (9680, {**BASE, **THAWED}),
        "vmalloc-huge": (142, {**BASE, **LOST, "restore-returns-preserved": V}),
        "vmalloc-chunk-full": (23664, {**BASE, **THAWED, **LOST, "memory-safety": V,
                                       "restore-returns-preserved": V}),
        "range-abort": (10345, RANGE),
        "finalize-retry": (178, {**RETRY, "memory-safety": V}),
        "test-kho": (246, TK),
        "fdbox-race": (252341, {**BASE, **LOST, "next-kernel-revived": V}),
        "preserve-race": (2600, {**BASE, **LOST, **THAWED}),
        "test-kho-refinalize": (346, {**TK, **LOST, "memory-safety": V,
                                      "kho-restore-succeeded": V}),
        "abort-then-kexec": (284, {**TK, **LOST, "memory-safety": V, "next-kernel-revived": V,
                                   "kho-restore-succeeded": V}),
        "double-restore": (246, {**TK, "kho-restore-succeeded": V}),
        "range-pfn0": (70, {**BASE, **LOST, "restore-returns-preserved": V}),
    },
}

SLOW = {"fdbox-race"}          # ~250k states: 30-60 s each on a shared machine


def _case(spec, sc):
    marks = [pytest.mark.slow] if sc in SLOW else []
    return pytest.param(spec, sc, marks=marks, id=f"{spec}/{sc}")


CASES = [_case(spec, sc) for spec in PINNED for sc in PINNED[spec]]


@pytest.mark.parametrize("spec", sorted(PINNED))
def test_every_scenario_is_pinned(spec):
    from .test_three_clients import NAMES   # pinned there
    assert {s.name for s in scenarios(spec)} - NAMES == set(PINNED[spec])


@pytest.mark.parametrize("spec,name", CASES)
def test_verdicts_and_state_count(spec, name):
    distinct, expected = PINNED[spec][name]
    r = check(build(spec, name))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


@pytest.mark.parametrize("spec", ["k6.16", "k6.17", "k6.18"])
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


@pytest.mark.parametrize("mod", ["k6_17", "k6_18"])
def test_later_eras_reuse_the_scenarios_not_copy_them(mod):
    import importlib
    src = open(importlib.import_module(f"khomc.scenarios.{mod}").__file__).read()
    assert "async def" not in src


def test_retry_fails_on_the_debugfs_blob_left_by_the_failed_finalize():
    t = check(build("k6.16", "finalize-retry")).property("finalize-retry-works").trace
    labels = [" | ".join(e[0] for e in s.effects) for s in t.steps]
    blobs = [i for i, lab in enumerate(labels) if "debugfs_create_blob('kho_test')" in lab]
    failed = next(i for i, lab in enumerate(labels) if "finalize returned -12" in lab)
    retried = next(i for i, lab in enumerate(labels) if "retried finalize returned -1" in lab)
    assert len(blobs) == 2 and blobs[0] < failed < blobs[1] < retried, labels


@pytest.mark.parametrize("spec,distinct,expected", [
    ("k6.16", 1974, SCRATCH_V), ("k6.17", 1974, SCRATCH_V), ("k6.18", 135, SCRATCH)])
def test_scratch_check_needs_the_debug_config(spec, distinct, expected):
    r = check(build(spec, "scratch-preserve", {"debug": "1"}))
    assert r.exhaustive and r.distinct == distinct
    assert {p.name: p.verdict for p in r.properties} == expected


def test_no_kernel_function_asks_its_era():
    """A delta replaces the function it changes: no era parameter, no era test, in the era
    packages."""
    import pathlib
    import khomc.kho as kho
    root = pathlib.Path(kho.__file__).parent
    for pkg in ("k6_16", "k6_17", "k6_18"):
        for f in (root / pkg).glob("*.py"):
            src = f.read_text()
            assert "era ==" not in src and "era=" not in src.replace("era=k", ""), f


def test_delta_functions_are_linked_by_name():
    """6.18's kho_preserve_folio reaches 469661d0d3a5's __kho_preserve_order (the finalized
    check), and test_kho, linked into the same namespace, reaches 6.18's kho_restore_folio."""
    from khomc.kho import k6_16, k6_18
    k = k6_18.ERA.namespace()
    from khomc.kho.k6_18.kexec_handover import D_89a3ecca49ee, D_469661d0d3a5
    g = k.kho_preserve_folio.__globals__
    mine = D_469661d0d3a5.functions["__kho_preserve_order"].__code__
    assert g["__kho_preserve_order"].__code__.co_firstlineno == mine.co_firstlineno
    assert g["__kho_preserve_order"].__code__.co_name == "__kho_preserve_order"   # the C name
    restore = D_89a3ecca49ee.functions["kho_restore_folio"].__code__
    assert k.kho_test_restore.__globals__["kho_restore_folio"].__code__.co_firstlineno == \
        restore.co_firstlineno
    base = k6_16.ERA.namespace()
    assert base.kho_test_restore.__globals__["kho_restore_folio"].__globals__ is base._globals


@pytest.mark.parametrize("spec,distinct,expected", [
    ("k6.16", 7148, LOAD), ("k6.17", 7148, LOAD), ("k6.18", 524, BASE)])
def test_scratch_load_with_the_debug_config(spec, distinct, expected):
    """scratch-load with CONFIG_KEXEC_HANDOVER_DEBUG: only 6.18 (e38f65d317df) has a check to
    enable, and it refuses the preserve of the scratch page."""
    r = check(build(spec, "scratch-load", {"debug": "1"}))
    assert r.exhaustive and r.distinct == distinct
    assert {p.name: p.verdict for p in r.properties} == expected


def test_scratch_load_overwrites_only_under_the_segment():
    """The byte check fails because of the segment: one page more per task moves the lowmem
    area's 64 KiB-aligned page (where the scratch array lands) off the user's folio, and the
    restore then returns the folio's own bytes."""
    r = check(build("k6.16", "scratch-load", {"pages": "16"}))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == {
        **BASE, "nothing-preserved-in-scratch": V, **THAWED}
    t = check(build("k6.16", "scratch-load")).property("restore-returns-preserved").trace
    labels = [" | ".join(e[0] for e in s.effects) for s in t.steps]
    load = next(lab for lab in labels if "write kexec_image" in lab)
    assert "role='kho-scratch', mem=65536" in load and "kho_preserve_folio(65536, 0) = 0" in \
        " ".join(labels)


@pytest.mark.parametrize("spec,distinct,expected", [
    ("k6.16", 614, {**TK, "conversion-race-free": V, "handed-over-metadata-live": V, **LOST,
                    "restore-returns-preserved": V}),
    ("k6.17", 614, {**TK, "conversion-race-free": V, "handed-over-metadata-live": V, **LOST,
                    "restore-returns-preserved": V}),
    ("k6.18", 622, PINNED["k6.18"]["abort-then-kexec"][1])])
def test_abort_then_kexec_with_reuse(spec, distinct, expected):
    """-D reuse=1: a freed tracker block is served to another kernel user, whose bytes the
    6.16/6.17 next kernel then parses as KHO's bitmap."""
    r = check(build(spec, "abort-then-kexec", {"reuse": "1"}))
    assert r.exhaustive and r.distinct == distinct
    assert {p.name: p.verdict for p in r.properties} == expected
    if spec != "k6.18":
        t = r.property("no-preserved-page-lost").trace
        labels = [" | ".join(e[0] for e in s.effects) for s in t.steps]
        freed = next(i for i, lab in enumerate(labels) if "kfree(0x4000) in kho_abort" in lab)
        reused = next(i for i, lab in enumerate(labels)
                      if "kmalloc(4096) in kmalloc_user | write 0x4000" in lab)
        assert freed < reused < len(labels) - 1 and "machine_kexec" in labels[-1]


def test_vmalloc_huge_restore_repeats_the_heads():
    """What 6.18's next kernel builds for the huge area: each block's head page twice."""
    from khomc.kho import k6_18
    r = check(build("k6.18", "vmalloc-huge"))
    t = r.property("restore-returns-preserved").trace
    m = build("k6.18", "vmalloc-huge")
    from khomc.report.explain import replay_states
    states, _ = replay_states(m, t)
    world = m.describe_world(states[-1][0])
    h = world["handover"]
    _, (preservation, area), _, err = world["vmalloc.record"]
    assert err == 0 and preservation[3] == 1 and len(area) == 4
    k = k6_18.ERA.namespace()
    restorer = k.kho_memory_init(k.boot(h), len(h.pages))
    got, _ = k.kho_restore_vmalloc(restorer, preservation, h.pages)
    assert got == (area[0], area[0], area[2], area[2]) != area


def test_vmalloc_chunk_full_needs_no_allocation_failure():
    """6.18's success-after-free is reached by the finalize race alone: with no allocation
    allowed to fail, the schedule has the operator's ``finalized = true`` between the area's
    last kho_preserve_pages and new_vmalloc_chunk's, and the client records a 0 return."""
    r = check(build("k6.18", "vmalloc-chunk-full", {"fail_allocs": 0}))
    t = r.property("no-preserved-page-lost").trace
    assert t is not None
    labels = [" ".join(e[0] for e in s.effects) for s in t.steps]
    frozen = next(i for i, (s, lab) in enumerate(zip(t.steps, labels))
                  if s.task == "operator" and "kho_out.finalized = True" in lab)
    refused = next(i for i, (s, lab) in enumerate(zip(t.steps, labels))
                   if s.task == "vmalloc" and "free_page" in lab and "new_vmalloc_chunk" in lab)
    noted = next(i for i, (s, lab) in enumerate(zip(t.steps, labels))
                 if s.task == "vmalloc" and "kho_preserve_vmalloc" in lab and lab.endswith("= 0"))
    assert frozen < refused < noted, labels
    # with the kernel's own chunk size the 2-page area never fills a chunk: nothing is lost
    whole = check(build("k6.18", "vmalloc-chunk-full", {"fail_allocs": 0, "chunk": 511}))
    assert whole.property("no-preserved-page-lost").verdict is H


def test_vmalloc_restore_order_is_checked():
    """restore-returns-preserved judges kho_restore_vmalloc's result by the client's own
    record: a mutant restore that returns the area's pages in reverse order is caught."""
    from khomc.kho import k6_18
    from khomc.kho.ledger import Delta, Era
    from khomc.scenarios import k6_16 as base
    mutant = Delta("mutant:vmalloc-restore-reversed",
                   "kho_restore_vmalloc returns the pages in reverse order")

    @mutant.replaces(name="kho_restore_vmalloc")
    def kho_restore_vmalloc_reversed(r, preservation, pages):
        got, r = k6_18.ERA.namespace().kho_restore_vmalloc(r, preservation, pages)
        return (tuple(reversed(got)) if got else got), r

    era = Era("k6.18+reversed", base=k6_18.ERA, deltas=(mutant,))
    r = check(base.build_vmalloc_race(era.namespace()))
    assert r.exhaustive
    assert r.property("restore-returns-preserved").verdict is V
    assert check(base.build_vmalloc_race(k6_18.ERA.namespace())).property(
        "restore-returns-preserved").verdict is H


def test_every_spec_lists_each_scenario_once():
    """A scenario listed twice runs twice in a review (6.18's vmalloc scenarios were: the
    three-client table re-added the functions' LATER scenarios)."""
    from khomc import registry
    for spec in registry.SPECS:
        names = [s.name for s in scenarios(spec)]
        assert len(names) == len(set(names)), (spec, names)


@pytest.mark.parametrize("spec,expected", [
    ("k6.16", BASE),
    ("k6.18", {**BASE, **LOST, "restore-returns-preserved": V}),
])
def test_range_pfn0_one_page(spec, expected):
    """range-pfn0 with one page: the order-0xffffffff record still keeps PFN 0 reserved
    (memblock_reserve(0, 2048), rounded out to the page), so 6.16 loses nothing; 6.18's
    restore of it returns NULL (order above MAX_PAGE_ORDER).  The three-page pin's
    no-preserved-page-lost on 6.16 is therefore PFNs 1 and 2 going unreserved."""
    r = check(build(spec, "range-pfn0", {"npages": 1}))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
