"""KHO v4 (Mike Rapoport's series): the ``active`` switch under a mutex, notifiers writing
straight into one shared FDT of ``dt_max`` bytes, abort, kexec_file_load, and the next kernel.

Mirrors the v4 series "kexec: introduce Kexec HandOver (KHO)"
(20250206132754.2596694-1-rppt@kernel.org), function by function:

* patch 05/14 (20250206132754.2596694-6-rppt@kernel.org, "kexec: Add Kexec HandOver (KHO)
  generation helpers", kernel/kexec_handover.c): ``struct kho_out { chain_head; kobj; lock;
  dt; dt_len; dt_max = 10 MiB; active; }``, register/unregister_kho_notifier, kho_expose_dt,
  kho_abort, kho_serialize, active_store and dt_max_store;
* patch 07/14 (20250206132754.2596694-8-rppt@kernel.org, "kexec: Add KHO support to kexec file
  loads"): kho_fill_kimage, called from kimage_file_prepare_segments: under kho_out.lock, if
  active, a kvmemdup of ``dt_len`` bytes of kho_out.dt becomes the image's KHO DT segment;
* the next kernel (patch 06/14 of the series, "kexec: Add KHO parsing support"): kho_populate
  checks the FDT header and the root's ``compatible = "kho-v1"``, and every ``mem`` property
  (an array of ``struct kho_mem { phys_addr_t addr; phys_addr_t size; }``) anywhere in the tree
  is memblock_reserve'd; drivers find their node and kho_claim_mem the ranges.  (The ``mem``
  walk is read from ../shared/reference/kho-semantics.md §2.1 - "memory reservations are mem
  properties inside the FDT" - and from the v4-era users; its byte layout is that struct in
  little-endian, as on x86/arm64.)

Facts and review context: ../shared/reference/kho-semantics.md §1, §2.1, §2.2, §5 (Jason
Gunthorpe, 20250210202220.GC3765641@nvidia.com: "This design requires that the whole thing be
wrapped in a notifier callback just so we can make use of the fdt APIs"; on dt_max: "Seems
gross").

Two facts of the posted code that differ from v1's (Graf, §2.1) and that the model follows:

* v4's kho_serialize does NOT set ``active`` before serializing; active_store sets it after
  kho_serialize returned 0.  kho_abort starts with ``if (!kho_out.active) return;``, so the
  ``kho_abort()`` on kho_serialize's error path does nothing: the kvmalloc'd buffer leaks and no
  KEXEC_KHO_ABORT is sent to the users whose DUMP callbacks already ran.
* kho_serialize reads ``kho_out.dt_max`` twice, in ``kvmalloc(kho_out.dt_max)`` and in
  ``fdt_create(fdt, kho_out.dt_max)``, and dt_max_store writes it with no lock (its only check
  is ``if (kho_out.dt_len) return -EBUSY``, and dt_len is 0 until kho_expose_dt).  A dt_max
  write between the two reads makes libfdt believe the buffer is larger than it is.

Model notes:

* The shared FDT is the kvmalloc'd object itself, holding the real bytes libfdt's
  sequential-write API (scripts/dtc/libfdt/fdt_sw.c) writes into it; the buffer size libfdt uses
  is the one fdt_create stored in the header.  A write that changes bytes past the object's
  allocated size is reported in the KASAN slot as slab-out-of-bounds (generic KASAN catches
  kvmalloc overflows at byte granularity); the bytes are kept, so the FDT itself still parses.
* Reduction (movers, as in khomc.kho.v5.kexec_handover): only the task holding kho_out.lock (the serializer
  and, in its DUMP/ABORT callbacks, the users) touches the buffer before kho_expose_dt
  publishes it, and kho_out.dt / dt_len / active are written only under the lock.  So the
  libfdt calls of one user's node (begin_node, its properties, end_node) are one step, as are
  fdt_create..compatible and end_node..fdt_check_header, and kexec_file_load's section under
  kho_out.lock.  The two unlocked reads of dt_max and dt_max_store's check and store stay
  separate steps: they are the race.
* sysfs file creation/removal (kho_out.kobj, the ``dt`` bin attribute) and the scratch areas'
  placement are not modelled; ``kho_enable`` and ``kho_scratch_cnt`` are static per scenario.

Ghost state (read only by properties): ``final``, the FDT bytes of the activation in effect
(set with ``active = true``, cleared with ``active = false``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import libfdt

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, KasanReport, kvfree, kvmalloc, lookup
from khomc.kernel.alloc import _check, _replace, read_phys
from khomc.kernel.errno import EBUSY, EINVAL, ENOMEM
from khomc.kernel import kexec
from khomc.kernel.kexec import Kimage, add_buffer
from khomc.kernel.locking import KexecLock, Mutex, kexec_trylock, kexec_unlock, mutex_lock, mutex_unlock
from khomc.kernel.notifier import BlockingNotifierHead, NotifierBlock, blocking_notifier_call_chain, blocking_notifier_chain_register, blocking_notifier_chain_unregister, notifier_to_errno
from khomc.runtime.effects import Op, atomic, load, store
from khomc.runtime.spec import Model
from khomc.kho.fdt import FdtTree, prop, unflatten

KEXEC_KHO_DUMP = 0
KEXEC_KHO_ABORT = 1
KHO_FDT_COMPATIBLE = b"kho-v1\0"
DT_MAX_DEFAULT = 10 << 20             # .dt_max = 10 * SZ_1M
EOPNOTSUPP = 95
KERNEL_IMAGE_SIZE = 1 << 16
KHO_MEM_SIZE = 16                     # struct kho_mem { phys_addr_t addr; phys_addr_t size; }


def kho_mem(addr: int, size: int) -> bytes:
    """One ``struct kho_mem`` as the bytes of a ``mem`` property entry.

    >>> len(kho_mem(0x1000, 0x1000))
    16
    """
    return addr.to_bytes(8, "little") + size.to_bytes(8, "little")


class Ghost(NamedTuple):
    final: bytes | None = None        # the FDT of the activation in effect, if any


class Handover(NamedTuple):
    """The machine at machine_kexec: the image, all of memory, the ghost and watched slots."""

    image: Kimage
    pages: tuple
    ghost: Ghost
    watched: tuple = ()


class KhoV4:
    """``kho_out`` of one scenario (handles on its world slots), the kexec lock and image."""

    def __init__(self, model: Model, heap: Heap, dt_max: int = DT_MAX_DEFAULT,
                 enable: bool = True, scratch_cnt: int = 2, kernel=None):
        if kernel is None:
            from khomc.kho.v4 import ERA          # the package links this module: import late
            kernel = ERA.namespace()
        self.kernel = kernel                      # the linked era drivers call into
        self.heap = heap
        self.enable = enable                 # kho_enable, __ro_after_init
        self.scratch_cnt = scratch_cnt       # kho_scratch_cnt, set at boot
        self.chain = BlockingNotifierHead(model, "kho_out.chain_head")
        self.lock = Mutex.new(model, "kho_out.lock")
        # Invariant: dt, dt_len and active are written only by holders of kho_out.lock.
        self.dt = model.var("kho_out.dt", 0)
        self.dt_len = model.var("kho_out.dt_len", 0)
        self.dt_max = model.var("kho_out.dt_max", dt_max)
        self.active = model.var("kho_out.active", False)
        self.kexec_lock = KexecLock.new(model, "__kexec_lock")
        self.image = model.var("kexec_image", None)
        self.ghost = model.var("ghost", Ghost())
        self.handover = model.var("handover", None)
        self.adapter_mem = model.var("v4_adapter.mem", frozenset())   # khomc.drivers.eras.V4
        self.watched: list = []

    def __repr__(self):
        return "kho_out"


async def register_kho_notifier(kho: KhoV4, nb: NotifierBlock) -> int:
    return await blocking_notifier_chain_register(kho.chain, nb)


async def unregister_kho_notifier(kho: KhoV4, nb: NotifierBlock) -> int:
    return await blocking_notifier_chain_unregister(kho.chain, nb)


# -- libfdt's sequential-write calls on the shared buffer --------------------------------------

def _fdt_op(values, tid, heap, addr, site, calls, create):
    """Run libfdt *calls* on the object at *addr* in place: ``(new values, libfdt error)``.

    *create* is the size fdt_create is given (None: the buffer already has a header).  A call
    that changes bytes past the object's allocated size is a slab-out-of-bounds write."""
    found, kasan = _check(heap, values, tid, addr, "Write", site)
    pages, halted = values[0], values[2]
    if found is None:
        return (pages, kasan, halted), -libfdt.BADSTATE
    pfn, obj = found
    old = obj.data if isinstance(obj.data, bytes) else b""
    size = create if create is not None else (
        libfdt.fdt_totalsize(bytearray(old[:40])) if len(old) >= 40 else 0)
    buf = bytearray(old[:size].ljust(size, b"\0"))
    err = 0
    if create is not None:
        err = -EINVAL if libfdt.fdt_create(buf, size) else 0   # kho_serialize's -EINVAL
    for name, args in calls:
        if err:
            break
        err = getattr(libfdt, name)(buf, *args)
    new = bytes(buf)
    ref = old.ljust(len(new), b"\0")
    if kasan is None and not halted and new[obj.size:] != ref[obj.size:len(new)]:
        off = next(i for i in range(obj.size, len(new)) if new[i] != ref[i])
        kasan = KasanReport(
            "slab-out-of-bounds", addr + off,
            f"Write at offset {off} in {site} by task {heap.task_name(tid)} "
            f"(libfdt's buffer is {size} bytes)",
            f"task {heap.task_name(obj.alloc_tid)} at {obj.alloc_site} "
            f"({obj.size}-byte kvmalloc)", "")
    return (_replace(pages, pfn, obj._replace(data=new)), kasan, halted), err


