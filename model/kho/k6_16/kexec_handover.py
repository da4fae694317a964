"""KHO as merged in 6.16 (and, parameterised, 6.18): notifiers with struct kho_serialization,
the xarray-of-bitmaps tracker, finalize/abort under kho_out.lock, kho_fill_kimage.

Mirrors torvalds/linux:kernel/kexec_handover.c@00c010e130e5 (the 6.16 merge; the series is v8,
20250509074635.3187114-1-changyuanl@google.com), function by function: kho_preserve_folio (an
UNLOCKED read of ``kho_out.finalized``), __kho_preserve_order / xa_load_or_alloc (shared with
v5 in :mod:`khomc.kho.common`), kho_preserve_phys (split by ``min(ctz(pfn), ilog2(end - pfn))``,
unwinding ``[start, failed)`` on error), kho_add_subtree, register/unregister_kho_notifier,
kho_finalize, kho_abort, kho_out_finalize_set (debugfs, under ``kho_out.lock``: -EEXIST /
-ENOENT when the value does not change), kho_fill_kimage (6.16: sets ``image->kho.fdt`` whether
or not KHO is finalized) and kernel_kexec.

``era="6.18"`` applies the semantic deltas of 6.17/6.18 (../shared/reference/kho-semantics.md
§2.5): the finalized check moves inside __kho_preserve_order (469661d0d3a5, still unlocked);
kho_preserve_pages(page, nr) replaces kho_preserve_phys (8375b76517cb); restore checks the
page magic and clears it (89a3ecca49ee, the next kernel in :mod:`khomc.kho.k6_16.kexec_handover_in`);
kho_fill_kimage returns early unless finalized, sampled at kexec_file_load (f322a97aeb2a).

Model notes:

* The root FDT page (``kho_out.ser.fdt``, allocated by kho_init) is allocated by the operator's
  first step (``kho_init``); nothing else uses KHO's out side before it.
* The sequential-write FDT under construction is kept as the list of subtrees written into it
  (``kho_out.ser.subtrees``); the page holds zeros while it is being built (fdt_create's header
  has FDT_SW_MAGIC, which fdt_check_header refuses, as it refuses zeros) and the finished blob,
  built with libfdt, from fdt_finish on.  kho_abort does not clear the page, as in the kernel.
* The ``finalized`` flag is written only under kho_out.lock; the lock and the read of the flag
  are one step, and so are the write of the flag and the unlock (movers, as in khomc.kho.v5.kexec_handover).
  Preservers read the flag with no lock, as separate steps.
* Debugfs files (out/fdt, sub_fdts) are not modelled.

Ghost state (read only by properties): the PFNs KHO accepted from clients (``promised``: a
preserve that returned 0, with no unpreserve since); the subtrees and map of the last finalize
that succeeded and was not aborted (``final``).  KHO's own preservation of the root FDT page is
not a client promise.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, get_zeroed_page, kfree
from khomc.kernel.alloc import _heap_modify, heap_modify
from khomc.kernel.bitops import _clear, _set
from khomc.kernel.errno import EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM
from khomc.kernel import kexec
from khomc.kernel.kexec import Kimage, add_buffer
from khomc.kernel.locking import KexecLock, Mutex, kexec_trylock, kexec_unlock, mutex_lock, mutex_unlock
from khomc.kernel.notifier import BlockingNotifierHead, NotifierBlock, blocking_notifier_call_chain, blocking_notifier_chain_register, blocking_notifier_chain_unregister, notifier_to_errno
from khomc.kernel.xarray import XArray, xa_entries
from khomc.runtime.effects import Op, Update, atomic, load, store
from khomc.runtime.spec import Model
from khomc.kho.common import __kho_preserve, __kho_unpreserve, ctz, ilog2, kho_mem_ser_free, kho_mem_serialize, phys_bits
from khomc.kho.fdt import FdtTree, flatten

KEXEC_KHO_FINALIZE = 0
KEXEC_KHO_ABORT = 1
KHO_FDT_COMPATIBLE = b"kho-v1\0"
PROP_PRESERVED_MEMORY_MAP = "preserved-memory-map"
PROP_SUB_FDT = "fdt"
KERNEL_IMAGE_SIZE = 1 << 16
ERAS = ("6.16", "6.18")


class Ghost(NamedTuple):
    promised: frozenset = frozenset()   # client PFNs whose preserve returned 0
    final: tuple | None = None          # (subtrees, map) of the finalize in effect, if any


class Image(NamedTuple):
    """``struct kimage`` with its ``kho`` member: the segments and ``image->kho.fdt``."""

    kimage: Kimage
    kho_fdt: int | None                  # physical address of the root FDT, None if not set


class Handover(NamedTuple):
    """The machine at machine_kexec: what the next kernel is given, and the ghost then."""

    image: Image
    pages: tuple
    ghost: Ghost
    watched: tuple = ()                 # the values of the drivers' watched slots then


class K616:
    """``kho_out`` (its lock, the notifier head, ``ser`` and ``finalized``) of one scenario."""

    def __init__(self, model: Model, heap: Heap, era: str = "6.16"):
        if era not in ERAS:
            raise ValueError(f"unknown era {era!r}; this module models {ERAS}")
        self.era = era
        self.heap = heap
        self.chain = BlockingNotifierHead(model, "kho_out.chain_head")
        self.lock = Mutex.new(model, "kho_out.lock")
        # Invariant: written only by holders of kho_out.lock.
        self.finalized = model.var("kho_out.finalized", False)
        self.fdt = model.var("kho_out.ser.fdt", 0)
        self.subtrees = model.var("kho_out.ser.subtrees", ())
        self.mem_map = model.var("kho_out.ser.preserved_mem_map", 0)
        self.orders = XArray.at_var(model.var("kho_out.ser.track.orders", ()))
        self.kexec_lock = KexecLock.new(model, "__kexec_lock")
        self.image = model.var("kexec_image", None)
        self.ghost = model.var("ghost", Ghost())
        self.handover = model.var("handover", None)
        self.watched: list = []          # driver slots snapshotted at machine_kexec

    def __repr__(self):
        return "kho_out"


# -- kho_init ---------------------------------------------------------------------------------

async def kho_init(kho: K616) -> int:
    """kho_init: allocate the one-page root FDT (``kho_out.ser.fdt``)."""
    page = await get_zeroed_page(kho.heap, "kho_init")
    if not page:
        return -ENOMEM
    await store(kho.fdt, page)
    return 0


# -- preservation ------------------------------------------------------------------------------

def _pfns(pfn: int, order: int) -> frozenset:
    return frozenset(range(pfn, pfn + (1 << order)))


def _mark_values(values, tid, heap, addr, nr, pfns, adding, note):
    """set_bit/clear_bit in the bitmap and, in the same step, the ghost's promise."""
    pages, kasan, halted, ghost = values
    fn = _set if adding else _clear
    (pages, kasan, halted), _ = _heap_modify((pages, kasan, halted), tid, heap, addr,
                                             f"{'set' if adding else 'clear'}_bit({nr})", fn,
                                             (nr,))
    if note:
        promised = ghost.promised | pfns if adding else ghost.promised - pfns
        ghost = ghost._replace(promised=promised)
    return (pages, kasan, halted, ghost), None


