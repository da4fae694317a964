"""KHO's promises, checked on the v5 model: named properties with what a failure means.

Owns the property functions the v5 scenarios register.  Each reads the world through a
:class:`khomc.runtime.View`; the handover ones look only at the :class:`khomc.kho.v5.kexec_handover.Handover`
snapshot taken at machine_kexec, so whatever the old kernel's tasks do after kexec (in the
model they are not stopped) cannot change a verdict.  The promises are those of
../shared/reference/kho-semantics.md §6 (I1, I2, I5) and of the v5 review (§2.3, §5).
"""

from __future__ import annotations

from khomc.drivers import fdbox
from khomc.kernel.alloc import PAGE_SHIFT
from khomc.kho.fdt import FdtTree, canonical, unflatten
from khomc.kho.v5.kexec_handover import KhoV5, Ghost, fdt_tree, live_at, segment_blob, tree_props

CONVERSION = "conversion-race-free"
NO_PAGE_LOST = "no-preserved-page-lost"
MEMORY_SAFETY = "memory-safety"
KEXEC_REACHED = "kexec-reached"
FINALIZE_OK = "finalize-succeeded"
ADD_REFUSED = "add-after-freeze-refused"
REVIVED = "next-kernel-revived"
NOTHING_EXTRA = "nothing-reserved-unpreserved"
TRACKER_FROZEN = "tracker-frozen"
FDT_VALID = "fdt-segment-valid"
NOTHING_IN_SCRATCH = "nothing-in-scratch"

DOCS = {
    CONVERSION:
        "The hashtable-to-FDT conversion is race-free: the FDT handed over at kexec equals the "
        "state tree at the freeze point (kho_out.fdt set under down_write), with every property "
        "holding the bytes its pointer pointed at then, and the tree at kexec is still that "
        "tree.  A failure means an add or remove that returned success was lost or torn, or "
        "one made after the freeze changed the tree (it should have returned -EBUSY and left "
        "no trace).",
    NO_PAGE_LOST:
        "No preserved page is lost and restore returns exactly what was preserved: every page "
        "whose preserve returned 0 and was not unpreserved (with 0) before kexec is reserved "
        "by the next kernel, which boots without crashing; every fd an FDBox recorded in the "
        "FDT restores as the order-0 folio the driver preserved, with the bytes the driver "
        "wrote, each page at most once.  A failure means the next kernel hands a preserved "
        "page to the buddy allocator, crashes on the map, or restores wrong data.",
    NOTHING_EXTRA:
        "Nothing is reserved that the clients did not preserve: every page the next kernel "
        "memblock_reserve's for preserved memory lies in a range some client's preserve call "
        "returned 0 for (and no later unpreserve returned 0 for), judged from the clients' "
        "own calls and return codes - not from KHO's bookkeeping - or is one of KHO's own "
        "chunk pages.  A failure means memory the next kernel's allocator should own stays "
        "reserved: a split that rounds to the wrong block, or an error path that leaves a "
        "block recorded after returning an error.",
    TRACKER_FROZEN:
        "The tracker is frozen between finalize and kexec, as v5 promises (kho_preserve_* and "
        "kho_unpreserve_* return -EBUSY once kho_out.fdt is set, patch 09/16): no tracker call "
        "gets past the freeze check while KHO is frozen.  A failure means a bitmap the "
        "serialized chunk list points at can change after the map was handed over.",
    FDT_VALID:
        "image->kho.fdt names a valid FDT: at machine_kexec the kho-fdt ksegment holds a blob "
        "that passes fdt_check_header and parses (the next kernel's kho_populate checks only "
        "the header and then trusts the rest).",
    NOTHING_IN_SCRATCH:
        "No KHO metadata or preserved page in scratch, and every kexec segment in scratch: at "
        "machine_kexec each segment of the image lies inside a kho_scratch[] area "
        "(kho_locate_mem_hole), and no page a client was told is preserved, nor any chunk page "
        "the next kernel reserves as KHO metadata, overlaps one.  A failure means the next "
        "kernel, which boots from scratch only, allocates over handed-over memory, or a "
        "segment is copied over it.",
    MEMORY_SAFETY:
        "Memory safety: no KASAN report (use after free, double free, invalid free, an "
        "out-of-bounds write of the FDT into its ksegment), no preserved page and no chunk page "
        "the next kernel reads freed before kexec.  A failure names the access and who allocated and freed the object (the "
        "'kasan' slot of the trace's last state).",
    KEXEC_REACHED:
        "Vacuity guard: some run reaches machine_kexec with a KHO FDT in its segment.",
    FINALIZE_OK:
        "Vacuity guard: some run has kho_finalize return 0.",
    ADD_REFUSED:
        "Vacuity guard: some run has a state-tree mutator return -EBUSY because KHO was frozen.",
    REVIVED:
        "Vacuity guard: some run has the next kernel accept the FDT and the memory map.",
}


def expected_fdt(ghost: Ghost, first_chunk_phys: int) -> FdtTree:
    """The FDT the frozen tree should have produced, from the ghost's snapshot."""
    snap = dict(ghost.frozen_values)
    values = []
    for _, _, value in tree_props(ghost.frozen_tree):
        if value[0] == "mem":
            values.append(snap[value[1]])
        elif value[0] == "var":
            values.append(first_chunk_phys.to_bytes(8, "little"))
        else:
            values.append(value[1])
    return fdt_tree(ghost.frozen_tree, tuple(values))