def fdt_calls(heap: Heap, fdt: int, site: str, calls: tuple, create: int | None = None) -> Op:
    """One step of libfdt sequential-write calls on the FDT at *fdt*: observes 0 or the first
    (negative) libfdt error."""
    return Op(heap.vars, _fdt_op, heap, fdt, site, calls, create,
              text=f"{' '.join(c[0] for c in calls) or 'fdt_create'} on {fdt:#x} in {site}")


def node_calls(name: str, props: tuple) -> tuple:
    """fdt_begin_node(name), fdt_property(key, value) for each prop, fdt_end_node."""
    out = (("fdt_begin_node", (name,)),)
    for key, value in props:
        out = out + (("fdt_property_stub", (key, value, len(value))),)
    return out + (("fdt_end_node", ()),)


async def kho_fdt_add_node(kho: KhoV4, fdt: int, name: str, props: tuple, site: str) -> int:
    """What a DUMP callback does with the fdt it is passed: one node with its properties."""
    return await fdt_calls(kho.heap, fdt, site, node_calls(name, props))


# -- out side (patch 05/14) ---------------------------------------------------------------------

async def kho_abort(kho: KhoV4) -> None:
    if not await load(kho.active):
        return
    dt = await load(kho.dt)
    await kvfree(kho.heap, dt, "kho_abort")
    await store(kho.dt, 0)
    await store(kho.dt_len, 0)
    await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_ABORT, None)
    await Op((kho.active, kho.ghost), _deactivate, text="kho_out.active = false")