def _marker(adding: bool, note: bool):
    async def mark(kho, bits, nr, pfn, order):
        heap = kho.heap
        await Op(heap.vars + (kho.ghost,), _mark_values, heap, bits, nr, _pfns(pfn, order),
                 adding, note, text=f"{'set' if adding else 'clear'}_bit({nr}) in "
                                    f"__kho_{'' if adding else 'un'}preserve_order")
    return mark


SET_NOTED, SET_QUIET, CLEAR_NOTED = _marker(True, True), _marker(True, False), _marker(False, True)


async def __kho_preserve_order(kho: K616, pfn: int, order: int, note: bool = True) -> int:
    if kho.era == "6.18" and await load(kho.finalized):     # 469661d0d3a5: still unlocked
        return -EBUSY
    return await __kho_preserve(kho, pfn, order, SET_NOTED if note else SET_QUIET)


async def kho_preserve_folio(kho: K616, phys: int, order: int, note: bool = True) -> int:
    """0, -EBUSY once finalized (an unlocked read), or -ENOMEM."""
    if kho.era == "6.16" and await load(kho.finalized):
        return -EBUSY
    return await __kho_preserve_order(kho, phys >> PAGE_SHIFT, order, note)


def split_order(pfn: int, end: int) -> int:
    """The naturally aligned block at *pfn* in [pfn, end).

    >>> split_order(3, 6), split_order(4, 6)
    (0, 1)
    """
    return min(ctz(pfn), ilog2(end - pfn))


