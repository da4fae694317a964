"""KHO in 6.19, the LUO era: no notifiers, a root FDT edited in place, a re-runnable finalize.

Mirrors torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd function by function:

* ``struct kho_out { fdt; finalized; lock; track }``; the tracker's ``__kho_preserve_order``
  (a new ``kho_mem_phys`` is kzalloc'd, xa_init'ed and installed with ``xa_cmpxchg``, the loser
  frees its own), ``xa_load_or_alloc`` (bitmaps are ``get_zeroed_page``s since a2fff99f92da,
  PRESERVE_BITS = PAGE_SIZE * 8), ``__kho_unpreserve_order`` (WARN and return when nothing is
  tracked), ``kho_preserve_folio`` / ``kho_unpreserve_folio`` - with no KHO lock and no
  ``finalized`` check (de51999e687c "allow preservation updates after finalization");
* ``kho_alloc_preserve`` and ``kho_init`` / ``kho_out_fdt_setup``: the root FDT is a preserved
  page whose ``preserved-memory-map`` starts at 0;
* ``kho_add_subtree`` / ``kho_remove_subtree`` under ``kho_out.lock`` (8e068a286aef), the
  debugfs entry's failure only WARNs (the fix of the use-after-free Pratyush Yadav found in the
  review of 20251022005719.3670224-4-pasha.tatashin@soleen.com; the earlier behaviour is the
  mutant ``subtree-error-keeps-node``);
* ``kho_mem_serialize`` (the chunk list points at the live bitmaps), ``kho_update_memory_map``
  (frees the previously published list, then stores the new address), ``kho_finalize`` under
  ``kho_out.lock``, re-runnable (9a4301f715c8 "remove abort, support state refresh");
* debugfs ``finalize`` (kernel/liveupdate/kexec_handover_debugfs.c@5add3c3c280a): a write of 1
  calls kho_finalize() - no kexec lock;
* ``kho_fill_kimage``: ``image->kho.fdt`` is the root page whatever the state (d7255959b69a
  "allow kexec load before finalization");
* ``kernel_kexec`` (kexec_trylock) -> ``liveupdate_reboot`` (kernel/liveupdate/luo_core.c@
  cab056f2aae7: session serialization, then kho_finalize, its error mapped to -EAGAIN;
  db8bed8082dc) -> machine_kexec.

The next kernel (kho_populate, kho_get_mem_map_phys, kho_mem_deserialize, kho_retrieve_subtree,
kho_restore_folio with the page magic) is :func:`boot` / :func:`retrieve_subtree` /
:func:`restore_folio` below; a memory map of 0 disables revival.

Facts and review context: ../shared/reference/kho-semantics.md §1, §2.6, §3.2, §5, §6.

Model notes:

* ``kho_init`` runs as the first steps of the scenario's ``kho_init`` task; every other task
  waits for it (fs_initcall runs before module_init and before userspace).
* xa_for_each over the tracker is one step (a snapshot at one instant, :func:`v5.xa_entries`):
  the kernel's RCU walk may also see an entry inserted during the walk, which only makes it
  less lossy; the loss the checks find needs an insertion after the walk has finished.  With
  the scenarios' small PFNs every bitmap index is 0, so v5's chunk writer (PRESERVE_BITS of 512
  bytes in ``phys_start``) writes the same chunks as 6.19's.
* An edit of the root FDT under kho_out.lock (fdt_open_into ... fdt_pack) is one step; the
  lock itself is taken and released in steps of their own, so machine_kexec, which takes no
  KHO lock, can happen while another task holds it.  Torn FDT edits are not modelled.
* The scratch-overlap WARNs are not modelled: the allocator never places KHO memory in scratch.

Ghost state (read only by properties): the PFNs KHO accepted to preserve (updated in the step of
the ``set_bit`` / ``clear_bit`` that makes a preserve or unpreserve take effect) and the
subtrees ``kho_add_subtree`` returned 0 for and ``kho_remove_subtree`` has not removed.

Mutants (``mutants=``): see :data:`MUTANTS`.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, _heap_modify, _heap_read, folio_alloc, folio_put, free_page, get_zeroed_page, heap_modify, kfree, kzalloc, may_allocate, read_phys
from khomc.kernel.bitops import _clear, _set
from khomc.kernel.errno import EAGAIN, EBUSY, EINVAL, ENOENT, ENOMEM
from khomc.kernel import kexec
from khomc.kernel.kexec import Kimage, add_buffer
from khomc.kernel.locking import KexecLock, Mutex, kexec_trylock, kexec_unlock, mutex_lock, mutex_unlock
from khomc.kernel.xarray import XArray, xa_cmpxchg, xa_load
from khomc.runtime.effects import Op, Update, atomic, load, store
from khomc.runtime.spec import Model
from khomc.kho import rootfdt
from khomc.kho.v5 import kexec_handover as v5
from khomc.kho.fdt import find, prop, unflatten
from khomc.kho.v5.kexec_handover_in import NextKernel, _deserialize, refused

KHO_FDT_COMPATIBLE = "kho-v1"
MAP_PROP = "preserved-memory-map"
SUB_PROP = "fdt"
BITMAP_BYTES = PAGE_SIZE                     # struct kho_mem_phys_bits is one page
PRESERVE_BITS = PAGE_SIZE * 8
SIZEOF_KHO_MEM_PHYS = 16
KERNEL_IMAGE_SIZE = 1 << 16

MUTANTS = {
    "subtree-error-keeps-node":
        "kho_add_subtree returns the debugfs error but leaves the subtree linked (the revision "
        "Pratyush Yadav reviewed in reply to 20251022005719.3670224-4-pasha.tatashin@soleen.com)",
    "update-map-no-free":
        "kho_update_memory_map does not free the previous chunk list (a leak, never a UAF)",
}


class Ghost(NamedTuple):
    promised: frozenset = frozenset()   # PFNs KHO accepted to preserve and has not released
    subtrees: tuple = ()                # ((name, phys), ...) accepted and not removed, sorted


class KhoImage(NamedTuple):
    """A kexec_file_load'ed image: the segments and ``image->kho.fdt``."""

    kimage: Kimage
    kho_fdt: int