def _deactivate(values, tid):
    _, ghost = values
    return (False, ghost._replace(final=None)), None


def _expose(values, tid, fdt, heap):
    """kho_expose_dt: kho_out.dt = fdt; kho_out.dt_len = fdt_totalsize(fdt)."""
    pages, _, _ = values
    found = lookup(pages, fdt)
    data = found[1].data if found is not None and isinstance(found[1].data, bytes) else b""
    total = libfdt.fdt_totalsize(bytearray(data[:40])) if len(data) >= 40 else 0
    return (pages, fdt, total), None


async def kho_serialize(kho: KhoV4) -> int:
    heap = kho.heap
    err = -ENOMEM
    dt_max = await load(kho.dt_max)                       # kvmalloc(kho_out.dt_max, ...)
    fdt = await kvmalloc(heap, dt_max, "kho_serialize")
    if fdt:
        size = await load(kho.dt_max)                     # fdt_create(fdt, kho_out.dt_max)
        err = await fdt_calls(heap, fdt, "kho_serialize", (
            ("fdt_finish_reservemap", ()), ("fdt_begin_node", ("",)),
            ("fdt_property_stub", ("compatible", KHO_FDT_COMPATIBLE,
                                   len(KHO_FDT_COMPATIBLE)))), size)
    if fdt and not err:
        ret = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_DUMP, fdt)
        err = notifier_to_errno(ret)
        if not err:
            err = await fdt_calls(heap, fdt, "kho_serialize", (
                ("fdt_end_node", ()), ("fdt_finish", ())))
            if not err:
                await Op((heap.pages, kho.dt, kho.dt_len), _expose, fdt, heap,
                         text="kho_expose_dt: kho_out.dt = fdt, dt_len = fdt_totalsize")
    if err:
        await kho_abort(kho)          # a no-op: kho_out.active is still false here
    return err