async def _preserve_range(kho: K616, start: int, end: int) -> int:
    pfn = start
    err = 0
    while pfn < end:
        order = split_order(pfn, end)
        err = await __kho_preserve_order(kho, pfn, order)
        if err:
            break
        pfn += 1 << order
    if err:
        failed = pfn
        pfn = start
        while pfn < failed:
            order = split_order(pfn, failed)
            await __kho_unpreserve(kho, pfn, order, CLEAR_NOTED)
            pfn += 1 << order
    return err


async def kho_preserve_phys(kho: K616, phys: int, size: int) -> int:
    """6.16 only: -EINVAL unless page aligned; -EBUSY once finalized (checked once)."""
    if kho.era != "6.16":
        raise AssertionError("kho_preserve_phys was replaced by kho_preserve_pages in 6.18")
    if phys % PAGE_SIZE or size % PAGE_SIZE:
        return -EINVAL
    if await load(kho.finalized):
        return -EBUSY
    return await _preserve_range(kho, phys >> PAGE_SHIFT, (phys + size) >> PAGE_SHIFT)


async def kho_preserve_pages(kho: K616, phys: int, nr_pages: int) -> int:
    """6.18 (8375b76517cb): each block checks ``finalized`` inside __kho_preserve_order."""
    if kho.era != "6.18":
        raise AssertionError("kho_preserve_pages is a 6.18 function")
    start = phys >> PAGE_SHIFT
    return await _preserve_range(kho, start, start + nr_pages)


async def kho_preserve(kho: K616, phys: int, nr_pages: int) -> int:
    """The range-preservation call of this era (phys in 6.16, pages in 6.18)."""
    if kho.era == "6.16":
        return await kho_preserve_phys(kho, phys, nr_pages * PAGE_SIZE)
    return await kho_preserve_pages(kho, phys, nr_pages)


# -- notifiers and subtrees --------------------------------------------------------------------

async def register_kho_notifier(kho: K616, nb: NotifierBlock) -> int:
    return await blocking_notifier_chain_register(kho.chain, nb)


async def unregister_kho_notifier(kho: K616, nb: NotifierBlock) -> int:
    return await blocking_notifier_chain_unregister(kho.chain, nb)


def _add_subtree(subtrees, tid, name, phys):
    if any(n == name for n, _ in subtrees):
        return subtrees, -EEXIST          # fdt_begin_node of a duplicate name: libfdt error
    return subtrees + ((name, phys),), 0


async def kho_add_subtree(kho: K616, ser, name: str, fdt_phys: int) -> int:
    """Write ``<name> { fdt = <phys>; }`` into the root FDT being built.  Only legal from a
    FINALIZE callback (*ser* is what the chain passed)."""
    if ser is not kho:
        raise AssertionError("kho_add_subtree outside a KEXEC_KHO_FINALIZE callback")
    return await Update(kho.subtrees, _add_subtree, name, fdt_phys,
                        text=f"kho_add_subtree({name!r}, {fdt_phys:#x})")


# -- finalize and abort ------------------------------------------------------------------------

def root_fdt(subtrees: tuple, mem_map: int) -> FdtTree:
    children = tuple(FdtTree(name, ((PROP_SUB_FDT, phys.to_bytes(8, "little")),), ())
                     for name, phys in subtrees)
    props = (("compatible", KHO_FDT_COMPATIBLE),
             (PROP_PRESERVED_MEMORY_MAP, mem_map.to_bytes(8, "little")))
    return FdtTree("", props, children)


def _put(data, value):
    return value, None


