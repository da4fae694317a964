"""KHO debugfs in 6.19: kernel/liveupdate/kexec_handover_debugfs.c@5add3c3c280a.

Mirrors the two functions that decide anything the scenarios observe:

* ``kho_out_finalize_set`` - ``echo val > /sys/kernel/debug/kho/out/finalize``: 0 is -EINVAL,
  anything else calls kho_finalize() (no kexec lock is taken);
* ``kho_debugfs_fdt_add`` - the ``sub_fdts/<name>`` blob of a subtree: ``kmalloc`` of the
  ``struct fdt_debugfs`` (an allocation failure choice at site ``kho_debugfs_fdt_add``; the
  dentry creation cannot fail in the model), -ENOMEM on failure.

Abstraction: the blob wrapper itself is not kept in the heap (nothing in the model reads
debugfs files), so ``kho_debugfs_fdt_remove`` has nothing to free and is not modelled.
"""

from __future__ import annotations

from khomc.kernel.alloc import may_allocate
from khomc.kernel.errno import EINVAL, ENOMEM


async def kho_debugfs_fdt_add(kho, name: str, fdt: int, root: bool) -> int:
    if not await may_allocate(kho.heap, "kho_debugfs_fdt_add"):
        return -ENOMEM
    return 0


async def kho_out_finalize_set(kho, val: int) -> int:
    if val:
        return await kho_finalize(kho)
    return -EINVAL