def _activate(values, tid, heap):
    """``kho_out.active = true`` (in active_store, after kho_serialize returned 0); the ghost
    notes the FDT now in effect."""
    pages, dt, dt_len, _, ghost = values
    return (pages, dt, dt_len, True, ghost._replace(final=read_phys(pages, dt, dt_len))), None


async def _lock_and_read_active(kho: KhoV4) -> bool:
    await mutex_lock(kho.lock)
    return await load(kho.active)


async def active_store(kho: KhoV4, val: int) -> int:
    """``echo val > /sys/kernel/kho/active``: 0 (the write's size) or a negative errno."""
    if not kho.enable:
        return -EOPNOTSUPP
    if not kho.scratch_cnt:
        return -ENOMEM
    ret = 0
    active = await atomic(_lock_and_read_active)(kho)
    if bool(val) != active:
        if val:
            if await kho_serialize(kho):
                ret = -EINVAL
            else:
                await Op((kho.heap.pages, kho.dt, kho.dt_len, kho.active, kho.ghost), _activate,
                         kho.heap, text="kho_out.active = true")
        else:
            await kho_abort(kho)
    await mutex_unlock(kho.lock)
    return ret


async def dt_max_store(kho: KhoV4, val: int) -> int:
    """``echo val > /sys/kernel/kho/dt_max``: no lock; -EBUSY only once dt_len is set."""
    if await load(kho.dt_len):
        return -EBUSY
    await store(kho.dt_max, val)
    return 0


# -- kexec (patch 07/14) --------------------------------------------------------------------------

async def _fill_kimage(kho: KhoV4):
    """kho_fill_kimage's section under kho_out.lock: the DT bytes if active, else None."""
    await mutex_lock(kho.lock)
    blob = None
    if await load(kho.active):
        dt = await load(kho.dt)
        dt_len = await load(kho.dt_len)
        blob = await Op(kho.heap.vars, _read_blob, kho.heap, dt, dt_len,
                        text="kvmemdup(kho_out.dt, kho_out.dt_len)")
    await mutex_unlock(kho.lock)
    return blob


def _read_blob(values, tid, heap, addr, length):
    found, kasan = _check(heap, values, tid, addr, "Read", "kho_fill_kimage")
    data = found[1].data if found is not None and isinstance(found[1].data, bytes) else b""
    return (values[0], kasan, values[2]), data[:length].ljust(length, b"\0")


async def kexec_file_load(kho: KhoV4) -> int:
    """kexec_file_load(2): the kernel, then (kho_fill_kimage) the KHO DT copy and scratch."""
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    blob = await atomic(_fill_kimage)(kho)
    image = add_buffer(Kimage(True, ()), "kernel", KERNEL_IMAGE_SIZE, b"\x7fELF")
    if blob is not None:
        image = add_buffer(image, "kho-fdt", len(blob), blob)
        image = add_buffer(image, "kho-scratch", 16 * kho.scratch_cnt)
    await atomic(_store_and_unlock)(kho, image)
    return 0


