"""memfd preservation as a LUO file handler: torvalds/linux:mm/memfd_luo.c@02e117b8ca58.

Mirrors ``memfd_luo_preserve`` (with ``memfd_luo_preserve_folios`` and its reverse unwind),
``memfd_luo_freeze``, ``memfd_luo_unpreserve`` (``memfd_luo_unpreserve_folios``),
``memfd_luo_can_preserve`` and the ``memfd_luo_handler`` ops table LUO calls through
(luo_file.py); the next kernel's ``memfd_luo_retrieve`` folio walk is :func:`memfd_luo_retrieve`.
The handler is registered by ``memfd_luo_init`` (late_initcall) before userspace runs; the model
starts with it in ``luo_file_handler_list`` (luo_file.py).

02e117b8ca58 is the newest mm/memfd_luo.c stored for the reading tool, possibly newer than 6.19;
its preserve/freeze/unpreserve paths are the ones b3749f174d68 (6.19 merge) added.

Abstractions (each cannot change a verdict here):

* ``inode_lock`` / ``shmem_freeze``: the memfd's inode is touched only by the task that owns
  the fd and by LUO on its behalf; no modelled task writes the file after creating it, so the
  lock and the write-freeze exclude nothing.
* The file's folios are order-0, allocated and filled by the userspace task before
  PRESERVE_FD; ``memfd_pin_folios`` finds them all (nothing frees them while pinned);
  ``kvmalloc_array``/``vcalloc`` of the scratch arrays are task-local and not failure choices.
* ``kho_preserve_vmalloc(folios_ser)`` is not modelled: the ``(pfn, index)`` array is kept in
  the serialization record itself, an FDT in the one preserved page ``ser`` (``pos``, ``size``,
  ``nr_folios``, ``folios``), written in one memcpy after the folios are preserved; no other
  task reads ``ser`` before the ioctl returns (the file is not yet on the session's list).
* ``memfd_luo_freeze`` rewrites the record with the current ``f_pos`` (the C stores
  ``ser->pos``); f_pos never changes here, so the bytes written equal the bytes there.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, memcpy_to, read_phys
from khomc.kernel.errno import EINVAL
from khomc.kho.fdt import FdtTree, flatten, prop, unflatten

MEMFD_LUO_FH_COMPATIBLE = "memfd-v1"
MEMFD_COMPATIBLE = b"memfd-luo-v1\0"
MEMFD_LUO_FOLIO_FLAGS = 3              # MEMFD_LUO_FOLIO_DIRTY | MEMFD_LUO_FOLIO_UPTODATE


class MemFile(NamedTuple):
    """A memfd's ``struct file``: its name, its order-0 folios (by index), size and pos."""

    name: str
    folios: tuple
    size: int
    pos: int = 0


class FileHandler(NamedTuple):
    """``struct liveupdate_file_handler``: compatible and the ops table (op -> function name
    in the era namespace, called through luo_file.py's :func:`fh_op`)."""

    compatible: str
    ops: tuple


def memfd_luo_record(pos: int, size: int, folios_ser: tuple) -> bytes:
    """``struct memfd_luo_ser`` with its folios_ser array: ((pfn, index), ...)."""
    packed = b"".join(pfn.to_bytes(8, "little") + index.to_bytes(8, "little") +
                      MEMFD_LUO_FOLIO_FLAGS.to_bytes(4, "little") for pfn, index in folios_ser)
    tree = FdtTree("", (("compatible", MEMFD_COMPATIBLE), ("pos", pos.to_bytes(8, "little")),
                        ("size", size.to_bytes(8, "little")),
                        ("nr_folios", len(folios_ser).to_bytes(8, "little")),
                        ("folios", packed)), ())
    return flatten(tree, PAGE_SIZE)


