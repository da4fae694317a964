"""The xarray-of-bitmaps memory tracker and its chunk list, shared by KHO v5, 6.16 and 6.18.

Owns the code that is the same, up to naming, in:

* v5 patch 09/16 (20250320015551.2157511-10-changyuanl@google.com): ``xa_load_or_alloc``,
  ``__kho_preserve`` / ``__kho_unpreserve``, ``new_chunk``, ``kho_mem_ser_free``,
  ``kho_mem_serialize``;
* 6.16, torvalds/linux:kernel/kexec_handover.c@00c010e130e5: the same functions, with
  ``__kho_preserve`` renamed ``__kho_preserve_order``; ``xa_load_or_alloc`` is load, kzalloc,
  ``xa_cmpxchg(NULL -> elm)`` and the loser kfree()s its element; the bitmap bit is set with the
  atomic ``set_bit``; ``kho_mem_serialize`` stores in each chunk a pointer to the LIVE bitmap,
  not a copy;
* 6.18 keeps them (the ``finalized`` check that 469661d0d3a5 moves into
  ``__kho_preserve_order`` lives in the era module, khomc.kho.k6_16.kexec_handover).

``PRESERVE_BITS`` is 512*8 here, as in v5 and 6.16 (a2fff99f92da made it PAGE_SIZE*8 in 6.18;
every modelled PFN is below 4096, so both give bitmap index 0 and the same states).

A ``kho`` argument is any era machine with ``heap`` (khomc.kernel.alloc.Heap) and ``orders``
(an XArray).  ``mark`` lets an era fold its ghost bookkeeping into the bit operation (one step);
without it the plain atomic set_bit / clear_bit is used (v5).

Model note: ``xa_entries`` takes each xarray's entries in one step, as one possible outcome of
``xa_for_each`` racing with inserts (an entry inserted during the walk is missed, as it can be
in the kernel); the outcomes in which the walk sees a later insert at a higher index but misses
an earlier one at a lower index are not generated.  No property here depends on that order.
"""

from __future__ import annotations

from ..kernel.alloc import PAGE_SHIFT, free_page, get_zeroed_page, heap_read_bytes, kfree, kzalloc, memcpy_to
from ..kernel.bitops import clear_bit, set_bit
from ..kernel.errno import ENOMEM
from ..kernel.xarray import XArray, xa_cmpxchg, xa_entries, xa_load

PRESERVE_BITS = 512 * 8               # bits in one struct kho_mem_phys_bits
BITMAP_BYTES = PRESERVE_BITS // 8
SIZEOF_KHO_MEM_PHYS = 16              # struct kho_mem_phys { struct xarray phys_bits; }
CHUNK_HDR = 16                        # next (u64), order (u32), num_elms (u32)
CHUNK_ELM = 16                        # phys_start (u64), bitmap (u64)
KHOSER_BITMAP_SIZE = ((1 << PAGE_SHIFT) - CHUNK_HDR) // CHUNK_ELM


def ilog2(n: int) -> int:
    return n.bit_length() - 1


def ctz(n: int) -> int:
    """count_trailing_zeros for a PFN (64 for 0, as include/linux/count_zeros.h).

    >>> ctz(12), ctz(0)
    (2, 64)
    """
    return (n & -n).bit_length() - 1 if n else 64


async def xa_load_or_alloc(kho, xa: XArray, index: int, size: int, site: str):
    """The element at *index*, allocating and installing a zeroed one if there is none."""
    elm = await xa_load(xa, index)
    if elm:
        return elm
    elm = await kzalloc(kho.heap, size, site)
    if not elm:
        return -ENOMEM
    res = await xa_cmpxchg(xa, index, None, elm)
    if res:
        await kfree(kho.heap, elm, site)     # another task installed one first
        return res
    return elm


def phys_bits(kho, physxa: int) -> XArray:
    return XArray.in_object(kho.heap, physxa, "phys_bits")