def conversion_race_free(kho: KhoV5):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        if h.ghost.frozen_tree is None or h.tree != h.ghost.frozen_tree:
            return False
        parsed = unflatten(segment_blob(h.image))
        if parsed.tree is None:
            return False
        return canonical(parsed.tree) == canonical(expected_fdt(h.ghost, h.first_chunk_phys))
    check.__doc__ = DOCS[CONVERSION]
    return check


def no_page_lost(kho: KhoV5, boxes: tuple = ()):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        nk = kho.kernel.boot(h)
        promised = h.ghost.promised
        if nk.crash:
            return False
        if not nk.revived:
            return not promised
        if not promised <= nk.reserved:
            return False
        return _fdboxes_restore(nk, h.pages, boxes, promised)
    check.__doc__ = DOCS[NO_PAGE_LOST]
    return check


def nothing_reserved_unpreserved(kho: KhoV5):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        nk = kho.kernel.boot(h)
        return not (nk.reserved - h.ghost.promised - nk.metadata)
    check.__doc__ = DOCS[NOTHING_EXTRA]
    return check


def nothing_in_scratch(kho, boot=None):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        areas = kho.scratch
        if not all(any(a <= seg.mem and seg.mem + seg.memsz <= a + n for a, n in areas)
                   for seg in h.image.segments):
            return False
        nk = (boot or kho.kernel.boot)(h)
        pfns = h.ghost.promised | nk.metadata
        return not any(a < (p + 1) << PAGE_SHIFT and p << PAGE_SHIFT < a + n
                       for p in pfns for a, n in areas)
    check.__doc__ = DOCS[NOTHING_IN_SCRATCH]
    return check


def tracker_frozen(kho: KhoV5):
    def check(s) -> bool:
        return not s[kho.ghost].touched_frozen
    check.__doc__ = DOCS[TRACKER_FROZEN]
    return check


def fdt_segment_valid(kho: KhoV5, blob_of=None):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        blob = blob_of(h) if blob_of is not None else segment_blob(h.image)
        return unflatten(blob).tree is not None
    check.__doc__ = DOCS[FDT_VALID]
    return check


def _fdboxes_restore(nk, pages, boxes, promised=None) -> bool:
    """Every fd record restores as the order-0 folio its driver preserved (judged from the
    driver's own successful calls, *promised*, when given), with its bytes, at most once."""
    seen = set()
    for box in boxes:
        for r in fdbox.restore(nk, box, pages):
            if r.order != 0 or r.phys in seen:
                return False
            if promised is not None and r.phys >> PAGE_SHIFT not in promised:
                return False
            if r.data != fdbox.contents(box, int(r.key[2:])):
                return False
            seen.add(r.phys)
    return True


def memory_safety(kho: KhoV5):
    def check(s) -> bool:
        if s[kho.heap.kasan] is not None:
            return False
        h = s[kho.handover]
        if h is None:
            return True
        if not all(live_at(h.pages, pfn) for pfn in h.ghost.promised):
            return False
        nk = kho.kernel.boot(h)            # the chunk pages it reads were not freed
        return all(live_at(h.pages, pfn) for pfn in nk.metadata)
    check.__doc__ = DOCS[MEMORY_SAFETY]
    return check


def _finalized(s, kho: KhoV5) -> bool:
    """kho_finalize has returned 0: KHO is frozen and nobody holds the kexec lock any more, or
    kexec went ahead (it auto-finalizes under the lock)."""
    return s[kho.handover] is not None or (s[kho.fdt] != 0 and s[kho.kexec_lock.var] is None)


def register(m, kho: KhoV5, boxes: tuple = (), guards: tuple = (KEXEC_REACHED, FINALIZE_OK)):
    """Add the promises and the chosen vacuity guards to model *m*."""
    m.always(CONVERSION, conversion_race_free(kho), DOCS[CONVERSION])
    m.always(NO_PAGE_LOST, no_page_lost(kho, boxes), DOCS[NO_PAGE_LOST])
    m.always(NOTHING_EXTRA, nothing_reserved_unpreserved(kho), DOCS[NOTHING_EXTRA])
    m.always(MEMORY_SAFETY, memory_safety(kho), DOCS[MEMORY_SAFETY])
    m.always(TRACKER_FROZEN, tracker_frozen(kho), DOCS[TRACKER_FROZEN])
    m.always(FDT_VALID, fdt_segment_valid(kho), DOCS[FDT_VALID])
    m.always(NOTHING_IN_SCRATCH, nothing_in_scratch(kho), DOCS[NOTHING_IN_SCRATCH])
    checks = {
        KEXEC_REACHED: lambda s: s[kho.handover] is not None,
        FINALIZE_OK: lambda s: _finalized(s, kho),
        ADD_REFUSED: lambda s: s[kho.ghost].refused,
        REVIVED: lambda s: s[kho.handover] is not None and kho.kernel.boot(s[kho.handover]).revived,
    }
    for g in guards:
        m.sometimes(g, checks[g], DOCS[g])
