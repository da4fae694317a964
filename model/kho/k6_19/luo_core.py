"""LUO's core in 6.19: kernel/liveupdate/luo_core.c@0153094d03df.

0153094d03df ("liveupdate: luo_session: add sessions support", 6.19 merge window) is the stored
luo_core.c of the 6.19 tree; the other stored version, cab056f2aae7 ("liveupdate: luo_flb:
introduce File-Lifecycle-Bound global state", 2025-12-18, after the 6.19 merge window), adds
``luo_flb_serialize`` to liveupdate_reboot - 7.1's ledger has it (model/kho/k7_1/luo_core.py).

``luo_fdt_setup`` (from ``luo_late_startup``, a late_initcall): a preserved page for the
outgoing LUO FDT (compatible, liveupdate-number, the session node luo_session_setup_outgoing
adds), linked as KHO subtree "LUO"; on an error it unpreserves and frees the page (``exit_free``;
a header_ser that luo_session_setup_outgoing preserved stays preserved, as written).  The C ORs
every fdt call's and luo_session_setup_outgoing's return into one ``err``: the code is garbled,
only its being non-zero is used (``luo_late_startup`` then clears ``luo_global.enabled``), which
the model's first-error return keeps.  ``luo_ioctl_create_session``
(``LIVEUPDATE_IOCTL_CREATE_SESSION`` on /dev/liveupdate; its ioctl table is the 6.19 merge
window's "luo_core: add user interface", not read at a commit): luo_session_create.  The next
kernel's ``luo_early_startup`` reads the LUO subtree (:func:`luo_early_startup_in`, and
luo_next.py's ``luo_incoming``).  Abstractions: the FDT is built and copied into its page in one
write (no other task reads it before kho_add_subtree publishes it); get_unused_fd_flags /
fd_install / luo_ucmd_respond succeed (task-local).

``liveupdate_reboot``, called by kernel_kexec with the kexec lock held: when live update is
enabled, ``luo_session_serialize`` (its error is returned as is), then ``kho_finalize`` whose
error - possibly a libfdt one - becomes -EAGAIN (db8bed8082dc).

``luo_global.enabled`` is the scenario's ``luo`` parameter (``liveupdate=on`` on the command
line); the sessions a scenario has are luo_session.py's.
"""

from __future__ import annotations

from khomc.kernel.alloc import PAGE_SIZE, memcpy_to, read_phys
from khomc.kernel.errno import EAGAIN, ENOMEM
from khomc.kho.fdt import FdtTree, find, flatten, prop, unflatten
from khomc.runtime.effects import load, store

LUO_FDT_SIZE = PAGE_SIZE
LUO_FDT_KHO_ENTRY_NAME = "LUO"
LUO_FDT_COMPATIBLE = b"luo-v1\0"
LUO_FDT_LIVEUPDATE_NUM = "liveupdate-number"
LUO_FDT_SESSION_NODE_NAME = "luo-session"
LUO_FDT_SESSION_COMPATIBLE_PROP = "compatible"
LUO_FDT_SESSION_COMPATIBLE = b"luo-session-v1\0"
LUO_FDT_SESSION_HEADER = "luo-session-header"


def liveupdate_enabled(kho) -> bool:
    return kho.luo


async def liveupdate_enabled_now(kho) -> bool:
    """``liveupdate_enabled()`` after boot: the command line (:func:`liveupdate_enabled`) and,
    in a scenario with a LUO agent, ``luo_global.enabled`` as a failed luo_late_startup left
    it (one read; without the agent nothing clears it and no step is taken)."""
    if not liveupdate_enabled(kho):
        return False
    g = getattr(kho, "luo_session_global", None)
    return g is None or await load(g.enabled)


async def liveupdate_reboot(kho) -> int:
    if not await liveupdate_enabled_now(kho):
        return 0
    err = await luo_session_serialize(kho)
    if err:
        return err
    err = await kho_finalize(kho)
    if err:
        err = -EAGAIN
    return err


async def luo_fdt_setup(kho) -> int:
    g = kho.luo_session_global
    ln = 1                                     # luo_global.liveupdate_num + 1 (a cold boot)
    fdt_out = await kho_alloc_preserve(kho, LUO_FDT_SIZE, "luo_fdt_setup")
    if fdt_out < 0:
        return fdt_out
    err, node = await luo_session_setup_outgoing(kho)
    blob = -ENOMEM
    if not err:
        name, props = node
        blob = flatten(FdtTree("", (("compatible", LUO_FDT_COMPATIBLE),
                                    (LUO_FDT_LIVEUPDATE_NUM, ln.to_bytes(8, "little"))),
                               (FdtTree(name, props, ()),)), LUO_FDT_SIZE)
        err = blob if isinstance(blob, int) else 0
    if not err:
        await memcpy_to(kho.heap, fdt_out, blob, "luo_fdt_setup")
        err = await add_subtree_call(kho, LUO_FDT_KHO_ENTRY_NAME, fdt_out, LUO_FDT_SIZE)
    if err:
        await kho_unpreserve_free(kho, fdt_out, 0, "luo_fdt_setup")     # exit_free
        return err
    await store(g.fdt_out, fdt_out)
    return 0


async def luo_late_startup(kho) -> int:
    if not liveupdate_enabled(kho):
        return 0
    err = await luo_fdt_setup(kho)
    if err:
        await store(kho.luo_session_global.enabled, False)   # luo_global.enabled = false
    return err


async def luo_ioctl_create_session(kho, session) -> int:
    return await luo_session_create(kho, session)


def luo_early_startup_in(nk, pages: tuple):
    """The next kernel's luo_early_startup + luo_session_deserialize: the sessions handed
    over (see luo_session_deserialize_in), () when there is no LUO subtree, None when it is
    malformed."""
    fdt_phys = kho_retrieve_subtree(nk, LUO_FDT_KHO_ENTRY_NAME)
    if fdt_phys < 0:
        return ()
    parsed = unflatten(read_phys(pages, fdt_phys, LUO_FDT_SIZE))
    if parsed.tree is None or prop(parsed.tree, "compatible") != LUO_FDT_COMPATIBLE:
        return None
    ln = prop(parsed.tree, LUO_FDT_LIVEUPDATE_NUM)
    if ln is None or len(ln) != 8:
        return None
    node = find(parsed.tree, (LUO_FDT_SESSION_NODE_NAME,))
    if node is None or prop(node, LUO_FDT_SESSION_COMPATIBLE_PROP) != LUO_FDT_SESSION_COMPATIBLE:
        return None
    header = prop(node, LUO_FDT_SESSION_HEADER)
    if header is None or len(header) != 8:
        return None
    return luo_session_deserialize_in(pages, int.from_bytes(header, "little"))
