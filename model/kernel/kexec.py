"""The kexec image and its segments, as far as KHO touches them.

Owns ``struct kimage`` and ``struct kexec_segment`` values (include/linux/kexec.h, torvalds/linux
v6.14) and the destination memory of segments.  ``kexec_add_buffer`` (kernel/kexec_file.c) rounds
a buffer's memsz up to PAGE_SIZE and finds it a hole; with KHO every hole is inside a scratch
area (kho_locate_mem_hole, v5 patch 10/16, 20250320015551.2157511-11-changyuanl@google.com), which
the model places above all numbered pages, so a segment never overlaps allocator memory.
``kimage_map_segment`` maps *size* bytes of destination memory starting at a segment; writing
past the segment's memsz writes into memory that belongs to someone else, which the model
records as an out-of-bounds report in the KASAN slot (the kernel would not catch it).

``kernel_kexec`` is the reboot path every era shares (kernel/kexec_core.c): kexec_trylock, no
image -> -EINVAL, the era's KHO work before the jump (none in v4/6.16, kho_copy_fdt in v5,
liveupdate_reboot in 6.19+), then machine_kexec as one effect that halts the old kernel and
publishes what the next kernel sees.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from ..runtime.effects import Op, atomic, load
from .alloc import PAGE_SIZE
from .errno import EBUSY, EINVAL
from .locking import kexec_trylock, kexec_unlock

SCRATCH_BASE = 0x4000_0000


class Segment(NamedTuple):
    role: str            # "kernel", "kho-fdt", "kho-scratch"
    mem: int             # destination physical address
    memsz: int           # page aligned
    data: bytes          # what is at the destination (zero-extended)


class Kimage(NamedTuple):
    file_mode: bool
    segments: tuple      # (Segment, ...)

    def segment(self, role: str) -> Segment | None:
        return next((s for s in self.segments if s.role == role), None)


def page_align(n: int) -> int:
    """PAGE_ALIGN(n).

    >>> page_align(1), page_align(4096)
    (4096, 4096)
    """
    return -(-n // PAGE_SIZE) * PAGE_SIZE


def add_buffer(image: Kimage, role: str, memsz: int, data: bytes = b"") -> Kimage:
    """``kexec_add_buffer``: a new segment, top-down in scratch, 64 KiB aligned."""
    top = max((s.mem + s.memsz for s in image.segments), default=SCRATCH_BASE)
    mem = -(-top // 0x10000) * 0x10000
    return image._replace(segments=image.segments + (Segment(role, mem, page_align(memsz), data),))


def fill_segment(image: Kimage, role: str, data: bytes) -> Kimage:
    segs = tuple(s._replace(data=data) if s.role == role else s for s in image.segments)
    return image._replace(segments=segs)


async def _trylock_and_load(lock, var):
    """kexec_trylock() and, if it was taken, a read of data only kexec-lock holders write:
    ``(taken, value)``, one step."""
    if not await kexec_trylock(lock):
        return (False, None)
    value = await load(var)          # not inside the tuple: nothing on the value stack
    return (True, value)


async def kexec_trylock_and_load(lock, var):
    """:func:`_trylock_and_load` as one atomic step."""
    return await atomic(_trylock_and_load)(lock, var)


async def kernel_kexec(kho, handover_vars: tuple, machine_kexec: Callable,
                       prepare: Callable | None = None) -> int:
    """reboot(LINUX_REBOOT_CMD_KEXEC) on *kho* (any era machine with ``kexec_lock`` and
    ``image``): -EBUSY when another kexec holds the lock, -EINVAL without a loaded image,
    ``prepare(kho, image)``'s error, else machine_kexec (``Op(handover_vars, machine_kexec)``)
    and 0."""
    taken, image = await kexec_trylock_and_load(kho.kexec_lock, kho.image)
    if not taken:
        return -EBUSY
    if image is None:
        await kexec_unlock(kho.kexec_lock)
        return -EINVAL
    if prepare is not None:
        err = await prepare(kho, image)
        if err:
            await kexec_unlock(kho.kexec_lock)
            return err
    await Op(handover_vars, machine_kexec, text="machine_kexec()")
    return 0
