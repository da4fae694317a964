"""KHO v5, the next kernel's half: kho_populate, lookups, kho_mem_deserialize, restore.

Mirrors, statement for statement, the "in" side of the v5 series
(20250320015551.2157511-1-changyuanl@google.com):

* patch 08/16 "kexec: add KHO parsing support" (20250320015551.2157511-9-changyuanl@google.com):
  :func:`kho_populate` - early_memremap of the header, ``fdt_check_header`` (the ONLY check:
  there is no test of the root's ``compatible``), ``kho_in.fdt_phys``, memblock_reserve of the
  FDT, the scratch areas; :func:`kho_get_node` (fdt_subnode_offset, -ENOENT) and
  :func:`kho_get_prop` (fdt_getprop);
* patch 09/16 (20250320015551.2157511-10-changyuanl@google.com): :func:`kho_mem_deserialize`
  (a missing ``preserved-memory`` node or a bad ``metadata`` property is only pr_err'd: KHO
  stays revived with nothing reserved), :func:`deserialize_bitmap` (no bounds check on
  anything: chunk, bitmap pointer, order, phys_start), :func:`kho_restore_folio` (reads
  ``page->private`` BEFORE its ``!page`` test and takes the order from any page) and
  :func:`kho_restore_phys` (kho_restore_page on every PFN of the range, preserved or not).

It is a pure function of what the old kernel left behind (a
:class:`khomc.kho.v5.kexec_handover.Handover`): the kho-fdt ksegment and all of physical memory.
Where v5 trusts its input, the model trusts it too; an access the kernel would make outside
memory (a wild chunk or bitmap pointer, a NULL bitmap, page->private of a PFN past the memmap)
or a chunk list that cycles (the kernel loops forever at boot) is reported as the crash it is
(``NextKernel.crash``), never refused with a check the kernel does not make.

Abstractions: the scratch areas (memblock_add / mark / reserve of the scratch array,
memblock_set_kho_scratch_only) are not modelled - kexec segments are placed above all
modelled pages (khomc.kernel.kexec), so no preserved page can be in scratch; the FDT's own
memblock_reserve is of the segment, outside the pages.  A blob that passes fdt_check_header
but whose structure block is corrupt is accepted with no usable tree (``fdt`` None): every
later libfdt lookup on it fails, so nothing is reserved and no node is found.
``page->private`` of a page deserialize_bitmap did not write is 0 (the memmap of the next
kernel starts zeroed).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import libfdt

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, read_phys
from khomc.kernel.bitops import c_uint, c_ulong, shl_int, shl_ulong
from khomc.kho.fdt import FdtTree, find, prop, unflatten
from khomc.kho.v5.kexec_handover import BITMAP_BYTES, CHUNK_ELM, CHUNK_HDR, PRESERVED_MEMORY, Handover, segment_blob

MAX_PAGE_ORDER = 10


class NextKernel(NamedTuple):
    """What the next kernel made of the handover."""

    revived: bool
    reason: str                     # why KHO revival was disabled ("" when revived)
    fdt: FdtTree | None
    reserved: frozenset             # PFNs memblock_reserve'd for preserved memory
    metadata: frozenset             # PFNs of KHO's own metadata reserved (chunk pages)
    order: tuple                    # ((pfn, order), ...): page->private of each preserved head
    crash: str = ""                 # the oops or hang the next kernel suffers at boot


def refused(reason: str, fdt: FdtTree | None = None) -> NextKernel:
    return NextKernel(False, reason, fdt, frozenset(), frozenset(), ())


def boot(handover: Handover) -> NextKernel:
    """The next kernel booted from *handover*."""
    return boot_from(segment_blob(handover.image), handover.pages)


def kho_populate(blob: bytes):
    """(tree or None, reason): fdt_check_header of the handover FDT; v5 checks nothing else.

    A blob whose header is good but whose structure is not gives (None, "") - accepted."""
    parsed = unflatten(blob)
    if parsed.tree is not None:
        return parsed.tree, ""
    buf = bytearray(blob)
    if len(buf) < 40 or libfdt.fdt_check_header(buf):
        return None, f"setup: kexec handover FDT is invalid ({parsed.reason})"
    return None, ""


def kho_get_node(nk: NextKernel, path: tuple) -> FdtTree | None:
    """A node of the handed-over tree by its path below the root; None (-ENOENT) if absent or
    when there is no FDT (``kho_get_fdt()`` NULL)."""
    if nk.fdt is None or not nk.revived:
        return None
    return find(nk.fdt, path)


def kho_get_prop(node: FdtTree | None, key: str) -> bytes | None:
    return None if node is None else prop(node, key)


@functools.lru_cache(maxsize=4096)
def boot_from(blob: bytes, pages: tuple) -> NextKernel:
    """kho_populate, then kho_memory_init's kho_mem_deserialize, on raw inputs."""
    fdt, why = kho_populate(blob)
    if why:
        return refused(why)
    nk = NextKernel(True, "", fdt, frozenset(), frozenset(), ())
    return kho_mem_deserialize(nk, pages)


class _Oops(Exception):
    """The next kernel faults (or hangs): the message says where."""


def _read(pages: tuple, phys: int, size: int, what: str) -> bytes:
    if phys < 0 or phys + size > len(pages) << PAGE_SHIFT:
        raise _Oops(f"{what}: read of {size} bytes at {phys:#x} is outside memory")
    return read_phys(pages, phys, size)


