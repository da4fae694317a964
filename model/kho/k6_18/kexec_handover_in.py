"""The next kernel's half of KHO 6.18's deltas: the page magic and the range restore.

Written as torvalds/linux:kernel/kexec_handover.c has them at v6.18 (see
khomc.kho.k6_18.kexec_handover for the ledger):

* 89a3ecca49ee: ``deserialize_bitmap`` stores ``union kho_page_info { u32 order; u32 magic; }``
  (``magic = KHO_PAGE_MAGIC``) in the head page's ``private`` (:func:`kho_page_private`);
  ``kho_restore_page(phys)``: NULL unless the page is online, WARN and NULL unless the magic is
  there and the order at most MAX_PAGE_ORDER (the magic check also refuses a phys that is not a
  preserved head), then ``private = 0`` (a later restore of the page fails), refcounts, compound
  page for order > 0; ``kho_restore_folio`` = ``page ? page_folio(page) : NULL``.
* 8375b76517cb: ``kho_restore_pages(phys, nr_pages)``: the range split by
  ``min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn))``, each block kho_restore_page'd and
  split_page'd; the first NULL returns NULL with the blocks before it already restored (their
  magic cleared); the order found in ``private`` is not compared with the block's.

``page->private`` is the model's int ``magic << 32 | order``.
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SHIFT
from khomc.kernel.bitops import c_uint, c_ulong, count_trailing_zeros, ilog2, shl_int
from khomc.kho.k6_18.kexec_handover import D_8375b76517cb, D_89a3ecca49ee, KHO_PAGE_MAGIC
from khomc.kho.k6_16.kexec_handover_in import MAX_PAGE_ORDER, pfn_to_online_page

_ORDER_MASK = 0xFFFFFFFF


@D_89a3ecca49ee.replaces(name="kho_page_private")
def kho_page_private_89a3ecca49ee(order: int) -> int:
    return (KHO_PAGE_MAGIC << 32) | order


@D_89a3ecca49ee.replaces(name="kho_restore_page")
def kho_restore_page_89a3ecca49ee(r, phys: int):
    """(order of the restored head page, or None for NULL; the restorer after it)."""
    pfn = phys >> PAGE_SHIFT
    if not pfn_to_online_page(r, pfn):
        return None, r
    info = r.get(pfn)
    magic, order = info >> 32, info & _ORDER_MASK
    if magic != KHO_PAGE_MAGIC or order > MAX_PAGE_ORDER:
        return None, r                         # WARN_ON_ONCE
    r = r.put(pfn, 0)                          # later restores of this page error out
    return order, r


@D_89a3ecca49ee.replaces(name="kho_restore_folio")
def kho_restore_folio_89a3ecca49ee(r, phys: int):
    order, r = kho_restore_page(r, phys)
    if order is None:
        return None, r
    return order, r.note("kho_restore_folio", phys >> PAGE_SHIFT, order)


@D_8375b76517cb.replaces(name="kho_restore_pages")
def kho_restore_pages_8375b76517cb(r, phys: int, nr_pages: int):
    """(True for the first page, None for NULL; the restorer after the call)."""
    start_pfn = phys >> PAGE_SHIFT
    end_pfn = start_pfn + nr_pages
    pfn = start_pfn
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        got, r = kho_restore_page(r, pfn << PAGE_SHIFT)
        if got is None:
            return None, r
        r = r.note("kho_restore_pages", pfn, order)       # split_page(page, order)
        pfn = c_ulong(pfn + shl_int(1, order))
    return True, r
