"""memfd preservation as a LUO file handler: torvalds/linux:mm/memfd_luo.c@02e117b8ca58.

Mirrors (mm/memfd_luo.c@02e117b8ca58; ABI include/linux/kho/abi/memfd.h@32cb2729c956):

* ``memfd_luo_preserve_folios`` - the zero-size early return (``memset`` of the kho_vmalloc),
  pin the folios, ``vcalloc`` the ``folios_ser`` array (a vmalloc area), ``kho_preserve_folio``
  each folio and fill its ``memfd_luo_folio_ser`` (pfn, flags, index), then
  ``kho_preserve_vmalloc(folios_ser, &ser->folios)``; on any error ``err_unpreserve`` walks
  ``for (i = i - 1; i >= 0; i--)`` - after a failed kho_preserve_vmalloc ``i`` is nr_folios,
  so every folio is unpreserved - then ``vfree``;
* ``memfd_luo_preserve`` (``.preserve``) - ``kho_alloc_preserve(sizeof(*ser))``, ``ser->pos``,
  ``ser->size``, the folios, ``ser->nr_folios``; ``serialized_data`` is the record's physical
  address and ``private_data`` the vmalloc'd folios_ser; ``err_free_ser`` is
  ``kho_unpreserve_free(ser)``;
* ``memfd_luo_freeze`` (``.freeze``) - WARN and -EINVAL on a zero ``serialized_data``, else
  ``ser->pos = f_pos``;
* ``memfd_luo_unpreserve`` / ``memfd_luo_unpreserve_folios`` (``.unpreserve``) - WARN and
  return on a zero ``serialized_data``; ``nr_folios`` and the kho_vmalloc are read from the
  record; ``kho_unpreserve_vmalloc`` first, then each folio unpreserved (``pfn`` 0 skipped),
  ``vfree(folios_ser)``, ``kho_unpreserve_free(ser)``;
* ``memfd_luo_can_preserve`` and the ops table LUO calls through (luo_file.py's ``fh_op``);
* the next kernel (pure functions over the handed-over memory, as the era's ``boot``):
  ``memfd_luo_retrieve`` (``.retrieve``: ``kho_restore_vmalloc(&ser->folios)``, -EINVAL when it
  fails; ``memfd_luo_retrieve_folios``; ``kho_restore_free(ser)`` only on success) with
  ``memfd_luo_retrieve_folios`` (``pfn`` 0 skipped; a folio without KHO magic sends it to
  ``put_folios``, which - as written - passes the *pfn* of each later entry to
  ``kho_restore_folio`` as if it were a physical address; -EIO), and ``memfd_luo_finish``
  (``.finish``: nothing for a retrieved file; otherwise restore folios_ser and
  ``memfd_luo_discard_folios`` - restore and put every folio - then ``kho_restore_free(ser)``).

The handler is registered by ``memfd_luo_init`` (late_initcall) before userspace runs; the model
starts with it in ``luo_file_handler_list`` (luo_session.py's LuoSessionGlobal).

Citation: 02e117b8ca58 is the mm/memfd_luo.c the reading tool returns.  It predates the memfd_luo
fixes queued in the mm tree in April 2026 (e.g. 3538f90ab89a "mm/memfd_luo: fix physical address
conversion in put_folios cleanup", 4aa6424f37b5 "remove unnecessary memset in zero-size memfd
path"; mm revlist of 2026-04-18): it still has both, and its ``.finish`` takes the boolean
``args->retrieved`` of 6.19's luo_file.c@b2135d1cb0e3.  7.1 and mainline-2026-04 inherit it: the
fixes' mainline ids and their place relative to those eras are not established (stated, not
deltas).

Abstractions (each cannot change a verdict here):

* ``inode_lock`` / ``shmem_freeze``: the memfd's inode is touched only by the task that owns
  the fd and by LUO on its behalf; no modelled task writes the file after creating it.
* The file's folios are order-0, allocated and filled by the userspace task before
  PRESERVE_FD; ``memfd_pin_folios`` finds them all, in index order, each dirty and uptodate
  (nothing frees them while pinned).  ``kvmalloc_array`` of the pin array is task-local and not
  a failure choice; ``vcalloc`` is (site ``vcalloc``, one zeroed page per 256 entries).
* The record ``struct memfd_luo_ser`` (pos, size, nr_folios, folios: 40 packed bytes) is written
  in one memcpy once the folios and the vmalloc are preserved: nobody reads ``ser`` before the
  ioctl returns (the file is not yet on the session's list).  ``kho_preserve_vmalloc`` returns
  the kho_vmalloc it builds (khomc.kho.k6_19.kexec_handover) and it is stored then.
* The next kernel's shmem calls (``memfd_alloc_file``, ``mem_cgroup_charge``,
  ``shmem_add_to_page_cache``, ``shmem_inode_acct_blocks``) succeed.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, free_page, get_zeroed_page, heap_read_bytes, memcpy_to, read_phys
from khomc.kernel.errno import EINVAL, ENOMEM

MEMFD_LUO_FH_COMPATIBLE = "memfd-v1"
MEMFD_LUO_FOLIO_DIRTY = 1
MEMFD_LUO_FOLIO_UPTODATE = 2
SIZEOF_MEMFD_LUO_SER = 40              # pos, size, nr_folios (u64 each), struct kho_vmalloc
SIZEOF_MEMFD_LUO_FOLIO_SER = 16        # pfn:52 flags:12, index (u64)
EIO = 5


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


def memfd_luo_ser(pos: int, size: int, nr_folios: int, folios: tuple) -> bytes:
    """``struct memfd_luo_ser`` (packed): pos, size, nr_folios, then the kho_vmalloc."""
    return (pos.to_bytes(8, "little") + size.to_bytes(8, "little") +
            nr_folios.to_bytes(8, "little") + kho_vmalloc_blob(folios))


def memfd_luo_ser_unpack(data: bytes) -> tuple:
    """``(pos, size, nr_folios, kho_vmalloc)`` from a record's bytes."""
    return (int.from_bytes(data[0:8], "little"), int.from_bytes(data[8:16], "little"),
            int.from_bytes(data[16:24], "little"), kho_vmalloc_unblob(data[24:40]))