class Handover(NamedTuple):
    """The machine at machine_kexec: the image, all of memory, the ghost."""

    image: KhoImage
    pages: tuple
    ghost: Ghost


class K619:
    """``kho_out`` of one 6.19 scenario: handles on its world slots, and the era's API."""

    era = "k6.19"
    compatible = KHO_FDT_COMPATIBLE
    sub_prop = SUB_PROP
    has_finalize = True

    def __init__(self, model: Model, heap: Heap, mutants: frozenset = frozenset(),
                 luo: bool = True):
        unknown = set(mutants) - set(self.mutants_known())
        if unknown:
            raise ValueError(f"unknown {self.era} mutants {sorted(unknown)}; "
                             f"known: {sorted(self.mutants_known())}")
        self.heap = heap
        self.mutants = frozenset(mutants)
        self.luo = luo
        self.lock = Mutex.new(model, "kho_out.lock")
        self.fdt = model.var("kho_out.fdt", 0)
        self.ready = model.var("kho_init.done", False)
        self.kexec_lock = KexecLock.new(model, "__kexec_lock")
        self.image = model.var("kexec_image", None)
        self.ghost = model.var("ghost", Ghost())
        self.handover = model.var("handover", None)
        self._tracker_vars(model)

    def _tracker_vars(self, model: Model) -> None:
        self.finalized = model.var("kho_out.finalized", False)
        self.orders = XArray.at_var(model.var("kho_mem_track.orders", ()))

    @classmethod
    def mutants_known(cls) -> dict:
        return MUTANTS

    def __repr__(self):
        return "kho_out"

    # -- the era's API, as drivers call it (the adapter of model/drivers) -------------------
    async def preserve_folio(self, phys: int, order: int) -> int:
        return await kho_preserve_folio(self, phys, order)

    async def unpreserve_folio(self, phys: int, order: int) -> None:
        await kho_unpreserve_folio(self, phys, order)

    async def add_subtree(self, name: str, fdt: int) -> int:
        return await kho_add_subtree(self, name, fdt)

    async def remove_subtree(self, fdt: int) -> None:
        await kho_remove_subtree(self, fdt)

    async def finalize(self) -> int:
        return await kho_finalize(self)

    async def debugfs_finalize(self, val: int) -> int:
        return await kho_out_finalize_set(self, val)

    async def kexec_file_load(self) -> int:
        return await kexec_file_load(self)

    async def kernel_kexec(self) -> int:
        return await kernel_kexec(self)

    def boot(self, handover: Handover) -> NextKernel:
        return boot(handover, self.compatible)

    @staticmethod
    def root_blob(handover: Handover) -> bytes:
        return root_blob(handover)

    @staticmethod
    def retrieve_subtree(nk: NextKernel, name: str, sub_prop: str = SUB_PROP) -> int:
        return retrieve_subtree(nk, name, sub_prop)

    @staticmethod
    def restore_folio(nk: NextKernel, phys: int, restored: set) -> int | None:
        return restore_folio(nk, phys, restored)


