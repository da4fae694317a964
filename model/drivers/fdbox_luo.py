"""The FDBox-like driver on the eras of ``kho_add_subtree(name, fdt)`` (6.19, 7.1).

The same driver as :mod:`khomc.drivers.fdbox` (file contents saved in preserved folios, one of
them dropped again), written against the API that replaced v5's state tree (v6,
20250411053745.1817356-1-changyuanl@google.com: each user owns its FDT and links it with
kho_add_subtree).  Init: a zeroed folio for the box's FDT, preserved, holding an empty tree
(``compatible = "fdbox-v1"``), linked as subtree ``<node>``.  Saving fd *k*: allocate and fill a
folio, preserve it, then rewrite the box's FDT with a record ``fd<k> = <phys, size>``.  Dropping
fd *k*: rewrite the FDT without it, unpreserve, free.  The FDT lives in preserved memory, so the
next kernel reads what the box last wrote there; the box writes it only from its own task.
"""

from __future__ import annotations

from ..kernel.alloc import PAGE_SIZE, folio_alloc, folio_put, memcpy_to, read_phys
from ..kernel.errno import ENOMEM
from ..kho.fdt import FdtTree, flatten, unflatten
from khomc.kho.k6_19.kexec_handover import kho_wait_ready
from .common import folio_alloc_filled
from .fdbox import Restored, contents, record

COMPATIBLE = b"fdbox-v1\0"


async def alloc_preserved(kho, order: int, site: str) -> int:
    """A zeroed, preserved folio of *order* for a client: the era's ``kho_alloc_preserve``
    where the kernel has one (6.19 on), else what a client of an era without it writes
    (v5-recursive): folio_alloc, preserve, folio_put if the preserve fails.  Its address or a
    negative errno."""
    if hasattr(kho, "alloc_preserve"):
        return await kho.alloc_preserve(PAGE_SIZE << order, site)
    folio = await folio_alloc(kho.heap, order, site)
    if not folio:
        return -ENOMEM
    err = await kho.preserve_folio(folio, order)
    if err:
        await folio_put(kho.heap, folio, site)
        return err
    return folio


def box_fdt(records: tuple) -> bytes:
    """The box's FDT with *records* ``((k, phys), ...)``."""
    props = (("compatible", COMPATIBLE),) + tuple(
        (f"fd{k}", record(phys, PAGE_SIZE)) for k, phys in records)
    return flatten(FdtTree("", props, ()), PAGE_SIZE)


async def fdbox(kho, node: str, nr_fds: int, drop: bool):
    """Init, save fds 0..nr_fds-1, then (if *drop*) drop fd 0.  Returns every call's result."""
    heap = kho.heap
    await kho_wait_ready(kho)
    fdt = await alloc_preserved(kho, 0, "fdbox_init")
    if fdt < 0:
        return (("init", fdt),)
    await memcpy_to(heap, fdt, box_fdt(()), "fdbox_init")
    err = await kho.add_subtree(node, fdt)
    results = (("init", err),)
    if err:
        return results
    records = ()
    k = 0
    while k < nr_fds:
        folio = await folio_alloc_filled(heap, 0, contents(node, k), "fdbox_save_fd")
        err = -ENOMEM if not folio else await kho.preserve_folio(folio, 0)
        if folio and err:
            await folio_put(heap, folio, "fdbox_save_fd")
        if not err:
            records = records + ((k, folio),)
            await memcpy_to(heap, fdt, box_fdt(records), "fdbox_save_fd")
        results = results + (("save", k, err),)
        k += 1
    if drop and records:
        k, folio = records[0]
        records = records[1:]
        await memcpy_to(heap, fdt, box_fdt(records), "fdbox_drop_fd")
        err = await kho.unpreserve_folio(folio, 0)
        if err:     # v5-recursive: -EBUSY once frozen; the fd stays handed over, record restored
            await memcpy_to(heap, fdt, box_fdt(((k, folio),) + records), "fdbox_drop_fd")
        else:
            await folio_put(heap, folio, "fdbox_drop_fd")
        results = results + (("drop", k, err or 0),)
    return results


def restore(nk, node: str, pages: tuple, restored: set, retrieve, restore_folio):
    """The next kernel's FDBox: None if its subtree is absent, False if its FDT cannot be
    restored, else every fd record and what restoring its folio gives."""
    phys = retrieve(nk, node)
    if phys == -2:
        return None
    if phys < 0 or restore_folio(nk, phys, restored) is None:
        return False
    parsed = unflatten(read_phys(pages, phys, PAGE_SIZE))
    if parsed.tree is None:
        return False
    out = []
    for key, value in parsed.tree.props:
        if not key.startswith("fd") or len(value) != 16:
            continue
        fphys = int.from_bytes(value[:8], "little")
        order = restore_folio(nk, fphys, restored)
        data = read_phys(pages, fphys, PAGE_SIZE)[:len(contents(node, int(key[2:])))]
        out.append(Restored(key, fphys, order, data))
    return tuple(out)
