"""KHO v5: every scenario x property, with the verdict and the distinct-state count pinned.

Each VIOLATED verdict is a finding, with its trace in traces/corpus/ (replayed by
properties/test_corpus.py) and the reasoning below:

* fdt-max-grow / memory-safety - a flaw of the design.  kho_fill_kimage (patch 10/16) sizes the
  empty kho-fdt ksegment from fdt_max at kexec_file_load time, but the debugfs fdt_max file
  only refuses writes once KHO is frozen (patch 07/16), not once an image has reserved the old
  size.  Raising fdt_max between ``kexec -s -l`` and ``kexec -e`` lets auto-finalize build an FDT
  larger than the segment, and kho_copy_fdt maps PAGE_ALIGN(fdt_max) bytes and memcpy()s
  fdt_totalsize bytes past the segment's end.  The cover letter makes exactly this order
  (load before finalize) a goal of v5.
* preserve-phys-unaligned / no-preserved-page-lost and nothing-reserved-unpreserved - a flaw
  of the v5 code (patch 09/16).
  kho_preserve_phys splits [pfn, end) with ``order = ilog2(end_pfn - pfn)`` alone, without the
  alignment term ``count_trailing_zeros(pfn)`` that 6.16 has; __kho_preserve records bit
  ``pfn >> order`` and the next kernel rebuilds ``(pfn >> order) << order``.  A 3-page range at
  PFN 1 is recorded as order 1 at PFN 0 plus order 0 at PFN 3: PFN 2 is lost and PFN 0, which
  nobody preserved, is reserved.
* preserve-phys-unwind / failed-preserve-undone - a bug of the v5 code (patch 09/16):
  kho_preserve_phys's unwind loop restarts at PHYS_PFN(phys) but does not recompute
  ``order``, so its first step uses the order of the step that failed.  For [1, 4): order 1 at
  PFN 1 records order-1 bit 0 (PFNs 0-1); order 0 at PFN 3 fails to allocate the order-0
  xarray entry (-ENOMEM); the unwind clears order-0 bit 1 (never set), then, at PFN 2, order-1
  bit 1 (never set), and stops: the call returns -ENOMEM with PFNs 0-1 still recorded, and the
  next kernel reserves them.  The stale order only shows on unaligned ranges (for aligned
  ones ``pfn >> order`` rounds the shifted walk back onto the right blocks);
  test_unwind_with_a_recomputed_order_undoes_the_failed_preserve shows it is the stale order.
  The merged 6.16 code (kernel/kexec_handover.c@00c010e130e5) recomputes the order with the
  alignment term each step and unwinds with __kho_unpreserve(start_pfn, failed_pfn); no
  review mail in the stored v5 thread points at the stale order.  no-preserved-page-lost and
  nothing-reserved-unpreserved fail here too, by the split flaw of preserve-phys-unaligned.
* freed-buffer / memory-safety - a misuse by the driver.  kho_add_prop's kerneldoc requires
  the value to stay valid through finalization; the driver kfree()s it while it is still in
  the tree, and kho_convert_tree reads freed memory (KASAN use-after-free, naming the freeing
  task and call site).  v5 cannot detect it: the tree stores only the pointer.
* stale-debugfs-dentry / memory-safety - a bug of the v5 code (patch 07/16 with 10/16).
  kho_out_update_debugfs_fdt removes ``kho_out.fdt_file`` when KHO is not frozen but never
  resets the pointer, and kho_copy_fdt (patch 10) calls it after a FAILED auto-finalize too,
  ignoring its result.  So after one finalize/unfreeze cycle (the blob created, then removed),
  a kexec whose auto-finalize fails (here the notifier's kho_add_node hits the injected
  allocation failure in the earlier retry and its FINALIZE callback keeps failing) removes the
  same, already freed dentry again: KASAN reports a double free in debugfs_remove (the kernel
  would report the use-after-free inside debugfs_remove).  Not raised in the v5 review thread
  as far as the stored mails show; the merged 6.16 debugfs code no longer keeps this pointer.
* stale-debugfs-dentry with ``-D reuse=1`` (test_stale_dentry_with_reuse_frees_another_users_
  object) / memory-safety - the same bug with the allocator reusing freed memory, as a running
  kernel's does: after the unfreeze's debugfs_remove freed the dentry, the next finalize's
  FINALIZE callback kmallocs its data buffer and gets that block; kho_out.fdt_file still
  points there, so kexec's failed auto-finalize passes the notifier's buffer to
  debugfs_remove - the stale pointer now frees another user's object (KASAN names the
  notifier's allocation, notif_finalize, and its own free: a double free after the notifier's
  unfreeze freed it; before that free it would silently free live data).
* callback-reenters / deadlock-free - a misuse by the driver.  A FINALIZE callback that
  unregisters its notifier sleeps in down_write on the chain's rwsem, which
  blocking_notifier_call_chain holds for read in the same task (kernel/notifier.c documents
  that callbacks must not do this).
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build, scenarios

H, V = Verdict.HOLDS, Verdict.VIOLATED

BUILTIN = {"assertions": H, "deadlock-free": H, "terminates": H}
PROMISES = {"conversion-race-free": H, "no-preserved-page-lost": H, "memory-safety": H,
            "nothing-reserved-unpreserved": H, "tracker-frozen": H, "fdt-segment-valid": H,
            "nothing-in-scratch": H}
GUARDS = {"kexec-reached": H, "finalize-succeeded": H}

PINNED = {
    "fdbox-race": (45706, {**BUILTIN, **PROMISES, **GUARDS, "add-after-freeze-refused": H,
                           "next-kernel-revived": H}),
    "notifier-refinalize": (22376, {**BUILTIN, **PROMISES, **GUARDS, "next-kernel-revived": H}),
    "autofinalize": (422, {**BUILTIN, **PROMISES, **GUARDS, "add-after-freeze-refused": H,
                           "next-kernel-revived": H}),
    "fdt-max-small": (973, {**BUILTIN, **PROMISES, "finalize-overflow-refused": H,
                            "kexec-refused": H}),
    "fdt-max-grow": (19, {**BUILTIN, **PROMISES, **GUARDS, "memory-safety": V}),
    "alloc-fail-finalize": (905, {**BUILTIN, **PROMISES, **GUARDS, "next-kernel-revived": H,
                                  "finalize-enomem": H}),
    "callback-reenters": (56, {**BUILTIN, **PROMISES, "deadlock-free": V}),
    "stale-debugfs-dentry": (1844, {**BUILTIN, **PROMISES, **GUARDS, "next-kernel-revived": H,
                                    "memory-safety": V}),
    "notifier-adds": (118, {**BUILTIN, **PROMISES, **GUARDS, "next-kernel-revived": H}),
    "freed-buffer": (128, {**BUILTIN, **PROMISES, **GUARDS, "memory-safety": V}),
    "preserve-phys-unaligned": (188, {**BUILTIN, **PROMISES, **GUARDS,
                                      "next-kernel-revived": H, "no-preserved-page-lost": V,
                                      "nothing-reserved-unpreserved": V}),
    "scratch-too-small": (65, {**BUILTIN, **PROMISES, "load-refused": H,
                               "kexec-without-image": H}),
    "preserve-phys-unwind": (952, {**BUILTIN, **PROMISES, **GUARDS, "next-kernel-revived": H,
                                   "no-preserved-page-lost": V,
                                   "nothing-reserved-unpreserved": V,
                                   "failed-preserve-undone": V, "preserve-phys-enomem": H,
                                   "preserve-phys-ebusy": H}),
}


def test_every_v5_scenario_is_pinned():
    """Every default scenario is pinned (fdbox-many is the sampling engines' scope, too large
    to exhaust, and is checked in properties/sampling)."""
    NAMES = {"three-preservers"}   # pinned in properties/kho_eras/test_three_clients.py
    assert {s.name for s in scenarios("v5") if s.default} - NAMES == set(PINNED)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_v5_scenario_verdicts_and_state_count(name):
    distinct, expected = PINNED[name]
    r = check(build("v5", name))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


def test_freed_buffer_kasan_report_names_allocator_and_freer():
    r = check(build("v5", "freed-buffer"))
    trace = r.property("memory-safety").trace
    report = trace.steps[-1].changes["kasan"][1]
    assert "use-after-free" in report
    assert "kho_flatten_tree by task operator" in report
    assert "task freed at freed_buffer_init" in report
    assert "task freed at freed_buffer_exit" in report


def test_stale_dentry_with_reuse_frees_another_users_object():
    m = build("v5", "stale-debugfs-dentry", {"reuse": "1"})
    kasan = next(v for v in m.vars if v.name == "kasan")
    m.always("stale-free-of-another-object",
             lambda s: s[kasan] is None or "debugfs_create_blob" in s[kasan].allocated)
    r = check(m)
    assert r.exhaustive and r.distinct == 16994
    verdicts = {p.name: p.verdict for p in r.properties}
    assert verdicts == {**PINNED["stale-debugfs-dentry"][1], "stale-free-of-another-object": V}
    report = r.property("stale-free-of-another-object").trace.steps[-1].changes["kasan"][1]
    assert "double-free" in report and "Free in debugfs_remove" in report
    assert "task operator at notif_finalize" in report


def test_callback_reentry_deadlock_is_a_self_deadlock_on_the_chain_rwsem():
    p = check(build("v5", "callback-reenters")).property("deadlock-free")
    assert ("operator waits: down_write(kho_out.chain_head.rwsem) sleeps: held for read by "
            "operator") in p.message


def test_unwind_with_a_recomputed_order_undoes_the_failed_preserve():
    """The same scenario on v5 plus one local Delta (not a kernel commit: a probe) whose
    kho_preserve_phys recomputes ``order`` before the unwind: failed-preserve-undone holds, so
    the posted loop's stale ``order`` is what leaves PFNs 0-1 recorded."""
    from khomc.kho import v5
    from khomc.kho.ledger import Delta, Era
    from khomc.kho.v5 import kexec_handover as k
    from khomc.scenarios.v5 import preserve_phys_unwind
    probe = Delta("probe-unwind-order", "kho_preserve_phys: recompute order before unwinding")

    @probe.replaces
    async def kho_preserve_phys(kho, phys, size):
        pfn = phys >> k.PAGE_SHIFT
        end_pfn = (phys + size) >> k.PAGE_SHIFT
        order = k.ilog2(end_pfn - pfn)
        failed_pfn = None
        err = 0
        if await k._frozen_for_tracker(kho):
            err = -k.EBUSY
        else:
            while pfn < end_pfn:
                err = await k.__kho_preserve(kho, pfn, order)
                if err:
                    failed_pfn = pfn
                    break
                pfn += 1 << order
                order = k.ilog2(end_pfn - pfn)
            if err:
                pfn = phys >> k.PAGE_SHIFT
                order = k.ilog2(end_pfn - pfn)          # the probe's one change
                while pfn < failed_pfn:
                    await k.__kho_unpreserve(kho, pfn, order)
                    pfn += 1 << order
                    order = k.ilog2(end_pfn - pfn)
        start = phys >> k.PAGE_SHIFT
        await k._unlock(kho, k._pfns(start, end_pfn - start), err, True)
        return err

    era = Era("v5+probe", base=v5.ERA, deltas=(probe,))
    posted = check(preserve_phys_unwind())
    probed = check(preserve_phys_unwind(kernel=era.namespace()))
    assert posted.property("failed-preserve-undone").verdict is V
    assert probed.property("failed-preserve-undone").verdict is H
