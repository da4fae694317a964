"""LUO preserved files in mainline-2026-04: kernel/liveupdate/luo_file.c@00d0b372374f.

:data:`D_00d0b372374f` "liveupdate: prevent double management of files" (with bc3a5763f466
"memfd: implement get_id for memfd_luo" right after it; both listed in the mm revlist of
2026-04-18 between the blob-size series and the kho_add_subtree fix, as the era's other
deltas): ``luo_preserve_file`` inserts the file into the global ``luo_preserved_files`` xarray
(``xa_insert`` under ``luo_get_id``; -EBUSY when another session already preserves it) before
``.preserve``, and erases it on the error ladder (err_kfree / err_flb_unpreserve /
err_erase_xa); ``luo_file_unpreserve_files`` erases each file as it unpreserves it.

The stored 00d0b372374f also differs from 6.19's b2135d1cb0e3 in places whose commits were not
identified (the model's functions carry the stored form, as the 6.18 ledger does for a form
between two read versions): ``luo_file_unfreeze_one`` no longer zeroes ``serialized_data``
after ``.unfreeze``; the next kernel's ``luo_retrieve_file`` keeps a failed ``.retrieve``'s
error in ``retrieve_status`` and returns it again; the FLB hooks (``luo_flb_file_preserve`` / ``_unpreserve`` / ``_finish``)
walk an empty flb_list here (no handler registers an FLB), so they take no step.

Abstractions: ``luo_get_id`` is the file itself (memfd's get_id returns the inode, one per
file here); ``xa_insert``'s allocation is not a failure choice.
"""

from __future__ import annotations

from khomc.kernel.errno import EEXIST, ENOENT
from khomc.kho.ledger import Delta
from khomc.kho.k6_19.luo_file import ENOSPC, LUO_FILE_MAX, FileOpArgs, LuoFile, _xa_erase, _xa_insert, fh_op, luo_alloc_files_mem, luo_free_files_mem  # noqa: F401
from khomc.runtime.effects import Update, load, store

D_00d0b372374f = Delta("00d0b372374f", "liveupdate: prevent double management of files",
                       note="id as in the mm tree's revlist (2026-04-18); carries the stored "
                            "luo_file.c's unfreeze without zeroing serialized_data")


@D_00d0b372374f.replaces
async def luo_preserve_file(kho, session, token: int, file) -> int:
    g = kho.luo_session_global
    files = await load(session.files)
    if any(f.token == token for f in files):    # luo_token_is_used
        return -EEXIST
    if len(files) == LUO_FILE_MAX:
        return -ENOSPC
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
    err = await Update(g.preserved_files, _xa_insert, file, text="xa_insert(luo_preserved_files)")
    if err:
        await luo_free_files_mem(kho, session)
        return err
    # luo_flb_file_preserve(fh): no FLB; kzalloc_obj(luo_file): not a failure choice
    err, data, private = await fh_op(kho, fh, "preserve")(kho, FileOpArgs(fh, file, 0, None))
    if err:
        # err_kfree, err_flb_unpreserve, err_erase_xa, err_free_files_mem
        await Update(g.preserved_files, _xa_erase, file, text="xa_erase(luo_preserved_files)")
        await luo_free_files_mem(kho, session)
        return err
    files = await load(session.files)
    await store(session.files, files + (LuoFile(token, fh, file, data, private),))
    return 0


@D_00d0b372374f.replaces
async def luo_file_unpreserve_files(kho, session) -> None:
    g = kho.luo_session_global
    while True:
        files = await load(session.files)
        if not files:
            break
        luo_file = files[-1]                    # list_last_entry
        await fh_op(kho, luo_file.fh, "unpreserve")(
            kho, FileOpArgs(luo_file.fh, luo_file.file, luo_file.serialized_data,
                            luo_file.private_data))
        await Update(g.preserved_files, _xa_erase, luo_file.file,
                     text="xa_erase(luo_preserved_files)")
        await store(session.files, files[:-1])  # list_del, count--; fput, kfree
    await luo_free_files_mem(kho, session)


@D_00d0b372374f.replaces
async def luo_file_unfreeze_one(kho, session, i: int, luo_file) -> None:
    unfreeze = fh_op(kho, luo_file.fh, "unfreeze")
    if unfreeze is not None:
        await unfreeze(kho, FileOpArgs(luo_file.fh, luo_file.file, luo_file.serialized_data,
                                       luo_file.private_data))


# -- the next kernel (luo_next.py's luo_retrieve_file as the stored 00d0b372374f has it) ----------

@D_00d0b372374f.replaces
def luo_retrieve_file(inc, session, token: int):
    """``(err, file)``.  ``retrieve_status``: 0 never tried, > 0 retrieved, < 0 the error of a
    failed ``.retrieve``, returned again without calling it (6.19 tries again).  The retrieved
    file is also inserted into ``luo_preserved_files`` (WARN_ON on -EBUSY): the next kernel's
    xarray is not modelled (nothing in it is read afterwards here)."""
    if not session.files:
        return -ENOENT, None
    for luo_file in session.files:
        if luo_file.token == token:
            break
    else:
        return -ENOENT, None
    status = getattr(luo_file, "retrieve_status", 0)
    if status < 0:
        return status, None
    if status > 0:
        return 0, luo_file.file                  # get_file
    err, file = fh_op_next(inc, luo_file.fh, "retrieve")(
        inc.nk, inc.pages, luo_file.serialized_data, inc.restored)
    if err:
        luo_file.retrieve_status = err
        return err, None
    luo_file.file = file
    luo_file.retrieve_status = 1
    luo_file.retrieved = True                    # what 02e117b8ca58's .finish reads
    return 0, file


from khomc.kho.k6_19.luo_next import fh_op_next  # noqa: E402,F401
