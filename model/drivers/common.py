"""Helpers the model drivers share: filling memory a task has just allocated.

No kernel version: a driver's own code.  Allocating an object and writing its first bytes is
one step (an ``atomic`` section) because nobody else can see the object before the driver
publishes its address; folding the two hides no interleaving.
"""

from __future__ import annotations

from ..kernel.alloc import Alloc, Heap, folio_alloc, kzalloc, memcpy_to
from ..runtime.effects import atomic


async def _alloc_filled(heap: Heap, alloc: Alloc, contents: bytes, site: str) -> int:
    addr = await alloc
    if addr:
        await memcpy_to(heap, addr, contents, site)
    return addr


async def folio_alloc_filled(heap: Heap, order: int, contents: bytes, site: str) -> int:
    return await atomic(_alloc_filled)(heap, folio_alloc(heap, order, site), contents, site)


async def kmalloc_filled(heap: Heap, contents: bytes, site: str) -> int:
    return await atomic(_alloc_filled)(heap, kzalloc(heap, len(contents), site), contents, site)
