"""KHO in mainline after 9ec953298948 (April 2026): subtrees are blobs with a size.

Deltas on :mod:`khomc.kho.k7_1` (7.1 at torvalds/linux:kernel/liveupdate/kexec_handover.c@
019fc3687237), in merge order:

* :data:`D_blob_size` - Breno Leitao's "kho: kexec-metadata" series (v5 cover
  20260126-kho-v5-0-7cd0f69ab204@debian.org; v9 posted 2026-03-16, reviewed in
  lkml.iu.edu/2604.0/05250.html) turns ``kho_add_subtree(name, fdt)`` into
  ``kho_add_subtree(name, blob, size)``: after ``fdt_add_subnode`` it sets
  ``preserved-data = phys`` and then ``blob-size = size`` (KHO_SUB_TREE_SIZE_PROP_NAME), each
  ``fdt_setprop`` error returned raw with the node left behind (``goto out_pack``), and the
  debugfs entry becomes ``kho_debugfs_blob_add(dbg, name, blob, size, false)`` under
  WARN_ON_ONCE; ``kho_retrieve_subtree(name, &phys, &size)`` fails with -EINVAL when
  ``blob-size`` is missing or not 8 bytes.  The statement order is the one the fix's diff
  quotes as context (kernel/liveupdate/kexec_handover.c blob 94762de1fe5f, the file before the
  fix); the merged commit's id is not in the stored index.
* :data:`D_9ec953298948` "kho: fix error handling in kho_add_subtree()" (Fixes:
  3dc92c311498; 20260410-kho_fix_send-v2-1-1b4debf7ee08@debian.org): a failed setprop jumps to
  ``out_del_node`` (``fdt_del_node``), and the function returns -ENOMEM, 0 only on success.

Not modelled (stated): the kexec-metadata subtree itself (``kho_kexec_metadata``: previous
release and kexec count, added at kho_init), whose code is not in the stored index; no
promise of this project reads it.  The root's compatible string at these commits is not
readable either and is kept as 7.1's: both kernels of a scenario run the same era, so no
verdict depends on it.

Abstraction: as in 6.19, one root-FDT edit (fdt_open_into ... fdt_pack) is one step under
kho_out.lock.
"""

from __future__ import annotations

from khomc.kernel.alloc import may_allocate
from khomc.kernel.errno import EINVAL, ENOENT, ENOMEM
from khomc.kernel.locking import mutex_lock, mutex_unlock
from khomc.runtime.effects import Op, load
from khomc.kho import rootfdt
from khomc.kho.fdt import find, prop
from khomc.kho.ledger import Delta
from khomc.kho.k6_19.kexec_handover import _ghost_only, _subtree_added, _subtree_removed, modify_noting

KHO_SUB_TREE_SIZE_PROP_NAME = "blob-size"

D_blob_size = Delta("20260126-kho-v5-0-7cd0f69ab204@debian.org",
                    "kho: kho_add_subtree(name, blob, size) with a blob-size property "
                    "(kexec-metadata series)")
D_9ec953298948 = Delta("9ec953298948", "kho: fix error handling in kho_add_subtree()",
                       fixes="3dc92c311498")


def _blob_props(phys: int, size: int) -> tuple:
    return ((PROP_SUB_FDT, phys.to_bytes(8, "little")),
            (KHO_SUB_TREE_SIZE_PROP_NAME, size.to_bytes(8, "little")))


def _fdt_add_blob(data, name, props, del_node):
    return rootfdt.add_subtree_props(data if isinstance(data, bytes) else b"", name, props,
                                     del_node)


@D_blob_size.replaces
async def kho_debugfs_blob_add(kho, name: str, blob: int, size: int, root: bool) -> int:
    """kexec_handover_debugfs.c's ``__kho_debugfs_blob_add``: kmalloc of the wrapper."""
    if not await may_allocate(kho.heap, "kho_debugfs_fdt_add"):
        return -ENOMEM
    return 0


@D_blob_size.replaces
async def kho_add_subtree(kho, name: str, blob: int, size: int) -> int:
    await mutex_lock(kho.lock)
    root = await load(kho.fdt)
    err = await modify_noting(kho, root, "kho_add_subtree", _fdt_add_blob,
                              (name, _blob_props(blob, size), False), _subtree_added,
                              (name, blob),
                              f"kho_add_subtree({name!r}, {blob:#x}, {size}): "
                              f"fdt_add_subnode+setprop x2")
    if not err and await kho_debugfs_blob_add(kho, name, blob, size, False):
        if "subtree-error-keeps-node" in kho.mutants:
            await Op((kho.ghost,), _ghost_only, _subtree_removed, (name, blob),
                     text="kho_add_subtree returns the debugfs error")
            err = -ENOMEM
    await mutex_unlock(kho.lock)
    return err


@D_blob_size.replaces
async def add_subtree_call(kho, name: str, blob: int, size: int) -> int:
    return await kho_add_subtree(kho, name, blob, size)


@D_blob_size.replaces
def kho_retrieve_subtree(nk, name: str, sub_prop: str | None = None) -> int:
    """``kho_retrieve_subtree(name, &phys, &size)``: the blob's address (``*phys`` is written
    before ``blob-size`` is looked at), or -ENOENT / -EINVAL."""
    if not nk.revived:
        return -ENOENT
    node = find(nk.fdt, (name,))
    if node is None:
        return -ENOENT
    val = prop(node, sub_prop or PROP_SUB_FDT)
    if val is None or len(val) != 8:
        return -EINVAL
    size = prop(node, KHO_SUB_TREE_SIZE_PROP_NAME)
    if size is None or len(size) != 8:
        return -EINVAL
    return int.from_bytes(val, "little")


@D_9ec953298948.replaces(name="kho_add_subtree")
async def kho_add_subtree_9ec953298948(kho, name: str, blob: int, size: int) -> int:
    await mutex_lock(kho.lock)
    root = await load(kho.fdt)
    err = await modify_noting(kho, root, "kho_add_subtree", _fdt_add_blob,
                              (name, _blob_props(blob, size), True), _subtree_added,
                              (name, blob),
                              f"kho_add_subtree({name!r}, {blob:#x}, {size}): "
                              f"fdt_add_subnode+setprop x2")
    if not err and await kho_debugfs_blob_add(kho, name, blob, size, False):
        if "subtree-error-keeps-node" in kho.mutants:
            await Op((kho.ghost,), _ghost_only, _subtree_removed, (name, blob),
                     text="kho_add_subtree returns the debugfs error")
            err = -ENOMEM
    await mutex_unlock(kho.lock)
    return err