async def memfd_luo_preserve_folios(kho, file: MemFile):
    """``(err, folios_ser)``."""
    if not file.size:
        return (0, ())
    folios = file.folios                                  # memfd_pin_folios
    nr_folios = len(folios)
    folios_ser = ()
    i = 0
    err = 0
    while i < nr_folios:
        err = await kho_preserve_folio(kho, folios[i], 0)
        if err:
            break
        folios_ser = folios_ser + ((folios[i] >> PAGE_SHIFT, i),)
        i += 1
    if err:
        i -= 1                                            # err_unpreserve: for (i = i - 1; ...)
        while i >= 0:
            await kho_unpreserve_folio(kho, folios[i], 0)
            i -= 1
        return (err, ())                                  # vfree, unpin_folios, kvfree
    return (0, folios_ser)


async def memfd_luo_preserve(kho, args):
    """``.preserve``: ``(err, serialized_data, private_data)``."""
    file = args.file
    ser = await kho_alloc_preserve(kho, PAGE_SIZE, "memfd_luo_preserve")
    if ser < 0:
        return (ser, 0, None)                             # err_unlock
    err, folios_ser = await memfd_luo_preserve_folios(kho, file)
    if err:
        await kho_unpreserve_free(kho, ser, 0, "memfd_luo_preserve")   # err_free_ser
        return (err, 0, None)
    await memcpy_to(kho.heap, ser, memfd_luo_record(file.pos, file.size, folios_ser),
                    "memfd_luo_preserve")
    return (0, ser, folios_ser)


async def memfd_luo_freeze(kho, args):
    """``.freeze``: ``(err, serialized_data)``; stores the current pos in the record."""
    if not args.serialized_data:                          # WARN_ON_ONCE
        return (-EINVAL, args.serialized_data)
    await memcpy_to(kho.heap, args.serialized_data,
                    memfd_luo_record(args.file.pos, args.file.size, args.private_data),
                    "memfd_luo_freeze")
    return (0, args.serialized_data)


async def memfd_luo_unpreserve_folios(kho, folios_ser: tuple, nr_folios: int) -> None:
    if not nr_folios:
        return
    i = 0
    while i < nr_folios:
        pfn = folios_ser[i][0]
        if pfn:
            await kho_unpreserve_folio(kho, pfn << PAGE_SHIFT, 0)   # then unpin_folio
        i += 1


async def memfd_luo_unpreserve(kho, args) -> None:
    """``.unpreserve``."""
    if not args.serialized_data:                          # WARN_ON_ONCE
        return
    folios_ser = args.private_data
    await memfd_luo_unpreserve_folios(kho, folios_ser, len(folios_ser))
    await kho_unpreserve_free(kho, args.serialized_data, 0, "memfd_luo_unpreserve")


def memfd_luo_can_preserve(file) -> bool:
    return isinstance(file, MemFile)                      # shmem_file(file) && !i_nlink


MEMFD_LUO_HANDLER = FileHandler(MEMFD_LUO_FH_COMPATIBLE, (
    ("freeze", "memfd_luo_freeze"), ("preserve", "memfd_luo_preserve"),
    ("unpreserve", "memfd_luo_unpreserve"), ("can_preserve", "memfd_luo_can_preserve")))


def memfd_luo_retrieve(nk, pages: tuple, serialized_data: int, restored: set,
                       restore_folio) -> tuple | None:
    """The next kernel's memfd_luo_retrieve: the file's page contents by index, or None when
    the record or a folio cannot be restored (kho_restore_folio finds no KHO magic)."""
    if restore_folio(nk, serialized_data, restored) is None:
        return None
    parsed = unflatten(read_phys(pages, serialized_data, PAGE_SIZE))
    if parsed.tree is None or prop(parsed.tree, "compatible") != MEMFD_COMPATIBLE:
        return None
    nr = int.from_bytes(prop(parsed.tree, "nr_folios") or b"", "little")
    packed = prop(parsed.tree, "folios") or b""
    if len(packed) != 20 * nr:
        return None
    out = {}
    j = 0
    while j < nr:
        entry = packed[20 * j:20 * j + 20]
        phys = int.from_bytes(entry[0:8], "little") << PAGE_SHIFT
        index = int.from_bytes(entry[8:16], "little")
        if restore_folio(nk, phys, restored) is None:
            return None
        out[index] = read_phys(pages, phys, PAGE_SIZE)
        j += 1
    return tuple(out[k] for k in sorted(out))