async def _store_and_unlock(kho: KhoV4, image: Kimage) -> None:
    await store(kho.image, image)
    await kexec_unlock(kho.kexec_lock)


def _machine_kexec(values, tid):
    image, pages, ghost, _, _ = values[:5]
    watched = values[5:]
    return (image, pages, ghost, True, Handover(image, pages, ghost, watched)) + watched, None


async def kernel_kexec(kho: KhoV4) -> int:
    """reboot(LINUX_REBOOT_CMD_KEXEC): v4 does nothing KHO-specific here."""
    return await kexec.kernel_kexec(
        kho, (kho.image, kho.heap.pages, kho.ghost, kho.heap.halted, kho.handover)
        + tuple(kho.watched), _machine_kexec)


# -- the next kernel (patch 06/14) ------------------------------------------------------------

class NextKernel(NamedTuple):
    revived: bool
    reason: str
    fdt: FdtTree | None
    reserved: frozenset = frozenset()     # PFNs memblock_reserve'd from mem properties
    order: tuple = ()                     # ((pfn, order), ...) of each described range


def mem_ranges(tree: FdtTree) -> tuple:
    """Every ``(addr, size)`` of every ``mem`` property in the tree, depth first."""
    out = []
    value = prop(tree, "mem")
    if value is not None:
        for off in range(0, len(value) - len(value) % KHO_MEM_SIZE, KHO_MEM_SIZE):
            out.append((int.from_bytes(value[off:off + 8], "little"),
                        int.from_bytes(value[off + 8:off + 16], "little")))
    for child in tree.children:
        out.extend(mem_ranges(child))
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def boot_from(blob: bytes | None, nr_pages: int) -> NextKernel:
    """kho_populate and the reservation of every ``mem`` range (a bad range is refused)."""
    if blob is None:
        return NextKernel(False, "no KHO DT in the image (kho_fill_kimage saw KHO inactive)",
                          None)
    parsed = unflatten(blob)
    if parsed.tree is None:
        return NextKernel(False, f"disabling KHO revival: {parsed.reason}", None)
    fdt = parsed.tree
    if prop(fdt, "compatible") != KHO_FDT_COMPATIBLE:
        return NextKernel(False, "disabling KHO revival: root is not compatible with "
                                 "\"kho-v1\"", fdt)
    reserved = set()
    order = {}
    limit = nr_pages << PAGE_SHIFT
    for addr, size in mem_ranges(fdt):
        if addr % PAGE_SIZE or size % PAGE_SIZE or not size or addr + size > limit:
            return NextKernel(False, f"mem range {addr:#x}+{size:#x} is not pages of memory",
                              fdt)
        pfn = addr >> PAGE_SHIFT
        reserved.update(range(pfn, pfn + (size >> PAGE_SHIFT)))
        order[pfn] = (size >> PAGE_SHIFT).bit_length() - 1
    return NextKernel(True, "", fdt, frozenset(reserved), tuple(sorted(order.items())))


def segment_blob(image: Kimage) -> bytes | None:
    seg = image.segment("kho-fdt")
    return seg.data if seg is not None else None


def boot(h: Handover) -> NextKernel:
    return boot_from(segment_blob(h.image), len(h.pages))


def kho_get_node(nk: NextKernel, name: str) -> FdtTree | None:
    if not nk.revived:
        return None
    return next((c for c in nk.fdt.children if c.name == name), None)


class Restorer(NamedTuple):
    """kho_claim_mem over the described ranges (v4 keeps no restore-once state)."""

    nk: NextKernel

    def restore_folio(self, phys: int):
        if phys % PAGE_SIZE:
            return None, self
        return dict(self.nk.order).get(phys >> PAGE_SHIFT), self
