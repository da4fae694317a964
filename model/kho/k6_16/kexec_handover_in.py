"""The next kernel of KHO 6.16: kho_populate, kho_memory_init, kho_mem_deserialize,
kho_retrieve_subtree, kho_restore_folio.

Mirrors the "in" half of torvalds/linux:kernel/kexec_handover.c@00c010e130e5:

* ``kho_populate`` - fdt_check_header, ``fdt_node_check_compatible(fdt, 0, "kho-v1")``, else
  "disabling KHO revival" (the scratch array is always readable here);
* ``kho_memory_init`` - kho_mem_deserialize, then ``kho_restore_folio(kho_in.fdt_phys)`` of the
  root FDT page (a restore like any other: in 6.18 it consumes that page's magic);
* ``kho_mem_deserialize`` - no ``preserved-memory-map`` of 8 bytes: pr_err and nothing is
  reserved, KHO stays revived; else the chunk list is walked with NO checks of its contents;
* ``deserialize_bitmap`` - every set bit: memblock_reserve, noinit, and
  ``page->private = order`` of the head page (the value comes from :func:`kho_page_private`);
* ``kho_retrieve_subtree`` - -ENOENT without an FDT or node, -EINVAL on a bad ``fdt`` property;
* ``kho_restore_page`` / ``kho_restore_folio`` - 6.16 accepts ANY address of online memory:
  ``order = page->private``; a non-zero order above MAX_PAGE_ORDER gives NULL, a non-zero order
  makes a compound page, zero makes an order-0 folio of whatever page it is (a page KHO never
  preserved included); a page can be restored any number of times.

Abstractions: the next kernel is a pure function of the handover (its memory and the image);
``page->private`` of every page is a dict in the :class:`Restorer`, the value carried from one
restore call to the next.  Where the kernel would read or write outside memory (a chunk, a
bitmap or a preserved range past the last page), the model stops with ``fault`` set: the real
kernel's behaviour there is undefined, and the properties count it as a failed handover.  A chunk
list that loops is reported as a hang.  These are outcomes, not checks the kernel makes.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, read_phys
from khomc.kernel.bitops import c_uint, c_ulong, shl_int, shl_ulong
from khomc.kernel.errno import EINVAL, ENOENT
from khomc.kho.fdt import FdtTree, find, prop, unflatten
from khomc.kho.k6_16.kexec_handover import CHUNK_ELM, CHUNK_HDR, KHO_FDT_COMPATIBLE, PRESERVE_BITS, PROP_PRESERVED_MEMORY_MAP, PROP_SUB_FDT

MAX_PAGE_ORDER = 10
MAX_CHUNK_WALK = 64


class NextKernel(NamedTuple):
    """What the next kernel made of the handover."""

    revived: bool                   # kho_populate accepted the FDT (kho_in.fdt_phys is set)
    reason: str                     # why revival was disabled, or what went wrong after it
    fdt: FdtTree | None
    reserved: frozenset             # PFNs memblock_reserve'd by deserialize_bitmap
    metadata: frozenset             # PFNs of KHO's own pages reserved (the root FDT page)
    order: tuple                    # ((pfn, page->private), ...) after kho_mem_deserialize
    fault: str = ""                 # the next kernel read or wrote outside memory / hung
    fdt_phys: int = 0
    read: frozenset = frozenset()   # PFNs of KHO metadata it read (root FDT, chunks, bitmaps)


def refused(reason: str, fdt: FdtTree | None = None) -> NextKernel:
    return NextKernel(False, reason, fdt, frozenset(), frozenset(), ())


def kho_page_private(order: int) -> int:
    """The value deserialize_bitmap stores in ``page->private`` (6.16: the order)."""
    return order


def deserialize_bitmap(order: int, phys_start: int, bitmap: int, pages: tuple,
                       reserved: set, private: dict, read: set) -> str:
    """'' or the fault."""
    limit = len(pages) << PAGE_SHIFT
    nbytes = PRESERVE_BITS // 8
    if bitmap + nbytes > limit:
        return f"bitmap at {bitmap:#x} is outside memory"
    read.update(range(bitmap >> PAGE_SHIFT, (bitmap + nbytes + PAGE_SIZE - 1) >> PAGE_SHIFT))
    bits = int.from_bytes(read_phys(pages, bitmap, nbytes), "little")
    while bits:
        bit = (bits & -bits).bit_length() - 1
        bits &= bits - 1
        # ``int sz = 1 << (order + PAGE_SHIFT)`` and ``bit << (order + PAGE_SHIFT)`` with an
        # unsigned int order, as x86-64 computes them (khomc.kernel.bitops; a count of at
        # least the width is undefined in C; PFN 0's range order 0xffffffff and a corrupted
        # chunk's order get there): order 0xffffffff gives a count of 11, sz 2048
        shift = c_uint(order + PAGE_SHIFT)
        sz = c_ulong(shl_int(1, shift))            # memblock_reserve's phys_addr_t size
        phys = c_ulong(phys_start + shl_ulong(bit, shift))
        if phys >= limit:
            return f"page->private of {phys:#x}: outside memory"
        pfn = phys >> PAGE_SHIFT
        # memblock_reserve(phys, sz) keeps PFN_DOWN(phys) .. PFN_UP(phys + sz) from the buddy
        # allocator (mm/memblock.c __free_memory_core frees PFN_UP(start) .. PFN_DOWN(end) of
        # each free range); PFNs past the model's machine change nothing a property reads, so
        # the set stops there (a corrupted order would otherwise ask for 2**k PFNs)
        reserved.update(range(pfn, min(-(-(phys + sz) // PAGE_SIZE), len(pages))))
        private[pfn] = kho_page_private(order)
    return ""


def kho_mem_deserialize(fdt: FdtTree, pages: tuple, read: set):
    """(reserved PFNs, page->private, pr_err or fault message, is it a fault); the PFNs it
    reads are added to *read*."""
    reserved: set = set()
    private: dict = {}
    mem = prop(fdt, PROP_PRESERVED_MEMORY_MAP)
    if mem is None or len(mem) != 8:
        return reserved, private, "failed to get preserved memory bitmaps", False
    limit = len(pages) << PAGE_SHIFT
    chunk = int.from_bytes(mem, "little")
    walked = 0
    while chunk:
        if walked >= MAX_CHUNK_WALK:
            return reserved, private, "the chunk list loops: the next kernel hangs", True
        walked += 1
        if chunk + PAGE_SIZE > limit:
            return reserved, private, f"chunk {chunk:#x} is outside memory", True
        page = read_phys(pages, chunk, PAGE_SIZE)
        read.add(chunk >> PAGE_SHIFT)
        nxt = int.from_bytes(page[0:8], "little")
        order = int.from_bytes(page[8:12], "little")
        num = int.from_bytes(page[12:16], "little")
        i = 0
        while i != num:
            off = CHUNK_HDR + i * CHUNK_ELM
            if off + CHUNK_ELM > PAGE_SIZE:
                return reserved, private, f"chunk {chunk:#x}: bitmaps[{i}] past the page", True
            phys_start = int.from_bytes(page[off:off + 8], "little")
            bitmap = int.from_bytes(page[off + 8:off + 16], "little")
            why = deserialize_bitmap(order, phys_start, bitmap, pages, reserved, private, read)
            if why:
                return reserved, private, why, True
            i += 1
        chunk = nxt
    return reserved, private, "", False


def kho_populate(fdt_phys: int | None, pages: tuple) -> NextKernel:
    """kho_populate, then kho_memory_init's kho_mem_deserialize."""
    if fdt_phys is None:
        return refused("no KHO FDT in the boot parameters (kho_fill_kimage did not set it)")
    parsed = unflatten(read_phys(pages, fdt_phys, PAGE_SIZE))
    if parsed.tree is None:
        return refused(f"setup: handover FDT is invalid; disabling KHO revival: {parsed.reason}")
    fdt = parsed.tree
    if prop(fdt, "compatible") != KHO_FDT_COMPATIBLE:
        return refused("setup: handover FDT is incompatible with 'kho-v1'; disabling KHO "
                       "revival", fdt)
    read = {fdt_phys >> PAGE_SHIFT}
    reserved, private, why, fault = kho_mem_deserialize(fdt, pages, read)
    metadata = frozenset({fdt_phys >> PAGE_SHIFT}) & frozenset(reserved)
    return NextKernel(True, why, fdt, frozenset(reserved), metadata,
                      tuple(sorted(private.items())), why if fault else "", fdt_phys,
                      frozenset(read))


