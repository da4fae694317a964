"""A KHO v5 user that adds its state from the FINALIZE notifier and drops it on UNFREEZE.

The pattern v5's notifiers exist for (patch 07/16, 20250320015551.2157511-8-changyuanl@google.com,
and Changyuan's reply 20250323190204.742672-1-changyuanl@google.com: the notifier tells users it
is "the last chance for saving data").  On KEXEC_KHO_FINALIZE the callback allocates and
preserves a folio, links its node ``notif`` under the root (down_write of tree_lock: legal,
because kho_finalize runs the chain with no tree lock held) and records the folio in property
``data``; on KEXEC_KHO_UNFREEZE it undoes all of that.  Its state lives in one world slot.

``mode="unregister"`` is the misuse the issue asks for, a callback that calls back into KHO's
notifier API: it unregisters itself from inside the chain and sleeps on the chain's rwsem,
which its own task holds for read.
"""

from __future__ import annotations

from ..kernel.alloc import PAGE_SIZE, folio_put, kfree
from ..kernel.errno import ENOMEM
from ..kernel.notifier import NOTIFY_DONE, NOTIFY_OK, NotifierBlock, notifier_from_errno
from khomc.kho.v5 import kexec_handover as v5
from ..runtime.effects import load, store
from .common import folio_alloc_filled, kmalloc_filled
from .fdbox import record

NODE = "notif"
CONTENTS = b"notif:state"


def block(kho, state, mode: str) -> NotifierBlock:
    return NotifierBlock(NODE, callback, (kho, state, mode))


async def _save(kho, state) -> int:
    heap = kho.heap
    folio = await folio_alloc_filled(heap, 0, CONTENTS, "notif_finalize")
    if not folio:
        return -ENOMEM
    err = await kho.kernel.kho_preserve_folio(kho, folio, 0)
    if err:
        await folio_put(heap, folio, "notif_finalize")
        return err
    rec = await kmalloc_filled(heap, record(folio, PAGE_SIZE), "notif_finalize")
    await store(state, (folio, rec))
    if not rec:
        return -ENOMEM
    err = await kho.kernel.kho_add_node(kho, None, NODE, NODE)
    if err < 0:
        return err
    err = await kho.kernel.kho_add_prop(kho, NODE, "data", v5.mem(rec, 16))
    return err if err < 0 else 0


async def _release(kho, state) -> None:
    saved = await load(state)
    if saved is None:
        return
    folio, rec = saved
    await kho.kernel.kho_remove_node(kho, None, NODE)
    await kho.kernel.kho_remove_prop(kho, NODE, "data")
    await kfree(kho.heap, rec, "notif_unfreeze")
    if not await kho.kernel.kho_unpreserve_folio(kho, folio, 0):
        await folio_put(kho.heap, folio, "notif_unfreeze")
    await store(state, None)


async def callback(kho, state, mode, event, data) -> int:
    if event == v5.KEXEC_KHO_FINALIZE:
        if mode == "unregister":
            await kho.kernel.unregister_kho_notifier(kho, block(kho, state, mode))
        if await load(state) is not None:
            return NOTIFY_OK            # still saved from an earlier finalize
        err = await _save(kho, state)
        return notifier_from_errno(err)
    if event == v5.KEXEC_KHO_UNFREEZE:
        await _release(kho, state)
        return NOTIFY_OK
    return NOTIFY_DONE


async def finalize_notifier(kho, state, mode: str) -> int:
    """Module init: register the notifier block."""
    return await kho.kernel.register_kho_notifier(kho, block(kho, state, mode))
