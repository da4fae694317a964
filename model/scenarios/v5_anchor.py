"""Changyuan Lyu's anchor pages, as a variant of KHO v5: kexec_file_load without an fdt_max segment.

The proposal (Changyuan Lyu, 20250323190204.742672-1-changyuanl@google.com, answering Jason
Gunthorpe's objection to copying the FDT into a pre-sized ksegment in
20250321134854.GB252045@nvidia.com; Pasha Tatashin had suggested "the anchor page to describe
how it should be vmapped" in CA+CK2bBBX+HgD0HLj-AyTScM59F2wXq11BEPgejPMHoEwqj+_Q@mail.gmail.com;
../shared/reference/kho-semantics.md §5): kexec_file_load passes one anchor page to the next
kernel; later it is filled with the physical addresses of the pages holding the FDT blob, and
several anchor pages can be linked when one is not enough.

What this module changes in :mod:`khomc.kho.v5.kexec_handover` (the state tree, the freeze, the tracker, the
chunk list, kho_finalize / kho_unfreeze and the debugfs files are v5's code, imported):

* kexec_file_load reserves a one-page ``kho-anchor`` segment, whatever ``fdt_max`` is
  (``fdt_max`` remains only the size of the kvmalloc'd buffer kho_finalize builds the FDT in);
* kernel_kexec's kho_copy_fdt auto-finalizes as in v5, reads fdt_totalsize, and writes the
  anchor: ``next`` (u64), ``count`` (u64), then ``count`` page addresses; when the blob spans
  more pages than one anchor holds (``slots``; a real page holds (4096 - 16) / 8 = 510), it
  get_zeroed_page's further anchors and links them (an allocation that can fail: kexec then
  returns -ENOMEM).  The blob itself is not copied.
* The next kernel (:func:`boot`) walks the anchor chain (refusing loops, unaligned or
  out-of-memory addresses), memblock-reserves every listed blob page and every linked anchor
  page as KHO metadata - they are ordinary kvmalloc/page memory of the old kernel, nobody
  preserved them - reassembles the blob from the pages and hands it to v5's kho_populate /
  kho_mem_deserialize (:func:`khomc.kho.v5.kexec_handover_in.boot_from`).

``memory-safety`` (:mod:`khomc.promises.proposals`) requires every page the anchors list to
be allocated at kexec: a blob page freed before machine_kexec would be read stale by the next
kernel.  In v5's flow only kho_unfreeze frees the blob, and debugfs takes the kexec lock that
kernel_kexec holds while it fills the anchor, so that cannot happen in these scenarios.

Scenarios ``fdbox-race`` and ``fdt-max-grow``: same names, drivers and operator steps as v5's.
"""

from __future__ import annotations

from khomc.drivers.fdbox import fdbox
from khomc.drivers.luo_operator import operator
from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, get_zeroed_page, heap_read_bytes, memcpy_to, read_phys
from khomc.kernel.errno import EBUSY, ENOMEM
from khomc.kernel.kexec import Kimage, add_buffer, fill_segment
from khomc.kernel.locking import kexec_trylock, kexec_unlock
from khomc.runtime import Model, Scenario
from khomc.scenarios.params import declare
from khomc.runtime.effects import Op, atomic, load, store
from khomc.promises import proposals as props
from khomc.kho.v5 import kexec_handover as v5
from khomc.kho.v5 import kexec_handover_in as v5_boot
from khomc.kho.v5.kexec_handover import ROOT, KhoV5, initial_tree, static
from khomc.promises.v5 import ADD_REFUSED, FINALIZE_OK, KEXEC_REACHED, REVIVED, _fdboxes_restore
from khomc.scenarios.v5 import BIG, FDT_MAX, _mutants

PREVIOUS = "v5"
CHANGES = (
    "Changyuan Lyu's anchor pages (20250323190204.742672-1-changyuanl@google.com, after "
    "Jason Gunthorpe's 20250321134854.GB252045@nvidia.com and Pasha Tatashin's anchor-page "
    "remark in CA+CK2bBBX+HgD0HLj-AyTScM59F2wXq11BEPgejPMHoEwqj+_Q@mail.gmail.com) on top of "
    "v5: kexec_file_load reserves one anchor page instead of an fdt_max-sized ksegment; at "
    "kexec the anchor is filled with the physical addresses of the pages holding the FDT "
    "blob, further anchors linked when one is full; the next kernel reserves those pages and "
    "reassembles the FDT.  Nothing is written into a segment sized before fdt_max could "
    "change, which closes v5's fdt-max-grow overflow; the blob pages become KHO metadata the "
    "next kernel must reserve.")

