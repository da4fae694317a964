"""lib/test_kho.c, the kernel's own KHO test, on the eras with ``kho_add_subtree(name, fdt)``.

Follows the newest version (torvalds/linux:lib/test_kho.c@136114e0abf0; the 6.18 notifier-era
version is @3407caccb898) through the era's adapter (``kho.preserve_folio`` /
``kho.unpreserve_folio`` / ``kho.add_subtree``, model/kho/k6_19/kexec_handover.py and k7_1.py):

Boot 1 (``kho_test_init`` -> ``kho_test_save``): allocate a data folio of a chosen order
(``choose`` over :data:`ORDERS`, the model's stand-in for ``get_random_u32() % NR_PAGE_ORDERS``)
and fill it; allocate the FDT folio and preserve it; preserve the data folio; build the FDT
(``compatible = "kho-test-v1"``, ``magic``, ``/data { nr_folios, folios, csum }``) in the FDT
folio; ``kho_add_subtree("kho_test", fdt)``.  Errors unwind in reverse: unpreserve the data,
unpreserve the FDT, free both.

Boot 2 (:func:`restore`): ``kho_retrieve_subtree("kho_test")`` (-ENOENT: a cold boot, nothing
to check), check compatible and magic, restore every folio (its order must match), recompute
the checksum, and print "KHO restore succeeded" or "KHO restore failed".

Model notes: one data folio (``max_mem`` is a bound here); the data is deterministic bytes, not
random, so the next kernel can recompute it; the checksum is a 32-bit byte sum standing in for
``csum_partial``; the folio list lives in the FDT's ``folios`` property (``phys | order`` per
folio) instead of a kho_preserve_vmalloc'd ``folios_info`` array - vmalloc preservation is not
modelled.
"""

from __future__ import annotations

from ..kernel.alloc import PAGE_SIZE, folio_alloc, folio_put, memcpy_to, read_phys
from ..kernel.errno import ENOMEM
from ..kho.fdt import FdtTree, find, flatten, prop, unflatten
from ..runtime.effects import choose
from khomc.kho.k6_19.kexec_handover import kho_wait_ready
from .common import folio_alloc_filled

NAME = "kho_test"
ORDERS = (0, 1)
MAGIC = 0x4B484F21
COMPATIBLE = b"kho-test-v1\0"
SUCCEEDED = "KHO restore succeeded"
FAILED = "KHO restore failed"


def data(order: int) -> bytes:
    """What the test writes into its order-*order* folio (deterministic)."""
    return (b"kho-test:%d:" % order) * 8


def csum(blob: bytes) -> int:
    """A 32-bit checksum of *blob* (the model's csum_partial).

    >>> csum(b"\\x01\\x02")
    3
    """
    return sum(blob) & 0xFFFFFFFF


def kho_test_fdt(folio: int, order: int) -> bytes:
    datanode = FdtTree("data", (("nr_folios", (1).to_bytes(4, "big")),
                                ("folios", (folio | order).to_bytes(8, "little")),
                                ("csum", csum(data(order)).to_bytes(4, "big"))), ())
    tree = FdtTree("", (("compatible", COMPATIBLE), ("magic", MAGIC.to_bytes(4, "big"))),
                   (datanode,))
    return flatten(tree, PAGE_SIZE)


async def kho_test_save(kho) -> int:
    heap = kho.heap
    order = await choose(ORDERS, "test_kho folio order")
    folio = await folio_alloc_filled(heap, order, data(order), "kho_test_save")
    if not folio:
        return -ENOMEM
    fdt = await folio_alloc(heap, 0, "kho_test_save(fdt)")
    if not fdt:
        await folio_put(heap, folio, "kho_test_save")
        return -ENOMEM
    err = await kho.preserve_folio(fdt, 0)
    if err:
        await folio_put(heap, fdt, "kho_test_save")
        await folio_put(heap, folio, "kho_test_save")
        return err
    err = await kho.preserve_folio(folio, order)
    if not err:
        await memcpy_to(heap, fdt, kho_test_fdt(folio, order), "kho_test_save(fdt)")
        err = await kho.add_subtree(NAME, fdt)
        if err:
            await kho.unpreserve_folio(folio, order)
    if err:
        await kho.unpreserve_folio(fdt, 0)
        await folio_put(heap, fdt, "kho_test_save")
        await folio_put(heap, folio, "kho_test_save")
    return err


async def kho_test_init(kho) -> int:
    """module_init: KHO is enabled and this is a cold boot, so save."""
    await kho_wait_ready(kho)
    return await kho_test_save(kho)


def restore(nk, pages: tuple, restored: set, retrieve, restore_folio) -> str | None:
    """The next kernel's kho_test_init: None on a cold boot (no subtree), else the message."""
    phys = retrieve(nk, NAME)
    if phys == -2:
        return None
    if phys < 0 or restore_folio(nk, phys, restored) is None:
        return FAILED
    parsed = unflatten(read_phys(pages, phys, PAGE_SIZE))
    if parsed.tree is None or prop(parsed.tree, "compatible") != COMPATIBLE or \
            prop(parsed.tree, "magic") != MAGIC.to_bytes(4, "big"):
        return FAILED
    node = find(parsed.tree, ("data",))
    folios = prop(node, "folios") if node is not None else None
    want = prop(node, "csum") if node is not None else None
    if folios is None or want is None or len(folios) != 8:
        return FAILED
    info = int.from_bytes(folios, "little")
    fphys, order = info & ~(PAGE_SIZE - 1), info & (PAGE_SIZE - 1)
    if restore_folio(nk, fphys, restored) != order:
        return FAILED
    got = csum(read_phys(pages, fphys, len(data(order))))
    return SUCCEEDED if got.to_bytes(4, "big") == want else FAILED
