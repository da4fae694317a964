"""KHO 6.17: the commits to kernel/kexec_handover.c between v6.16 and v6.17, as deltas.

The three are the "Several KHO Hotfixes" series by Pasha Tatashin, merged after 6.17-rc2
(20250808201804.772010-1-pasha.tatashin@soleen.com; 63b17b653df3's Fixes: read from its
stable backport mail); everything else of 2025's KHO work landed
in the 6.18 merge window (khomc.kho.k6_18).  Each delta is written as the commit leaves the
function, read from the commit's diff:

* 63b17b653df3 "kho: init new_physxa->phys_bits to fix lockdep" (Fixes: fc33e4b44b27):
  __kho_preserve_order no longer uses xa_load_or_alloc for the ``orders`` level: xa_load; if
  absent kzalloc (-ENOMEM), xa_init, xa_cmpxchg; on a lost race or an xarray error the new
  element is xa_destroy'ed and kfree'd and the winner's used (or the error returned).  In the
  model the steps are those of 6.16 (the xarray's lock was never modelled); the delta is kept
  because it is the code as written, and xa_destroy of the empty loser is no step.
* 8b66ed2c3f42 "kho: mm: don't allow deferred struct page with KHO" (its Fixes: tag not
  verified here): Kconfig only (KEXEC_HANDOVER depends on !DEFERRED_STRUCT_PAGE_INIT); no modelled function.
* 44958f2025ed "kho: warn if KHO is disabled due to an error" (no Fixes: tag as posted): a pr_warn
  in kho_reserve_scratch's error path; boot-time scratch reservation is not modelled.
"""

from __future__ import annotations

from khomc.kernel.alloc import kfree, kzalloc
from khomc.kernel.bitops import set_bit
from khomc.kernel.errno import ENOMEM
from khomc.kernel.xarray import xa_cmpxchg, xa_load
from khomc.kho.ledger import Delta

D_63b17b653df3 = Delta("63b17b653df3", "kho: init new_physxa->phys_bits to fix lockdep",
                       fixes="fc33e4b44b27")
D_8b66ed2c3f42 = Delta("8b66ed2c3f42", "kho: mm: don't allow deferred struct page with KHO",
                       note="Kconfig only: no modelled function; Fixes: tag not verified")
D_44958f2025ed = Delta("44958f2025ed", "kho: warn if KHO is disabled due to an error",
                       note="pr_warn in kho_reserve_scratch: boot-time scratch is not modelled; "
                            "the posted patch (20250625231838.1897085-4-pasha.tatashin@soleen.com)"
                            " has no Fixes: tag")


@D_63b17b653df3.replaces
async def __kho_preserve_order(kho, pfn: int, order: int) -> int:
    pfn_high = pfn >> order
    physxa = await xa_load(kho.orders, order)
    if not physxa:
        new_physxa = await kzalloc(kho.heap, SIZEOF_KHO_MEM_PHYS, "__kho_preserve_order")
        if not new_physxa:
            return -ENOMEM
        # xa_init(&new_physxa->phys_bits): the zeroed object is an empty xarray
        physxa = await xa_cmpxchg(kho.orders, order, None, new_physxa)
        if physxa:
            await kfree(kho.heap, new_physxa, "__kho_preserve_order")   # after xa_destroy
        else:
            physxa = new_physxa
    bits = await xa_load_or_alloc(kho, phys_bits(kho, physxa), pfn_high // PRESERVE_BITS,
                                  PRESERVE_BITS // 8)
    if bits < 0:
        return bits
    await set_bit(kho.heap, bits, pfn_high % PRESERVE_BITS, "__kho_preserve_order")
    return 0


DELTAS = (D_63b17b653df3, D_8b66ed2c3f42, D_44958f2025ed)

from khomc.kho.k6_16.kexec_handover import PRESERVE_BITS, SIZEOF_KHO_MEM_PHYS, phys_bits, xa_load_or_alloc  # noqa: E402,F401
