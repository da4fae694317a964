"""lib/test_kho.c's notifier-era shape run on KHO v4 through an adapter: folios of a chosen
order, a checksum, a subtree added from the FINALIZE (v4: DUMP) callback; restore and verify in
the next kernel.

Only the v4 scenarios use this module (through :class:`khomc.drivers.eras.V4`): v4 predates
lib/test_kho.c, so the test is transplanted.  The 6.16, 6.17 and 6.18 eras run the kernel's
own file, mirrored as khomc.kho.k6_16.test_kho (torvalds/linux:lib/test_kho.c@3407caccb898)
and linked into the era's namespace.  (The LUO-era test, kho_add_subtree(name, fdt) at init, is
:mod:`khomc.drivers.test_kho`.)

Boot 1 (module init, :func:`test_kho`): allocate ``nr_folios`` folios, each of an order the
search chooses from ``orders`` (the kernel draws ``get_random_u32() % NR_PAGE_ORDERS``), fill
each with its own bytes and accumulate a checksum; allocate the FDT folio and write
``compatible = "kho-test-v1"``, ``magic = 0x4b484f21`` and ``/data { nr_folios, folios_info,
csum }`` into it (libfdt); preserve every data folio; register the notifier.  On
KEXEC_KHO_FINALIZE the callback preserves the FDT folio and adds the ``kho_test`` subtree; on
ABORT it does nothing.  Model simplifications: ``folios_info`` (``phys | order`` per folio) is a
property of ``/data`` rather than a preserved vmalloc area; the checksum is a sum of bytes, not
``csum_partial``.  ``dup=True`` is a misuse for the restore-at-most-once promise: the first folio
is listed twice in folios_info (and counted twice in the checksum).

Boot 2 (:func:`restore`, a pure function of what the next kernel got): retrieve the subtree,
check compatible and magic, restore each listed folio, check its order, re-sum, compare, and
report "KHO restore succeeded" or "KHO restore failed" (-ENOENT means a cold boot: nothing to
restore).
"""

from __future__ import annotations

from typing import NamedTuple

from ..kernel.alloc import PAGE_SIZE, folio_put, read_phys
from ..kernel.errno import ENOMEM
from ..kernel.notifier import NOTIFY_BAD, NOTIFY_DONE, NotifierBlock
from ..kho.fdt import FdtTree, find, flatten, prop, unflatten
from ..runtime.effects import choose, store
from .common import folio_alloc_filled

NAME = "kho_test"
COMPAT = b"kho-test-v1\0"
MAGIC = 0x4B484F21
SUCCEEDED, FAILED = "KHO restore succeeded", "KHO restore failed"
ORDERS = (0, 1)


def data(i: int, order: int) -> bytes:
    """The bytes folio *i* is filled with (deterministic: the model has no get_random_bytes)."""
    return f"kho_test:{i}:order{order}".encode()


def checksum(chunks) -> int:
    """A 32-bit sum of bytes standing in for csum_partial.

    >>> checksum([b"\\x01\\x02", b"\\x03"])
    6
    """
    return sum(sum(c) for c in chunks) & 0xFFFFFFFF


def fdt_blob(info: tuple, csum: int) -> bytes:
    """kho_test_prepare_fdt: the test's own FDT."""
    packed = b"".join(v.to_bytes(8, "little") for v in info)
    tree = FdtTree("", (("compatible", COMPAT), ("magic", MAGIC.to_bytes(4, "little"))),
                   (FdtTree("data", (("nr_folios", len(info).to_bytes(4, "little")),
                                     ("folios_info", packed),
                                     ("csum", csum.to_bytes(4, "little"))), ()),))
    return flatten(tree, PAGE_SIZE)


async def callback(kho, era, fdt, event, ser) -> int:
    """kho_test_notifier."""
    if event == era.ABORT:
        return NOTIFY_DONE
    if event != era.FINALIZE:
        return NOTIFY_BAD
    err = await era.preserve_folio(kho, fdt, 0)
    err2 = await era.add_subtree(kho, ser, NAME, fdt)
    return NOTIFY_BAD if err or err2 else NOTIFY_DONE


async def test_kho(kho, era, nr_folios: int, orders: tuple, dup: bool, done):
    """Module init in the first kernel; sets *done* when it has finished.  Returns 0 or the
    error."""
    heap = kho.heap
    folios = ()
    i = 0
    while i < nr_folios:
        order = await choose(orders, f"folio {i} order")
        folio = await folio_alloc_filled(heap, order, data(i, order), "kho_test_generate_data")
        if not folio:
            await store(done, True)
            return -ENOMEM
        folios = folios + ((folio, order, data(i, order)),)
        i += 1
    listed = folios + folios[:1] if dup else folios
    info = tuple(f | o for f, o, _ in listed)
    blob = fdt_blob(info, checksum(d for _, _, d in listed))
    fdt = await folio_alloc_filled(heap, 0, blob, "kho_test_prepare_fdt")
    err = 0 if fdt else -ENOMEM
    i = 0
    while not err and i < len(folios):
        err = await era.preserve_folio(kho, folios[i][0], folios[i][1])
        i += 1
    if not err:
        err = await era.register_notifier(kho, NotifierBlock(NAME, callback, (kho, era, fdt)))
    if err and fdt:
        await folio_put(heap, fdt, "kho_test_save")
    await store(done, True)
    return err


class Restored(NamedTuple):
    message: str
    restored: tuple          # physical addresses kho_restore_folio returned a folio for


def restore(nk, pages: tuple, restorer, retrieve) -> Restored:
    """kho_test_init in the next kernel.  *retrieve* is the era's kho_retrieve_subtree and
    *restorer* its kho_restore_folio state."""
    phys = retrieve(nk, NAME)
    if phys < 0:
        return Restored(f"no {NAME} subtree ({phys}): cold boot, nothing restored", ())
    tree = unflatten(read_phys(pages, phys, PAGE_SIZE)).tree
    if tree is None or prop(tree, "compatible") != COMPAT or \
            prop(tree, "magic") != MAGIC.to_bytes(4, "little"):
        return Restored(FAILED, ())
    node = find(tree, ("data",))
    info = prop(node, "folios_info") if node is not None else None
    old = prop(node, "csum") if node is not None else None
    if info is None or old is None:
        return Restored(FAILED, ())
    chunks = []
    restored = []
    for off in range(0, len(info), 8):
        value = int.from_bytes(info[off:off + 8], "little")
        fphys, order = value & ~(PAGE_SIZE - 1), value & (PAGE_SIZE - 1)
        got, restorer = restorer.restore_folio(fphys)
        if got is None:
            break
        restored.append(fphys)
        if got != order:
            break
        chunks.append(read_phys(pages, fphys, PAGE_SIZE << order).rstrip(b"\0"))
    ok = checksum(chunks) == int.from_bytes(old, "little")
    return Restored(SUCCEEDED if ok else FAILED, tuple(restored))
