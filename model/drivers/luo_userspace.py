"""A synthetic userspace LUO agent (the steps of tools/testing/selftests/liveupdate): open
/dev/liveupdate, LIVEUPDATE_IOCTL_CREATE_SESSION, memfd_create + write, then
LIVEUPDATE_SESSION_PRESERVE_FD on the memfd, then - a choice - close the session fd (its
release unpreserves every file), all while another task may reboot(RB_KEXEC).

Closing the memfd's own fd is not a step: LUO holds its own reference (fget in
luo_preserve_file), so that close changes nothing LUO or KHO sees.

The task keeps its own record of what it was told, in the slot *record*: ``("created", ret)``,
``("preserve_fd", token, ret, contents, folios)`` (folios: the memfd's pages by index),
``("closing",)`` before close(), ``("closed", ret)``
after it - each noted only while the machine has not kexec'ed (a step after machine_kexec does
not happen on real hardware), so the promises of model/promises/luo.py judge the handover from
what userspace saw before it.
"""

from __future__ import annotations

from khomc.drivers.common import folio_alloc_filled
from khomc.kernel.alloc import PAGE_SIZE
from khomc.kernel.errno import ENOMEM
from khomc.kho.k6_19.memfd_luo import MemFile
from khomc.runtime.effects import Op, Update, choose

TOKEN = 1


def memfd_contents(index: int) -> bytes:
    return (b"memfd:%d:" % index * 4).ljust(PAGE_SIZE, b"\0")


def _note(values, tid, entry):
    record, handover = values
    if handover is not None:
        return (record, handover), None
    return (record + (entry,), handover), None


async def note(kho, record, entry) -> None:
    await Op((record, kho.handover), _note, entry, text=f"userspace: {entry[0]}")


def _set(old, tid, value):
    return value, None


def _wait_true(v, tid):
    return (v, None) if v else None


def _wait(done, tid):
    return None if done is None else (done, done)


async def luo_wait_ready(kho, ready):
    """Block until luo_late_startup (late_initcall) has run: its return value."""
    return await Update(ready, _wait, text="wait for luo_late_startup (late_initcall)")


async def luo_init(kho, ready) -> int:
    """The late_initcall: luo_late_startup; its result published in *ready*."""
    await kho.k.kho_wait_ready(kho)
    err = await kho.k.luo_late_startup(kho)
    await Update(ready, _set, err, text="luo_late_startup done")
    return err


async def luo_userspace(kho, ready, record, done, nr_pages: int = 1, may_close: bool = True):
    err = await luo_wait_ready(kho, ready)
    if err:
        await Update(done, _set, True, text="userspace done")
        return err                            # no /dev/liveupdate
    k = kho.k
    session = kho.luo_session_global.sessions[0]
    ret = await k.luo_ioctl_create_session(kho, session)
    await note(kho, record, ("created", ret))
    if not ret:
        folios = ()
        i = 0
        while i < nr_pages:                   # memfd_create + write(2)
            folio = await folio_alloc_filled(kho.heap, 0, memfd_contents(i), "shmem_write")
            if not folio:
                break
            folios += (folio,)
            i += 1
        if len(folios) == nr_pages:
            file = MemFile("memfd0", folios, nr_pages * PAGE_SIZE)
            ret = await k.luo_session_ioctl(kho, session, "LIVEUPDATE_SESSION_PRESERVE_FD",
                                            TOKEN, file)
            await note(kho, record, ("preserve_fd", TOKEN, ret,
                                     tuple(memfd_contents(j) for j in range(nr_pages)), folios))
        else:
            ret = -ENOMEM
        if may_close and await choose((False, True), "userspace closes the session fd"):
            await note(kho, record, ("closing",))
            cret = await k.luo_session_release(kho, session)
            await note(kho, record, ("closed", cret))
    await Update(done, _set, True, text="userspace done")
    return ret


async def wait_userspace(kho, done) -> int:
    """The operator's step in the sequential variant: wait until the agent is done."""
    await Update(done, _wait_true, text="wait for userspace")
    return 0
