"""LUO preserved files in 6.19: torvalds/linux:kernel/liveupdate/luo_file.c@b2135d1cb0e3.

b2135d1cb0e3 "liveupdate: luo_file: don't use invalid list iterator" (Dan Carpenter,
2025-11-28, merged with the 6.19 merge window's mm pull) is the newest luo_file.c of the 6.19
tree the reading tool stores.  Mirrors ``luo_alloc_files_mem``, ``luo_free_files_mem``,
``luo_token_is_used``, ``luo_preserve_file`` (its error ladder err_kfree / err_free_files_mem /
err_fput; no global xarray and no FLB in 6.19), ``luo_file_unpreserve_files``,
``luo_file_freeze_one``, ``luo_file_unfreeze_one`` (which zeroes ``serialized_data`` after
``.unfreeze``, as written), ``__luo_file_unfreeze``, ``luo_file_freeze``,
``luo_file_unfreeze``, and the next kernel's ``luo_file_deserialize``
(:func:`luo_file_deserialize_in`), ``luo_retrieve_file`` and ``luo_file_finish``
(:mod:`khomc.kho.k6_19.luo_next`).  7.1 inherits these (7.1's luo_file.c is not stored; the
other stored version, 00d0b372374f, is mainline-2026-04's delta, model/kho/mainline_2026_04/
luo_file.py).

State: a session's ``file_set`` is its :class:`luo_session.LuoSession` slots ``files`` (the
``files_list``: ``(token, handler, file, serialized_data, private_data)`` in list order; the
count is its length, both change together under ``session->mutex``) and ``files_mem``
(``file_set->files``, the preserved array of ``struct luo_file_ser``: 32 bytes each, compatible,
data, token).  ``luo_preserved_files`` (the xarray of preserved files) is one global slot.

Abstractions (each cannot change a verdict here):

* ``fget``/``fput``: the fd stays open in the task that passes it, so fget never fails; the
  reference only keeps the file alive, and nothing here frees a file.
* ``luo_file->mutex``: in the old kernel only the reboot path (freeze/unfreeze) takes it, and it
  already holds ``session->mutex``; the retrieve/finish paths that also take it run in the next
  kernel.  ``kzalloc`` of ``struct luo_file`` is not a failure choice (the scenarios inject
  failures at the KHO allocations).
* ``luo_preserved_files`` (a slot of :class:`LuoSessionGlobal`) is used only from
  00d0b372374f on (mainline-2026-04); in 6.19 and 7.1 it stays empty, a constant slot.
* ``file_set->files`` is one page (the kernel's LUO_FILE_PGCNT is 2): a scenario preserves at
  most a few files, LUO_FILE_MAX is never reached.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SIZE, memcpy_to, read_phys
from khomc.kernel.errno import EBUSY, EEXIST, EINVAL, ENOENT
from khomc.runtime.effects import Update, load, store

ENOSPC = 28
LUO_FILE_MAX = PAGE_SIZE // 32
LUO_FILE_SER = 32


class LuoFile(NamedTuple):
    token: int
    fh: object
    file: object
    serialized_data: int
    private_data: object


class FileOpArgs(NamedTuple):
    """``struct liveupdate_file_op_args``."""

    handler: object
    file: object
    serialized_data: int
    private_data: object


def fh_op(kho, fh, op: str):
    """``fh->ops->op``: the handler's function, linked in the era namespace (None if unset)."""
    name = dict(fh.ops).get(op)
    return None if name is None else getattr(kho.k, name)


def luo_file_ser(compatible: str, data: int, token: int) -> bytes:
    return (compatible.encode().ljust(16, b"\0")[:16] + data.to_bytes(8, "little") +
            token.to_bytes(8, "little"))


async def luo_alloc_files_mem(kho, session) -> int:
    if await load(session.files_mem):
        return 0
    mem = await kho_alloc_preserve(kho, PAGE_SIZE, "luo_alloc_files_mem")
    if mem < 0:
        return mem
    await store(session.files_mem, mem)
    return 0


async def luo_free_files_mem(kho, session) -> None:
    if await load(session.files):               # file_set->count
        return
    mem = await load(session.files_mem)
    if not mem:
        return
    await kho_unpreserve_free(kho, mem, 0, "luo_free_files_mem")
    await store(session.files_mem, 0)


def _xa_insert(ids, tid, key):
    if key in ids:
        return ids, -EBUSY
    return ids | {key}, 0


def _xa_erase(ids, tid, key):
    return ids - {key}, None


