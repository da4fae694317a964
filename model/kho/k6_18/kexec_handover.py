"""KHO 6.18: the commits to kernel/kexec_handover.c between v6.17 and v6.18, as deltas.

The era's code is torvalds/linux:kernel/kexec_handover.c as of v6.18 (read from the stored
file of that release line: it has 89a3ecca49ee's page magic, the vmalloc series and
e38f65d317df's scratch checks).  Every delta's subject, full id and release were read from the
mainline revision lists and stable mails; the functions are written as v6.18 has them.  Where an
intermediate form (the code between two deltas touching one function) was not read, the delta
carries the final form of the part it changed, and the header says so.

Deltas in merge order (the 6.18 merge window, then 6.18-rc fixes); "function(s)" lists what
each replaces (``khomc list`` prints the same):

* 89a3ecca49ee "kho: make sure page being restored is actually from KHO": deserialize_bitmap
  stores ``KHO_PAGE_MAGIC`` ('KHOP') and the order in ``page->private``; kho_restore_page
  refuses (WARN, NULL) a page without the magic or with an order above MAX_PAGE_ORDER, clears
  ``private`` and sets the refcounts; kho_restore_folio is ``page ? page_folio(page) : NULL``.
  (20571b187051 "kho: move sanity checks to kho_restore_page()" follows it; its split of the
  same checks between the two functions was not read, so 89a3ecca49ee carries the v6.18 form.)
* 20571b187051 "kho: move sanity checks to kho_restore_page()": no change in the model.
* 469661d0d3a5 "kho: check if kho is finalized in __kho_preserve_order()" (vmalloc series v5,
  20250921054458.4043761-1-rppt@kernel.org): the unlocked ``finalized`` test leaves
  kho_preserve_folio and kho_preserve_phys and is the first statement of
  __kho_preserve_order, so every block of a range is tested.
* 8375b76517cb "kho: replace kho_preserve_phys() with kho_preserve_pages()": the range call
  takes a page and a count (no alignment check is needed); kho_restore_pages restores such a
  range block by block.  (kho_preserve_phys stays in the namespace, uncalled: a ledger cannot
  delete a function.)
* f322a97aeb2a "kho: only fill kimage if KHO is finalized" (Fixes: 3bdecc3c93f9; 6.18, and
  6.17.y stable): kho_fill_kimage returns 0 without setting ``image->kho.fdt`` (and without the
  scratch segment) unless ``kho_out.finalized`` at kexec_file_load time.
* b05addf6f059 "kho: warn and exit when unpreserved page wasn't preserved" (Fixes:
  fc33e4b44b27): __kho_unpreserve WARNs and returns on a missing kho_mem_phys or bitmap instead
  of spinning.
* fa759cd75bce "kho: allocate metadata directly from the buddy allocator": bitmaps (in
  xa_load_or_alloc) and chunks (new_chunk) come from get_zeroed_page; their frees in kho_abort
  (``kfree(bits)``) and kho_mem_ser_free (``kfree(tmp)``) are left as kfree, as v6.18 has them.
  xa_load_or_alloc loses its size argument (attributed here; not read separately).
* a2fff99f92da "kho: increase metadata bitmap size to PAGE_SIZE": PRESERVE_BITS = PAGE_SIZE * 8.
* e38f65d317df "kho: warn and fail on metadata or preserved memory in scratch area": WARN_ON and
  -EINVAL from xa_load_or_alloc, new_chunk, kho_preserve_folio and kho_preserve_pages when
  ``kho_scratch_overlap()``; that helper is real only with CONFIG_KEXEC_HANDOVER_DEBUG (it is
  ``false`` otherwise, kernel/kexec_handover_internal.h); the machine's ``config_debug`` is
  the Kconfig (default n; the scratch-preserve scenario's ``debug`` parameter).

* a667300bd53f "kho: add support for preserving vmalloc allocations" and 90eb9ae35727
  "lib/test_kho: use kho_preserve_vmalloc instead of storing addresses in fdt" (in the ledger
  right after 8375b76517cb, as merged; their code is in khomc.kho.k6_18.vmalloc (7ecd2e439d12 "kho: fix unpreservation of higher-order vmalloc
  preservations" and the out-of-bounds fix of the chunk walk are folded into a667300bd53f there,
  not separate deltas: only order-0 areas are modelled, where they change nothing).

Architecture: x86-64 (LP64).  The range walks store ``min(count_trailing_zeros(pfn), ilog2(end_pfn -
pfn))`` in an ``unsigned int`` and shift by it; for PFN 0 that is 0xffffffff (count_trailing_zeros(0) is
-1), and a shift by at least the operand's width, undefined in C, is computed as x86-64 executes it
(count mod 32 for an ``int``, mod 64 for an ``unsigned long``; arm64's LSLV/LSRV do the same for these
operands) - khomc.kernel.bitops.  Only a range starting at PFN 0 reaches such a count.

Scratch: ``kho_out``'s ``scratch`` is kho_scratch[] (fixed PFN ranges, CMA, where only movable
allocations land: the scratch-preserve and scratch-load scenarios' movable clients allocate
there).  kho_fill_kimage, kho_walk_scratch and kho_locate_mem_hole (every kexec segment
top-down inside a scratch area, else -EADDRNOTAVAIL) are 6.16's, unchanged at v6.18 except
f322a97aeb2a's early return (read at torvalds/linux:kernel/kexec_handover.c@a4a508df2aa3);
e38f65d317df checks KHO's own allocations and the preserve calls against scratch, never the
segments kho_locate_mem_hole places: a segment may still land on a preserved movable page
(the check that refuses such a preserve is debug-only).
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, free_page, get_zeroed_page, memcpy_to
from khomc.kernel.bitops import clear_bit, set_bit
from khomc.kernel.errno import EBUSY, EINVAL, ENOMEM
from khomc.kernel.kexec import SZ_64K, ULONG_MAX, KexecBuf, Kimage, kexec_add_buffer
from khomc.kernel.xarray import xa_cmpxchg, xa_load
from khomc.kernel.bitops import c_uint, c_ulong, count_trailing_zeros, ilog2, shl_int, shr_ulong
from khomc.kho.ledger import Delta
from khomc.runtime.effects import load

KHO_PAGE_MAGIC = 0x4B484F50           # 'KHOP'

D_89a3ecca49ee = Delta("89a3ecca49ee", "kho: make sure page being restored is actually from KHO")
D_20571b187051 = Delta("20571b187051", "kho: move sanity checks to kho_restore_page()",
                       note="the checks' final form is carried by 89a3ecca49ee here")
D_469661d0d3a5 = Delta("469661d0d3a5", "kho: check if kho is finalized in __kho_preserve_order()")
D_8375b76517cb = Delta("8375b76517cb", "kho: replace kho_preserve_phys() with kho_preserve_pages()")
D_a667300bd53f = Delta("a667300bd53f", "kho: add support for preserving vmalloc allocations",
                       note="with 7ecd2e439d12's order argument and the 6.18-rc bound on "
                            "chunk->phys folded in (khomc.kho.k6_18.vmalloc)")
D_90eb9ae35727 = Delta("90eb9ae35727",
                       "lib/test_kho: use kho_preserve_vmalloc instead of storing addresses in fdt")
D_f322a97aeb2a = Delta("f322a97aeb2a", "kho: only fill kimage if KHO is finalized",
                       fixes="3bdecc3c93f9")
D_b05addf6f059 = Delta("b05addf6f059", "kho: warn and exit when unpreserved page wasn't preserved",
                       fixes="fc33e4b44b27")
D_fa759cd75bce = Delta("fa759cd75bce", "kho: allocate metadata directly from the buddy allocator")
D_a2fff99f92da = Delta("a2fff99f92da", "kho: increase metadata bitmap size to PAGE_SIZE")
D_a2fff99f92da.sets(PRESERVE_BITS=PAGE_SIZE * 8)
D_e38f65d317df = Delta("e38f65d317df",
                       "kho: warn and fail on metadata or preserved memory in scratch area")


# -- 469661d0d3a5 ------------------------------------------------------------------------------

@D_469661d0d3a5.replaces(name="__kho_preserve_order")
async def __kho_preserve_order_469661d0d3a5(kho, pfn: int, order: int) -> int:
    pfn_high = shr_ulong(pfn, order)
    if await load(kho.finalized):
        return -EBUSY
    physxa = await xa_load(kho.orders, order)
    if not physxa:
        new_physxa = await kzalloc(kho.heap, SIZEOF_KHO_MEM_PHYS, "__kho_preserve_order")
        if not new_physxa:
            return -ENOMEM
        physxa = await xa_cmpxchg(kho.orders, order, None, new_physxa)
        if physxa:
            await kfree(kho.heap, new_physxa, "__kho_preserve_order")
        else:
            physxa = new_physxa
    bits = await xa_load_or_alloc(kho, phys_bits(kho, physxa), pfn_high // PRESERVE_BITS,
                                  PRESERVE_BITS // 8)
    if bits < 0:
        return bits
    await set_bit(kho.heap, bits, pfn_high % PRESERVE_BITS, "__kho_preserve_order")
    return 0


@D_469661d0d3a5.replaces(name="kho_preserve_folio")
async def kho_preserve_folio_469661d0d3a5(kho, phys: int, order: int) -> int:
    return await __kho_preserve_order(kho, phys >> PAGE_SHIFT, order)


@D_469661d0d3a5.replaces(name="kho_preserve_phys")
async def kho_preserve_phys_469661d0d3a5(kho, phys: int, size: int) -> int:
    pfn = phys >> PAGE_SHIFT
    failed_pfn = 0
    start_pfn = pfn
    end_pfn = (phys + size) >> PAGE_SHIFT
    err = 0
    if phys % PAGE_SIZE or size % PAGE_SIZE:
        return -EINVAL
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        err = await __kho_preserve_order(kho, pfn, order)
        if err:
            failed_pfn = pfn
            break
        pfn = c_ulong(pfn + shl_int(1, order))
    if err:
        await __kho_unpreserve(kho, start_pfn, failed_pfn)
    return err


# -- 8375b76517cb ------------------------------------------------------------------------------

@D_8375b76517cb.replaces(name="kho_preserve_pages")
async def kho_preserve_pages_8375b76517cb(kho, phys: int, nr_pages: int) -> int:
    """*phys* is ``page_to_pfn(page) << PAGE_SHIFT`` of the first page."""
    start_pfn = phys >> PAGE_SHIFT
    end_pfn = start_pfn + nr_pages
    pfn = start_pfn
    failed_pfn = 0
    err = 0
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        err = await __kho_preserve_order(kho, pfn, order)
        if err:
            failed_pfn = pfn
            break
        pfn = c_ulong(pfn + shl_int(1, order))
    if err:
        await __kho_unpreserve(kho, start_pfn, failed_pfn)
    return err


# -- f322a97aeb2a ------------------------------------------------------------------------------

@D_f322a97aeb2a.replaces(name="kho_fill_kimage")
async def kho_fill_kimage_f322a97aeb2a(kho, image: Kimage):
    """(err, image, image->kho.fdt): nothing unless finalized (an unlocked sample)."""
    if not await load(kho.finalized):
        return 0, image, None
    fdt = await load(kho.fdt)
    scratch_size = SIZEOF_KHO_SCRATCH * len(kho.scratch)
    scratch = KexecBuf("kho-scratch", kho_scratch_blob(kho), scratch_size, scratch_size,
                       SZ_64K, buf_max=ULONG_MAX, top_down=True)
    err, image = kexec_add_buffer(image, scratch,
                                  lambda im, kbuf, func: kho_locate_mem_hole(kho, im, kbuf, func))
    if err:
        return err, image, fdt
    return 0, image, fdt


# -- b05addf6f059 ------------------------------------------------------------------------------

@D_b05addf6f059.replaces(name="__kho_unpreserve")
async def __kho_unpreserve_b05addf6f059(kho, pfn: int, end_pfn: int) -> None:
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        pfn_high = shr_ulong(pfn, order)
        physxa = await xa_load(kho.orders, order)
        if not physxa:
            return                        # WARN_ON_ONCE(!physxa)
        bits = await xa_load(phys_bits(kho, physxa), pfn_high // PRESERVE_BITS)
        if not bits:
            return                        # WARN_ON_ONCE(!bits)
        await clear_bit(kho.heap, bits, pfn_high % PRESERVE_BITS, "__kho_unpreserve")
        pfn = c_ulong(pfn + shl_int(1, order))


# -- fa759cd75bce ------------------------------------------------------------------------------

@D_fa759cd75bce.replaces(name="xa_load_or_alloc")
async def xa_load_or_alloc_fa759cd75bce(kho, xa, index: int, sz: int = PAGE_SIZE):
    """The model keeps the size argument in the signature (callers pass it); v6.18 allocates a
    page whatever it is."""
    res = await xa_load(xa, index)
    if res:
        return res
    elm = await get_zeroed_page(kho.heap, "xa_load_or_alloc")
    if not elm:
        return -ENOMEM
    if kho_scratch_overlap(kho, elm, PAGE_SIZE):
        await free_page(kho.heap, elm, "xa_load_or_alloc")       # __free(free_page)
        return -EINVAL
    res = await xa_cmpxchg(xa, index, None, elm)
    if res:
        await free_page(kho.heap, elm, "xa_load_or_alloc")       # __free(free_page)
        return res
    return elm


@D_fa759cd75bce.replaces(name="new_chunk")
async def new_chunk_fa759cd75bce(kho, cur_chunk: int, order: int) -> int:
    """The chunk, or a negative errno (ERR_PTR)."""
    chunk = await get_zeroed_page(kho.heap, "new_chunk")
    if not chunk:
        return -ENOMEM
    if kho_scratch_overlap(kho, chunk, PAGE_SIZE):
        await free_page(kho.heap, chunk, "new_chunk")           # __free(free_page)
        return -EINVAL
    if cur_chunk:
        await memcpy_to(kho.heap, cur_chunk, chunk.to_bytes(8, "little"), "new_chunk")
    return chunk


# -- e38f65d317df ------------------------------------------------------------------------------

@D_e38f65d317df.replaces(name="kho_scratch_overlap")
def kho_scratch_overlap_e38f65d317df(kho, phys: int, size: int) -> bool:
    """kernel/kexec_handover_internal.h: false unless CONFIG_KEXEC_HANDOVER_DEBUG
    (``kho.config_debug``); then kexec_handover_debug.c's walk of kho_scratch[]: does
    [phys, phys + size) overlap any area?"""
    if not kho.config_debug:
        return False
    for addr, sz in kho.scratch:
        if phys < addr + sz and addr < phys + size:
            return True
    return False


@D_e38f65d317df.replaces(name="kho_preserve_folio")
async def kho_preserve_folio_e38f65d317df(kho, phys: int, order: int) -> int:
    pfn = phys >> PAGE_SHIFT
    if kho_scratch_overlap(kho, pfn << PAGE_SHIFT, PAGE_SIZE << order):
        return -EINVAL
    return await __kho_preserve_order(kho, pfn, order)


@D_e38f65d317df.replaces(name="kho_preserve_pages")
async def kho_preserve_pages_e38f65d317df(kho, phys: int, nr_pages: int) -> int:
    start_pfn = phys >> PAGE_SHIFT
    end_pfn = start_pfn + nr_pages
    pfn = start_pfn
    failed_pfn = 0
    err = 0
    if kho_scratch_overlap(kho, start_pfn << PAGE_SHIFT, nr_pages << PAGE_SHIFT):
        return -EINVAL
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        err = await __kho_preserve_order(kho, pfn, order)
        if err:
            failed_pfn = pfn
            break
        pfn = c_ulong(pfn + shl_int(1, order))
    if err:
        await __kho_unpreserve(kho, start_pfn, failed_pfn)
    return err


def kho_scratch_overlap(kho, phys: int, size: int) -> bool:
    """Before e38f65d317df there is no such check; fa759cd75bce's functions call it, so the
    ledger links this always-false stand-in until e38f65d317df replaces it."""
    return False


from khomc.kernel.alloc import kfree, kzalloc  # noqa: E402
from khomc.kho.k6_16.kexec_handover import PRESERVE_BITS, SIZEOF_KHO_MEM_PHYS, SIZEOF_KHO_SCRATCH, __kho_preserve_order, __kho_unpreserve, kho_locate_mem_hole, kho_scratch_blob, phys_bits, xa_load_or_alloc  # noqa: E402,F401
