"""An FDBox-like driver for the notifier eras (6.16, 6.17, 6.18): fds saved any time before
finalization, the driver's own FDT written from its FINALIZE callback.

The same user as :mod:`khomc.drivers.fdbox` (v5), re-shaped for the 6.16 API
(torvalds/linux:kernel/kexec_handover.c@00c010e130e5; v7 20250501225425.635167-1-changyuanl@google.com
lets users call kho_preserve_folio "anytime before KHO finalization").  *k* is the linked era
(a khomc.kho.ledger.Kernel): the driver calls ``k.kho_preserve_folio``, ``k.kho_add_subtree``,
``k.register_kho_notifier`` and, in the next kernel, ``k.kho_retrieve_subtree`` and
``k.kho_restore_folio``; after each KHO call it notes the call and its return code in the ghost
(``k.client_preserved``), which is what the properties judge KHO by.

* saving fd *n*: allocate and fill a folio, then under the driver's own mutex: refuse (-EBUSY)
  once the driver has sealed (its FINALIZE callback ran), else kho_preserve_folio and record
  ``(n, folio)`` in the driver's state;
* dropping fd *n*: under the mutex, refuse once sealed, else forget the record.  6.16 and 6.18
  have no kho_unpreserve_folio (36f8f7ef7fd2 added it in 6.19), so the folio stays preserved
  and allocated: it is handed over, unreferenced;
* KEXEC_KHO_FINALIZE: under the mutex, write an FDT with one ``fd<n> = <phys, size>`` property
  per recorded fd into a new folio, preserve it, kho_add_subtree(ser, node, fdt), seal;
* KEXEC_KHO_ABORT: unseal (the driver keeps its records: it assumes its folios are still
  preserved, which 6.16's kho_abort has undone).

The driver's state slot holds ``(sealed, ((n, folio), ...))``.  In the next kernel
:func:`restore` retrieves the subtree and restores every recorded folio.
"""

from __future__ import annotations

from ..kernel.alloc import PAGE_SHIFT, PAGE_SIZE, folio_put, read_phys
from ..kernel.errno import EBUSY, ENOMEM
from ..kernel.locking import Mutex, mutex_lock, mutex_unlock
from ..kernel.notifier import NOTIFY_DONE, NotifierBlock, notifier_from_errno
from ..kho.fdt import FdtTree, flatten, prop, unflatten
from ..runtime.effects import Op, Update, load, store
from ..kernel.alloc import folio_alloc, memcpy_to
from ..runtime.effects import atomic
from .fdbox import contents, record

COMPAT = b"fdbox-v1\0"


def box_fdt(fds: tuple) -> bytes:
    props = (("compatible", COMPAT),) + tuple(
        (f"fd{n}", record(folio, PAGE_SIZE)) for n, folio in fds)
    return flatten(FdtTree("", props, ()), PAGE_SIZE)


def _pfn(folio: int) -> frozenset:
    return frozenset({folio >> PAGE_SHIFT})


async def _alloc_asked(kho, k, contents: bytes, site: str) -> int:
    addr = await folio_alloc(kho.heap, 0, site)
    if addr:
        await memcpy_to(kho.heap, addr, contents, site)
        await Op((kho.ghost,), k.ghost_ask, _pfn(addr), text="ghost: to be preserved")
    return addr


async def folio_alloc_asked(kho, k, contents: bytes, site: str) -> int:
    """Allocate and fill an order-0 folio the driver will pass to kho_preserve_folio, one
    step; the ghost notes it as asked (nobody else knows the folio before)."""
    return await atomic(_alloc_asked)(kho, k, contents, site)


def _record(values, tid, new, pfns):
    _, ghost = values
    return (new, ghost._replace(promised=ghost.promised | pfns)), None


async def record_and_note(kho, state, new, pfns: frozenset) -> None:
    """The driver's record of what it preserved and the ghost note of the same pages (its
    kho_preserve_folio returned 0), one step: both are written only by this driver, under its
    mutex."""
    await Op((state, kho.ghost), _record, new, pfns, text=f"record {new}; ghost: preserved")