async def kho_abort(kho: K616) -> int:
    """Free every bitmap and physxa (unpreserving everything), free the chunk list, ABORT."""
    heap = kho.heap
    orders = await xa_entries(kho.orders)
    i = 0
    while i < len(orders):
        physxa = orders[i][1]
        bitmaps = await xa_entries(phys_bits(kho, physxa))
        j = 0
        while j < len(bitmaps):
            await kfree(heap, bitmaps[j][1], "kho_abort")
            j += 1
        await kfree(heap, physxa, "kho_abort")
        i += 1
    await store(kho.orders.var, ())                      # xa_destroy(&track.orders)
    first = await load(kho.mem_map)
    if first:
        await kho_mem_ser_free(kho, first)
        await store(kho.mem_map, 0)
    ret = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_ABORT, None)
    return notifier_to_errno(ret)


async def kho_finalize(kho: K616) -> int:
    heap = kho.heap
    fdt = await load(kho.fdt)
    # fdt_create + compatible + the preserved-memory-map placeholder: the page is not a valid
    # FDT until fdt_finish.
    await heap_modify(heap, fdt, "kho_finalize: fdt_create", _put, b"")
    await store(kho.subtrees, ())
    err = await kho_preserve_folio(kho, fdt, 0, False)
    if not err:
        ret = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_FINALIZE, kho)
        err = notifier_to_errno(ret)
    if not err:
        first = await kho_mem_serialize(kho)
        if first < 0:
            err = first
        else:
            await store(kho.mem_map, first)
            subtrees = await load(kho.subtrees)
            blob = flatten(root_fdt(subtrees, first), PAGE_SIZE)
            if isinstance(blob, int):
                err = -ENOMEM
            else:
                await heap_modify(heap, fdt, "kho_finalize: fdt_finish", _put, blob)
    if err:
        await kho_abort(kho)
    return err


def _set_finalized(values, tid, val):
    """``kho_out.finalized = val`` and mutex_unlock, one step; the ghost notes the finalize
    now in effect (or none after an abort)."""
    owner, _, ghost, subtrees, mem_map = values
    if owner != tid:
        return None
    final = (subtrees, mem_map) if val else None
    return (None, bool(val), ghost._replace(final=final), subtrees, mem_map), None


async def _lock_and_read(kho: K616) -> bool:
    await mutex_lock(kho.lock)
    return await load(kho.finalized)


async def kho_out_finalize_set(kho: K616, val: int) -> int:
    """``echo val > /sys/kernel/debug/kho/out/finalize``."""
    finalized = await atomic(_lock_and_read)(kho)
    if bool(val) == finalized:
        await mutex_unlock(kho.lock)
        return -EEXIST if finalized else -ENOENT
    if val:
        ret = await kho_finalize(kho)
    else:
        ret = await kho_abort(kho)
    if ret:
        await mutex_unlock(kho.lock)
        return ret
    await Op((kho.lock.var, kho.finalized, kho.ghost, kho.subtrees, kho.mem_map),
             _set_finalized, val, text=f"kho_out.finalized = {bool(val)}; mutex_unlock")
    return 0


# -- kexec ------------------------------------------------------------------------------------

async def _kexec_file_load(kho: K616) -> int:
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    image = add_buffer(Kimage(True, ()), "kernel", KERNEL_IMAGE_SIZE, b"\x7fELF")
    fdt = None
    if kho.era == "6.16" or await load(kho.finalized):   # f322a97aeb2a: only if finalized
        fdt = await load(kho.fdt)
        image = add_buffer(image, "kho-scratch", 16)
    await store(kho.image, Image(image, fdt))
    await kexec_unlock(kho.kexec_lock)
    return 0


async def kexec_file_load(kho: K616) -> int:
    """kexec_file_load(2) with kho_fill_kimage, one step (only kexec-lock holders touch the
    image; the read of ``finalized`` in 6.18 is the unlocked sample the kernel takes)."""
    return await atomic(_kexec_file_load)(kho)


def _machine_kexec(values, tid):
    image, pages, ghost, _, _ = values[:5]
    watched = values[5:]
    return (image, pages, ghost, True, Handover(image, pages, ghost, watched)) + watched, None


async def kernel_kexec(kho: K616) -> int:
    """reboot(LINUX_REBOOT_CMD_KEXEC): 6.16 does nothing KHO-specific here."""
    return await kexec.kernel_kexec(
        kho, (kho.image, kho.heap.pages, kho.ghost, kho.heap.halted, kho.handover)
        + tuple(kho.watched), _machine_kexec)
