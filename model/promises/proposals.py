"""KHO's promises on the seed-thread proposals built over v5 (v5-recursive, v5-anchor).

Owns the property functions of :mod:`khomc.scenarios.v5_recursive` and :mod:`khomc.scenarios.v5_anchor`.
They are v5's promises (:mod:`khomc.promises.v5`, same names and meaning,
../shared/reference/kho-semantics.md §6 I1, I2, I5), with the parts that depend on how the FDT
travels to the next kernel passed in by the proposal:

* ``blob_of(h)`` - the root FDT bytes the next kernel reads (v5: the kho-fdt ksegment; the
  recursive root: the page the image's 16 bytes name; the anchor scheme: the pages the anchor
  chain lists, reassembled);
* ``boot(h)`` - the next kernel (:class:`khomc.kho.v5.kexec_handover_in.NextKernel`), whose ``metadata``
  holds every page KHO itself handed over and the next kernel reserves (chunk pages, and the
  proposal's root page, blob pages or linked anchors);
* ``restores(nk, pages)`` - whether every driver's next-kernel restore finds its data (each
  page restored at most once);
* ``user_fdts(h)`` - the physical addresses of the users' own FDTs the root points at (the
  recursive scheme; none for the anchor scheme).

``memory-safety`` additionally requires every page in ``nk.metadata`` and every user FDT to be
allocated at kexec: the next kernel reads them before it can reserve anything.
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SHIFT
from khomc.kho.fdt import canonical, unflatten
from khomc.kho.v5.kexec_handover import live_at
from khomc.promises.v5 import ADD_REFUSED, CONVERSION, DOCS, FDT_VALID, FINALIZE_OK, KEXEC_REACHED, MEMORY_SAFETY, NO_PAGE_LOST, NOTHING_EXTRA, REVIVED, TRACKER_FROZEN, _finalized, expected_fdt, fdt_segment_valid, tracker_frozen, NOTHING_IN_SCRATCH, nothing_in_scratch


def conversion_race_free(kho, blob_of):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        if h.ghost.frozen_tree is None or h.tree != h.ghost.frozen_tree:
            return False
        parsed = unflatten(blob_of(h))
        if parsed.tree is None:
            return False
        return canonical(parsed.tree) == canonical(expected_fdt(h.ghost, h.first_chunk_phys))
    check.__doc__ = DOCS[CONVERSION]
    return check


def no_page_lost(kho, boot, restores):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        nk = boot(h)
        promised = h.ghost.promised
        if nk.crash:
            return False
        if not nk.revived:
            return not promised
        if not promised <= nk.reserved:
            return False
        return restores(nk, h.pages)
    check.__doc__ = DOCS[NO_PAGE_LOST]
    return check


def nothing_reserved_unpreserved(kho, boot):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        nk = boot(h)
        return not (nk.reserved - h.ghost.promised - nk.metadata)
    check.__doc__ = DOCS[NOTHING_EXTRA]
    return check


def memory_safety(kho, boot, user_fdts):
    def check(s) -> bool:
        if s[kho.heap.kasan] is not None:
            return False
        h = s[kho.handover]
        if h is None:
            return True
        if not all(live_at(h.pages, pfn) for pfn in h.ghost.promised):
            return False
        nk = boot(h)
        if not all(live_at(h.pages, pfn) for pfn in nk.metadata):
            return False
        return all(live_at(h.pages, phys >> PAGE_SHIFT) for phys in user_fdts(h, nk))
    check.__doc__ = DOCS[MEMORY_SAFETY]
    return check


def register(m, kho, guards: tuple, *, blob_of, boot, restores, user_fdts=lambda h, nk: ()):
    m.always(CONVERSION, conversion_race_free(kho, blob_of), DOCS[CONVERSION])
    m.always(NO_PAGE_LOST, no_page_lost(kho, boot, restores), DOCS[NO_PAGE_LOST])
    m.always(NOTHING_EXTRA, nothing_reserved_unpreserved(kho, boot), DOCS[NOTHING_EXTRA])
    m.always(MEMORY_SAFETY, memory_safety(kho, boot, user_fdts), DOCS[MEMORY_SAFETY])
    m.always(TRACKER_FROZEN, tracker_frozen(kho), DOCS[TRACKER_FROZEN])
    m.always(FDT_VALID, fdt_segment_valid(kho, blob_of), DOCS[FDT_VALID])
    m.always(NOTHING_IN_SCRATCH, nothing_in_scratch(kho, boot), DOCS[NOTHING_IN_SCRATCH])
    checks = {
        KEXEC_REACHED: lambda s: s[kho.handover] is not None,
        FINALIZE_OK: lambda s: _finalized(s, kho),
        ADD_REFUSED: lambda s: s[kho.ghost].refused,
        REVIVED: lambda s: s[kho.handover] is not None and boot(s[kho.handover]).revived,
    }
    for g in guards:
        m.sometimes(g, checks[g], DOCS[g])
