"""Anchor pages (Changyuan Lyu, 20250323190204.742672-1-changyuanl@google.com) on KHO v5: this kernel.

The proposal, answering Jason Gunthorpe's objection to copying the FDT into a pre-sized
ksegment (20250321134854.GB252045@nvidia.com, on v5 10/16; Pasha Tatashin had suggested "the
anchor page to describe how it should be vmapped" in
CA+CK2bBBX+HgD0HLj-AyTScM59F2wXq11BEPgejPMHoEwqj+_Q@mail.gmail.com): kexec_file_load passes
one anchor page to the next kernel; at kexec it is filled with the physical addresses of the
pages holding the FDT blob, and further anchor pages are linked when one is not enough.  The
mail gives the idea, not code, so the functions below are the smallest change to v5's
(20250320015551.2157511-11-changyuanl@google.com) that implements it; everything else - the
state tree, the freeze, the tracker, the chunk list, kho_finalize / kho_unfreeze, debugfs -
is v5's code, linked unchanged by :data:`khomc.kho.v5_anchor.ERA`.

Delta :data:`D_ANCHOR` replaces:

* ``_kexec_file_load`` (v5: kho_fill_kimage's ``kexec_add_buffer`` of an fdt_max segment):
  reserves a one-page ``kho-anchor`` segment whatever fdt_max is;
* ``kho_copy_fdt``: auto-finalizes as v5 does, reads fdt_totalsize, and writes the anchors
  (``next`` u64, ``count`` u64, then ``count`` page addresses); an anchor past the first is a
  get_zeroed_page that can fail (kexec then returns -ENOMEM);
* ``boot`` (kexec_handover_in.py).

Abstraction: the anchors are written last first, so each is complete before the one before it
names it; nobody but the kexec-lock holder can see them before machine_kexec.
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SIZE, Heap, get_zeroed_page, heap_read_bytes, memcpy_to
from khomc.kernel.errno import EBUSY, ENOMEM
from khomc.kernel.kexec import Kimage, add_buffer, fill_segment
from khomc.kernel.locking import kexec_trylock, kexec_unlock
from khomc.kho.ledger import Delta
from khomc.kho.v5.kexec_handover import KERNEL_IMAGE_SIZE, KhoV5, kho_finalize, kho_out_update_debugfs_fdt
from khomc.runtime.effects import Op, load, store
from khomc.runtime.spec import Model

D_ANCHOR = Delta(
    "20250323190204.742672-1-changyuanl@google.com",
    "kexec_file_load passes anchor pages that list the FDT's pages, not an fdt_max ksegment",
    note="reply to 20250321134854.GB252045@nvidia.com")

ANCHOR_HDR = 16                       # next (u64), count (u64)
SLOTS = (PAGE_SIZE - ANCHOR_HDR) // 8


class KhoAnchor(KhoV5):
    """v5's ``kho_out`` plus the anchor capacity, and the adapter the LUO-era operator calls."""

    has_finalize = True

    def __init__(self, model: Model, heap: Heap, fdt_max: int, tree: tuple,
                 mutants: frozenset = frozenset(), slots: int = SLOTS, kernel=None):
        if kernel is None:
            from khomc.kho.v5_anchor import ERA
            kernel = ERA.namespace()
        super().__init__(model, heap, fdt_max, tree, mutants, kernel)
        self.slots = slots
        self.era = kernel.ERA.name
        self.ready = model.var("kho_init.done", True)

    async def debugfs_finalize(self, val: int) -> int:
        return await self.kernel.kho_out_finalize_set(self, val)

    async def kexec_file_load(self) -> int:
        return await self.kernel.kexec_file_load(self)

    async def kernel_kexec(self) -> int:
        return await self.kernel.kernel_kexec(self)


def anchor_bytes(nxt: int, entries: tuple) -> bytes:
    """One anchor page's contents.

    >>> anchor_bytes(0, (0x3000,))[16:24] == (0x3000).to_bytes(8, "little")
    True
    """
    out = nxt.to_bytes(8, "little") + len(entries).to_bytes(8, "little")
    for phys in entries:
        out += phys.to_bytes(8, "little")
    return out


@D_ANCHOR.replaces
async def _kexec_file_load(kho: KhoAnchor) -> int:
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    image = add_buffer(Kimage(True, ()), "kernel", KERNEL_IMAGE_SIZE, b"\x7fELF")
    image = add_buffer(image, "kho-anchor", PAGE_SIZE)
    image = add_buffer(image, "kho-scratch", 16)
    await store(kho.image, image)
    await kexec_unlock(kho.kexec_lock)
    return 0


def _fill_first(values, tid, data):
    image, = values
    return (fill_segment(image, "kho-anchor", data),), None


async def kho_fill_anchors(kho: KhoAnchor, fdt: int, total: int) -> int:
    """Write the blob's page addresses into the anchor chain, last anchor first."""
    npages = -(-total // PAGE_SIZE)
    blob_pages = tuple(fdt + i * PAGE_SIZE for i in range(npages))
    groups = tuple(blob_pages[i:i + kho.slots] for i in range(0, npages, kho.slots)) or ((),)
    nxt = 0
    i = len(groups) - 1
    while i > 0:
        page = await get_zeroed_page(kho.heap, "kho_fill_anchors")
        if not page:
            return -ENOMEM
        await memcpy_to(kho.heap, page, anchor_bytes(nxt, groups[i]), "kho_fill_anchors")
        nxt = page
        i -= 1
    await Op((kho.image,), _fill_first, anchor_bytes(nxt, groups[0]),
             text="fill the anchor segment")
    return 0


@D_ANCHOR.replaces
async def kho_copy_fdt(kho: KhoAnchor, image: Kimage) -> int:
    if not image.file_mode:
        return 0
    if not await load(kho.fdt):
        err = await kho_finalize(kho)
        await kho_out_update_debugfs_fdt(kho)      # v5's: result ignored
        if err:
            return err
    fdt = await load(kho.fdt)
    head = await heap_read_bytes(kho.heap, fdt, 8, "kho_copy_fdt(fdt_totalsize)")
    return await kho_fill_anchors(kho, fdt, int.from_bytes(head[4:8], "big"))
