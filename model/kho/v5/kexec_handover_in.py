"""The next kernel of KHO v5: find the FDT, check it, deserialize the map, reserve, restore.

Mirrors the "in" side of the v5 series (20250320015551.2157511-1-changyuanl@google.com):
kho_populate (patch 07: early_memremap the FDT, fdt_check_header, compatible "kho-v1", else
"disabling KHO revival"), kho_mem_deserialize / deserialize_bitmap (patch 09: the
``preserved-memory`` node's ``metadata`` property is the first chunk's physical address; every
set bit of every bitmap is memblock_reserve'd with ``page->private = order``; chunk pages are
reserved too), kho_get_node / kho_get_prop for drivers, and kho_restore_folio (patch 09: the
order comes from ``page->private``).

It is a pure function of what the old kernel left behind (a :class:`khomc.kho.v5.kexec_handover.Handover`):
the bytes of the kho-fdt ksegment and all of physical memory.  Where v5 trusts its input (it
walks the chunk list and the bitmaps without any bounds check), the model refuses malformed
input with a reason instead, so a corrupted map is reported, never a crash of the checker; the
reason says which check a robust kernel would need.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, read_phys
from khomc.kho.fdt import FdtTree, find, prop, unflatten
from khomc.kho.v5.kexec_handover import BITMAP_BYTES, CHUNK_ELM, CHUNK_HDR, KHO_FDT_COMPATIBLE, KHOSER_BITMAP_SIZE, PRESERVED_MEMORY, PRESERVE_BITS, Handover, segment_blob

MAX_PAGE_ORDER = 10
MAX_CHUNKS = 64


class NextKernel(NamedTuple):
    """What the next kernel made of the handover."""

    revived: bool
    reason: str                     # why KHO revival was disabled ("" when revived)
    fdt: FdtTree | None
    reserved: frozenset             # PFNs memblock_reserve'd for preserved memory
    metadata: frozenset             # PFNs of KHO's own metadata reserved (chunk pages)
    order: tuple                    # ((pfn, order), ...): page->private of each preserved head


def refused(reason: str, fdt: FdtTree | None = None) -> NextKernel:
    return NextKernel(False, reason, fdt, frozenset(), frozenset(), ())


def boot(handover: Handover) -> NextKernel:
    """The next kernel booted from *handover*."""
    return boot_from(segment_blob(handover.image), handover.pages)


@functools.lru_cache(maxsize=4096)
def boot_from(blob: bytes, pages: tuple) -> NextKernel:
    """kho_populate + kho_mem_deserialize on raw inputs (used by the fuzz tests too)."""
    parsed = unflatten(blob)
    if parsed.tree is None:
        return refused(f"disabling KHO revival: {parsed.reason}")
    fdt = parsed.tree
    if prop(fdt, "compatible") != KHO_FDT_COMPATIBLE:
        return refused("disabling KHO revival: root is not compatible with \"kho-v1\"", fdt)
    node = find(fdt, (PRESERVED_MEMORY,))
    if node is None:
        return refused("no preserved-memory node", fdt)
    meta = prop(node, "metadata")
    if meta is None or len(meta) != 8:
        return refused("failed to get preserved memory bitmaps: bad metadata property", fdt)
    return _deserialize(fdt, int.from_bytes(meta, "little"), pages)


def _deserialize(fdt: FdtTree, first: int, pages: tuple,
                 bitmap_bytes: int = BITMAP_BYTES) -> NextKernel:
    """Walk the chunk list at *first*; *bitmap_bytes* is one bitmap's size (512 in v5, a page
    since a2fff99f92da; the 6.19 model passes PAGE_SIZE)."""
    limit = len(pages) << PAGE_SHIFT
    reserved: set = set()
    metadata: set = set()
    orders: dict = {}
    chunk = first
    seen = set()
    while chunk:
        if chunk in seen or len(seen) >= MAX_CHUNKS:
            return refused(f"chunk list loops or is longer than {MAX_CHUNKS} at {chunk:#x}", fdt)
        seen.add(chunk)
        if chunk % PAGE_SIZE or chunk + PAGE_SIZE > limit:
            return refused(f"chunk {chunk:#x} is not a page of memory", fdt)
        page = read_phys(pages, chunk, PAGE_SIZE)
        metadata.add(chunk >> PAGE_SHIFT)
        nxt = int.from_bytes(page[0:8], "little")
        order = int.from_bytes(page[8:12], "little")
        num = int.from_bytes(page[12:16], "little")
        if order > MAX_PAGE_ORDER:
            return refused(f"chunk {chunk:#x}: order {order} above MAX_PAGE_ORDER", fdt)
        if num > KHOSER_BITMAP_SIZE:
            return refused(f"chunk {chunk:#x}: {num} bitmaps, at most {KHOSER_BITMAP_SIZE}", fdt)
        i = 0
        while i < num:
            off = CHUNK_HDR + i * CHUNK_ELM
            phys_start = int.from_bytes(page[off:off + 8], "little")
            bitmap = int.from_bytes(page[off + 8:off + 16], "little")
            why = _deserialize_bitmap(order, phys_start, bitmap, pages, limit, reserved, orders,
                                      bitmap_bytes)
            if why:
                return refused(f"chunk {chunk:#x} bitmap {i}: {why}", fdt)
            i += 1
        chunk = nxt
    return NextKernel(True, "", fdt, frozenset(reserved), frozenset(metadata),
                      tuple(sorted(orders.items())))


def _deserialize_bitmap(order, phys_start, bitmap, pages, limit, reserved, orders,
                        bitmap_bytes=BITMAP_BYTES) -> str:
    if phys_start % (PAGE_SIZE << order):
        return f"phys_start {phys_start:#x} not aligned to order {order}"
    if not bitmap or bitmap + bitmap_bytes > limit:
        return f"bitmap at {bitmap:#x} is outside memory"
    bits = int.from_bytes(read_phys(pages, bitmap, bitmap_bytes), "little")
    while bits:
        bit = (bits & -bits).bit_length() - 1
        bits &= bits - 1
        phys = phys_start + (bit << (order + PAGE_SHIFT))
        if bit >= bitmap_bytes * 8 or phys + (PAGE_SIZE << order) > limit:
            return f"preserved range {phys:#x} is outside memory"
        pfn = phys >> PAGE_SHIFT
        reserved.update(range(pfn, pfn + (1 << order)))
        orders[pfn] = order
    return ""


def kho_get_node(nk: NextKernel, path: tuple) -> FdtTree | None:
    """A node of the handed-over tree by its path below the root; None (-ENOENT) if absent."""
    return find(nk.fdt, path) if nk.revived else None


def kho_restore_folio(nk: NextKernel, phys: int) -> int | None:
    """The order of the folio at *phys*, or None when KHO did not preserve a folio there.

    v5 itself reads ``page->private`` of any page and does not notice a second restore of the
    same page (6.18's 89a3ecca49ee added the magic that does); callers of this model function
    are checked for that by the no-page-lost property instead.
    """
    if phys % PAGE_SIZE:
        return None
    return dict(nk.order).get(phys >> PAGE_SHIFT)


def root_blob(h: Handover) -> bytes:
    """The bytes the next kernel takes as the KHO FDT: the kho-fdt ksegment (the proposals'
    Deltas replace this with their own hand-off)."""
    return segment_blob(h.image)


def user_fdts(h: Handover, nk: NextKernel) -> tuple:
    """Addresses of FDTs users keep in their own memory: none in v5 (the tree is one FDT)."""
    return ()
