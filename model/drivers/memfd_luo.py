"""A stand-in for memfd preservation through LUO (mm/memfd_luo.c) on the eras that model no
luo_file yet (7.1, mainline-2026-04): the memfd's record linked as a KHO subtree at module load.

6.19 no longer uses this: there memfd_luo is a luo_file handler in the era's kernel files
(model/kho/k6_19/memfd_luo.py), driven by the userspace agent of model/drivers/luo_userspace.py
(PRESERVE_FD, freeze at reboot, unpreserve on close).  The record encoding is that module's
(:func:`khomc.kho.k6_19.memfd_luo.memfd_luo_record`).

Follows torvalds/linux:mm/memfd_luo.c@02e117b8ca58 (memfd b3749f174d68 in the 6.19 merge;
../shared/reference/kho-semantics.md §7 "LUO users"):

* ``memfd_luo_preserve``: allocate the serialization record in preserved memory
  (``kho_alloc_preserve``), record pos and size, then ``memfd_luo_preserve_folios``: pin every
  folio of the file, ``kho_preserve_folio`` each and record ``(pfn, index, flags)``; on an error
  unpreserve the folios already preserved, in reverse, and free the record.  The record's
  physical address is the ``serialized_data`` LUO hands over.
* ``memfd_luo_retrieve`` in the next kernel (:func:`restore`): read the record, restore every
  folio with ``kho_restore_folio`` and put it back at its index; here the contents are checked
  against what the file held.

Model notes: the file's folios are order-0 and allocated (and filled) by the task that created
the memfd, before preservation; pinning is implicit - nothing frees them afterwards.  The folio
array is kept in the record itself, an FDT in one preserved page (``compatible =
"memfd-luo-v1"``, ``pos``, ``size``, ``folios`` = ``pfn | index | flags`` triples), instead of
the ``kho_preserve_vmalloc``'d ``folios_ser`` array (vmalloc preservation is not modelled).
LUO's session FDT, which records ``serialized_data``, is stood in for by linking the record as
KHO subtree ``memfd`` (``kho.add_subtree``).  Not modelled: ``memfd_luo_freeze`` (updating
pos at reboot), ``memfd_luo_unpreserve`` / ``finish``, shmem_freeze and the inode lock.
"""

from __future__ import annotations

from ..kernel.alloc import PAGE_SHIFT, PAGE_SIZE, folio_put, memcpy_to, read_phys
from ..kho.fdt import prop, unflatten
from ..kho.k6_19.memfd_luo import memfd_luo_record
from .common import folio_alloc_filled

NAME = "memfd"
COMPATIBLE = b"memfd-luo-v1\0"
NR_FOLIOS = 2
FLAGS = 3                              # MEMFD_LUO_FOLIO_DIRTY | MEMFD_LUO_FOLIO_UPTODATE
SUCCEEDED = "memfd restored"
FAILED = "memfd restore failed"


def contents(index: int) -> bytes:
    """What the memfd holds at page *index* (deterministic, so the next kernel can check it)."""
    return b"memfd:%d:" % index * 4


def record(pos: int, size: int, folios: tuple) -> bytes:
    """The serialization record: an FDT with ``folios`` = ((pfn, index), ...)."""
    return memfd_luo_record(pos, size, folios)


async def memfd_create_and_write(kho, nr: int) -> tuple:
    """memfd_create + write(2) of *nr* pages: the file's folios (0 where allocation failed)."""
    folios = ()
    i = 0
    while i < nr:
        folio = await folio_alloc_filled(kho.heap, 0, contents(i), "shmem_write")
        folios = folios + (folio,)
        i += 1
    return folios


async def memfd_luo_preserve(kho, nr: int = NR_FOLIOS) -> int:
    """Create a memfd of *nr* pages and preserve it through LUO; 0 or a negative errno."""
    heap = kho.heap
    folios = await memfd_create_and_write(kho, nr)
    if not all(folios):
        return -12
    ser = await kho.alloc_preserve(PAGE_SIZE, "memfd_luo_preserve")
    if ser < 0:
        return ser
    i = 0
    err = 0
    while i < nr:
        err = await kho.preserve_folio(folios[i], 0)
        if err:
            break
        i += 1
    if err:
        while i > 0:                               # err_unpreserve: in reverse
            i -= 1
            await kho.unpreserve_folio(folios[i], 0)
        await kho.unpreserve_folio(ser, 0)         # kho_unpreserve_free(ser)
        await folio_put(heap, ser, "memfd_luo_preserve")
        return err
    entries = tuple((folios[j] >> PAGE_SHIFT, j) for j in range(nr))
    await memcpy_to(heap, ser, record(0, nr * PAGE_SIZE, entries), "memfd_luo_preserve")
    return await kho.add_subtree(NAME, ser)


def restore(nk, pages: tuple, restored: set, retrieve, restore_folio) -> str | None:
    """memfd_luo_retrieve: None when nothing was handed over, else whether every folio came
    back at its index with the file's contents."""
    phys = retrieve(nk, NAME)
    if phys == -2:
        return None
    if phys < 0 or restore_folio(nk, phys, restored) is None:
        return FAILED
    parsed = unflatten(read_phys(pages, phys, PAGE_SIZE))
    if parsed.tree is None or prop(parsed.tree, "compatible") != COMPATIBLE:
        return FAILED
    nr = int.from_bytes(prop(parsed.tree, "nr_folios") or b"", "little")
    packed = prop(parsed.tree, "folios") or b""
    if len(packed) != 20 * nr:
        return FAILED
    j = 0
    while j < nr:
        entry = packed[20 * j:20 * j + 20]
        pfn = int.from_bytes(entry[0:8], "little")
        index = int.from_bytes(entry[8:16], "little")
        fphys = pfn << PAGE_SHIFT
        if restore_folio(nk, fphys, restored) != 0:
            return FAILED
        if read_phys(pages, fphys, len(contents(index))) != contents(index):
            return FAILED
        j += 1
    return SUCCEEDED
