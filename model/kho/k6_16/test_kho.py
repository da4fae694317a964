"""lib/test_kho.c of the notifier eras: folios of a chosen order, a checksum, a subtree added
from the FINALIZE callback; restore and verify in the next kernel.

Mirrors torvalds/linux:lib/test_kho.c@3407caccb898 (the test as merged with 6.16; 6.18's
90eb9ae35727 moves ``folios_info`` into a preserved vmalloc area, see khomc.kho.k6_18.test_kho).
It is kernel code, linked into the era's namespace: it calls kho_preserve_folio,
kho_add_subtree, register_kho_notifier, kho_retrieve_subtree and kho_restore_folio by name, so
every delta of the era reaches it.

Boot 1 (module init, :func:`kho_test_init`): ``kho_test_generate_data`` allocates
``nr_folios`` folios, each of an order the search chooses from ``orders`` (the kernel draws
``get_random_u32() % NR_PAGE_ORDERS``), fills each and sums a checksum;
``kho_test_prepare_fdt`` allocates the FDT folio and writes ``compatible``, ``magic`` and
``/data { nr_folios, folios_info, csum }``; ``kho_test_save_data`` preserves every data folio;
the notifier is registered.  ``kho_test_notifier`` on KEXEC_KHO_FINALIZE does
``err |= kho_preserve_folio(fdt); err |= kho_add_subtree(ser, "kho_test", fdt)`` (both calls are
made whatever the first returns) and returns NOTIFY_BAD on any error; on ABORT NOTIFY_DONE.

Boot 2 (:func:`kho_test_restore`, a pure function of what the next kernel got):
kho_retrieve_subtree, compatible and magic, each listed folio restored and its order checked,
the checksum compared.

Abstractions: the checksum is a byte sum, not csum_partial (only equality is compared); the
folios' bytes are fixed per folio (no get_random_bytes); the kvmalloc'ed folio array is a local
tuple (no other task reads it).  ``dup=True`` is a misuse for the restore promises: the first
folio is listed twice in folios_info (and counted twice in the checksum).  Each KHO call is
followed by a ghost note of its arguments and return code (:func:`client_preserved`), which no
kernel code reads.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, folio_alloc, folio_put, memcpy_to, read_phys
from khomc.kernel.errno import ENOMEM
from khomc.kernel.notifier import NOTIFY_BAD, NOTIFY_DONE, NotifierBlock
from khomc.kho.fdt import FdtTree, find, flatten, prop, unflatten
from khomc.runtime.effects import Op, atomic, choose, store
from khomc.kho.k6_16.kexec_handover import KEXEC_KHO_ABORT, KEXEC_KHO_FINALIZE, client_preserved, ghost_ask, kho_add_subtree, kho_preserve_folio, register_kho_notifier
from khomc.kho.k6_16.kexec_handover_in import kho_restore_folio, kho_retrieve_subtree

KHO_TEST_FDT = "kho_test"
KHO_TEST_COMPAT = b"kho-test-v1\0"
KHO_TEST_MAGIC = 0x4B484F21
SUCCEEDED, FAILED = "KHO restore succeeded", "KHO restore failed"
ORDERS = (0, 1)


def data(i: int, order: int) -> bytes:
    return f"kho_test:{i}:order{order}".encode()


def checksum(chunks) -> int:
    """A 32-bit byte sum standing in for csum_partial.

    >>> checksum([b"\\x01\\x02", b"\\x03"])
    6
    """
    return sum(sum(c) for c in chunks) & 0xFFFFFFFF


def test_fdt_blob(info_prop: tuple, nr: int, csum: int) -> bytes:
    tree = FdtTree("", (("compatible", KHO_TEST_COMPAT),
                        ("magic", KHO_TEST_MAGIC.to_bytes(4, "little"))),
                   (FdtTree("data", (("nr_folios", nr.to_bytes(4, "little")),) + info_prop +
                            (("csum", csum.to_bytes(4, "little")),), ()),))
    return flatten(tree, PAGE_SIZE)


def folios_info_prop(info: tuple) -> tuple:
    """6.16: ``folios_info`` is the array itself, a property of /data."""
    return (("folios_info", b"".join(v.to_bytes(8, "little") for v in info)),)


async def _alloc_filled(kho, order: int, contents: bytes, site: str) -> int:
    addr = await folio_alloc(kho.heap, order, site)
    if addr:
        await memcpy_to(kho.heap, addr, contents, site)
        await Op((kho.ghost,), ghost_ask, _folio_pfns(addr, order),
                 text="ghost: test_kho will preserve it")
    return addr


async def folio_alloc_filled(kho, order: int, contents: bytes, site: str) -> int:
    """folio_alloc and the first write of its bytes, one step (nobody else sees the folio
    before its address is published); the ghost notes that test_kho will preserve it."""
    return await atomic(_alloc_filled)(kho, order, contents, site)


def _folio_pfns(phys: int, order: int) -> frozenset:
    pfn = phys >> PAGE_SHIFT
    return frozenset(range(pfn, pfn + (1 << order)))


async def kho_test_notifier(kho, state, event, ser) -> int:
    if event == KEXEC_KHO_ABORT:
        return NOTIFY_DONE
    if event != KEXEC_KHO_FINALIZE:
        return NOTIFY_BAD
    fdt = state
    err = await kho_preserve_folio(kho, fdt, 0)
    await client_preserved(kho, KHO_TEST_FDT, "kho_preserve_folio", (fdt, 0), err,
                           _folio_pfns(fdt, 0))
    err2 = await kho_add_subtree(kho, ser, KHO_TEST_FDT, fdt)
    await client_preserved(kho, KHO_TEST_FDT, "kho_add_subtree", (KHO_TEST_FDT, fdt), err2)
    return NOTIFY_BAD if err or err2 else NOTIFY_DONE


async def kho_test_generate_data(kho, nr_folios: int, orders: tuple):
    """((phys, order, bytes), ...) or -ENOMEM."""
    folios = ()
    i = 0
    while i < nr_folios:
        order = await choose(orders, f"folio {i} order")
        folio = await folio_alloc_filled(kho, order, data(i, order),
                                         "kho_test_generate_data")
        if not folio:
            j = 0
            while j < len(folios):
                await folio_put(kho.heap, folios[j][0], "kho_test_generate_data")
                j += 1
            return -ENOMEM
        folios = folios + ((folio, order, data(i, order)),)
        i += 1
    return folios


async def kho_test_save_data(kho, folios: tuple, info: tuple) -> int:
    i = 0
    while i < len(folios):
        err = await kho_preserve_folio(kho, folios[i][0], folios[i][1])
        await client_preserved(kho, KHO_TEST_FDT, "kho_preserve_folio", folios[i][:2], err,
                               _folio_pfns(folios[i][0], folios[i][1]))
        if err:
            return err
        i += 1
    return 0


async def kho_test_save(kho, nr_folios: int, orders: tuple, dup: bool) -> int:
    folios = await kho_test_generate_data(kho, nr_folios, orders)
    if isinstance(folios, int):
        return folios
    listed = folios + folios[:1] if dup else folios
    info = tuple(f | o for f, o, _ in listed)
    blob = test_fdt_blob(folios_info_prop(info), len(info), checksum(d for _, _, d in listed))
    fdt = await folio_alloc_filled(kho, 0, blob, "kho_test_prepare_fdt")
    if not fdt:
        return -ENOMEM
    err = await kho_test_save_data(kho, folios, info)
    if not err:
        err = await register_kho_notifier(
            kho, NotifierBlock(KHO_TEST_FDT, kho_test_notifier, (kho, fdt)))
    if err:
        await folio_put(kho.heap, fdt, "kho_test_save")
    return err


async def kho_test_init(kho, nr_folios: int, orders: tuple, dup: bool, done) -> int:
    """Module init in the first kernel (no subtree to retrieve: a cold boot); sets *done*."""
    err = await kho_test_save(kho, nr_folios, orders, dup)
    await store(done, True)
    return err


class Restored(NamedTuple):
    message: str
    restorer: object


def kho_test_restore_data(tree: FdtTree, pages: tuple, r):
    """(ok, restorer)."""
    node = find(tree, ("data",))
    info = prop(node, "folios_info") if node is not None else None
    old = prop(node, "csum") if node is not None else None
    if info is None or old is None:
        return False, r
    chunks = []
    for off in range(0, len(info), 8):
        value = int.from_bytes(info[off:off + 8], "little")
        phys, order = value & ~(PAGE_SIZE - 1), value & (PAGE_SIZE - 1)
        got, r = kho_restore_folio(r, phys)
        if got is None or got != order:
            break
        chunks.append(read_phys(pages, phys, PAGE_SIZE << order).rstrip(b"\0"))
    return checksum(chunks) == int.from_bytes(old, "little"), r


def kho_test_restore(nk, pages: tuple, r) -> Restored:
    """kho_test_init in the next kernel: "KHO restore succeeded" / "failed", or a cold boot."""
    phys = kho_retrieve_subtree(nk, KHO_TEST_FDT)
    if phys < 0:
        return Restored(f"no {KHO_TEST_FDT} subtree ({phys}): cold boot, nothing restored", r)
    tree = unflatten(read_phys(pages, phys, PAGE_SIZE)).tree
    if tree is None or prop(tree, "compatible") != KHO_TEST_COMPAT or \
            prop(tree, "magic") != KHO_TEST_MAGIC.to_bytes(4, "little"):
        return Restored(FAILED, r)
    ok, r = kho_test_restore_data(tree, pages, r)
    return Restored(SUCCEEDED if ok else FAILED, r)