def boot(h) -> NextKernel:
    return kho_populate(h.image.kho_fdt, h.pages)


def kho_retrieve_subtree(nk: NextKernel, name: str) -> int:
    """The subtree's physical address, or -ENOENT / -EINVAL."""
    if not nk.revived or nk.fdt is None:
        return -ENOENT
    node: FdtTree | None = find(nk.fdt, (name,))
    if node is None:
        return -ENOENT
    value = prop(node, PROP_SUB_FDT)
    if value is None or len(value) != 8:
        return -EINVAL
    return int.from_bytes(value, "little")


class Restorer(NamedTuple):
    """The next kernel's ``page->private`` of every page (as deserialize_bitmap left it and
    restores changed it), its number of pages, and every restore that returned memory."""

    nk: NextKernel
    private: tuple
    nr_pages: int
    restored: tuple = ()            # ((call, pfn, order), ...) in call order

    def get(self, pfn: int) -> int:
        return dict(self.private).get(pfn, 0)

    def put(self, pfn: int, value: int) -> "Restorer":
        d = dict(self.private)
        d[pfn] = value
        return self._replace(private=tuple(sorted(d.items())))

    def note(self, call: str, pfn: int, order: int) -> "Restorer":
        return self._replace(restored=self.restored + ((call, pfn, order),))


def restorer(nk: NextKernel, nr_pages: int) -> Restorer:
    return Restorer(nk, nk.order, nr_pages)


def pfn_to_online_page(r: Restorer, pfn: int) -> bool:
    return 0 <= pfn < r.nr_pages


def kho_restore_folio(r: Restorer, phys: int):
    """(order of the returned folio, or None for NULL; the restorer after the call)."""
    pfn = phys >> PAGE_SHIFT
    if not pfn_to_online_page(r, pfn):
        return None, r
    order = r.get(pfn)
    if order:
        if order > MAX_PAGE_ORDER:
            return None, r
        # prep_compound_page(page, order)
    # else kho_restore_page(page): ClearPageReserved, init_page_count
    return order, r.note("kho_restore_folio", pfn, order)


def kho_memory_init(nk: NextKernel, nr_pages: int) -> Restorer:
    """After kho_mem_deserialize: ``kho_restore_folio(kho_in.fdt_phys)`` of the root FDT."""
    r = restorer(nk, nr_pages)
    if nk.revived and not nk.fault:
        _, r = kho_restore_folio(r, nk.fdt_phys)
    return r

