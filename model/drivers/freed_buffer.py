"""A KHO v5 user that frees a buffer whose address is still recorded in the state tree.

The misuse v5's kerneldoc forbids ("@val and @key must be valid pointers through KHO FDT
finalization", kho_add_prop in 20250320015551.2157511-8-changyuanl@google.com): it adds a
property pointing at a kmalloc'd buffer, then kfree()s the buffer on its exit path without
kho_remove_prop.  kho_convert_tree later reads the freed buffer.
"""

from __future__ import annotations

from ..kernel.alloc import kfree
from khomc.kho.v5 import kexec_handover as v5
from .common import kmalloc_filled

CONTENTS = b"freed:buffer"


async def freed_buffer(kho, node: str) -> int:
    buf = await kmalloc_filled(kho.heap, CONTENTS, "freed_buffer_init")
    err = await kho.kernel.kho_add_prop(kho, node, "state", v5.mem(buf, len(CONTENTS)))
    await kfree(kho.heap, buf, "freed_buffer_exit")      # forgets kho_remove_prop()
    return err
