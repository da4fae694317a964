"""An FDBox-like driver for the notifier eras (6.16, 6.18): fds saved any time before
finalization, the driver's own FDT written from its FINALIZE callback.

The same user as :mod:`khomc.drivers.fdbox` (v5), re-shaped for the 6.16 API
(torvalds/linux:kernel/kexec_handover.c@00c010e130e5; v7 20250501225425.635167-1-changyuanl@google.com
lets users call kho_preserve_folio "anytime before KHO finalization"), through an era adapter:

* saving fd *k*: allocate and fill a folio, then under the driver's own mutex: refuse (-EBUSY)
  once the driver has sealed (its FINALIZE callback ran), else kho_preserve_folio and record
  ``(k, folio)`` in the driver's state;
* dropping fd *k*: under the mutex, refuse once sealed, else forget the record.  6.16 and 6.18
  have no kho_unpreserve_folio (36f8f7ef7fd2 added it in 6.19), so the folio stays preserved
  and allocated: it is handed over, unreferenced;
* KEXEC_KHO_FINALIZE: under the mutex, write an FDT with one ``fd<k> = <phys, size>`` property
  per recorded fd into a new folio, preserve it, kho_add_subtree(ser, node, fdt), seal;
* KEXEC_KHO_ABORT: unseal (the driver keeps its records: it assumes its folios are still
  preserved, which 6.16's kho_abort has undone).

The driver's state slot holds ``(sealed, ((k, folio), ...))``.  In the next kernel
:func:`restore` retrieves the subtree and restores every recorded folio.
"""

from __future__ import annotations

from ..kernel.alloc import PAGE_SIZE, folio_put, read_phys
from ..kernel.errno import EBUSY, ENOMEM
from ..kernel.locking import Mutex, mutex_lock, mutex_unlock
from ..kernel.notifier import NOTIFY_DONE, NotifierBlock, notifier_from_errno
from ..kho.fdt import FdtTree, flatten, prop, unflatten
from ..runtime.effects import Update, load, store
from .common import folio_alloc_filled
from .fdbox import contents, record

COMPAT = b"fdbox-v1\0"


def box_fdt(fds: tuple) -> bytes:
    props = (("compatible", COMPAT),) + tuple(
        (f"fd{k}", record(folio, PAGE_SIZE)) for k, folio in fds)
    return flatten(FdtTree("", props, ()), PAGE_SIZE)


async def _finalize(kho, era, node, lock, state, ser) -> int:
    await mutex_lock(lock)
    _, fds = await load(state)
    fdt = await folio_alloc_filled(kho.heap, 0, box_fdt(fds), "fdbox_finalize")
    err = 0 if fdt else -ENOMEM
    if not err:
        err = await era.preserve_folio(kho, fdt, 0)
    if not err:
        err = await era.add_subtree(kho, ser, node, fdt)
    if not err:
        await store(state, (True, fds))
    await mutex_unlock(lock)
    return err


async def callback(kho, era, node, lock, state, event, ser) -> int:
    if event == era.FINALIZE:
        err = await _finalize(kho, era, node, lock, state, ser)
        return notifier_from_errno(err)
    if event == era.ABORT:
        await mutex_lock(lock)
        _, fds = await load(state)
        await store(state, (False, fds))
        await mutex_unlock(lock)
    return NOTIFY_DONE


async def save_fd(kho, era, node, lock, state, k: int) -> int:
    folio = await folio_alloc_filled(kho.heap, 0, contents(node, k), "fdbox_save_fd")
    if not folio:
        return -ENOMEM
    await mutex_lock(lock)
    sealed, fds = await load(state)
    err = -EBUSY
    if not sealed:
        err = await era.preserve_folio(kho, folio, 0)
    if not err:
        await store(state, (sealed, fds + ((k, folio),)))
    await mutex_unlock(lock)
    if err:
        await folio_put(kho.heap, folio, "fdbox_save_fd")
    return err


async def drop_fd(kho, lock, state, k: int) -> int:
    await mutex_lock(lock)
    sealed, fds = await load(state)
    if not sealed:
        await store(state, (sealed, tuple(f for f in fds if f[0] != k)))
    await mutex_unlock(lock)
    return -EBUSY if sealed else 0


def _count_up(n, tid):
    return n + 1, None


async def fdbox(kho, era, node: str, lock: Mutex, state, nr_fds: int, drop: bool, loaded):
    """Module init (register the notifier, then ``loaded += 1``: the init script runs after
    module init), then save fds 0..nr_fds-1 and (if *drop*) drop fd 0, concurrently with it."""
    results = ()
    err = await era.register_notifier(
        kho, NotifierBlock(node, callback, (kho, era, node, lock, state)))
    await Update(loaded, _count_up, text="module loaded")
    results = results + (("register", err),)
    k = 0
    while k < nr_fds:
        ret = await save_fd(kho, era, node, lock, state, k)
        results = results + (("save", k, ret),)
        k += 1
    if drop:
        ret = await drop_fd(kho, lock, state, 0)
        results = results + (("drop", 0, ret),)
    return results


def restore(nk, node: str, pages: tuple, restorer, retrieve, fds: tuple):
    """(ok, restorer, restored physical addresses): every fd in *fds* (the driver's records at
    kexec) is in the subtree and restores as an order-0 folio with its bytes."""
    phys = retrieve(nk, node)
    if phys < 0:
        return (not fds, restorer, ())
    tree = unflatten(read_phys(pages, phys, PAGE_SIZE)).tree
    if tree is None:
        return (not fds, restorer, ())
    restored = []
    ok = True
    for k, folio in fds:
        value = prop(tree, f"fd{k}")
        if value is None or int.from_bytes(value[:8], "little") != folio:
            ok = False
            continue
        order, restorer = restorer.restore_folio(folio)
        if order is None:
            ok = False
            continue
        restored.append(folio)
        want = contents(node, k)
        if order != 0 or read_phys(pages, folio, len(want)) != want:
            ok = False
    return (ok, restorer, tuple(restored))