# -- ghost updates, in the step of the access that makes them true --------------------------------

def _promise(ghost: Ghost, obs, pfns: frozenset) -> Ghost:
    return ghost._replace(promised=ghost.promised | pfns)


def _release(ghost: Ghost, obs, pfns: frozenset) -> Ghost:
    return ghost._replace(promised=ghost.promised - pfns)


def _subtree_added(ghost: Ghost, err, name: str, phys: int) -> Ghost:
    if err:
        return ghost
    return ghost._replace(subtrees=tuple(sorted(ghost.subtrees + ((name, phys),))))


def _subtree_removed(ghost: Ghost, obs, name, phys: int) -> Ghost:
    return ghost._replace(subtrees=tuple(s for s in ghost.subtrees if s[1] != phys))


def _modify_noting(values, tid, heap, addr, site, fn, args, note, note_args):
    new_heap, obs = _heap_modify(values[:3], tid, heap, addr, site, fn, args)
    return new_heap + (note(values[3], obs, *note_args),), obs


def modify_noting(kho, addr: int, site: str, fn, args: tuple, note, note_args: tuple,
                  text: str) -> Op:
    """A KASAN-checked write of the object at *addr* and, in the same step, the ghost update
    ``note(ghost, observation, *note_args)``."""
    heap = kho.heap
    return Op(heap.vars + (kho.ghost,), _modify_noting, heap, addr, site, fn, args, note,
              note_args, text=text)


def pfns(pfn: int, order: int) -> frozenset:
    return frozenset(range(pfn, pfn + (1 << order)))


# -- kho_init ---------------------------------------------------------------------------------

def _wait_ready(ready, tid):
    return None if not ready else (ready, None)


async def kho_wait_ready(kho) -> None:
    """Block until kho_init has run (initcall ordering: fs_initcall before module_init)."""
    await Update(kho.ready, _wait_ready, text="wait for kho_init (fs_initcall)")


async def kho_alloc_preserve(kho, order: int, site: str) -> int:
    """A zeroed folio of *order*, preserved: its address, or a negative errno."""
    folio = await folio_alloc(kho.heap, order, site)
    if not folio:
        return -ENOMEM
    err = await kho.preserve_folio(folio, order)
    if err:
        await folio_put(kho.heap, folio, site)
        return err
    return folio


def _write_blob(data, blob):
    return blob, None


async def kho_out_fdt_setup(kho, root: int) -> None:
    await heap_modify(kho.heap, root, "kho_out_fdt_setup", _write_blob,
                      rootfdt.setup(kho.compatible, MAP_PROP, await initial_map(kho)))


async def initial_map(kho) -> int:
    """The memory-map value kho_out_fdt_setup writes: 0 in 6.19 (7.1: the radix root)."""
    return 0


async def kho_init(kho) -> int:
    err = await type(kho).tracker_init(kho)
    if err:
        return err
    root = await kho_alloc_preserve(kho, 0, "kho_init")
    if root < 0:
        return root
    await store(kho.fdt, root)
    await type(kho).fdt_setup(kho, root)
    await store(kho.ready, True)
    return 0


async def _no_tracker_init(kho) -> int:
    return 0


K619.fdt_setup = staticmethod(kho_out_fdt_setup)
K619.tracker_init = staticmethod(_no_tracker_init)


# -- the tracker (6.19) --------------------------------------------------------------------------

async def xa_load_or_alloc(kho, xa: XArray, index: int) -> int:
    res = await xa_load(xa, index)
    if res:
        return res
    elm = await get_zeroed_page(kho.heap, "xa_load_or_alloc")
    if not elm:
        return -ENOMEM
    res = await xa_cmpxchg(xa, index, None, elm)
    if res:
        await free_page(kho.heap, elm, "xa_load_or_alloc")   # __free(free_page) of the loser
        return res
    return elm


