"""Recursive FDTs on KHO v5: the next kernel reads the root's address, then boots as v5 does.

Delta :data:`khomc.kho.v5_recursive.kexec_handover.D_RECURSIVE` replaces ``boot``: read the
16 bytes of the ``kho-fdt`` segment, check that they name a page of memory, memblock-reserve
the root page as KHO metadata (as v5 reserves its chunk pages) and hand the root blob to v5's
kho_populate / kho_mem_deserialize (:func:`khomc.kho.v5.kexec_handover_in.boot_from`); users
find their FDT's address under their node and restore the folio.
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, read_phys
from khomc.kho.v5.kexec_handover_in import NextKernel, boot_from, refused
from khomc.kho.v5_recursive.kexec_handover import ADDR_BYTES, D_RECURSIVE, ROOT_SIZE, KhoRecursive


def root_address(h) -> tuple | None:
    """(phys, size) from the image's 16 bytes, or None when they do not name memory."""
    seg = h.image.segment("kho-fdt")
    data = (seg.data if seg is not None else b"") + bytes(ADDR_BYTES)
    phys = int.from_bytes(data[0:8], "little")
    size = int.from_bytes(data[8:16], "little")
    limit = len(h.pages) << PAGE_SHIFT
    if not phys or phys % PAGE_SIZE or size > ROOT_SIZE or phys + ROOT_SIZE > limit:
        return None
    return phys, size


@D_RECURSIVE.replaces
def root_blob(h) -> bytes:
    addr = root_address(h)
    return b"" if addr is None else read_phys(h.pages, addr[0], addr[1])


@D_RECURSIVE.replaces
def boot(h) -> NextKernel:
    """Read the 16 bytes, reserve the root page, then v5's kho_populate/kho_mem_deserialize."""
    addr = root_address(h)
    if addr is None:
        return refused("disabling KHO revival: the image's KHO address names no page")
    nk = boot_from(read_phys(h.pages, addr[0], addr[1]), h.pages)
    if not nk.revived:
        return nk
    return nk._replace(metadata=nk.metadata | {addr[0] >> PAGE_SHIFT})


@D_RECURSIVE.replaces
def user_fdts(h, nk) -> tuple:
    """The address every user node of the handed-over root points at."""
    if not nk.revived:
        return ()
    out = []
    for child in nk.fdt.children:
        phys = KhoRecursive.retrieve_subtree(nk, child.name)
        if phys >= 0:
            out.append(phys)
    return tuple(out)