ANCHOR_HDR = 16                       # next (u64), count (u64)
SLOTS = (PAGE_SIZE - ANCHOR_HDR) // 8
MAX_ANCHORS = 16


class KhoAnchor(KhoV5):
    """v5's ``kho_out`` with an anchor-page kexec path and the adapter the operator calls."""

    era = "v5-anchor"
    has_finalize = True

    def __init__(self, model: Model, heap: Heap, fdt_max: int, tree: tuple,
                 mutants: frozenset = frozenset(), slots: int = SLOTS):
        super().__init__(model, heap, fdt_max, tree, mutants)
        self.slots = slots
        self.ready = model.var("kho_init.done", True)

    async def debugfs_finalize(self, val: int) -> int:
        return await v5.kho_out_finalize_set(self, val)

    async def kexec_file_load(self) -> int:
        return await atomic(_kexec_file_load)(self)

    async def kernel_kexec(self) -> int:
        return await kernel_kexec(self)


def anchor_bytes(nxt: int, entries: tuple) -> bytes:
    """One anchor page's contents.

    >>> anchor_bytes(0, (0x3000,))[16:24] == (0x3000).to_bytes(8, "little")
    True
    """
    out = nxt.to_bytes(8, "little") + len(entries).to_bytes(8, "little")
    for phys in entries:
        out += phys.to_bytes(8, "little")
    return out


async def _kexec_file_load(kho: KhoAnchor) -> int:
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    image = add_buffer(Kimage(True, ()), "kernel", v5.KERNEL_IMAGE_SIZE, b"\x7fELF")
    image = add_buffer(image, "kho-anchor", PAGE_SIZE)
    image = add_buffer(image, "kho-scratch", 16)
    await store(kho.image, image)
    await kexec_unlock(kho.kexec_lock)
    return 0


def _fill_first(values, tid, data):
    image, = values
    return (fill_segment(image, "kho-anchor", data),), None


async def kho_fill_anchors(kho: KhoAnchor, fdt: int, total: int) -> int:
    """Write the blob's page addresses into the anchor chain, last anchor first, so each
    anchor is complete before the one before it names it."""
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


async def kho_copy_fdt(kho: KhoAnchor, image: Kimage) -> int:
    if not image.file_mode:
        return 0
    if not await load(kho.fdt):
        err = await v5.kho_finalize(kho)
        if err:
            return err
    fdt = await load(kho.fdt)
    head = await heap_read_bytes(kho.heap, fdt, 8, "kho_copy_fdt(fdt_totalsize)")
    return await kho_fill_anchors(kho, fdt, int.from_bytes(head[4:8], "big"))


async def kernel_kexec(kho: KhoAnchor) -> int:
    """v5's kernel_kexec with this proposal's way of passing the FDT."""
    return await v5.kernel_kexec(kho, kho_copy_fdt)


# -- the next kernel --------------------------------------------------------------------------

def walk_anchors(h) -> tuple:
    """(blob page addresses, linked anchor PFNs) or (None, reason)."""
    seg = h.image.segment("kho-anchor")
    page = (seg.data if seg is not None else b"") + bytes(PAGE_SIZE)
    limit = len(h.pages) << PAGE_SHIFT
    blob_pages = []
    anchors = []
    while True:
        nxt = int.from_bytes(page[0:8], "little")
        count = int.from_bytes(page[8:16], "little")
        if count > SLOTS:
            return None, f"anchor lists {count} pages, at most {SLOTS}"
        j = 0
        while j < count:
            phys = int.from_bytes(page[ANCHOR_HDR + 8 * j:ANCHOR_HDR + 8 * j + 8], "little")
            if not phys or phys % PAGE_SIZE or phys + PAGE_SIZE > limit:
                return None, f"anchor entry {phys:#x} is not a page of memory"
            blob_pages.append(phys)
            j += 1
        if not nxt:
            return tuple(blob_pages), frozenset(anchors)
        if nxt % PAGE_SIZE or nxt + PAGE_SIZE > limit or nxt >> PAGE_SHIFT in anchors or \
                len(anchors) >= MAX_ANCHORS:
            return None, f"anchor link {nxt:#x} loops or is not a page of memory"
        anchors.append(nxt >> PAGE_SHIFT)
        page = read_phys(h.pages, nxt, PAGE_SIZE)


