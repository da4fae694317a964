"""Recursive FDTs (Jason Gunthorpe, 20250321133447.GA251739@nvidia.com) on KHO v5: this kernel.

The proposal, from the v5 review (../shared/reference/kho-semantics.md §5):

* 20250321133447.GA251739@nvidia.com (on v5 07/16): "recursive FDTs" instead of v5's
  hashtable state tree, and no user-sized ``fdt_max``;
* Z+GIRecXeYXiPrYv@nvidia.com (2025-03-24): each serialization operation writes its own FDT,
  inside its own operation; "the top level just aggregates the FDT blobs (which are in
  preserved memory)";
* 20250321134854.GB252045@nvidia.com (on v5 10/16): instead of copying the FDT into a
  ksegment, preserve the memory holding it and put an address/size on the image.

The mails give the design, not code; the functions below are the smallest change to v5's
code that implements it.  Users serialize into their own FDT in a folio they preserve
(``kho_preserve_folio``) and record only its address: ``add_subtree(name, phys)`` is
``kho_add_prop(<name>, "fdt", <u64 phys>)`` on the user's node (linked under the root at boot).
The root is one page (``kho_out.fdt_max`` = :data:`ROOT_SIZE`; no debugfs ``fdt_max`` writes in
these scenarios); v5's kho_finalize / kho_convert_tree build it, -EINVAL if it overflows.

Delta :data:`D_RECURSIVE` replaces:

* ``_kexec_file_load`` (v5's kho_fill_kimage segment): a 16-byte ``kho-fdt`` segment;
* ``kho_copy_fdt``: auto-finalize as in v5, then write the root's address and fdt_totalsize
  into that segment - nothing is copied, so no write depends on a size chosen earlier;
* ``boot`` (kexec_handover_in.py).

:class:`KhoRecursive` is the adapter the LUO-era drivers (khomc.drivers.fdbox_luo,
luo_operator) call: ``preserve_folio``, ``unpreserve_folio``, ``add_subtree``,
``debugfs_finalize``, ``kexec_file_load``, ``kernel_kexec``, each one call into the linked era.
Unlike 6.19, v5's unpreserve returns -EBUSY once frozen; that driver keeps such a folio.
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SIZE, Heap, heap_read_bytes
from khomc.kernel.errno import EBUSY, ENOENT
from khomc.kernel.kexec import Kimage, add_buffer, fill_segment
from khomc.kernel.locking import kexec_trylock, kexec_unlock
from khomc.kho.fdt import find, prop
from khomc.kho.k6_19 import kexec_handover as k6_19
from khomc.kho.ledger import Delta
from khomc.kho.v5.kexec_handover import KERNEL_IMAGE_SIZE, KhoV5, kho_finalize, kho_out_update_debugfs_fdt, static
from khomc.runtime.effects import Op, load, store
from khomc.runtime.spec import Model

D_RECURSIVE = Delta(
    "20250321133447.GA251739@nvidia.com",
    "recursive FDTs: users own their FDTs in preserved memory, KHO links their addresses",
    note="with Z+GIRecXeYXiPrYv@nvidia.com and 20250321134854.GB252045@nvidia.com")

ROOT_SIZE = PAGE_SIZE
SUB_PROP = "fdt"
ADDR_BYTES = 16                       # u64 address + u64 size on the image


class KhoRecursive(KhoV5):
    """v5's ``kho_out`` with a one-page root and the adapter the cross-era drivers call."""

    sub_prop = SUB_PROP
    has_finalize = True

    def __init__(self, model: Model, heap: Heap, tree: tuple, mutants: frozenset = frozenset(),
                 kernel=None):
        if kernel is None:
            from khomc.kho.v5_recursive import ERA
            kernel = ERA.namespace()
        super().__init__(model, heap, ROOT_SIZE, tree, mutants, kernel)
        self.era = kernel.ERA.name
        self.ready = model.var("kho_init.done", True)     # kho_init ran before any task

    async def preserve_folio(self, phys: int, order: int) -> int:
        return await self.kernel.kho_preserve_folio(self, phys, order)

    async def unpreserve_folio(self, phys: int, order: int) -> int:
        return await self.kernel.kho_unpreserve_folio(self, phys, order)

    async def add_subtree(self, name: str, fdt: int) -> int:
        return await self.kernel.kho_add_prop(self, name, SUB_PROP,
                                              static(fdt.to_bytes(8, "little")))

    async def debugfs_finalize(self, val: int) -> int:
        return await self.kernel.kho_out_finalize_set(self, val)

    async def kexec_file_load(self) -> int:
        return await self.kernel.kexec_file_load(self)

    async def kernel_kexec(self) -> int:
        return await self.kernel.kernel_kexec(self)

    @staticmethod
    def retrieve_subtree(nk, name: str, sub_prop: str = SUB_PROP) -> int:
        """The user's FDT address; -ENOENT also for a node (linked at boot) the user never
        gave an address (6.19's node always has one, so its lookup says -EINVAL there)."""
        if not nk.revived:
            return -ENOENT
        node = find(nk.fdt, (name,))
        if node is None or prop(node, sub_prop) is None:
            return -ENOENT
        return k6_19.retrieve_subtree(nk, name, sub_prop)

    @staticmethod
    def restore_folio(nk, phys: int, restored: set) -> int | None:
        return k6_19.restore_folio(nk, phys, restored)


@D_RECURSIVE.replaces
async def _kexec_file_load(kho: KhoRecursive) -> int:
    """kexec_file_load with a fixed 16-byte KHO segment: nothing depends on the tree's size."""
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    image = add_buffer(Kimage(True, ()), "kernel", KERNEL_IMAGE_SIZE, b"\x7fELF")
    image = add_buffer(image, "kho-fdt", ADDR_BYTES)
    image = add_buffer(image, "kho-scratch", 16)
    await store(kho.image, image)
    await kexec_unlock(kho.kexec_lock)
    return 0


def _put_address(values, tid, phys, size):
    image, = values
    return (fill_segment(image, "kho-fdt", phys.to_bytes(8, "little") +
                         size.to_bytes(8, "little")),), None


@D_RECURSIVE.replaces
async def kho_copy_fdt(kho: KhoRecursive, image: Kimage) -> int:
    """Auto-finalize (v5), then put the root's address and fdt_totalsize on the image."""
    if not image.file_mode:
        return 0
    if not await load(kho.fdt):
        err = await kho_finalize(kho)
        await kho_out_update_debugfs_fdt(kho)      # v5's: result ignored
        if err:
            return err
    fdt = await load(kho.fdt)
    head = await heap_read_bytes(kho.heap, fdt, 8, "kho_copy_fdt(fdt_totalsize)")
    await Op((kho.image,), _put_address, fdt, int.from_bytes(head[4:8], "big"),
             text="image->kho: root address and size")
    return 0
