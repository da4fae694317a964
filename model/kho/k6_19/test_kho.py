"""lib/test_kho.c in the LUO eras, the kernel's own KHO test module.

Mirrors torvalds/linux:lib/test_kho.c@136114e0abf0 (the newest version; the 6.18 notifier-era
one, @3407caccb898, is model/drivers/test_kho_notifier.py) through the kernel calls of the era
it is linked into (``kho_preserve_folio`` / ``kho_preserve_vmalloc`` / ``kho_add_subtree`` ...
by bare name, so a delta that replaces them is what the test calls):

Boot 1 (``kho_test_init`` -> ``kho_test_save``): ``kho_test_generate_data`` (one data folio of a
chosen order, filled, summed); ``kho_test_preserve``: the FDT folio of ``get_order(nr_folios * 8
+ PAGE_SIZE)`` (order 1) preserved; ``kho_test_preserve_data``: ``vmalloc_array`` of
``folios_info``, ``kho_preserve_vmalloc`` of it into the local ``folios_info_phys``, then for each
folio ``folios_info[i] = phys | order`` and ``kho_preserve_folio`` (``err_unpreserve`` is
``kho_test_unpreserve_data``: the folios preserved so far, ``kho_unpreserve_vmalloc``,
``vfree``); ``kho_test_prepare_fdt`` (``compatible``, ``magic``, ``/data { nr_folios,
folios_info (the struct kho_vmalloc), csum }``); ``kho_add_subtree("kho_test", fdt)``.  Errors:
``err_unpreserve_data`` (kho_test_unpreserve_data), ``err_unpreserve_fdt``, ``err_free_fdt``;
kho_test_save then frees only its pointer array - the data folios stay allocated (a leak as
written, no promise reads it).

Boot 2 (:func:`kho_test_restore`): ``kho_retrieve_subtree("kho_test")`` (-ENOENT: a cold boot,
nothing to check), compatible and magic, then ``kho_test_restore_data``: ``nr_folios``, ``csum``
and ``folios_info`` of the right sizes, ``kho_restore_vmalloc(folios_info)``, every folio
restored (its order must match; the loop stops at the first that does not) and summed; "KHO
restore succeeded" when the sum matches, else "KHO restore failed".

Abstractions: one data folio (``max_mem`` is a bound here); the data is deterministic bytes, not
random, so the next kernel can recompute it; the checksum is a 32-bit byte sum standing in for
``csum_partial`` (a sum of per-folio sums, as csum_partial accumulates); the FDT's integer
properties are the raw little-endian bytes ``fdt_property(&value)`` writes on x86.  Allocating a
folio and writing its data is one step: nobody else can see the folio before its address is
published.  ``vmalloc_array`` is one order-0 page (``vcalloc`` of memfd_luo.py, site
``vcalloc``); the size handed to a blob-size era's ``kho_add_subtree`` is ``fdt_size``.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SIZE, folio_alloc, folio_put, memcpy_to, read_phys
from khomc.kernel.errno import EINVAL, ENOENT, ENOMEM
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


async def kho_test_generate_data(kho):
    """``(err, folios, csum)``: the model's max_mem holds one folio of a chosen order
    (``get_random_u32() % NR_PAGE_ORDERS``), filled (``get_random_bytes``) and summed."""
    order = await choose(KHO_TEST_ORDERS, "test_kho folio order")
    folio = await kho_test_alloc_filled(kho.heap, order, kho_test_data(order), "kho_test_save")
    if not folio:
        return -ENOMEM, (), 0                     # err_free_folios: nothing allocated yet
    return 0, ((folio, order),), kho_test_csum(kho_test_data(order))


class KhoTestState(NamedTuple):
    """``struct kho_test_state`` (a static, zeroed at load)."""

    nr_folios: int = 0
    folios: tuple = ()                  # ((phys, order), ...)
    folios_info: object = None          # the vmalloc area (a VmStruct)
    folios_info_phys: tuple = (0, 0, 0, 0)
    nr_folios_preserved: int = 0
    fdt: int = 0
    csum: int = 0


async def kho_test_unpreserve_data(kho, state: KhoTestState) -> None:
    i = 0
    while i < state.nr_folios_preserved:
        folio, order = state.folios[i]
        await kho_unpreserve_folio(kho, folio, order)
        i += 1
    await kho_unpreserve_vmalloc(kho, state.folios_info_phys)
    await vfree(kho, state.folios_info)


async def kho_test_preserve_data(kho, state: KhoTestState):
    """``(err, state)``.  Its local ``struct kho_vmalloc folios_info_phys`` is uninitialised
    stack in the C; kho_preserve_vmalloc's error path reads its ``order`` only when a chunk
    already records a page, which needs a vmalloc area of two pages or more - here it is one
    page (one folio), so the model starts it zeroed."""
    folios_info = await vcalloc(kho, state.nr_folios, 8)         # vmalloc_array
    if folios_info is None:
        return -ENOMEM, state
    err, folios_info_phys = await kho_preserve_vmalloc(kho, folios_info, (0, 0, 0, 0))
    if err:
        await vfree(kho, folios_info)                            # err_free_info
        return err, state
    state = state._replace(folios_info_phys=folios_info_phys, folios_info=folios_info)
    i = 0
    while i < state.nr_folios:
        folio, order = state.folios[i]
        await memcpy_to(kho.heap, folios_info.pages[0], (folio | order).to_bytes(8, "little"),
                        "kho_test_preserve_data", 8 * i)
        err = await kho_preserve_folio(kho, folio, order)
        if err:
            await kho_test_unpreserve_data(kho, state)           # err_unpreserve
            return err, state
        state = state._replace(nr_folios_preserved=state.nr_folios_preserved + 1)
        i += 1
    return 0, state


def kho_test_fdt(state: KhoTestState, fdt_size: int):
    """kho_test_prepare_fdt's blob: raw host-endian (x86: little-endian) properties, as
    ``fdt_property(fdt, name, &value, sizeof(value))`` writes them."""
    datanode = FdtTree("data", (("nr_folios", state.nr_folios.to_bytes(4, "little")),
                                ("folios_info", kho_vmalloc_blob(state.folios_info_phys)),
                                ("csum", state.csum.to_bytes(4, "little"))), ())
    tree = FdtTree("", (("compatible", KHO_TEST_COMPATIBLE),
                        ("magic", KHO_TEST_MAGIC.to_bytes(4, "little"))), (datanode,))
    return flatten(tree, fdt_size)


async def kho_test_preserve(kho, state: KhoTestState) -> int:
    heap = kho.heap
    fdt_size = state.nr_folios * 8 + PAGE_SIZE
    fdt_order = get_order(fdt_size)
    fdt = await folio_alloc(heap, fdt_order, "kho_test_save(fdt)")
    if not fdt:
        return -ENOMEM
    state = state._replace(fdt=fdt)
    err = await kho_preserve_folio(kho, fdt, fdt_order)
    if err:
        await folio_put(heap, fdt, "kho_test_save")              # err_free_fdt
        return err
    err, state = await kho_test_preserve_data(kho, state)
    if not err:
        blob = kho_test_fdt(state, fdt_size)                     # kho_test_prepare_fdt
        if isinstance(blob, int):
            err = blob
        else:
            await memcpy_to(heap, fdt, blob, "kho_test_save(fdt)")
            err = await add_subtree_call(kho, KHO_TEST_NAME, fdt, fdt_size)
        if err:
            await kho_test_unpreserve_data(kho, state)           # err_unpreserve_data
    if err:
        await kho_unpreserve_folio(kho, fdt, fdt_order)          # err_unpreserve_fdt
        await folio_put(heap, fdt, "kho_test_save")              # err_free_fdt
    return err


async def kho_test_save(kho) -> int:
    """``kvmalloc_array`` of the folio pointers is task-local (not a failure choice); on an
    error of kho_test_preserve only that array is freed - the data folios stay allocated, as
    written."""
    err, folios, csum = await kho_test_generate_data(kho)
    if err:
        return err
    state = KhoTestState(nr_folios=len(folios), folios=folios, csum=csum)
    return await kho_test_preserve(kho, state)


async def kho_test_init(kho) -> int:
    """module_init: KHO is enabled and this is a cold boot, so save."""
    await kho_wait_ready(kho)
    return await kho_test_save(kho)


def kho_test_restore_data(nk, pages: tuple, tree, restored: set, restore_folio) -> int:
    node = find(tree, ("data",))
    nr = prop(node, "nr_folios") if node is not None else None
    if nr is None or len(nr) != 4:
        return -EINVAL
    old = prop(node, "csum")
    if old is None or len(old) != 4:
        return -EINVAL
    info_phys = prop(node, "folios_info")
    if info_phys is None or len(info_phys) != SIZEOF_KHO_VMALLOC:
        return -EINVAL
    area = kho_restore_vmalloc(nk, pages, kho_vmalloc_unblob(info_phys), restored)
    if area is None:
        return -EINVAL
    csum = 0
    i = 0
    while i < int.from_bytes(nr, "little"):
        off = 8 * i
        if off // PAGE_SIZE >= len(area):
            break                                   # beyond the restored area (a short one)
        value = int.from_bytes(read_phys(pages, area[off // PAGE_SIZE] + off % PAGE_SIZE, 8),
                               "little")
        order = value & (PAGE_SIZE - 1)
        phys = value & ~(PAGE_SIZE - 1)
        got = restore_folio(nk, phys, restored)
        if got is None or got != order:
            break
        csum = (csum + kho_test_csum(read_phys(pages, phys, len(kho_test_data(order))))) \
            & 0xFFFFFFFF                            # csum_partial; then folio_put
        i += 1
    if csum.to_bytes(4, "little") != old:           # vfree(folios_info)
        return -EINVAL
    return 0


def kho_test_restore(nk, pages: tuple, restored: set, retrieve, restore_folio) -> str | None:
    """The next kernel's kho_test_init: None on a cold boot (no subtree), else the message.
    Like the C it does not restore the FDT folio itself (it reads it through phys_to_virt)."""
    phys = retrieve(nk, KHO_TEST_NAME)
    if phys == -ENOENT:
        return None
    if phys < 0:
        return KHO_TEST_FAILED                      # "failed to retrieve" (returns err)
    parsed = unflatten(read_phys(pages, phys, 2 * PAGE_SIZE))
    if parsed.tree is None or prop(parsed.tree, "compatible") != KHO_TEST_COMPATIBLE:
        return KHO_TEST_FAILED
    magic = prop(parsed.tree, "magic")
    if magic is None or len(magic) != 4 or magic != KHO_TEST_MAGIC.to_bytes(4, "little"):
        return KHO_TEST_FAILED
    if kho_test_restore_data(nk, pages, parsed.tree, restored, restore_folio):
        return KHO_TEST_FAILED
    return KHO_TEST_SUCCEEDED
