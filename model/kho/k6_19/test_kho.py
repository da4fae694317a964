"""lib/test_kho.c in the LUO eras, the kernel's own KHO test module.

Follows torvalds/linux:lib/test_kho.c@136114e0abf0 (the newest version; the 6.18 notifier-era
one, @3407caccb898, is model/drivers/test_kho_notifier.py) through the kernel calls of the era
it is linked into (``kho_preserve_folio`` / ``kho_unpreserve_folio`` / ``kho_add_subtree`` by
bare name, so a delta that replaces them is what the test calls):

Boot 1 (``kho_test_init`` -> ``kho_test_save``): allocate a data folio of a chosen order
(``choose`` over :data:`KHO_TEST_ORDERS`, the model's stand-in for ``get_random_u32() %
NR_PAGE_ORDERS``) and fill it; allocate the FDT folio and preserve it; preserve the data folio;
build the FDT (``compatible = "kho-test-v1"``, ``magic``, ``/data { nr_folios, folios, csum }``)
in the FDT folio; ``kho_add_subtree("kho_test", fdt)``.  Errors unwind in reverse: unpreserve
the data, unpreserve the FDT, free both.

Boot 2 (:func:`kho_test_restore`): ``kho_retrieve_subtree("kho_test")`` (-ENOENT: a cold boot,
nothing to check), check compatible and magic, restore every folio (its order must match),
recompute the checksum, and print "KHO restore succeeded" or "KHO restore failed".

Abstractions: one data folio (``max_mem`` is a bound here); the data is deterministic bytes, not
random, so the next kernel can recompute it; the checksum is a 32-bit byte sum standing in for
``csum_partial``; the folio list lives in the FDT's ``folios`` property (``phys | order`` per
folio) instead of a kho_preserve_vmalloc'd ``folios_info`` array - vmalloc preservation of the
list is not modelled yet.  Allocating a folio and writing its data is one step: nobody else can
see the folio before its address is published.
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SIZE, folio_alloc, folio_put, memcpy_to, read_phys
from khomc.kernel.errno import ENOMEM
from khomc.kho.fdt import FdtTree, find, flatten, prop, unflatten
from khomc.runtime.effects import atomic, choose

KHO_TEST_NAME = "kho_test"
KHO_TEST_ORDERS = (0, 1)
KHO_TEST_MAGIC = 0x4B484F21
KHO_TEST_COMPATIBLE = b"kho-test-v1\0"
KHO_TEST_SUCCEEDED = "KHO restore succeeded"
KHO_TEST_FAILED = "KHO restore failed"


async def _alloc_filled(heap, order: int, contents: bytes, site: str) -> int:
    addr = await folio_alloc(heap, order, site)
    if addr:
        await memcpy_to(heap, addr, contents, site)
    return addr


async def kho_test_alloc_filled(heap, order: int, contents: bytes, site: str) -> int:
    """folio_alloc and the loop filling it with (here deterministic) data, one step."""
    return await atomic(_alloc_filled)(heap, order, contents, site)


def kho_test_data(order: int) -> bytes:
    """What the test writes into its order-*order* folio (deterministic)."""
    return (b"kho-test:%d:" % order) * 8


def kho_test_csum(blob: bytes) -> int:
    """A 32-bit checksum of *blob* (the model's csum_partial).

    >>> kho_test_csum(b"\\x01\\x02")
    3
    """
    return sum(blob) & 0xFFFFFFFF


def kho_test_fdt(folio: int, order: int) -> bytes:
    datanode = FdtTree("data", (("nr_folios", (1).to_bytes(4, "big")),
                                ("folios", (folio | order).to_bytes(8, "little")),
                                ("csum", kho_test_csum(kho_test_data(order)).to_bytes(4, "big"))), ())
    tree = FdtTree("", (("compatible", KHO_TEST_COMPATIBLE), ("magic", KHO_TEST_MAGIC.to_bytes(4, "big"))),
                   (datanode,))
    return flatten(tree, PAGE_SIZE)


async def kho_test_save(kho) -> int:
    heap = kho.heap
    order = await choose(KHO_TEST_ORDERS, "test_kho folio order")
    folio = await kho_test_alloc_filled(heap, order, kho_test_data(order), "kho_test_save")
    if not folio:
        return -ENOMEM
    fdt = await folio_alloc(heap, 0, "kho_test_save(fdt)")
    if not fdt:
        await folio_put(heap, folio, "kho_test_save")
        return -ENOMEM
    err = await kho_preserve_folio(kho, fdt, 0)
    if err:
        await folio_put(heap, fdt, "kho_test_save")
        await folio_put(heap, folio, "kho_test_save")
        return err
    err = await kho_preserve_folio(kho, folio, order)
    if not err:
        await memcpy_to(heap, fdt, kho_test_fdt(folio, order), "kho_test_save(fdt)")
        err = await add_subtree_call(kho, KHO_TEST_NAME, fdt, PAGE_SIZE)
        if err:
            await kho_unpreserve_folio(kho, folio, order)
    if err:
        await kho_unpreserve_folio(kho, fdt, 0)
        await folio_put(heap, fdt, "kho_test_save")
        await folio_put(heap, folio, "kho_test_save")
    return err


async def kho_test_init(kho) -> int:
    """module_init: KHO is enabled and this is a cold boot, so save."""
    await kho_wait_ready(kho)
    return await kho_test_save(kho)


def kho_test_restore(nk, pages: tuple, restored: set, retrieve, restore_folio) -> str | None:
    """The next kernel's kho_test_init: None on a cold boot (no subtree), else the message."""
    phys = retrieve(nk, KHO_TEST_NAME)
    if phys == -2:
        return None
    if phys < 0 or restore_folio(nk, phys, restored) is None:
        return KHO_TEST_FAILED
    parsed = unflatten(read_phys(pages, phys, PAGE_SIZE))
    if parsed.tree is None or prop(parsed.tree, "compatible") != KHO_TEST_COMPATIBLE or \
            prop(parsed.tree, "magic") != KHO_TEST_MAGIC.to_bytes(4, "big"):
        return KHO_TEST_FAILED
    node = find(parsed.tree, ("data",))
    folios = prop(node, "folios") if node is not None else None
    want = prop(node, "csum") if node is not None else None
    if folios is None or want is None or len(folios) != 8:
        return KHO_TEST_FAILED
    info = int.from_bytes(folios, "little")
    fphys, order = info & ~(PAGE_SIZE - 1), info & (PAGE_SIZE - 1)
    if restore_folio(nk, fphys, restored) != order:
        return KHO_TEST_FAILED
    got = kho_test_csum(read_phys(pages, fphys, len(kho_test_data(order))))
    return KHO_TEST_SUCCEEDED if got.to_bytes(4, "big") == want else KHO_TEST_FAILED