async def _finalize(kho, k, node, lock, state, ser) -> int:
    await mutex_lock(lock)
    _, fds = await load(state)
    fdt = await folio_alloc_asked(kho, k, box_fdt(fds), "fdbox_finalize")
    err = 0 if fdt else -ENOMEM
    preserved = False
    if not err:
        err = await k.kho_preserve_folio(kho, fdt, 0)
        preserved = not err
    if not err:
        err = await k.kho_add_subtree(kho, ser, node, fdt)
    if not err:
        await record_and_note(kho, state, (True, fds), _pfn(fdt))
    elif fdt:
        await k.client_preserved(kho, node, "kho_preserve_folio", (fdt, 0),
                                 0 if preserved else err, _pfn(fdt))
    await mutex_unlock(lock)
    return err


async def callback(kho, k, node, lock, state, event, ser) -> int:
    if event == k.KEXEC_KHO_FINALIZE:
        err = await _finalize(kho, k, node, lock, state, ser)
        return notifier_from_errno(err)
    if event == k.KEXEC_KHO_ABORT:
        await mutex_lock(lock)
        _, fds = await load(state)
        await store(state, (False, fds))
        await mutex_unlock(lock)
    return NOTIFY_DONE


async def save_fd(kho, k, node, lock, state, n: int) -> int:
    folio = await folio_alloc_asked(kho, k, contents(node, n), "fdbox_save_fd")
    if not folio:
        return -ENOMEM
    await mutex_lock(lock)
    sealed, fds = await load(state)
    err = -EBUSY
    if not sealed:
        err = await k.kho_preserve_folio(kho, folio, 0)
    if not err:
        await record_and_note(kho, state, (sealed, fds + ((n, folio),)), _pfn(folio))
    else:
        await k.client_preserved(kho, node, "kho_preserve_folio", (folio, 0), err, _pfn(folio))
    await mutex_unlock(lock)
    if err:
        await folio_put(kho.heap, folio, "fdbox_save_fd")
    return err


async def drop_fd(kho, lock, state, n: int) -> int:
    await mutex_lock(lock)
    sealed, fds = await load(state)
    if not sealed:
        await store(state, (sealed, tuple(f for f in fds if f[0] != n)))
    await mutex_unlock(lock)
    return -EBUSY if sealed else 0


def _count_up(n, tid):
    return n + 1, None


async def fdbox(kho, k, node: str, lock: Mutex, state, nr_fds: int, drop: bool, loaded):
    """Module init (register the notifier, then ``loaded += 1``: the init script runs after
    module init), then save fds 0..nr_fds-1 and (if *drop*) drop fd 0, concurrently with it."""
    results = ()
    err = await k.register_kho_notifier(
        kho, NotifierBlock(node, callback, (kho, k, node, lock, state)))
    await Update(loaded, _count_up, text="module loaded")
    results = results + (("register", err),)
    n = 0
    while n < nr_fds:
        ret = await save_fd(kho, k, node, lock, state, n)
        results = results + (("save", n, ret),)
        n += 1
    if drop:
        ret = await drop_fd(kho, lock, state, 0)
        results = results + (("drop", 0, ret),)
    return results


def restore(k, nk, node: str, pages: tuple, r, fds: tuple):
    """(ok, restorer): every fd in *fds* (the driver's records at kexec) is in the subtree and
    restores as an order-0 folio with its bytes."""
    phys = k.kho_retrieve_subtree(nk, node)
    if phys < 0:
        return (not fds, r)
    tree = unflatten(read_phys(pages, phys, PAGE_SIZE)).tree
    if tree is None:
        return (not fds, r)
    ok = True
    for n, folio in fds:
        value = prop(tree, f"fd{n}")
        if value is None or int.from_bytes(value[:8], "little") != folio:
            ok = False
            continue
        order, r = k.kho_restore_folio(r, folio)
        if order is None:
            ok = False
            continue
        want = contents(node, n)
        if order != 0 or read_phys(pages, folio, len(want)) != want:
            ok = False
    return (ok, r)
