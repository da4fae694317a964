"""An FDBox-like driver on KHO v4: fds saved any time, handed over only by its KEXEC_KHO_DUMP
callback writing its node (and the ``mem`` ranges of its folios) into the one shared FDT.

The FDBox user of :mod:`khomc.drivers.fdbox` (v5) and :mod:`khomc.drivers.fdbox_notifier`
(6.16), re-shaped for v4 (20250206132754.2596694-6-rppt@kernel.org): v4 has no preservation
API, so the notifier is the only window in which a user can hand anything over - the design
Jason Gunthorpe objected to (20250210202220.GC3765641@nvidia.com, kho-semantics.md §5).

* saving fd *k*: allocate and fill a folio, then under the driver's own mutex: refuse (-EBUSY)
  once sealed, else record ``(k, folio)``;
* dropping fd *k*: under the mutex, refuse once sealed, else forget the record, then
  folio_put the folio (nothing was promised yet, so freeing it is the driver's right);
* KEXEC_KHO_DUMP (in the task that wrote ``active``, holding kho_out.lock): under the mutex,
  write ``<node> { compatible = "fdbox-v1"; fd<k> = <phys, size>; mem = <kho_mem...>; }`` into
  the fdt it is passed, and seal on success;
* KEXEC_KHO_ABORT: unseal (the records stay, the folios are still the driver's).

The state slot holds ``(sealed, ((k, folio), ...))``.  In the next kernel :func:`restore`
finds the node and claims every recorded folio.
"""

from __future__ import annotations

from ..kernel.alloc import PAGE_SIZE, folio_put, read_phys
from ..kernel.errno import EBUSY, ENOMEM
from ..kernel.locking import Mutex, mutex_lock, mutex_unlock
from ..kernel.notifier import NOTIFY_DONE, NotifierBlock, notifier_from_errno
from khomc.kho.v4 import kexec_handover as v4
from ..kho.fdt import prop
from ..runtime.effects import Update, load, store
from .common import folio_alloc_filled
from .fdbox import contents, record

COMPAT = b"fdbox-v1\0"


def node_props(fds: tuple) -> tuple:
    props = (("compatible", COMPAT),) + tuple(
        (f"fd{k}", record(folio, PAGE_SIZE)) for k, folio in fds)
    if fds:
        props = props + (("mem", b"".join(v4.kho_mem(f, PAGE_SIZE) for _, f in fds)),)
    return props


async def callback(kho, node, lock, state, event, fdt) -> int:
    if event == v4.KEXEC_KHO_DUMP:
        await mutex_lock(lock)
        _, fds = await load(state)
        err = await kho.kernel.kho_fdt_add_node(kho, fdt, node, node_props(fds), "fdbox_dump")
        if not err:
            await store(state, (True, fds))
        await mutex_unlock(lock)
        return notifier_from_errno(-ENOMEM if err else 0)
    if event == v4.KEXEC_KHO_ABORT:
        await mutex_lock(lock)
        _, fds = await load(state)
        await store(state, (False, fds))
        await mutex_unlock(lock)
    return NOTIFY_DONE


async def save_fd(kho, node, lock, state, k: int) -> int:
    folio = await folio_alloc_filled(kho.heap, 0, contents(node, k), "fdbox_save_fd")
    if not folio:
        return -ENOMEM
    await mutex_lock(lock)
    sealed, fds = await load(state)
    if not sealed:
        await store(state, (sealed, fds + ((k, folio),)))
    await mutex_unlock(lock)
    if sealed:
        await folio_put(kho.heap, folio, "fdbox_save_fd")
        return -EBUSY
    return 0


async def drop_fd(kho, lock, state, k: int) -> int:
    await mutex_lock(lock)
    sealed, fds = await load(state)
    gone = tuple(f for f in fds if f[0] == k)
    if not sealed:
        await store(state, (sealed, tuple(f for f in fds if f[0] != k)))
    await mutex_unlock(lock)
    if sealed:
        return -EBUSY
    if gone:
        await folio_put(kho.heap, gone[0][1], "fdbox_drop_fd")
    return 0


def _count_up(n, tid):
    return n + 1, None


async def fdbox(kho, node: str, lock: Mutex, state, nr_fds: int, drop: bool, loaded):
    """Module init (register the notifier, then ``loaded += 1``), then save fds
    0..nr_fds-1 and (if *drop*) drop fd 0, concurrently with the operator."""
    err = await kho.kernel.register_kho_notifier(
        kho, NotifierBlock(node, callback, (kho, node, lock, state)))
    await Update(loaded, _count_up, text="module loaded")
    results = (("register", err),)
    k = 0
    while k < nr_fds:
        ret = await save_fd(kho, node, lock, state, k)
        results = results + (("save", k, ret),)
        k += 1
    if drop:
        ret = await drop_fd(kho, lock, state, 0)
        results = results + (("drop", 0, ret),)
    return results


def restore(nk, node: str, pages: tuple, fds: tuple):
    """(ok, restored addresses): every fd in *fds* (the sealed records at kexec) is in the
    node and claims as a reserved page with its bytes."""
    tree = v4.kho_get_node(nk, node)
    if tree is None:
        return (not fds, ())
    ok = True
    restored = []
    reserved = nk.reserved
    for k, folio in fds:
        value = prop(tree, f"fd{k}")
        if value is None or int.from_bytes(value[:8], "little") != folio or \
                (folio // PAGE_SIZE) not in reserved:
            ok = False
            continue
        restored.append(folio)
        want = contents(node, k)
        if read_phys(pages, folio, len(want)) != want:
            ok = False
    return (ok, tuple(restored))