def root_blob(h) -> bytes:
    blob_pages, _ = walk_anchors(h)
    if blob_pages is None:
        return b""
    return b"".join(read_phys(h.pages, p, PAGE_SIZE) for p in blob_pages)


def boot(h) -> v5_boot.NextKernel:
    blob_pages, anchors = walk_anchors(h)
    if blob_pages is None:
        return v5_boot.refused(f"disabling KHO revival: {anchors}")
    nk = v5_boot.boot_from(root_blob(h), h.pages)
    if not nk.revived:
        return nk
    return nk._replace(metadata=nk.metadata | anchors |
                       frozenset(p >> PAGE_SHIFT for p in blob_pages))


# -- scenarios --------------------------------------------------------------------------------

def _machine(name: str, doc: str, pages: int, fail_allocs: int, fdt_max: int, mutants: str,
             slots: int, boxes: tuple = (), nodes: tuple = (), boot_props: tuple = (),
             ntasks: int = 3):
    m = Model("v5-anchor", name, doc=doc)
    heap = Heap(m, pages, ntasks, fail_allocs)
    attached = tuple((ROOT, n, n) for n in boxes + nodes)
    tree = initial_tree(nodes=boxes + nodes, attached=attached, props=boot_props)
    kho = KhoAnchor(m, heap, fdt_max, tree, _mutants(mutants), slots)
    return m, kho


def _register(m, kho, boxes: tuple, guards: tuple) -> None:
    props.register(m, kho, guards, blob_of=root_blob, boot=boot,
                   restores=lambda nk, pages: _fdboxes_restore(nk, pages, boxes))


def fdbox_race(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX, slots: int = SLOTS,
               mutants: str = "") -> Model:
    """v5's fdbox-race: two FDBoxes save an fd each, the second drops its fd again, while the
    operator loads the next kernel, finalizes and kexecs (the anchor is filled at kexec)."""
    boxes = ("fdbox0", "fdbox1")
    m, kho = _machine("fdbox-race", fdbox_race.__doc__, pages, fail_allocs, fdt_max, mutants,
                      slots, boxes=boxes)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("fdbox1", fdbox, kho, "fdbox1", 1, True)
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    _register(m, kho, boxes, (KEXEC_REACHED, FINALIZE_OK, ADD_REFUSED, REVIVED))
    return m


def fdt_max_grow(pages: int = 8, fail_allocs: int = 0, fdt_max: int = PAGE_SIZE,
                 slots: int = 1, mutants: str = "") -> Model:
    """v5's fdt-max-grow: kexec_file_load (one anchor page), then the operator raises fdt_max
    so that the 5 KiB tree fits the finalize buffer, then kexec auto-finalizes and lists the
    blob's two pages.  ``slots`` = 1 (entries per anchor) makes the two pages need two linked
    anchors, so the linking path is checked too."""
    m, kho = _machine("fdt-max-grow", fdt_max_grow.__doc__, pages, fail_allocs, fdt_max,
                      mutants, slots, nodes=("big",),
                      boot_props=(("big", "blob", static(b"k" * BIG)),), ntasks=1)
    m.task("operator", operator, kho, (("load", 0),
                                       ("module", (v5.kho_out_fdt_max_set, (4 * PAGE_SIZE,))),
                                       ("kexec", 0)))
    _register(m, kho, (), (KEXEC_REACHED, FINALIZE_OK, REVIVED))
    return m


SCENARIOS = [
    Scenario("fdbox-race", fdbox_race,
             {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "slots": SLOTS, "mutants": ""},
             "FDBox x2 save/drop an fd || load, finalize, kexec (anchor filled at kexec)"),
    Scenario("fdt-max-grow", fdt_max_grow,
             {"pages": 8, "fail_allocs": 0, "fdt_max": PAGE_SIZE, "slots": 1, "mutants": ""},
             "load (one anchor page), raise fdt_max, kexec a 5 KiB FDT over two linked anchors"),
]
SCENARIOS = declare(SCENARIOS)