async def __kho_preserve_order(kho, pfn: int, order: int) -> int:
    pfn_high = pfn >> order
    physxa = await xa_load(kho.orders, order)
    if not physxa:
        new_physxa = await kzalloc(kho.heap, SIZEOF_KHO_MEM_PHYS, "__kho_preserve_order")
        if not new_physxa:
            return -ENOMEM
        physxa = await xa_cmpxchg(kho.orders, order, None, new_physxa)
        if physxa:
            await kfree(kho.heap, new_physxa, "__kho_preserve_order")
        else:
            physxa = new_physxa
    bits = await xa_load_or_alloc(kho, v5.phys_bits(kho, physxa), pfn_high // PRESERVE_BITS)
    if bits < 0:
        return bits
    await modify_noting(kho, bits, "__kho_preserve_order", _set, (pfn_high % PRESERVE_BITS,),
                        _promise, (pfns(pfn, order),),
                        f"set_bit({pfn_high % PRESERVE_BITS}) in __kho_preserve_order")
    return 0


async def __kho_unpreserve_order(kho, pfn: int, order: int) -> None:
    pfn_high = pfn >> order
    physxa = await xa_load(kho.orders, order)
    if not physxa:
        return                                          # WARN_ON_ONCE
    bits = await xa_load(v5.phys_bits(kho, physxa), pfn_high // PRESERVE_BITS)
    if not bits:
        return                                          # WARN_ON_ONCE
    await modify_noting(kho, bits, "__kho_unpreserve_order", _clear, (pfn_high % PRESERVE_BITS,),
                        _release, (pfns(pfn, order),),
                        f"clear_bit({pfn_high % PRESERVE_BITS}) in __kho_unpreserve_order")


async def kho_preserve_folio(kho, phys: int, order: int) -> int:
    return await __kho_preserve_order(kho, phys >> PAGE_SHIFT, order)


async def kho_unpreserve_folio(kho, phys: int, order: int) -> None:
    await __kho_unpreserve_order(kho, phys >> PAGE_SHIFT, order)


# -- subtrees -------------------------------------------------------------------------------------

def _fdt_add(data, name, sub_prop, phys):
    return rootfdt.add_subtree(data if isinstance(data, bytes) else b"", name, sub_prop, phys)


def _fdt_remove(data, sub_prop, phys):
    return rootfdt.remove_subtree(data if isinstance(data, bytes) else b"", sub_prop, phys), None


async def kho_add_subtree(kho, name: str, fdt: int) -> int:
    await mutex_lock(kho.lock)
    root = await load(kho.fdt)
    err = await modify_noting(kho, root, "kho_add_subtree", _fdt_add, (name, kho.sub_prop, fdt),
                              _subtree_added, (name, fdt),
                              f"kho_add_subtree({name!r}, {fdt:#x}): fdt_add_subnode+setprop")
    if not err and not await may_allocate(kho.heap, "kho_debugfs_fdt_add"):
        if "subtree-error-keeps-node" in kho.mutants:
            await Op((kho.ghost,), _ghost_only, _subtree_removed, (name, fdt),
                     text="kho_add_subtree returns the debugfs error")
            err = -ENOMEM                   # the node stays in the root FDT
        # 6.19: WARN_ON_ONCE(kho_debugfs_fdt_add(...)), the subtree stays and 0 is returned
    await mutex_unlock(kho.lock)
    return err


def _ghost_only(values, tid, note, args):
    return (note(values[0], None, *args),), None


async def kho_remove_subtree(kho, fdt: int) -> None:
    await mutex_lock(kho.lock)
    root = await load(kho.fdt)
    await modify_noting(kho, root, "kho_remove_subtree", _fdt_remove, (kho.sub_prop, fdt),
                        _subtree_removed, (None, fdt), f"kho_remove_subtree({fdt:#x})")
    await mutex_unlock(kho.lock)


# -- finalize -------------------------------------------------------------------------------------

def _read_map(values, tid, heap, addr, site):
    new_values, data = _heap_read(values, tid, heap, addr, site)
    value = rootfdt.get_u64(data, MAP_PROP) if isinstance(data, bytes) and data else None
    return new_values, value or 0


def _set_map(data, phys):
    return rootfdt.set_u64(data, MAP_PROP, phys), None


async def kho_update_memory_map(kho, first: int) -> None:
    root = await load(kho.fdt)
    heap = kho.heap
    old = await Op(heap.vars, _read_map, heap, root, "kho_update_memory_map",
                   text="phys = get_unaligned(preserved-memory-map)")
    if old and "update-map-no-free" not in kho.mutants:
        await v5.kho_mem_ser_free(kho, old)
    await heap_modify(heap, root, "kho_update_memory_map", _set_map, first)


async def kho_finalize(kho) -> int:
    await mutex_lock(kho.lock)
    first = await v5.kho_mem_serialize(kho)
    if first < 0:
        await mutex_unlock(kho.lock)
        return first
    await kho_update_memory_map(kho, first)
    await store(kho.finalized, True)
    await mutex_unlock(kho.lock)
    return 0


async def kho_out_finalize_set(kho, val: int) -> int:
    """``echo val > /sys/kernel/debug/kho/out/finalize``: 0 is -EINVAL, else kho_finalize()."""
    if not val:
        return -EINVAL
    return await kho.finalize()


# -- kexec ----------------------------------------------------------------------------------------

async def _kexec_file_load(kho) -> int:
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    root = await load(kho.fdt)
    image = add_buffer(Kimage(True, ()), "kernel", KERNEL_IMAGE_SIZE, b"\x7fELF")
    image = add_buffer(image, "kho-scratch", 16)
    await store(kho.image, KhoImage(image, root))
    await kexec_unlock(kho.kexec_lock)
    return 0


async def kexec_file_load(kho) -> int:
    """kexec_file_load(2) with kho_fill_kimage: ``image->kho.fdt`` = the root page, plus the
    scratch segment.  One step: under the kexec lock it touches only the image."""
    await kho_wait_ready(kho)
    return await atomic(_kexec_file_load)(kho)


async def liveupdate_reboot(kho) -> int:
    """luo_core.c: serialize the sessions (no LUO file in these scenarios), then kho_finalize;
    a failure becomes -EAGAIN.  A no-op when LUO is disabled."""
    if not kho.luo:
        return 0
    err = await luo_session_serialize(kho)
    if err or not kho.has_finalize:
        return err
    err = await kho.finalize()
    return -EAGAIN if err else 0


async def luo_session_serialize(kho) -> int:
    return 0


def _machine_kexec(values, tid):
    image, pages, ghost, _, _ = values
    return (image, pages, ghost, True, Handover(image, pages, ghost)), None


async def kernel_kexec(kho) -> int:
    """reboot(LINUX_REBOOT_CMD_KEXEC): liveupdate_reboot, then machine_kexec."""
    return await kexec.kernel_kexec(
        kho, (kho.image, kho.heap.pages, kho.ghost, kho.heap.halted, kho.handover),
        _machine_kexec, lambda kho, image: liveupdate_reboot(kho))


# -- the next kernel ------------------------------------------------------------------------------

def root_blob(h: Handover) -> bytes:
    return read_phys(h.pages, h.image.kho_fdt, PAGE_SIZE)


def boot(h: Handover, compatible: str = KHO_FDT_COMPATIBLE) -> NextKernel:
    """kho_populate + kho_memory_init on what the old kernel left: the FDT at image->kho.fdt."""
    parsed = unflatten(root_blob(h))
    if parsed.tree is None:
        return refused(f"disabling KHO revival: {parsed.reason}")
    fdt = parsed.tree
    if prop(fdt, "compatible") != compatible.encode() + b"\0":
        return refused(f"disabling KHO revival: root is not compatible with {compatible!r}", fdt)
    mem = prop(fdt, MAP_PROP)
    if mem is None or len(mem) != 8:
        return refused("failed to get preserved memory bitmaps", fdt)
    phys = int.from_bytes(mem, "little")
    if not phys:
        return refused("disabling KHO revival: preserved-memory-map is 0 (kho_finalize never "
                       "ran)", fdt)
    return _deserialize(fdt, phys, h.pages, BITMAP_BYTES)


def retrieve_subtree(nk: NextKernel, name: str, sub_prop: str = SUB_PROP) -> int:
    """kho_retrieve_subtree: the subtree's physical address, -ENOENT or -EINVAL."""
    if not nk.revived:
        return -ENOENT
    node = find(nk.fdt, (name,))
    if node is None:
        return -ENOENT
    val = prop(node, sub_prop)
    if val is None or len(val) != 8:
        return -EINVAL
    return int.from_bytes(val, "little")


def restore_folio(nk: NextKernel, phys: int, restored: set) -> int | None:
    """kho_restore_folio: the folio's order, or None (no KHO magic at that page: never
    preserved, not a head, or restored before - the magic is cleared on restore)."""
    if phys % PAGE_SIZE:
        return None
    pfn = phys >> PAGE_SHIFT
    order = dict(nk.order).get(pfn)
    if order is None or pfn in restored:
        return None
    restored.add(pfn)
    return order


__all__ = ["K619", "Ghost", "Handover", "KhoImage", "MUTANTS", "kho_init", "kho_wait_ready",
           "kho_alloc_preserve", "kho_preserve_folio", "kho_unpreserve_folio", "kho_add_subtree",
           "kho_remove_subtree", "kho_finalize", "kho_out_finalize_set", "kexec_file_load",
           "kernel_kexec", "boot", "retrieve_subtree", "restore_folio", "modify_noting", "pfns"]
