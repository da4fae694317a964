"""The next kernel of KHO 6.16 / 6.18: kho_populate, kho_mem_deserialize, kho_retrieve_subtree,
kho_restore_folio.

Mirrors the "in" side of torvalds/linux:kernel/kexec_handover.c@00c010e130e5: kho_populate
(fdt_check_header and ``fdt_node_check_compatible(fdt, 0, "kho-v1")``, else "disabling KHO
revival"), kho_mem_deserialize / deserialize_bitmap (every set bit's pages are memblock_reserve'd
and the head's ``page->private`` gets the order), kho_retrieve_subtree (-ENOENT without an FDT or
a node, -EINVAL on a bad ``fdt`` property) and kho_restore_folio (the order from
``page->private``).  With ``magic=True`` (6.18, 89a3ecca49ee) ``page->private`` also holds the
KHO magic, restore refuses a page without it and clears it, so a second restore of the same page
returns NULL.

Pure functions of the :class:`khomc.kho.k6_16.kexec_handover.Handover`; the chunk walk is v5's
(:func:`khomc.kho.v5.kexec_handover_in._deserialize`: the chunk layout is the same), including its refusal of
malformed input with a reason.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, read_phys
from khomc.kernel.errno import EINVAL, ENOENT
from khomc.kho.fdt import FdtTree, find, prop, unflatten
from khomc.kho.k6_16.kexec_handover import KHO_FDT_COMPATIBLE, PROP_PRESERVED_MEMORY_MAP, PROP_SUB_FDT, Handover
from khomc.kho.v5.kexec_handover_in import NextKernel, _deserialize, refused


@functools.lru_cache(maxsize=4096)
def kho_populate(fdt_phys: int | None, pages: tuple) -> NextKernel:
    """kho_populate + kho_mem_deserialize; the root FDT page counts as KHO metadata."""
    if fdt_phys is None:
        return refused("no KHO FDT in the boot parameters (kho_fill_kimage did not set it)")
    parsed = unflatten(read_phys(pages, fdt_phys, PAGE_SIZE))
    if parsed.tree is None:
        return refused(f"disabling KHO revival: {parsed.reason}")
    fdt = parsed.tree
    if prop(fdt, "compatible") != KHO_FDT_COMPATIBLE:
        return refused("disabling KHO revival: FDT is not compatible with \"kho-v1\"", fdt)
    meta = prop(fdt, PROP_PRESERVED_MEMORY_MAP)
    if meta is None or len(meta) != 8:
        return refused("no preserved-memory-map property", fdt)
    nk = _deserialize(fdt, int.from_bytes(meta, "little"), pages)
    if not nk.revived:
        return nk
    return nk._replace(metadata=nk.metadata | {fdt_phys >> PAGE_SHIFT})


def boot(h: Handover) -> NextKernel:
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
    """The next kernel's restore state: which preserved heads still carry the magic (6.18)."""

    nk: NextKernel
    magic: bool
    restored: frozenset = frozenset()

    def restore_folio(self, phys: int):
        """(order or None for NULL, the restorer after the call)."""
        if phys % PAGE_SIZE:
            return None, self
        pfn = phys >> PAGE_SHIFT
        order = dict(self.nk.order).get(pfn)
        if order is None or (self.magic and pfn in self.restored):
            return None, self          # not a KHO page (the model refuses it), or magic gone
        return order, self._replace(restored=self.restored | {pfn})
