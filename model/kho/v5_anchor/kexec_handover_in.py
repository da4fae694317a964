"""Anchor pages on KHO v5: the next kernel walks the anchors, then boots as v5 does.

Delta :data:`khomc.kho.v5_anchor.kexec_handover.D_ANCHOR` replaces ``boot``: read the
``kho-anchor`` segment, follow the chain (refusing loops, unaligned or out-of-memory
addresses - the proposal's own next kernel would have to check them, since its input is
the old kernel's ordinary memory), memblock-reserve every listed blob page and linked anchor
page as KHO metadata (ordinary kvmalloc/page memory nobody preserved), reassemble the blob and
hand it to v5's kho_populate / kho_mem_deserialize (:func:`khomc.kho.v5.kexec_handover_in.boot_from`).
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, read_phys
from khomc.kho.v5.kexec_handover_in import NextKernel, boot_from, refused
from khomc.kho.v5_anchor.kexec_handover import ANCHOR_HDR, D_ANCHOR, SLOTS

MAX_ANCHORS = 16


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


@D_ANCHOR.replaces
def root_blob(h) -> bytes:
    blob_pages, _ = walk_anchors(h)
    if blob_pages is None:
        return b""
    return b"".join(read_phys(h.pages, p, PAGE_SIZE) for p in blob_pages)


@D_ANCHOR.replaces
def boot(h) -> NextKernel:
    blob_pages, anchors = walk_anchors(h)
    if blob_pages is None:
        return refused(f"disabling KHO revival: {anchors}")
    nk = boot_from(root_blob(h), h.pages)
    if not nk.revived:
        return nk
    return nk._replace(metadata=nk.metadata | anchors |
                       frozenset(p >> PAGE_SHIFT for p in blob_pages))