def memfd_luo_folio_ser(pfn: int, flags: int, index: int) -> bytes:
    return ((pfn & ((1 << 52) - 1)) | (flags << 52)).to_bytes(8, "little") + \
        index.to_bytes(8, "little")


def memfd_luo_folio_unser(raw: bytes) -> tuple:
    """``(pfn, flags, index)``."""
    word = int.from_bytes(raw[0:8], "little")
    return word & ((1 << 52) - 1), word >> 52, int.from_bytes(raw[8:16], "little")


async def vcalloc(kho, n: int, size: int):
    """``vcalloc(n, size)``: a zeroed vmalloc area of order-0 pages (None on failure, the pages
    already allocated freed again)."""
    nr_pages = max(1, -(-(n * size) // PAGE_SIZE))
    area = ()
    while len(area) < nr_pages:
        page = await get_zeroed_page(kho.heap, "vcalloc")
        if not page:
            await vfree(kho, VmStruct(area))
            return None
        area = area + (page,)
    return VmStruct(area)


async def vfree(kho, area) -> None:
    if area is None:
        return
    i = 0
    while i < len(area.pages):
        await free_page(kho.heap, area.pages[i], "vfree")
        i += 1


async def memfd_luo_preserve_folios(kho, file: MemFile, kho_vmalloc: tuple):
    """``(err, folios_ser area, nr_folios, kho_vmalloc)``."""
    size = file.size
    if not size:
        return (0, None, 0, (0, 0, 0, 0))               # memset(kho_vmalloc, 0, ...)
    folios = file.folios                                  # memfd_pin_folios
    nr_folios = len(folios)
    folios_ser = await vcalloc(kho, nr_folios, SIZEOF_MEMFD_LUO_FOLIO_SER)
    if folios_ser is None:
        return (-ENOMEM, None, 0, kho_vmalloc)            # err_unpin, err_free_folios
    i = 0
    err = 0
    while i < nr_folios:
        err = await kho_preserve_folio(kho, folios[i], 0)
        if err:
            break                                         # goto err_unpreserve
        off = i * SIZEOF_MEMFD_LUO_FOLIO_SER
        await memcpy_to(kho.heap, folios_ser.pages[off // PAGE_SIZE],
                        memfd_luo_folio_ser(folios[i] >> PAGE_SHIFT,
                                            MEMFD_LUO_FOLIO_DIRTY | MEMFD_LUO_FOLIO_UPTODATE,
                                            0 if "memfd-index-unset" in kho.mutants else i),
                        "memfd_luo_preserve_folios", off % PAGE_SIZE)
        i += 1
    if not err:
        err, kho_vmalloc = await kho_preserve_vmalloc(kho, folios_ser, kho_vmalloc)
        if not err:
            return (0, folios_ser, nr_folios, kho_vmalloc)   # kvfree(folios)
    i -= 1                                                # err_unpreserve: for (i = i - 1; ...)
    while i >= 0:
        await kho_unpreserve_folio(kho, folios[i], 0)
        i -= 1
    await vfree(kho, folios_ser)                          # then unpin_folios, kvfree
    return (err, None, 0, kho_vmalloc)


async def memfd_luo_preserve(kho, args):
    """``.preserve``: ``(err, serialized_data, private_data)``."""
    file = args.file
    ser = await kho_alloc_preserve(kho, SIZEOF_MEMFD_LUO_SER, "memfd_luo_preserve")
    if ser < 0:
        return (ser, 0, None)                             # err_unlock
    err, folios_ser, nr_folios, folios = await memfd_luo_preserve_folios(kho, file, (0, 0, 0, 0))
    if err:
        await kho_unpreserve_free(kho, ser, 0, "memfd_luo_preserve")   # err_free_ser
        return (err, 0, None)
    if "memfd-nr-folios-unset" in kho.mutants:
        nr_folios = 0
    await memcpy_to(kho.heap, ser, memfd_luo_ser(file.pos, file.size, nr_folios, folios),
                    "memfd_luo_preserve")
    return (0, ser, folios_ser)


async def memfd_luo_freeze(kho, args):
    """``.freeze``: ``(err, serialized_data)``; stores the current pos in the record."""
    if not args.serialized_data:                          # WARN_ON_ONCE
        return (-EINVAL, args.serialized_data)
    await memcpy_to(kho.heap, args.serialized_data, args.file.pos.to_bytes(8, "little"),
                    "memfd_luo_freeze")
    return (0, args.serialized_data)


async def memfd_luo_unpreserve_folios(kho, kho_vmalloc: tuple, folios_ser, nr_folios: int) -> None:
    if not nr_folios:
        return
    await kho_unpreserve_vmalloc(kho, kho_vmalloc)
    i = 0
    while i < nr_folios:
        off = i * SIZEOF_MEMFD_LUO_FOLIO_SER
        raw = await heap_read_bytes(kho.heap, folios_ser.pages[off // PAGE_SIZE] + off % PAGE_SIZE,
                                    SIZEOF_MEMFD_LUO_FOLIO_SER, "memfd_luo_unpreserve_folios")
        pfn = memfd_luo_folio_unser(raw)[0]
        if pfn:
            await kho_unpreserve_folio(kho, pfn << PAGE_SHIFT, 0)   # then unpin_folio
        i += 1
    await vfree(kho, folios_ser)


async def memfd_luo_unpreserve(kho, args) -> None:
    """``.unpreserve``."""
    if not args.serialized_data:                          # WARN_ON_ONCE
        return
    ser = args.serialized_data
    raw = await heap_read_bytes(kho.heap, ser, SIZEOF_MEMFD_LUO_SER, "memfd_luo_unpreserve")
    _, _, nr_folios, folios = memfd_luo_ser_unpack(raw)
    await memfd_luo_unpreserve_folios(kho, folios, args.private_data, nr_folios)
    await kho_unpreserve_free(kho, ser, 0, "memfd_luo_unpreserve")


def memfd_luo_can_preserve(file) -> bool:
    return isinstance(file, MemFile)                      # shmem_file(file) && !i_nlink


MEMFD_LUO_HANDLER = FileHandler(MEMFD_LUO_FH_COMPATIBLE, (
    ("freeze", "memfd_luo_freeze"), ("finish", "memfd_luo_finish"),
    ("retrieve", "memfd_luo_retrieve"), ("preserve", "memfd_luo_preserve"),
    ("unpreserve", "memfd_luo_unpreserve"), ("can_preserve", "memfd_luo_can_preserve")))


# -- the next kernel ------------------------------------------------------------------------------

class RetrievedMemfd(NamedTuple):
    """The file ``.retrieve`` makes: pos, size and its page cache (index -> physical address of
    the restored folio, with its order)."""

    pos: int
    size: int
    folios: tuple                      # ((index, phys, order), ...) in insertion order


def _folios_ser_entries(pages: tuple, area: tuple, nr_folios: int) -> tuple:
    out = ()
    i = 0
    while i < nr_folios:
        off = i * SIZEOF_MEMFD_LUO_FOLIO_SER
        if off // PAGE_SIZE >= len(area):
            break                                         # beyond the area: zeros, pfn 0
        out += (memfd_luo_folio_unser(read_phys(pages, area[off // PAGE_SIZE] + off % PAGE_SIZE,
                                                SIZEOF_MEMFD_LUO_FOLIO_SER)),)
        i += 1
    return out + ((0, 0, 0),) * (nr_folios - len(out))


def memfd_luo_retrieve_folios(nk, pages: tuple, entries: tuple, restored: set):
    """``(err, ((index, phys, order), ...))``."""
    added = ()
    i = 0
    while i < len(entries):
        pfn, flags, index = entries[i]
        if not pfn:
            i += 1
            continue
        phys = pfn << PAGE_SHIFT
        order = kho_restore_folio(nk, phys, restored)
        if order is None:
            j = i + 1                                     # put_folios
            while j < len(entries):
                kho_restore_folio(nk, entries[j][0], restored)   # the pfn, as written
                j += 1
            return -EIO, added
        added += ((index, phys, order),)                  # shmem_add_to_page_cache, ...
        i += 1
    return 0, added


def memfd_luo_retrieve(nk, pages: tuple, serialized_data: int, restored: set):
    """``.retrieve``: ``(err, RetrievedMemfd or None)``."""
    if not serialized_data:
        return -EINVAL, None
    pos, size, nr_folios, folios = memfd_luo_ser_unpack(
        read_phys(pages, serialized_data, SIZEOF_MEMFD_LUO_SER))
    added = ()
    if nr_folios:
        area = kho_restore_vmalloc(nk, pages, folios, restored)
        if area is None:
            return -EINVAL, None                          # put_file
        err, added = memfd_luo_retrieve_folios(nk, pages, _folios_ser_entries(pages, area,
                                                                              nr_folios),
                                               restored)
        if err:
            return err, None                              # vfree, put_file
    kho_restore_free(nk, serialized_data, restored)
    return 0, RetrievedMemfd(pos, size, added)


def memfd_luo_finish(nk, pages: tuple, serialized_data: int, retrieved: bool,
                     restored: set) -> None:
    """``.finish``: a file never retrieved gives its folios back (restored and put)."""
    if retrieved:
        return
    if not serialized_data:
        return
    _, _, nr_folios, folios = memfd_luo_ser_unpack(
        read_phys(pages, serialized_data, SIZEOF_MEMFD_LUO_SER))
    if nr_folios:
        area = kho_restore_vmalloc(nk, pages, folios, restored)
        if area is not None:
            for pfn, _, _ in _folios_ser_entries(pages, area, nr_folios):   # discard_folios
                if pfn:
                    kho_restore_folio(nk, pfn << PAGE_SHIFT, restored)      # then folio_put
    kho_restore_free(nk, serialized_data, restored)       # out:
