"""An FDBox-like driver on KHO v5: save file contents in preserved folios, drop them again.

Modelled on the FDBox proposal that motivated the v5 state tree (Changyuan Lyu's reply in
20250323190204.742672-1-changyuanl@google.com: users "save data to KHO at any time", and
concurrently).  Saving fd *k*: allocate and fill a folio, kho_preserve_folio it, kmalloc a
16-byte record (phys, size) and add it as property ``fd<k>`` of the driver's own node, which is
linked under the root at boot.  Dropping: kho_remove_prop, kfree the record, kho_unpreserve_folio
and folio_put.  Every error unwinds what was done, and a folio whose unpreserve was refused
(-EBUSY, KHO froze in between) is kept alive, never freed: it is still promised to the next
kernel.  In the next kernel, :func:`restore` finds the node, reads each record and restores the
folio it names.
"""

from __future__ import annotations

from typing import NamedTuple

from ..kernel.alloc import PAGE_SIZE, folio_put, kfree
from ..kernel.errno import EBUSY, ENOMEM
from khomc.kho.v5 import kexec_handover as v5
from ..kho.fdt import FdtTree
from .common import folio_alloc_filled, kmalloc_filled


def contents(node: str, k: int) -> bytes:
    """What fd *k* of driver *node* holds (deterministic, so the next kernel can check it)."""
    return f"{node}:fd{k}".encode()


def record(phys: int, size: int) -> bytes:
    return phys.to_bytes(8, "little") + size.to_bytes(8, "little")


async def _release_folio(kho, folio: int) -> int:
    err = await kho.kernel.kho_unpreserve_folio(kho, folio, 0)
    if not err:
        await folio_put(kho.heap, folio, "fdbox")
    return err


async def save_fd(kho, node: str, k: int):
    """(0, folio, record) on success, (error, 0, 0) otherwise."""
    heap = kho.heap
    folio = await folio_alloc_filled(heap, 0, contents(node, k), "fdbox_save_fd")
    if not folio:
        return (-ENOMEM, 0, 0)
    err = await kho.kernel.kho_preserve_folio(kho, folio, 0)
    while err == -EBUSY and "fdbox-retries-ebusy" in kho.mutants:
        err = await kho.kernel.kho_preserve_folio(kho, folio, 0)     # the misuse: spin until unfrozen
    if err:
        await folio_put(heap, folio, "fdbox_save_fd")
        return (err, 0, 0)
    rec = await kmalloc_filled(heap, record(folio, PAGE_SIZE), "fdbox_save_fd")
    if not rec:
        await _release_folio(kho, folio)
        return (-ENOMEM, 0, 0)
    err = await kho.kernel.kho_add_prop(kho, node, f"fd{k}", v5.mem(rec, 16))
    if err:
        await kfree(heap, rec, "fdbox_save_fd")
        await _release_folio(kho, folio)
        return (err, 0, 0)
    return (0, folio, rec)


async def drop_fd(kho, node: str, k: int, folio: int, rec: int) -> int:
    val = await kho.kernel.kho_remove_prop(kho, node, f"fd{k}")
    if isinstance(val, int):
        return val                      # -EBUSY once frozen: the fd stays handed over
    await kfree(kho.heap, rec, "fdbox_drop_fd")
    return await _release_folio(kho, folio)


async def fdbox(kho, node: str, nr_fds: int, drop: bool):
    """Save fds 0..nr_fds-1, then (if *drop*) drop fd 0.  Returns every call's result."""
    results = ()
    saved = ()
    k = 0
    while k < nr_fds:
        res = await save_fd(kho, node, k)
        results = results + (("save", k, res[0]),)
        saved = saved + (res,)
        k += 1
    if drop and saved and saved[0][0] == 0:
        err = await drop_fd(kho, node, 0, saved[0][1], saved[0][2])
        results = results + (("drop", 0, err),)
    return results


class Restored(NamedTuple):
    key: str
    phys: int
    order: int | None
    data: bytes


def restore(nk, node: str, pages: tuple) -> tuple:
    """The next kernel's FDBox: every fd record of *node* and what restoring its folio gives."""
    from ..kernel.alloc import read_phys
    from khomc.kho.v5.kexec_handover_in import kho_get_node, kho_restore_folio
    fdt_node: FdtTree | None = kho_get_node(nk, (node,))
    if fdt_node is None:
        return ()
    out = []
    for key, value in fdt_node.props:
        if not key.startswith("fd") or len(value) != 16:
            continue
        phys = int.from_bytes(value[:8], "little")
        order = kho_restore_folio(nk, phys, pages)
        data = read_phys(pages, phys, PAGE_SIZE)[:len(contents(node, int(key[2:])))]
        out.append(Restored(key, phys, order, data))
    return tuple(out)