async def __kho_preserve(kho, pfn: int, order: int, mark=None) -> int:
    pfn_hi = pfn >> order
    physxa = await xa_load_or_alloc(kho, kho.orders, order, SIZEOF_KHO_MEM_PHYS,
                                    "xa_load_or_alloc(orders)")
    if physxa < 0:
        return physxa
    bits = await xa_load_or_alloc(kho, phys_bits(kho, physxa), pfn_hi // PRESERVE_BITS,
                                  BITMAP_BYTES, "xa_load_or_alloc(phys_bits)")
    if bits < 0:
        return bits
    if mark is None:
        await set_bit(kho.heap, bits, pfn_hi % PRESERVE_BITS, "__kho_preserve")
    else:
        await mark(kho, bits, pfn_hi % PRESERVE_BITS, pfn, order)
    return 0


async def __kho_unpreserve(kho, pfn: int, order: int, mark=None) -> None:
    pfn_hi = pfn >> order
    physxa = await xa_load(kho.orders, order)
    if not physxa:
        return
    bits = await xa_load(phys_bits(kho, physxa), pfn_hi // PRESERVE_BITS)
    if not bits:
        return
    if mark is None:
        await clear_bit(kho.heap, bits, pfn_hi % PRESERVE_BITS, "__kho_unpreserve")
    else:
        await mark(kho, bits, pfn_hi % PRESERVE_BITS, pfn, order)




# -- serialization of the tracker ------------------------------------------------------------

def chunk_body(order: int, elms: tuple) -> bytes:
    """``hdr.order``, ``hdr.num_elms`` and the bitmaps[] of a khoser_mem_chunk (after hdr.next).

    >>> len(chunk_body(0, ((0, 0x3000),)))
    24
    """
    out = order.to_bytes(4, "little") + len(elms).to_bytes(4, "little")
    for phys_start, bitmap in elms:
        out += phys_start.to_bytes(8, "little") + bitmap.to_bytes(8, "little")
    return out


async def kho_mem_ser_free(kho, first: int) -> None:
    chunk = first
    while chunk:
        head = await heap_read_bytes(kho.heap, chunk, 8, "kho_mem_ser_free")
        await free_page(kho.heap, chunk, "kho_mem_ser_free")
        chunk = int.from_bytes(head, "little")


async def new_chunk(kho, cur: int) -> int:
    chunk = await get_zeroed_page(kho.heap, "new_chunk")
    if chunk and cur:
        await memcpy_to(kho.heap, cur, chunk.to_bytes(8, "little"), "new_chunk")
    return chunk


async def kho_mem_serialize(kho) -> int:
    """The physical address of the first chunk (0 if nothing is tracked), or -ENOMEM.

    The chunks hold pointers to the live bitmaps, not copies (§2.3).  Each chunk's body is
    written once it is complete: nobody else can see a chunk before kho_out.first_chunk_phys
    is set, so the number of steps used to fill it is not observable.
    """
    orders = await xa_entries(kho.orders)
    first = 0
    chunk = 0
    i = 0
    while i < len(orders):
        order, physxa = orders[i]
        chunk = await new_chunk(kho, chunk)
        if not chunk:
            await kho_mem_ser_free(kho, first)
            return -ENOMEM
        if not first:
            first = chunk
        bitmaps = await xa_entries(phys_bits(kho, physxa))
        elms = ()
        j = 0
        while j < len(bitmaps):
            if len(elms) == KHOSER_BITMAP_SIZE:
                await memcpy_to(kho.heap, chunk, chunk_body(order, elms), "kho_mem_serialize", 8)
                chunk = await new_chunk(kho, chunk)
                if not chunk:
                    await kho_mem_ser_free(kho, first)
                    return -ENOMEM
                elms = ()
            idx, bits = bitmaps[j]
            elms = elms + (((idx * PRESERVE_BITS) << (order + PAGE_SHIFT), bits),)
            j += 1
        await memcpy_to(kho.heap, chunk, chunk_body(order, elms), "kho_mem_serialize", 8)
        i += 1
    return first