def kho_mem_deserialize(nk: NextKernel, pages: tuple) -> NextKernel:
    preserved_mem = kho_get_node(nk, (PRESERVED_MEMORY,))
    if preserved_mem is None:
        return nk._replace(reason="no preserved-memory node: -ENOENT (pr_err only)")
    mem = kho_get_prop(preserved_mem, "metadata")
    if mem is None or len(mem) != 8:
        return nk._replace(reason="failed to get preserved memory bitmaps (pr_err only)")
    reserved: set = set()
    metadata: set = set()
    private: dict = {}
    chunk = int.from_bytes(mem, "little")
    seen: set = set()
    try:
        while chunk:
            if chunk in seen:
                raise _Oops(f"hang: the chunk list cycles back to {chunk:#x}; "
                            "kho_mem_deserialize never returns")
            seen.add(chunk)
            _reserve(reserved_into=metadata, phys=chunk, size=PAGE_SIZE, pages=pages)
            hdr = _read(pages, chunk, CHUNK_HDR, "chunk->hdr")
            order = int.from_bytes(hdr[8:12], "little")
            num_elms = int.from_bytes(hdr[12:16], "little")
            i = 0
            while i != num_elms:
                off = chunk + CHUNK_HDR + i * CHUNK_ELM
                elm = _read(pages, off, CHUNK_ELM, f"chunk->bitmaps[{i}]")
                deserialize_bitmap(order, int.from_bytes(elm[0:8], "little"),
                                   int.from_bytes(elm[8:16], "little"), pages, reserved,
                                   private)
                i += 1
            chunk = int.from_bytes(hdr[0:8], "little")
    except _Oops as oops:
        return NextKernel(False, f"next kernel crashes: {oops}", nk.fdt, frozenset(reserved),
                          frozenset(metadata), tuple(sorted(private.items())), str(oops))
    return nk._replace(reserved=frozenset(reserved), metadata=frozenset(metadata),
                       order=tuple(sorted(private.items())))


def _reserve(reserved_into: set, phys: int, size: int, pages: tuple) -> None:
    """memblock_reserve(phys, size) as the page allocator sees it: the PFNs of memory it
    covers (a range past the end of memory reserves nothing there)."""
    end = min(phys + size, len(pages) << PAGE_SHIFT)
    reserved_into.update(range(phys >> PAGE_SHIFT, -(-end // PAGE_SIZE)))


def deserialize_bitmap(order: int, phys_start: int, bitmap: int, pages: tuple,
                       reserved: set, private: dict) -> None:
    """KHOSER_LOAD_PTR(elm->bitmap) (NULL for 0), then every set bit: memblock_reserve,
    memblock_reserved_mark_noinit, ``phys_to_page(phys)->private = order``."""
    if not bitmap:
        raise _Oops("NULL bitmap pointer dereferenced in deserialize_bitmap")
    bits = int.from_bytes(_read(pages, bitmap, BITMAP_BYTES, "bitmap->preserve"), "little")
    while bits:
        bit = (bits & -bits).bit_length() - 1
        bits &= bits - 1
        # ``int sz = 1 << (order + PAGE_SHIFT)`` (as phys_addr_t) and the u64 ``bit << (order +
        # PAGE_SHIFT)`` with the unsigned int order, as x86-64 computes them (khomc.kernel.bitops:
        # counts mod the width; a corrupted chunk's order gets past it)
        shift = c_uint(order + PAGE_SHIFT)
        sz = c_ulong(shl_int(1, shift))
        phys = c_ulong(phys_start + shl_ulong(bit, shift))
        pfn = phys >> PAGE_SHIFT
        if pfn >= len(pages):
            raise _Oops(f"page->private write for pfn {pfn:#x}, past the memmap")
        _reserve(reserved, phys, sz, pages)
        private[pfn] = order
def kho_restore_folio(nk: NextKernel, phys: int, pages: tuple | None = None) -> int | None:
    """The order of the folio kho_restore_folio makes at *phys*: ``page->private`` of whatever
    page is there (0 unless deserialize_bitmap wrote it) - v5 restores any page, preserved or
    not, and a second restore of the same page is not noticed (6.18's 89a3ecca49ee added the
    magic that is).  None when the PFN is past memory: v5 reads ``page->private`` of the NULL
    ``pfn_to_online_page`` result before testing it - the next kernel oopses.  *pages* (the
    memory) bounds the memmap; without it the bound is the highest PFN the map touched."""
    pfn = phys >> PAGE_SHIFT
    limit = len(pages) if pages is not None else None
    if limit is not None and pfn >= limit:
        return None
    return dict(nk.order).get(pfn, 0)


def kho_restore_phys(nk: NextKernel, phys: int, size: int, pages: tuple) -> int | None:
    """``__va(phys)`` after kho_restore_page of every PFN in [PFN_DOWN(phys), PFN_UP(phys +
    size)), or None (NULL) at the first PFN past memory; nothing checks that the range was
    preserved."""
    pfn = phys >> PAGE_SHIFT
    end_pfn = -(-(phys + size) // PAGE_SIZE)
    while pfn < end_pfn:
        if pfn >= len(pages):
            return None
        pfn += 1
    return phys


def root_blob(h: Handover) -> bytes:
    """The bytes the next kernel takes as the KHO FDT: the kho-fdt ksegment (the proposals'
    Deltas replace this with their own hand-off)."""
    return segment_blob(h.image)


def user_fdts(h: Handover, nk: NextKernel) -> tuple:
    """Addresses of FDTs users keep in their own memory: none in v5 (the tree is one FDT)."""
    return ()
