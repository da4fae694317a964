"""The kexec image and its segments, as far as KHO touches them.

Owns ``struct kimage`` and ``struct kexec_segment`` values (include/linux/kexec.h, torvalds/linux
v6.14) and the destination memory of segments.  ``add_buffer`` is the
eras' short form of ``kexec_add_buffer`` (a new segment top-down above all numbered pages); the
6.16-6.18 eras use the kexec_file.c functions as written instead, each mirroring
torvalds/linux:kernel/kexec_file.c@00c010e130e5 (unchanged in this part up to v6.18):

* ``kexec_add_buffer`` - -EINVAL unless file mode or with KEXEC_SEGMENT_MAX segments (the
  control-page check cannot fire: segments are all added before control pages exist); memsz
  rounded up to PAGE_SIZE, buf_align at least PAGE_SIZE; ``arch_kexec_locate_mem_hole`` (the
  generic one: ``kexec_locate_mem_hole``); then the new segment;
* ``kexec_locate_mem_hole`` - 0 when the arch placed the buffer (``mem`` known); else the
  era's ``kho_locate_mem_hole(kbuf, locate_mem_hole_callback)``, whose answer <= 0 is final;
  else the walk of system RAM (only reached without KHO or for a crash image: no modelled load
  reaches it, and it is given no RAM, so it answers -EADDRNOTAVAIL);
* ``locate_mem_hole_callback`` / ``locate_mem_hole_top_down`` / ``locate_mem_hole_bottom_up`` -
  the range too small or outside [buf_min, buf_max]: 0 (next range); else the highest (lowest)
  aligned start whose [start, end] does not overlap a segment already placed
  (``kimage_is_destination_range``), stepping by PAGE_SIZE; 1 and ``kbuf->mem`` when found.
  ``arch_check_excluded_range`` is the generic one (no excluded range).

``relocate_segments`` is what machine_kexec's relocation does to memory: every segment's
bytes (zero-extended to memsz) are copied to its destination, over whatever the old kernel had
there - a page the old kernel still used, preserved or not, is overwritten.  The copy ignores
object boundaries (relocate_kernel copies physical pages) and leaves each object's allocation
track as it was, so the next kernel's reads of those pages see the segment's bytes.
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
from .alloc import PAGE_SHIFT, PAGE_SIZE, Obj, lookup
from .errno import EADDRNOTAVAIL, EBUSY, EINVAL
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


KEXEC_BUF_MEM_UNKNOWN = 0
KEXEC_SEGMENT_MAX = 16
KEXEC_TYPE_DEFAULT, KEXEC_TYPE_CRASH = 0, 1
ULONG_MAX = (1 << 64) - 1
SZ_64K = 0x10000


class KexecBuf(NamedTuple):
    """``struct kexec_buf``: what a loader asks kexec_add_buffer for (``image`` is passed
    beside it: the model's images are values)."""

    role: str                 # which segment this is (the model's name for ksegment->kbuf)
    buffer: bytes             # the bytes to load (bufsz of them)
    bufsz: int
    memsz: int
    buf_align: int
    buf_min: int = 0
    buf_max: int = ULONG_MAX
    top_down: bool = True
    mem: int = KEXEC_BUF_MEM_UNKNOWN
    image_type: int = KEXEC_TYPE_DEFAULT


def kimage_is_destination_range(image: Kimage, start: int, end: int) -> bool:
    """kernel/kexec_core.c: does [start, end] overlap a segment's [mem, mem + memsz)?"""
    for seg in image.segments:
        if end > seg.mem and start < seg.mem + seg.memsz:
            return True
    return False


def align_down(x: int, a: int) -> int:
    return x - x % a


def locate_mem_hole_top_down(image: Kimage, start: int, end: int, kbuf: KexecBuf):
    """(1, mem) when found, (0, None) to go on with the next range."""
    temp_end = min(end, kbuf.buf_max)
    temp_start = temp_end - kbuf.memsz + 1
    while True:
        temp_start = align_down(temp_start, kbuf.buf_align)
        if temp_start < start or temp_start < kbuf.buf_min:
            return 0, None
        temp_end = temp_start + kbuf.memsz - 1
        if kimage_is_destination_range(image, temp_start, temp_end):
            temp_start = temp_start - PAGE_SIZE
            continue
        break                                   # arch_check_excluded_range: none
    return 1, temp_start


def locate_mem_hole_bottom_up(image: Kimage, start: int, end: int, kbuf: KexecBuf):
    temp_start = max(start, kbuf.buf_min)
    while True:
        temp_start = -(-temp_start // kbuf.buf_align) * kbuf.buf_align
        temp_end = temp_start + kbuf.memsz - 1
        if temp_end > end or temp_end > kbuf.buf_max:
            return 0, None
        if kimage_is_destination_range(image, temp_start, temp_end):
            temp_start = temp_start + PAGE_SIZE
            continue
        break
    return 1, temp_start


def locate_mem_hole_callback(image: Kimage, res: tuple, kbuf: KexecBuf):
    """*res* is a ``struct resource`` as (start, end), end inclusive."""
    start, end = res
    sz = end - start + 1
    if sz < kbuf.memsz:
        return 0, None
    if end < kbuf.buf_min or start > kbuf.buf_max:
        return 0, None
    if kbuf.top_down:
        return locate_mem_hole_top_down(image, start, end, kbuf)
    return locate_mem_hole_bottom_up(image, start, end, kbuf)


def kexec_locate_mem_hole(image: Kimage, kbuf: KexecBuf, kho_locate_mem_hole: Callable):
    """(0, mem) or (-errno, None); *kho_locate_mem_hole(image, kbuf, func)* is the era's."""
    if kbuf.mem != KEXEC_BUF_MEM_UNKNOWN:
        return 0, kbuf.mem
    ret, mem = kho_locate_mem_hole(image, kbuf, locate_mem_hole_callback)
    if ret <= 0:
        return ret, mem
    ret, mem = 0, None            # kexec_walk_memblock / _resources: no modelled load gets here
    return (0, mem) if ret == 1 else (-EADDRNOTAVAIL, None)


def kexec_add_buffer(image: Kimage, kbuf: KexecBuf, kho_locate_mem_hole: Callable):
    """(0, image with the new segment) or (-errno, image unchanged)."""
    if not image.file_mode:
        return -EINVAL, image
    if len(image.segments) >= KEXEC_SEGMENT_MAX:
        return -EINVAL, image
    kbuf = kbuf._replace(memsz=page_align(kbuf.memsz), buf_align=max(kbuf.buf_align, PAGE_SIZE))
    ret, mem = kexec_locate_mem_hole(image, kbuf, kho_locate_mem_hole)
    if ret:
        return ret, image
    seg = Segment(kbuf.role, mem, kbuf.memsz, kbuf.buffer[:kbuf.bufsz])
    return 0, image._replace(segments=image.segments + (seg,))


def _overwrite(obj: Obj, off: int, data: bytes) -> Obj:
    old = obj.data if isinstance(obj.data, bytes) else b""
    if len(old) < off:
        old = old + bytes(off - len(old))
    return obj._replace(data=old[:off] + data + old[off + len(data):])


def relocate_segments(pages: tuple, image: Kimage) -> tuple:
    """Memory after machine_kexec copied every segment to its destination: each page of
    modelled memory a segment covers holds the segment's bytes there (zeros past bufsz)."""
    pages = list(pages)
    for seg in image.segments:
        for pfn in range(seg.mem >> PAGE_SHIFT, (seg.mem + seg.memsz) >> PAGE_SHIFT):
            if pfn >= len(pages):
                break
            found = lookup(pages, pfn << PAGE_SHIFT)
            rel = (pfn << PAGE_SHIFT) - seg.mem
            chunk = seg.data[rel:rel + PAGE_SIZE]
            chunk = chunk + bytes(PAGE_SIZE - len(chunk))
            if found is None:
                pages[pfn] = Obj("page", 1, PAGE_SIZE, False, -1, "machine_kexec", -1,
                                 "machine_kexec", chunk)
                continue
            head, obj = found
            pages[head] = _overwrite(obj, (pfn - head) << PAGE_SHIFT, chunk)
    return tuple(pages)


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