async def luo_preserve_file(kho, session, token: int, file) -> int:
    g = kho.luo_session_global
    files = await load(session.files)
    if any(f.token == token for f in files):    # luo_token_is_used
        return -EEXIST
    if len(files) == LUO_FILE_MAX:
        return -ENOSPC
    # file = fget(fd): the fd is open (see the header)
    err = await luo_alloc_files_mem(kho, session)
    if err:
        return err                              # err_fput
    err = -ENOENT
    fh = None
    for h in await load(g.handlers):
        if fh_op(kho, h, "can_preserve")(file):
            err = 0
            fh = h
            break
    if err:
        await luo_free_files_mem(kho, session)  # err_free_files_mem
        return err
    # kzalloc(luo_file): not a failure choice (header)
    err, data, private = await fh_op(kho, fh, "preserve")(kho, FileOpArgs(fh, file, 0, None))
    if err:
        await luo_free_files_mem(kho, session)  # err_kfree, err_free_files_mem
        return err
    files = await load(session.files)
    await store(session.files, files + (LuoFile(token, fh, file, data, private),))
    return 0


async def luo_file_unpreserve_files(kho, session) -> None:
    while True:
        files = await load(session.files)
        if not files:
            break
        luo_file = files[-1]                    # list_last_entry
        await fh_op(kho, luo_file.fh, "unpreserve")(
            kho, FileOpArgs(luo_file.fh, luo_file.file, luo_file.serialized_data,
                            luo_file.private_data))
        await store(session.files, files[:-1])  # list_del, count--; fput, kfree
    await luo_free_files_mem(kho, session)


async def luo_file_freeze_one(kho, session, i: int, luo_file) -> int:
    err = 0
    freeze = fh_op(kho, luo_file.fh, "freeze")
    if freeze is not None:
        err, data = await freeze(kho, FileOpArgs(luo_file.fh, luo_file.file,
                                                 luo_file.serialized_data,
                                                 luo_file.private_data))
        if not err:
            files = await load(session.files)
            await store(session.files, files[:i] + (luo_file._replace(serialized_data=data),) +
                        files[i + 1:])
    return err


async def luo_file_unfreeze_one(kho, session, i: int, luo_file) -> None:
    """As b2135d1cb0e3 has it: after .unfreeze, ``luo_file->serialized_data = 0`` - whether
    or not the handler has an unfreeze op (memfd has none).  A later close of the session then
    passes 0 to memfd_luo_unpreserve, which WARNs and returns: the memfd stays preserved."""
    unfreeze = fh_op(kho, luo_file.fh, "unfreeze")
    if unfreeze is not None:
        await unfreeze(kho, FileOpArgs(luo_file.fh, luo_file.file, luo_file.serialized_data,
                                       luo_file.private_data))
    files = await load(session.files)
    await store(session.files, files[:i] + (files[i]._replace(serialized_data=0),) +
                files[i + 1:])


async def __luo_file_unfreeze(kho, session, failed_entry) -> None:
    """*failed_entry*: the index of the file whose freeze failed, None for all."""
    files = await load(session.files)
    i = 0
    while i < len(files):
        if i == failed_entry:
            break
        await luo_file_unfreeze_one(kho, session, i, files[i])
        i += 1
    mem = await load(session.files_mem)
    await memcpy_to(kho.heap, mem, bytes(PAGE_SIZE), "__luo_file_unfreeze")


async def luo_file_freeze(kho, session, file_set_ser: int) -> int:
    """Freeze every file in list order and write its ``luo_file_ser``; then the session's
    ``file_set_ser`` (count, files) at *file_set_ser* in the session array."""
    files = await load(session.files)
    if not files:
        return 0
    file_ser = await load(session.files_mem)
    if not file_ser:                            # WARN_ON
        return -EINVAL
    i = 0
    while i < len(files):
        luo_file = files[i]
        err = await luo_file_freeze_one(kho, session, i, luo_file)
        if err < 0:
            await __luo_file_unfreeze(kho, session, i)   # err_unfreeze
            return err
        luo_file = (await load(session.files))[i]
        await memcpy_to(kho.heap, file_ser,
                        luo_file_ser(luo_file.fh.compatible, luo_file.serialized_data,
                                     luo_file.token), "luo_file_freeze", i * LUO_FILE_SER)
        i += 1
    count = len(await load(session.files))     # file_set_ser->count = file_set->count
    await memcpy_to(kho.heap, file_set_ser[0],
                    count.to_bytes(8, "little") + file_ser.to_bytes(8, "little"),
                    "luo_file_freeze", file_set_ser[1])
    return 0


async def luo_file_unfreeze(kho, session, file_set_ser) -> None:
    if not await load(session.files):
        return
    await __luo_file_unfreeze(kho, session, None)
    await memcpy_to(kho.heap, file_set_ser[0], bytes(16), "luo_file_unfreeze", file_set_ser[1])


def luo_file_deserialize_in(pages: tuple, count: int, files: int) -> tuple:
    """The next kernel's luo_file_deserialize: ``((compatible, token, data), ...)``."""
    if not files:
        return ()
    out = ()
    i = 0
    while i < count:
        raw = read_phys(pages, files + i * LUO_FILE_SER, LUO_FILE_SER)
        out += ((raw[:16].rstrip(b"\0").decode(errors="replace"),
                 int.from_bytes(raw[24:32], "little"), int.from_bytes(raw[16:24], "little")),)
        i += 1
    return out
