"""KHO as merged in 6.16: this kernel's half of kernel/kexec_handover.c, function by function.

Mirrors torvalds/linux:kernel/kexec_handover.c@00c010e130e5 (the 6.16 merge; the series is v8,
20250509074635.3187114-1-changyuanl@google.com).  Functions, in the file's order, with the C
they follow statement by statement:

* ``xa_load_or_alloc`` - xa_load, kzalloc (-ENOMEM), xa_cmpxchg(NULL -> elm); the loser kfree()s
  its element and uses the winner's;
* ``__kho_unpreserve(track, pfn, end_pfn)`` - the range walk split by
  ``min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn))``.  As written at this commit, a missing
  ``kho_mem_phys`` or bitmap ``continue``s WITHOUT advancing ``pfn``: the loop spins forever
  (fixed by b05addf6f059 "kho: warn and exit when unpreserved page wasn't preserved", Fixes:
  fc33e4b44b27, in 6.18);
* ``__kho_preserve_order`` - two xa_load_or_alloc and an atomic set_bit;
* ``new_chunk`` / ``kho_mem_ser_free`` / ``kho_mem_serialize`` - chunks are ``kzalloc(PAGE_SIZE)``
  and freed with ``kfree`` (fa759cd75bce moves them to the buddy allocator in 6.18);
* ``kho_debugfs_fdt_add`` - kmalloc of a ``struct fdt_debugfs`` (-ENOMEM) and
  ``debugfs_create_blob(name, dir)``, which fails with -EEXIST when *dir* already holds *name*;
  the entry goes on the list it is given (``kho_out.ser.fdt_list``);
* ``kho_add_subtree`` - fdt_begin_node / fdt_property / fdt_end_node into the root FDT being
  built (libfdt's sequential-write calls do not look for a duplicate name: a second node of the
  same name is written), then ``kho_debugfs_fdt_add(&ser->fdt_list, sub_fdts, name, fdt)``;
* ``register_kho_notifier`` / ``unregister_kho_notifier``;
* ``kho_preserve_folio`` - an UNLOCKED read of ``kho_out.finalized`` (-EBUSY), then
  __kho_preserve_order;
* ``kho_preserve_phys`` - -EBUSY once finalized (checked once, unlocked, BEFORE the alignment
  check), -EINVAL unless page aligned, the split loop, and on error
  ``__kho_unpreserve(track, start_pfn, failed_pfn)``;
* ``kho_out_update_debugfs_fdt`` - when finalized, ``kho_debugfs_fdt_add(.., "fdt", ..)`` in
  ``out/``; otherwise every entry of fdt_list is removed and freed;
* ``kho_abort`` - kfree every bitmap and kho_mem_phys, xa_destroy, free the chunk list, call the
  chain with KEXEC_KHO_ABORT; it does NOT touch fdt_list;
* ``kho_finalize`` - fdt_create .. placeholder, kho_preserve_folio(root FDT), the FINALIZE chain,
  kho_mem_serialize, the map property, fdt_end_node / fdt_finish; any error: kho_abort;
* ``kho_out_finalize_set`` - under kho_out.lock: -EEXIST / -ENOENT when unchanged; finalize or
  abort; on success ``finalized = val`` and then ``kho_out_update_debugfs_fdt()``, whose error is
  returned with ``finalized`` already changed;
* ``kho_init`` - alloc_page for the root FDT (its debugfs directories always succeed here);
* ``kho_fill_kimage`` - ``image->kho.fdt`` set whether or not finalized, then the scratch array
  (``kho_scratch[]``, 16 bytes per area) through ``kexec_add_buffer`` (64 KiB aligned,
  top-down, no upper bound); its error is returned;
* ``kho_walk_scratch`` - the callback on each kho_scratch[] area as a resource
  [addr, addr + size - 1] until it answers non-zero;
* ``kho_locate_mem_hole`` - 1 (not KHO's business) without kho_enable or for a crash image;
  else ``kho_walk_scratch``: 0 when it found a hole, else -EADDRNOTAVAIL.  It checks a
  candidate only against the segments already placed, never against preserved memory;
* ``kexec_file_load`` / ``kernel_kexec`` - the syscalls around them (kernel/kexec_file.c
  @00c010e130e5: kimage_file_prepare_segments calls kho_fill_kimage BEFORE the image load
  handler places the kernel; kexec_add_buffer and the hole search are in model.kernel.kexec),
  and machine_kexec's relocation of every segment to its destination.

Architecture: x86-64 (LP64).  The range walks store ``min(count_trailing_zeros(pfn), ilog2(end_pfn -
pfn))`` in an ``unsigned int`` and shift by it; for PFN 0 that is 0xffffffff (count_trailing_zeros(0) is
-1), and a shift by at least the operand's width, undefined in C, is computed as x86-64 executes it
(count mod 32 for an ``int``, mod 64 for an ``unsigned long``; arm64's LSLV/LSRV do the same for these
operands) - khomc.kernel.bitops.  Only a range starting at PFN 0 reaches such a count.

Abstractions, each unable to change a verdict of the promises in khomc.promises.k6_16:

* A lock-held region whose intermediate states no other task can see (``finalized`` read under
  kho_out.lock; ``finalized = val`` then the unlock) is one step; preservers read ``finalized``
  with no lock, as separate steps.
* The root FDT under construction is the list of its subtree nodes (``kho_out.ser.subtrees``);
  the page holds zeros until fdt_finish writes the blob (fdt_create's FDT_SW_MAGIC header is
  refused by fdt_check_header exactly as zeros are).  libfdt's -FDT_ERR_NOSPACE cannot happen:
  the page always has room for the few nodes a scenario adds.
* debugfs: only the names the list holds per directory (``kho_out.ser.fdt_list``); dentry
  allocation inside debugfs_create_blob is not a failure point (its kmalloc'ed wrapper is).
* The kexec image is loaded and the scratch segment added in one step (only kexec-lock holders
  touch the image, and kho_scratch[] does not change after boot).  The arch loader's buffers
  (bzImage64_load's kernel, params, initrd) are one 64 KiB top-down buffer placed after
  kho_fill_kimage's: the order and the alignment are the kernel's, and one buffer stands for
  several because only where the first segments land decides an overlap in scratch.
* kho_scratch[] is :data:`SCRATCH_DEFAULT` (three 1 MiB areas above every numbered page) unless
  a scenario puts an area over a task's pages (the movable clients of scratch-preserve and
  scratch-load): memory in scratch is CMA, where only movable allocations land, so each
  scenario decides which task's allocations are movable by giving that task's range.
* Where each allocation lands: KHO's own (tracker, chunks, root FDT, debugfs) and the drivers'
  kzalloc are unmovable, from their task's range outside scratch; only the movable clients'
  folios are in scratch; the kexec segments are in scratch by kho_locate_mem_hole.

Ghost state (read only by properties): ``ghost.promised``, the pages clients preserved, is
written by the clients from their own calls and return codes (:func:`client_preserved`), never
by KHO; ``ghost.final`` is the finalize in effect (set with ``finalized``).
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel import kexec
from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, get_zeroed_page, heap_modify, heap_read_bytes, kfree, kzalloc, lookup, may_allocate, memcpy_to, read_phys
from khomc.kernel.bitops import c_uint, c_ulong, clear_bit, count_trailing_zeros, ilog2, set_bit, shl_int, shl_ulong, shr_ulong
from khomc.kernel.errno import EADDRNOTAVAIL, EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM
from khomc.kernel.kexec import KEXEC_TYPE_CRASH, SCRATCH_BASE, SZ_64K, ULONG_MAX, KexecBuf, Kimage, add_buffer, kexec_add_buffer
from khomc.kernel.locking import KexecLock, Mutex, kexec_trylock, kexec_unlock, mutex_lock, mutex_unlock
from khomc.kernel.notifier import BlockingNotifierHead, NotifierBlock, blocking_notifier_call_chain, blocking_notifier_chain_register, blocking_notifier_chain_unregister, notifier_to_errno
from khomc.kernel.xarray import XArray, entries, xa_cmpxchg, xa_entries, xa_load
from khomc.kho.fdt import FdtTree, flatten
from khomc.runtime.effects import Op, Update, atomic, load, store
from khomc.runtime.spec import Model

KEXEC_KHO_FINALIZE = 0
KEXEC_KHO_ABORT = 1
KHO_FDT_COMPATIBLE = b"kho-v1\0"
PROP_PRESERVED_MEMORY_MAP = "preserved-memory-map"
PROP_SUB_FDT = "fdt"
KERNEL_IMAGE_SIZE = 1 << 16
PRESERVE_BITS = 512 * 8              # a2fff99f92da makes it PAGE_SIZE * 8 (6.18)
SIZEOF_KHO_MEM_PHYS = 16             # struct kho_mem_phys { struct xarray phys_bits; }
CHUNK_HDR = 16                        # khoser_mem_chunk_hdr: next (u64), order (u32), num_elms (u32)
CHUNK_ELM = 16                        # khoser_mem_bitmap_ptr: phys_start (u64), bitmap (u64)
KHOSER_BITMAP_SIZE = (PAGE_SIZE - CHUNK_HDR) // CHUNK_ELM
SIZEOF_FDT_DEBUGFS = 48              # struct fdt_debugfs: list_head, blob wrapper, dentry *
SIZEOF_KHO_SCRATCH = 16              # struct kho_scratch { phys_addr_t addr, size; }
OUT, SUB_FDTS = "out", "out/sub_fdts"
kho_enable = True                    # every modelled boot has kho=on
# kho_scratch[] as kho_reserve_scratch leaves it: lowmem, global and one node area (3 areas,
# 1 MiB each, above every numbered page) unless a scenario gives its own
SCRATCH_DEFAULT = ((SCRATCH_BASE, 1 << 20), (SCRATCH_BASE + (1 << 20), 1 << 20),
                   (SCRATCH_BASE + (2 << 20), 1 << 20))


class Ghost(NamedTuple):
    promised: frozenset = frozenset()   # PFNs clients preserved (their call returned 0)
    final: tuple | None = None          # (subtrees, map) of the finalize in effect, if any
    asked: frozenset = frozenset()      # PFNs clients pass (or will pass) to a preserve call,
                                        # minus those whose call failed
    tracker: tuple | None = None        # the tracker's set bits when finalized was set


class Image(NamedTuple):
    """``struct kimage`` with its ``kho`` member: the segments and ``image->kho.fdt``."""

    kimage: Kimage
    kho_fdt: int | None                  # physical address of the root FDT, None if not set


class Handover(NamedTuple):
    """The machine at machine_kexec: what the next kernel is given, and the ghost then."""

    image: Image
    pages: tuple
    ghost: Ghost
    watched: tuple = ()                 # the values of the drivers' watched slots then


class K616:
    """``struct kho_out kho_out`` (its notifier head, lock, ``ser`` and ``finalized``) and the
    kexec state of one scenario; every era of the 6.16 line uses the same fields."""

    def __init__(self, model: Model, heap: Heap, kernel=None, scratch: tuple = SCRATCH_DEFAULT,
                 config_debug: bool = False):
        self.kernel = kernel
        self.heap = heap
        # kho_scratch[]: ((addr, size), ...) as kho_reserve_scratch left it (CMA pageblocks:
        # only movable allocations land there); CONFIG_KEXEC_HANDOVER_DEBUG.
        self.scratch = scratch
        self.config_debug = config_debug
        # ARRAY_SIZE(struct kho_vmalloc_chunk::phys) of this build, 0 for the kernel's own
        # (khomc.kho.k6_18.vmalloc: a scenario may lower it to fill a chunk).
        self.vmalloc_size = 0
        self.chain = BlockingNotifierHead(model, "kho_out.chain_head")
        self.lock = Mutex.new(model, "kho_out.lock")
        # Invariant: written only by holders of kho_out.lock.
        self.finalized = model.var("kho_out.finalized", False)
        self.fdt = model.var("kho_out.ser.fdt", 0)
        self.subtrees = model.var("kho_out.ser.subtrees", ())
        self.mem_map = model.var("kho_out.ser.preserved_mem_map", 0)
        self.fdt_list = model.var("kho_out.ser.fdt_list", ())
        self.orders = XArray.at_var(model.var("kho_out.ser.track.orders", ()))
        self.kexec_lock = KexecLock.new(model, "__kexec_lock")
        self.image = model.var("kexec_image", None)
        self.ghost = model.var("ghost", Ghost())
        self.handover = model.var("handover", None)
        self.watched: list = []          # driver slots snapshotted at machine_kexec

    def __repr__(self):
        return "kho_out"


# -- ghost: what the clients asked for ----------------------------------------------------------

def _pfns(pfn: int, nr: int) -> frozenset:
    return frozenset(range(pfn, pfn + nr))


def _note(ghost, tid, pfns, adding, ok):
    if not ok:
        return ghost._replace(asked=ghost.asked - pfns), None
    promised = ghost.promised | pfns if adding else ghost.promised - pfns
    return ghost._replace(promised=promised), None


async def client_preserved(kho: K616, who: str, call: str, args: tuple, ret: int,
                           pfns: frozenset = frozenset(), adding: bool = True) -> None:
    """Ghost only (not kernel code): a client notes what its own KHO call returned.  0: the
    pages are preserved (*adding*) or unpreserved; an error: they were not (dropped from
    ``asked``).  A call naming no pages takes no step.  Noting after the return, as a
    separate step, loses no counterexample: the schedule that notes at once is explored too;
    until the note the pages count as asked (reserving them is not a violation), not promised
    (losing them is not one either)."""
    if not pfns:
        return
    await Update(kho.ghost, _note, pfns, adding, ret == 0,
                 text=f"ghost: {who} {call}{args} = {ret}")


def ghost_ask(values, tid, pfns):
    """Ghost only: *pfns* will be passed to a preserve call (folded into the step that
    allocates them: nobody else knows the pages before)."""
    (ghost,) = values
    return (ghost._replace(asked=ghost.asked | pfns),), None


# -- the tracker --------------------------------------------------------------------------------

def phys_bits(kho: K616, physxa: int) -> XArray:
    return XArray.in_object(kho.heap, physxa, "phys_bits")


async def xa_load_or_alloc(kho: K616, xa: XArray, index: int, sz: int):
    elm = await xa_load(xa, index)
    if elm:
        return elm
    elm = await kzalloc(kho.heap, sz, "xa_load_or_alloc")
    if not elm:
        return -ENOMEM
    res = await xa_cmpxchg(xa, index, None, elm)
    if res:
        await kfree(kho.heap, elm, "xa_load_or_alloc")
        return res
    return elm


async def __kho_unpreserve(kho: K616, pfn: int, end_pfn: int) -> None:
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        pfn_high = shr_ulong(pfn, order)
        physxa = await xa_load(kho.orders, order)
        if not physxa:
            continue                      # as written: pfn is not advanced
        bits = await xa_load(phys_bits(kho, physxa), pfn_high // PRESERVE_BITS)
        if not bits:
            continue                      # as written: pfn is not advanced
        await clear_bit(kho.heap, bits, pfn_high % PRESERVE_BITS, "__kho_unpreserve")
        pfn = c_ulong(pfn + shl_int(1, order))


async def __kho_preserve_order(kho: K616, pfn: int, order: int) -> int:
    pfn_high = shr_ulong(pfn, order)
    physxa = await xa_load_or_alloc(kho, kho.orders, order, SIZEOF_KHO_MEM_PHYS)
    if physxa < 0:
        return physxa
    bits = await xa_load_or_alloc(kho, phys_bits(kho, physxa), pfn_high // PRESERVE_BITS,
                                  PRESERVE_BITS // 8)
    if bits < 0:
        return bits
    await set_bit(kho.heap, bits, pfn_high % PRESERVE_BITS, "__kho_preserve_order")
    return 0


# -- serialization of the tracker ---------------------------------------------------------------

async def new_chunk(kho: K616, cur_chunk: int, order: int) -> int:
    """The chunk's header is written by kho_mem_serialize once the chunk is complete (nobody
    reads a chunk before ``preserved_mem_map`` is published)."""
    chunk = await kzalloc(kho.heap, PAGE_SIZE, "new_chunk")
    if not chunk:
        return 0
    if cur_chunk:
        await memcpy_to(kho.heap, cur_chunk, chunk.to_bytes(8, "little"), "new_chunk")
    return chunk


async def kho_mem_ser_free(kho: K616, first_chunk: int) -> None:
    chunk = first_chunk
    while chunk:
        tmp = chunk
        head = await heap_read_bytes(kho.heap, chunk, 8, "kho_mem_ser_free")
        chunk = int.from_bytes(head, "little")
        await kfree(kho.heap, tmp, "kho_mem_ser_free")


def chunk_body(order: int, elms: tuple) -> bytes:
    """``hdr.order``, ``hdr.num_elms`` and the bitmaps[] of a khoser_mem_chunk (after hdr.next).

    >>> len(chunk_body(0, ((0, 0x3000),)))
    24
    """
    out = order.to_bytes(4, "little") + len(elms).to_bytes(4, "little")
    for phys_start, bitmap in elms:
        out += phys_start.to_bytes(8, "little") + bitmap.to_bytes(8, "little")
    return out


async def kho_mem_serialize(kho: K616) -> int:
    """0 (``preserved_mem_map`` set) or a negative errno.  The chunks point at the LIVE
    bitmaps."""
    first_chunk = 0
    chunk = 0
    err = -ENOMEM
    orders = await xa_entries(kho.orders)
    i = 0
    while i < len(orders):
        order, physxa = orders[i]
        chunk = await new_chunk(kho, chunk, order)
        if chunk <= 0:
            err = chunk if chunk < 0 else -ENOMEM
            await kho_mem_ser_free(kho, first_chunk)
            return err
        if not first_chunk:
            first_chunk = chunk
        bitmaps = await xa_entries(phys_bits(kho, physxa))
        elms = ()
        j = 0
        while j < len(bitmaps):
            if len(elms) == KHOSER_BITMAP_SIZE:
                await memcpy_to(kho.heap, chunk, chunk_body(order, elms), "kho_mem_serialize", 8)
                chunk = await new_chunk(kho, chunk, order)
                if chunk <= 0:
                    err = chunk if chunk < 0 else -ENOMEM
                    await kho_mem_ser_free(kho, first_chunk)
                    return err
                elms = ()
            phys, bits = bitmaps[j]
            elms = elms + ((shl_ulong(phys * PRESERVE_BITS, order + PAGE_SHIFT), bits),)
            j += 1
        await memcpy_to(kho.heap, chunk, chunk_body(order, elms), "kho_mem_serialize", 8)
        i += 1
    await store(kho.mem_map, first_chunk)
    return 0


# -- debugfs and subtrees -----------------------------------------------------------------------

def _blob_add(entries, tid, d, name):
    if (d, name) in entries:
        return entries, -EEXIST            # debugfs_create_blob: the name exists in the dir
    return ((d, name),) + entries, 0       # list_add: at the head


async def kho_debugfs_fdt_add(kho: K616, d: str, name: str, fdt: int) -> int:
    if not await may_allocate(kho.heap, "kho_debugfs_fdt_add"):
        return -ENOMEM                     # kmalloc(sizeof(*f)) failed
    return await Update(kho.fdt_list, _blob_add, d, name,
                        text=f"debugfs_create_blob({name!r}) in {d}; list_add")


def _add_subtree(subtrees, tid, name, phys):
    return subtrees + ((name, phys),), 0


async def kho_add_subtree(kho: K616, ser, name: str, fdt: int) -> int:
    """Legal only from a FINALIZE callback (*ser* is what the chain passed)."""
    if ser is not kho:
        raise AssertionError("kho_add_subtree outside a KEXEC_KHO_FINALIZE callback")
    err = await Update(kho.subtrees, _add_subtree, name, fdt,
                       text=f"fdt_begin_node({name!r}); fdt_property(fdt, {fdt:#x}); fdt_end_node")
    if err:
        return err
    return await kho_debugfs_fdt_add(kho, SUB_FDTS, name, fdt)


async def register_kho_notifier(kho: K616, nb: NotifierBlock) -> int:
    return await blocking_notifier_chain_register(kho.chain, nb)


async def unregister_kho_notifier(kho: K616, nb: NotifierBlock) -> int:
    return await blocking_notifier_chain_unregister(kho.chain, nb)


# -- preservation -------------------------------------------------------------------------------

async def kho_preserve_folio(kho: K616, phys: int, order: int) -> int:
    pfn = phys >> PAGE_SHIFT
    if await load(kho.finalized):
        return -EBUSY
    return await __kho_preserve_order(kho, pfn, order)


async def kho_preserve_phys(kho: K616, phys: int, size: int) -> int:
    pfn = phys >> PAGE_SHIFT
    failed_pfn = 0
    start_pfn = pfn
    end_pfn = (phys + size) >> PAGE_SHIFT
    err = 0
    if await load(kho.finalized):
        return -EBUSY
    if phys % PAGE_SIZE or size % PAGE_SIZE:
        return -EINVAL
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        err = await __kho_preserve_order(kho, pfn, order)
        if err:
            failed_pfn = pfn
            break
        pfn = c_ulong(pfn + shl_int(1, order))
    if err:
        await __kho_unpreserve(kho, start_pfn, failed_pfn)
    return err


# -- finalize and abort -------------------------------------------------------------------------

def _remove_all(entries, tid):
    return (), None


async def kho_out_update_debugfs_fdt(kho: K616) -> int:
    err = 0
    if await load(kho.finalized):
        err = await kho_debugfs_fdt_add(kho, OUT, "fdt", await load(kho.fdt))
    else:
        await Update(kho.fdt_list, _remove_all,
                     text="debugfs_remove + list_del + kfree of every fdt_list entry")
    return err


async def kho_abort(kho: K616) -> int:
    heap = kho.heap
    orders = await xa_entries(kho.orders)
    i = 0
    while i < len(orders):
        physxa = orders[i][1]
        bitmaps = await xa_entries(phys_bits(kho, physxa))
        j = 0
        while j < len(bitmaps):
            await kfree(heap, bitmaps[j][1], "kho_abort")
            j += 1
        await kfree(heap, physxa, "kho_abort")      # after xa_destroy(&physxa->phys_bits)
        i += 1
    await store(kho.orders.var, ())                  # xa_destroy(&track.orders)
    first = await load(kho.mem_map)
    if first:
        await kho_mem_ser_free(kho, first)
        await store(kho.mem_map, 0)
    err = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_ABORT, None)
    return notifier_to_errno(err)


def root_fdt(subtrees: tuple, mem_map: int) -> FdtTree:
    children = tuple(FdtTree(name, ((PROP_SUB_FDT, phys.to_bytes(8, "little")),), ())
                     for name, phys in subtrees)
    props = (("compatible", KHO_FDT_COMPATIBLE),
             (PROP_PRESERVED_MEMORY_MAP, mem_map.to_bytes(8, "little")))
    return FdtTree("", props, children)


def _put(data, value):
    return value, None


async def kho_finalize(kho: K616) -> int:
    heap = kho.heap
    fdt = await load(kho.fdt)
    # fdt_create .. fdt_property_placeholder: not a valid FDT until fdt_finish.
    await heap_modify(heap, fdt, "kho_finalize: fdt_create", _put, b"")
    await store(kho.subtrees, ())
    err = await kho_preserve_folio(kho, fdt, 0)
    if not err:
        err = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_FINALIZE, kho)
        err = notifier_to_errno(err)
    if not err:
        err = await kho_mem_serialize(kho)
    if not err:
        first = await load(kho.mem_map)
        subtrees = await load(kho.subtrees)
        blob = flatten(root_fdt(subtrees, first), PAGE_SIZE)
        if isinstance(blob, int):
            err = blob
        else:
            await heap_modify(heap, fdt, "kho_finalize: fdt_finish", _put, blob)
    if err:
        await kho_abort(kho)
    return err


def tracker_bits(pages: tuple, orders, preserve_bits: int) -> tuple:
    """Ghost: ((order, pfn_high), ...) of every bit set in the tracker, read from memory (an
    object already freed reads as its stale bytes, as the next kernel would read it)."""
    out = []
    for order, physxa in entries(orders):
        found = lookup(pages, physxa)
        if found is None:
            continue
        for idx, bits in entries(found[1].data):
            data = read_phys(pages, bits, preserve_bits // 8)
            value = int.from_bytes(data, "little")
            while value:
                bit = (value & -value).bit_length() - 1
                value &= value - 1
                out.append((order, idx * preserve_bits + bit))
    return tuple(sorted(out))


def _set_finalized(values, tid, val, preserve_bits):
    """``kho_out.finalized = val``; the ghost notes the finalize now in effect and the tracker
    it froze."""
    _, ghost, subtrees, mem_map, pages, orders = values
    final = (subtrees, mem_map) if val else None
    tracker = tracker_bits(pages, orders, preserve_bits) if val else None
    return (bool(val), ghost._replace(final=final, tracker=tracker), subtrees, mem_map, pages,
            orders), None


async def _lock_and_read(kho: K616) -> bool:
    await mutex_lock(kho.lock)
    return await load(kho.finalized)


async def kho_out_finalize_set(kho: K616, val: int) -> int:
    """``echo val > /sys/kernel/debug/kho/out/finalize``."""
    val = bool(val)
    finalized = await atomic(_lock_and_read)(kho)
    if val == finalized:
        await mutex_unlock(kho.lock)
        return -EEXIST if finalized else -ENOENT
    if val:
        ret = await kho_finalize(kho)
    else:
        ret = await kho_abort(kho)
    if ret:
        await mutex_unlock(kho.lock)
        return ret
    await Op((kho.finalized, kho.ghost, kho.subtrees, kho.mem_map, kho.heap.pages,
              kho.orders.var), _set_finalized, val, PRESERVE_BITS,
             text=f"kho_out.finalized = {val}")
    ret = await kho_out_update_debugfs_fdt(kho)
    await mutex_unlock(kho.lock)
    return ret


# -- init and kexec -----------------------------------------------------------------------------

async def kho_init(kho: K616) -> int:
    """alloc_page for ``kho_out.ser.fdt``; the debugfs directories are always created."""
    page = await get_zeroed_page(kho.heap, "kho_init")
    if not page:
        return -ENOMEM
    await store(kho.fdt, page)
    return 0


def kho_scratch_blob(kho: K616) -> bytes:
    """The bytes of ``kho_scratch[]``: {addr, size} per area, little-endian u64s."""
    return b"".join(a.to_bytes(8, "little") + n.to_bytes(8, "little") for a, n in kho.scratch)


async def kho_fill_kimage(kho: K616, image: Kimage):
    """(err, image, image->kho.fdt): ``image->kho.fdt`` is set first, then the scratch array's
    segment through kexec_add_buffer (its error fails the load)."""
    fdt = await load(kho.fdt)                     # image->kho.fdt = page_to_phys(ser.fdt)
    scratch_size = SIZEOF_KHO_SCRATCH * len(kho.scratch)
    scratch = KexecBuf("kho-scratch", kho_scratch_blob(kho), scratch_size, scratch_size,
                       SZ_64K, buf_max=ULONG_MAX, top_down=True)
    err, image = kexec_add_buffer(image, scratch,
                                  lambda im, kbuf, func: kho_locate_mem_hole(kho, im, kbuf, func))
    if err:
        return err, image, fdt
    return 0, image, fdt


def kho_walk_scratch(kho: K616, image: Kimage, kbuf: KexecBuf, func):
    """(ret, kbuf->mem): *func* on each kho_scratch[] area as a resource, until it answers."""
    ret, mem = 0, None
    i = 0
    while i < len(kho.scratch):
        addr, size = kho.scratch[i]
        ret, mem = func(image, (addr, addr + size - 1), kbuf)
        if ret:
            break
        i += 1
    return ret, mem


def kho_locate_mem_hole(kho: K616, image: Kimage, kbuf: KexecBuf, func):
    """1 (not KHO's business) for a crash image or without kho_enable; else the scratch walk:
    0 and the address, or -EADDRNOTAVAIL.  No check of preserved memory: a segment may land
    on a movable page a client has preserved in scratch."""
    if not kho_enable or kbuf.image_type == KEXEC_TYPE_CRASH:
        return 1, None
    ret, mem = kho_walk_scratch(kho, image, kbuf, func)
    return (0, mem) if ret == 1 else (-EADDRNOTAVAIL, None)


def kernel_kbuf() -> KexecBuf:
    """The arch loader's buffer for the next kernel (one 64 KiB top-down buffer)."""
    return KexecBuf("kernel", b"\x7fELF", 4, KERNEL_IMAGE_SIZE, SZ_64K, top_down=True)


async def _kexec_file_load(kho: K616) -> int:
    """kexec_file_load(2): kimage_file_prepare_segments calls kho_fill_kimage before the
    image load handler, whose kexec_add_buffer places the kernel; any error fails the load
    and no image is installed."""
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    err, image, fdt = await kho_fill_kimage(kho, Kimage(True, ()))
    if not err:
        err, image = kexec_add_buffer(image, kernel_kbuf(),
                                      lambda im, kbuf, func: kho_locate_mem_hole(kho, im, kbuf,
                                                                                 func))
    if not err:
        await store(kho.image, Image(image, fdt))
    await kexec_unlock(kho.kexec_lock)
    return err


async def kexec_file_load(kho: K616) -> int:
    """kexec_file_load(2) with kho_fill_kimage, one step (only kexec-lock holders touch the
    image, and kho_scratch[] is fixed after boot; a read of ``finalized`` there is the unlocked
    sample the kernel takes)."""
    return await atomic(_kexec_file_load)(kho)


def _machine_kexec(values, tid):
    """machine_kexec: the old kernel stops; relocation copies every segment to its
    destination, so the next kernel sees the segments' bytes there (a preserved page under a
    segment included)."""
    image, pages, ghost, _, _ = values[:5]
    watched = values[5:]
    moved = kexec.relocate_segments(pages, image.kimage) if image is not None else pages
    return (image, pages, ghost, True, Handover(image, moved, ghost, watched)) + watched, None


async def kernel_kexec(kho: K616) -> int:
    """reboot(LINUX_REBOOT_CMD_KEXEC): 6.16 does nothing KHO-specific here."""
    return await kexec.kernel_kexec(
        kho, (kho.image, kho.heap.pages, kho.ghost, kho.heap.halted, kho.handover)
        + tuple(kho.watched), _machine_kexec)
