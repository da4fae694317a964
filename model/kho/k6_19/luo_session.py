"""LUO sessions: torvalds/linux:kernel/liveupdate/luo_session.c@7f790dd21a93.

Mirrors ``luo_session_alloc``/``luo_session_free``, ``luo_session_insert``,
``luo_session_remove``, ``luo_session_unfreeze_one``, ``luo_session_freeze_one``,
``luo_session_release`` (an outgoing session: unpreserve its files under ``session->mutex``,
then remove it under ``sh->rwsem``), ``luo_session_preserve_fd`` behind ``luo_session_ioctl``,
``luo_session_create``, ``luo_session_setup_outgoing`` and ``luo_session_serialize`` (under
``sh->rwsem`` for write: freeze each session's files holding that session's mutex only while
freezing it, record its name; on an error unfreeze the ones already frozen, in reverse); the
next kernel's ``luo_session_setup_incoming`` + ``luo_session_deserialize`` read the array
(:func:`luo_session_deserialize_in`).

Citation: the stored luo_session.c versions are 0153094d03df ("liveupdate: luo_session: add
sessions support", sessions without files) and 7f790dd21a93.  7f790dd21a93 is not a LUO commit:
it is the drm-misc-next merge "Merge drm/drm-next into drm-misc-next", and the file at it is
luo_session.c as the 6.19 merge window left it, with the file ioctls of "liveupdate:
luo_session: add ioctls for file preservation" (20251125165850.3389713-8-pasha.tatashin@
soleen.com; PRESERVE_FD, RETRIEVE_FD, FINISH, the state-aware release).  Modelled as stored.
"liveupdate: block session mutations during reboot" (v6, 2026-05-27, kexec list
2026-May/036473.html; Fixes: 0153094d03df), which adds ``luo_session_serialize_rwsem``, was
posted after the newest era here (mainline-2026-04), so no era has it: it is not a Delta.  The
mutant ``serialize-rwsem`` applies it (create takes the rwsem for read around insert and
getfile, release for the whole call, the ioctl around its command; serialize takes it for write
first and releases it only on its error path), shaped as a later stored luo_session.c has it.

Lock order as written: PRESERVE_FD and the session fd's release take ``session->mutex`` only;
release takes ``sh->rwsem`` (write) only in ``luo_session_remove``, after unpreserving.  So a
PRESERVE_FD or a release between serialize's unlock and machine_kexec is not excluded.

State (:class:`LuoSessionGlobal`, created by a scenario that has a /dev/liveupdate user and
hung on kho_out as ``kho.luo_session_global``): the outgoing ``rwsem``, ``list`` (session
indices in list order; ``count`` is its length, both change together under the rwsem),
``header_ser`` (the preserved array: ``count`` at 0, then 32 bytes per session: 16 name, 8
file_set_ser.count, 8 file_set_ser.files), and per session a mutex, its files and files_mem
(luo_file.py).  A scenario without it has no session: ``luo_session_serialize`` then returns 0
without a step - the kernel's walk of the empty list under an uncontended rwsem writes count 0
into a page nobody else reads before kexec, which no promise of those scenarios looks at.

Abstractions: the session array is one page (the kernel's LUO_SESSION_PGCNT is 16);
``kzalloc`` of the session and ``anon_inode_getfile`` are not failure choices; the ioctl's
``copy_struct_from_user``/``luo_ucmd_respond`` copy task-local buffers and succeed.
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SIZE, memcpy_to, read_phys
from khomc.kernel.errno import EEXIST, ENOMEM
from khomc.kernel.locking import Mutex, RwSemaphore, down_read, down_write, mutex_lock, mutex_unlock, up_read, up_write
from khomc.runtime.effects import load, store

LUO_SESSION_SER = 32
LUO_SESSION_MAX = (PAGE_SIZE - 8) // LUO_SESSION_SER


class LuoSession:
    """``struct luo_session`` *i*: its slots (name, mutex, the file_set's files and files_mem)."""

    def __init__(self, model, i: int):
        self.index = i
        self.name = "s%d" % i
        self.mutex = Mutex.new(model, f"session{i}.mutex")
        self.files = model.var(f"session{i}.files", ())
        self.files_mem = model.var(f"session{i}.files_mem", 0)

    def __repr__(self):
        return f"session{self.index}"


class LuoSessionGlobal:
    """``luo_session_global.outgoing`` plus luo_file.c's globals, for *nsessions* sessions."""

    def __init__(self, model, nsessions: int, handlers: tuple):
        self.rwsem = RwSemaphore.new(model, "luo_session_global.outgoing.rwsem")
        # only the serialize-rwsem mutant (the May 2026 fix) takes it; constant otherwise
        self.serialize_rwsem = RwSemaphore.new(model, "luo_session_serialize_rwsem")
        self.list = model.var("luo_session_global.outgoing.list", ())
        self.header_ser = model.var("luo_session_global.outgoing.header_ser", 0)
        self.fdt_out = model.var("luo_global.fdt_out", 0)
        self.enabled = model.var("luo_global.enabled", True)
        self.handlers = model.var("luo_file_handler_list", handlers)
        self.preserved_files = model.var("luo_preserved_files", frozenset())
        self.sessions = tuple(LuoSession(model, i) for i in range(nsessions))

    def __repr__(self):
        return "luo_session_global"


def luo_session_ser(name: str) -> bytes:
    return name.encode().ljust(16, b"\0")[:16]


async def luo_session_insert(kho, session) -> int:
    g = kho.luo_session_global
    await down_write(g.rwsem)
    lst = await load(g.list)
    if len(lst) == LUO_SESSION_MAX:
        await up_write(g.rwsem)
        return -ENOMEM
    if any(g.sessions[i].name == session.name for i in lst):
        await up_write(g.rwsem)
        return -EEXIST
    await store(g.list, lst + (session.index,))
    await up_write(g.rwsem)
    return 0


async def luo_session_remove(kho, session) -> None:
    g = kho.luo_session_global
    await down_write(g.rwsem)
    lst = await load(g.list)
    await store(g.list, tuple(i for i in lst if i != session.index))
    await up_write(g.rwsem)


async def luo_session_unfreeze_one(kho, session, ser: tuple) -> None:
    await mutex_lock(session.mutex)
    await luo_file_unfreeze(kho, session, ser)
    await mutex_unlock(session.mutex)


async def luo_session_freeze_one(kho, session, ser: tuple) -> int:
    await mutex_lock(session.mutex)
    err = await luo_file_freeze(kho, session, ser)
    await mutex_unlock(session.mutex)
    return err


def _fixed(kho) -> bool:
    return "serialize-rwsem" in kho.mutants


async def luo_session_release(kho, session) -> int:
    """close() of the last reference to an outgoing session's fd."""
    g = kho.luo_session_global
    if _fixed(kho):
        await down_read(g.serialize_rwsem)     # guard(rwsem_read) (the May 2026 fix)
    await mutex_lock(session.mutex)
    await luo_file_unpreserve_files(kho, session)
    await mutex_unlock(session.mutex)
    await luo_session_remove(kho, session)
    if _fixed(kho):
        await up_read(g.serialize_rwsem)
    return 0                                   # luo_session_free: WARN_ON(count) only


async def luo_session_preserve_fd(kho, session, token: int, file) -> int:
    await mutex_lock(session.mutex)
    err = await luo_preserve_file(kho, session, token, file)
    await mutex_unlock(session.mutex)
    return err                                 # luo_ucmd_respond succeeds


async def luo_session_ioctl(kho, session, cmd: str, *args) -> int:
    """``unlocked_ioctl`` of a session fd; the commands the model's userspace issues."""
    if cmd == "LIVEUPDATE_SESSION_PRESERVE_FD":
        if _fixed(kho):
            g = kho.luo_session_global
            await down_read(g.serialize_rwsem)
            err = await luo_session_preserve_fd(kho, session, *args)
            await up_read(g.serialize_rwsem)
            return err
        return await luo_session_preserve_fd(kho, session, *args)
    raise AssertionError(f"luo_session_ioctl: unmodelled command {cmd!r}")


async def luo_session_create(kho, session) -> int:
    g = kho.luo_session_global
    if _fixed(kho):
        await down_read(g.serialize_rwsem)
    err = await luo_session_insert(kho, session)
    if err:
        if _fixed(kho):
            await up_read(g.serialize_rwsem)
        return err                             # err_free
    await mutex_lock(session.mutex)            # luo_session_getfile succeeds
    await mutex_unlock(session.mutex)
    if _fixed(kho):
        await up_read(g.serialize_rwsem)
    return 0


async def luo_session_setup_outgoing(kho):
    """``(err, the "luo-session" node for fdt_out)``."""
    g = kho.luo_session_global
    header_ser = await kho_alloc_preserve(kho, PAGE_SIZE, "luo_session_setup_outgoing")
    if header_ser < 0:
        return (header_ser, None)
    await store(g.header_ser, header_ser)
    return (0, (LUO_FDT_SESSION_NODE_NAME,
                ((LUO_FDT_SESSION_COMPATIBLE_PROP, LUO_FDT_SESSION_COMPATIBLE),
                 (LUO_FDT_SESSION_HEADER, header_ser.to_bytes(8, "little")))))


async def luo_session_serialize(kho) -> int:
    g = getattr(kho, "luo_session_global", None)
    if g is None:
        return 0                               # no session user in this scenario (header)
    if _fixed(kho):
        await down_write(g.serialize_rwsem)    # kept on success (the May 2026 fix)
    await down_write(g.rwsem)
    header_ser = await load(g.header_ser)
    lst = await load(g.list)
    i = 0
    err = 0
    while i < len(lst):                        # list_for_each_entry
        session = g.sessions[lst[i]]
        ser = (header_ser, 8 + i * LUO_SESSION_SER + 16)
        err = await luo_session_freeze_one(kho, session, ser)
        if err:
            break
        await memcpy_to(kho.heap, header_ser, luo_session_ser(session.name),
                        "luo_session_serialize", 8 + i * LUO_SESSION_SER)
        i += 1
    if err:                                    # err_undo
        j = i - 1                              # list_for_each_entry_continue_reverse
        while j >= 0:
            session = g.sessions[lst[j]]
            await luo_session_unfreeze_one(kho, session, (header_ser, 8 + j * LUO_SESSION_SER + 16))
            await memcpy_to(kho.heap, header_ser, bytes(16), "luo_session_serialize",
                            8 + j * LUO_SESSION_SER)
            j -= 1
        await up_write(g.rwsem)
        if _fixed(kho):
            await up_write(g.serialize_rwsem)
        return err
    await memcpy_to(kho.heap, header_ser, len(lst).to_bytes(8, "little"),
                    "luo_session_serialize")   # sh->header_ser->count = sh->count
    await up_write(g.rwsem)
    return 0


def luo_session_deserialize_in(pages: tuple, header_ser: int) -> tuple:
    """The next kernel: ``((name, ((compatible, token, data), ...)), ...)``."""
    count = int.from_bytes(read_phys(pages, header_ser, 8), "little")
    out = ()
    i = 0
    while i < count and i < LUO_SESSION_MAX:
        raw = read_phys(pages, header_ser + 8 + i * LUO_SESSION_SER, LUO_SESSION_SER)
        name = raw[:16].rstrip(b"\0").decode(errors="replace")
        nfiles = int.from_bytes(raw[16:24], "little")
        files = int.from_bytes(raw[24:32], "little")
        out += ((name, luo_file_deserialize_in(pages, nfiles, files)),)
        i += 1
    return out
