"""KHO in 6.19, the LUO era: kernel/liveupdate/kexec_handover.c, both halves.

Mirrors torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd, function by function
(module-level functions named as in the C, calling each other by bare name):

* ``struct kho_out { fdt; finalized; lock; track }`` (:func:`kho_out_vars`); the tracker's
  ``xa_load_or_alloc`` (a ``get_zeroed_page`` per bitmap, freed by ``__free(free_page)`` when
  another task installed one first; PRESERVE_BITS = PAGE_SIZE * 8), ``__kho_preserve_order`` (a
  new ``kho_mem_phys`` is kzalloc'd and installed with ``xa_cmpxchg``, the loser kfree's its
  own), ``__kho_unpreserve_order`` (WARN and return when nothing is tracked),
  ``__kho_unpreserve``, ``kho_preserve_folio`` / ``kho_unpreserve_folio`` /
  ``kho_preserve_pages`` / ``kho_unpreserve_pages`` - no KHO lock and no ``finalized`` check
  (de51999e687c);
* ``kho_alloc_preserve`` / ``kho_unpreserve_free``;
* vmalloc preservation (36f8f7ef7fd2's unpreserve, as dd03dd60e8cd has it): ``struct
  kho_vmalloc_chunk`` (a page: ``hdr.next`` then ``phys[KHO_VMALLOC_SIZE]``),
  ``vmalloc_flags_to_kho`` / ``kho_flags_to_vmalloc``, ``new_vmalloc_chunk`` (get_zeroed_page,
  ``kho_preserve_pages(chunk, 1)`` - free_page and NULL on error - and ``cur->hdr.next``),
  ``kho_vmalloc_unpreserve_chunk`` (``__kho_unpreserve`` of the chunk page, then of each non-zero
  ``phys[i]`` for ``1 << order`` pages), ``kho_preserve_vmalloc`` (-EINVAL without a vm area,
  -EOPNOTSUPP for other flags, -ENOMEM without a first chunk stored in ``preservation->first``;
  each ``1 << order`` block through ``kho_preserve_pages`` and recorded, a new chunk when one is
  full (-ENOMEM if that fails); ``err_free`` is ``kho_unpreserve_vmalloc(preservation)``, which
  reads the caller's ``preservation->order``: total_pages, flags and order are stored only on
  success) and ``kho_unpreserve_vmalloc`` (each chunk unpreserved, ``hdr.next`` read, then
  free_page); the caller's ``struct kho_vmalloc`` is the tuple ``(first, total_pages, flags,
  order)`` the call returns (no other task reads it while the call runs); a vm area is a
  :class:`VmStruct` (its order-0 pages, VM_ALLOC).  Bound: the areas the scenarios preserve
  (memfd's folios_ser, test_kho's folios_info) are one page, so no chunk fills its 511 entries;
  memfd-luo's ``chunk=N`` lowers ``ARRAY_SIZE(chunk->phys)`` (:func:`vmalloc_size`) to reach the
  in-loop ``new_vmalloc_chunk`` and its -ENOMEM (the loop's statements are the same at every
  bound).  The next kernel's kho_restore_vmalloc keeps 511: a chunk is a get_zeroed_page'd page
  whose entries past the lowered bound are never written, so its walk stops at the same entry;
* ``new_chunk``, ``kho_mem_ser_free``, ``kho_update_memory_map`` (frees the previously published
  chunk list, then stores the new address), ``kho_mem_serialize`` (calls
  kho_update_memory_map itself; on a failed chunk allocation frees the list it built),
  ``kho_finalize`` under ``kho_out.lock`` (re-runnable, 9a4301f715c8);
* ``kho_add_subtree`` / ``kho_remove_subtree`` under ``kho_out.lock`` (8e068a286aef): the
  ``fdt_setprop`` error is returned raw and the node it was set on stays (fixed much later,
  9ec953298948); the debugfs entry's failure only WARNs;
* ``kho_out_fdt_setup`` / ``kho_init`` (fs_initcall): the root FDT is a kho_alloc_preserve'd
  page whose ``preserved-memory-map`` starts at 0;
* ``kho_fill_kimage``: ``image->kho.fdt`` is the root page whatever the state (d7255959b69a),
  then the scratch array's segment; ``kho_walk_scratch`` / ``kho_locate_mem_hole`` place every
  kexec segment top-down in a kho_scratch[] area (near the end of this file);
* the next kernel: ``kho_populate`` + ``kho_get_mem_map_phys`` + ``kho_mem_deserialize`` and
  ``deserialize_bitmap`` as written (:func:`boot`): no check of what the chunks say - an order
  above MAX_PAGE_ORDER, an unaligned ``phys_start`` or a ``num_elms`` past the page are walked
  as the C walks them (x86-64 shifts, khomc.kernel.bitops); only where the C would fault (a
  read or a ``page->private`` write outside the machine's memory, a NULL bitmap) or hang (a
  chunk list that cycles) does the model stop, as a crash of the next kernel;
  ``kho_retrieve_subtree``, ``kho_restore_folio`` with the page magic,
  ``kho_restore_pages`` (steps by ``min(ctz, ilog2)``, not by the order found),
  ``kho_restore_vmalloc`` (flags checked; every chunk's pages restored with
  ``kho_restore_pages(phys, 1 << order)``, NULL past ``total_pages`` or on a page without magic;
  the chunk page restored and freed after ``hdr.next`` is read; NULL unless exactly
  ``total_pages``; pages restored before a NULL stay restored) and ``kho_restore_free``.

The other files of the era: kexec_handover_debugfs.py (the ``finalize`` file), luo_core.py
(``liveupdate_reboot``), and ``kernel_kexec`` (kernel/kexec_core.c, here below) which calls it.

Facts and review context: ../shared/reference/kho-semantics.md §1, §2.6, §3.2, §5, §6.

Architecture: x86-64 (LP64).  The range walks store ``min(count_trailing_zeros(pfn), ilog2(end_pfn -
pfn))`` in an ``unsigned int`` and shift by it; for PFN 0 that is 0xffffffff (count_trailing_zeros(0) is
-1), and a shift by at least the operand's width, undefined in C, is computed as x86-64 executes it
(count mod 32 for an ``int``, mod 64 for an ``unsigned long``; arm64's LSLV/LSRV do the same for these
operands) - khomc.kernel.bitops.  Only a range starting at PFN 0 reaches such a count.

Abstractions (none can change a verdict of the scenarios):

* ``kho_init`` runs as the first steps of the scenario's ``kho_init`` task and every other task
  waits for it (:func:`kho_wait_ready`): fs_initcall runs before module_init and userspace.
* xa_for_each over the tracker is one step (a snapshot at one instant): the kernel's RCU walk
  may also see an entry inserted during the walk, which only makes it less lossy; the loss the
  checks find needs an insertion after the walk has finished.  A chunk's body is written in one
  step once complete: nobody can read a chunk before its address is published.
* An edit of the root FDT under kho_out.lock (fdt_open_into ... fdt_pack) is one step; the
  lock itself is taken and released in steps of their own, so machine_kexec, which takes no
  KHO lock, can happen while another task holds it.  Torn FDT edits are not modelled.
* ``kho_scratch_overlap`` always answers false: the model's allocator never places memory in
  scratch (a promise checks the allocator side; see model/promises/luo.py).
* ``kho_enable`` is true (the scenarios boot with ``kho=on``); debugfs init and the root's
  debugfs entry cannot fail (only ``kho_debugfs_fdt_add`` of a subtree is an allocation
  failure choice: it decides nothing but a WARN here).

Ghost state (read only by properties): the PFNs KHO accepted to preserve (updated in the step of
the ``set_bit`` / ``clear_bit`` that makes a preserve or unpreserve take effect) and the
subtrees ``kho_add_subtree`` returned 0 for and ``kho_remove_subtree`` has not removed.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, _heap_modify, _heap_read, folio_alloc, folio_put, free_page, get_zeroed_page, heap_modify, heap_read_bytes, kfree, kzalloc, may_allocate, memcpy_to, read_phys
from khomc.kernel.bitops import _clear, _set, c_uint, c_ulong, count_trailing_zeros, ilog2, shl_int, shl_ulong, shr_ulong
from khomc.kernel.errno import EBUSY, EINVAL, ENOENT, ENOMEM

EOPNOTSUPP = 95                             # not in khomc.kernel.errno (owned elsewhere)

E2BIG = 7                                   # not in khomc.kernel.errno (owned elsewhere)
from khomc.kernel import kexec
from khomc.kernel.kexec import Kimage, add_buffer
from khomc.kernel.locking import KexecLock, Mutex, kexec_trylock, kexec_unlock, mutex_lock, mutex_unlock
from khomc.kernel.xarray import XArray, xa_cmpxchg, xa_entries, xa_load
from khomc.runtime.effects import Op, Update, atomic, load, store
from khomc.runtime.spec import Model
from khomc.kho import rootfdt
from khomc.kho.fdt import find, prop, unflatten
from khomc.kho.v5.kexec_handover_in import MAX_PAGE_ORDER, NextKernel, refused
from khomc.kho.k6_18.vmalloc import KHO_VMALLOC_ALLOC, KHO_VMALLOC_HUGE_VMAP, KHO_VMALLOC_SIZE, KHO_VMALLOC_SUPPORTED_FLAGS, VM_ALLOC, VM_ALLOW_HUGE_VMAP, VmStruct, kho_flags_to_vmalloc, vmalloc_flags_to_kho, vmalloc_size  # noqa: F401  (a667300bd53f's, unchanged)

KHO_FDT_COMPATIBLE = "kho-v1"
PROP_PRESERVED_MEMORY_MAP = "preserved-memory-map"
PROP_SUB_FDT = "fdt"
PRESERVE_BITS = PAGE_SIZE * 8               # struct kho_mem_phys_bits is one page
SIZEOF_KHO_MEM_PHYS = 16                    # struct kho_mem_phys { struct xarray phys_bits; }
CHUNK_HDR = 16                              # next (u64), order (u32), num_elms (u32)
CHUNK_ELM = 16                              # phys_start (u64), bitmap (u64)
KHOSER_BITMAP_SIZE = (PAGE_SIZE - CHUNK_HDR) // CHUNK_ELM
KERNEL_IMAGE_SIZE = 1 << 16

MUTANTS = {
    "subtree-error-keeps-node":
        "kho_add_subtree returns the debugfs error but leaves the subtree linked (the revision "
        "Pratyush Yadav reviewed in reply to 20251022005719.3670224-4-pasha.tatashin@soleen.com)",
    "update-map-no-free":
        "kho_update_memory_map does not free the previous chunk list (a leak, never a UAF)",
    "serialize-rwsem":
        "not a flaw but the fix posted in May 2026 (\"liveupdate: block session mutations during "
        "reboot\", v6, kexec list 2026-May/036473.html; in no era): luo_session_serialize_rwsem",
    "memfd-index-unset":
        "memfd_luo_preserve_folios leaves pfolio->index 0 for every folio (the next kernel's "
        "retrieve puts every page at offset 0)",
    "vmalloc-chunk-err-unset":
        "kho_preserve_vmalloc leaves err 0 when the in-loop new_vmalloc_chunk fails, as 6.18 "
        "has it (kernel/kexec_handover.c@a4a508df2aa3): the caller is told its area is preserved "
        "after every chunk was freed (reach it with memfd-luo -D chunk=1 -D fail_allocs=1)",
    "vmalloc-unwind-own-order":
        "not a flaw but a fix (in no era): kho_preserve_vmalloc's err_free unpreserves with the "
        "area's own order instead of the caller's preservation->order, which is stored only on "
        "success (vmalloc-huge-unwind then holds)",
    "memfd-nr-folios-unset":
        "memfd_luo_preserve leaves ser->nr_folios 0 (the next kernel retrieves an empty file and "
        "its finish gives no folio back)",
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


class KhoOut:
    """The world slots of one scenario's kernel (``kho_out``, the kexec lock and image, the
    ghost) and the linked era *kernel* (a :class:`khomc.kho.ledger.Kernel`) whose functions run
    on them.  The methods are the calls drivers make (``kho.preserve_folio`` ...); each is the
    kernel function of the same name in *kernel*, so a delta that replaces it is what runs."""

    def __init__(self, model: Model, heap: Heap, kernel, mutants: frozenset = frozenset(),
                 luo: bool = True):
        unknown = set(mutants) - set(kernel.MUTANTS)
        if unknown:
            raise ValueError(f"unknown {kernel.ERA.name} mutants {sorted(unknown)}; "
                             f"known: {sorted(kernel.MUTANTS)}")
        self.k = kernel
        self.era = kernel.ERA.name
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
        # ARRAY_SIZE(struct kho_vmalloc_chunk::phys) of this build; 0: the kernel's (header)
        self.vmalloc_size = 0
        kernel.kho_out_vars(self, model)

    def __repr__(self):
        return "kho_out"

    @property
    def compatible(self) -> str:
        return self.k.KHO_FDT_COMPATIBLE

    @property
    def sub_prop(self) -> str:
        return self.k.PROP_SUB_FDT

    @property
    def has_finalize(self) -> bool:
        return self.k.HAS_FINALIZE

    # -- the calls drivers and the operator make ------------------------------------------------
    async def preserve_folio(self, phys: int, order: int) -> int:
        return await self.k.kho_preserve_folio(self, phys, order)

    async def unpreserve_folio(self, phys: int, order: int) -> None:
        await self.k.kho_unpreserve_folio(self, phys, order)

    async def preserve_pages(self, phys: int, nr_pages: int) -> int:
        return await self.k.kho_preserve_pages(self, phys, nr_pages)

    async def unpreserve_pages(self, phys: int, nr_pages: int) -> None:
        await self.k.kho_unpreserve_pages(self, phys, nr_pages)

    async def alloc_preserve(self, size: int, site: str) -> int:
        return await self.k.kho_alloc_preserve(self, size, site)

    async def add_subtree(self, name: str, fdt: int, size: int = PAGE_SIZE) -> int:
        return await self.k.add_subtree_call(self, name, fdt, size)

    async def remove_subtree(self, fdt: int) -> None:
        await self.k.kho_remove_subtree(self, fdt)

    async def debugfs_finalize(self, val: int) -> int:
        return await self.k.kho_out_finalize_set(self, val)

    async def kexec_file_load(self) -> int:
        return await self.k.kexec_file_load(self)

    async def kernel_kexec(self) -> int:
        return await self.k.kernel_kexec(self)

    # -- the next kernel ---------------------------------------------------------------------
    def boot(self, handover: Handover) -> NextKernel:
        return self.k.boot(handover)

    def root_blob(self, handover: Handover) -> bytes:
        return self.k.root_blob(handover)

    def retrieve_subtree(self, nk: NextKernel, name: str) -> int:
        return self.k.kho_retrieve_subtree(nk, name)

    def restore_folio(self, nk: NextKernel, phys: int, restored: set) -> int | None:
        return self.k.kho_restore_folio(nk, phys, restored)

    def restore_pages(self, nk: NextKernel, phys: int, nr_pages: int, restored: set) -> bool:
        return self.k.kho_restore_pages(nk, phys, nr_pages, restored)


HAS_FINALIZE = True


def kho_out_vars(kho, model: Model) -> None:
    """``struct kho_out``'s tracker: ``finalized`` and ``track.orders``."""
    kho.finalized = model.var("kho_out.finalized", False)
    kho.orders = XArray.at_var(model.var("kho_mem_track.orders", ()))


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


def _ghost_only(values, tid, note, args):
    return (note(values[0], None, *args),), None


def pfns(pfn: int, order: int) -> frozenset:
    """Ghost: the PFNs a tracker record of (*pfn*, *order*) stands for - the pages the next
    kernel's ``memblock_reserve(phys, 1 << (order + PAGE_SHIFT))`` keeps from the buddy
    allocator (``int`` shift, PFN_UP of its end): ``1 << order`` pages for every order a folio
    or a range block of a non-zero PFN gets, and one page for PFN 0's order 0xffffffff
    (``1 << 11`` bytes: see count_trailing_zeros).

    >>> sorted(pfns(4, 1)), sorted(pfns(0, 0xffffffff))
    ([4, 5], [0])
    """
    sz = c_ulong(shl_int(1, c_uint(order + PAGE_SHIFT)))
    return frozenset(range(pfn, pfn + -(-sz // PAGE_SIZE)))


def get_order(size: int) -> int:
    order = 0
    while (PAGE_SIZE << order) < size:
        order += 1
    return order


def kho_scratch_overlap(phys: int, size: int) -> bool:
    return False                     # the model's allocator never hands out scratch memory


def _wait_ready(ready, tid):
    return None if not ready else (ready, None)


async def kho_wait_ready(kho) -> None:
    """Block until kho_init has run (initcall ordering: fs_initcall before module_init)."""
    await Update(kho.ready, _wait_ready, text="wait for kho_init (fs_initcall)")


# -- the tracker ----------------------------------------------------------------------------------

def phys_bits(kho, physxa: int) -> XArray:
    return XArray.in_object(kho.heap, physxa, "phys_bits")


async def xa_load_or_alloc(kho, xa: XArray, index: int) -> int:
    res = await xa_load(xa, index)
    if res:
        return res
    elm = await get_zeroed_page(kho.heap, "xa_load_or_alloc")
    if not elm:
        return -ENOMEM
    if kho_scratch_overlap(elm, PAGE_SIZE):
        await free_page(kho.heap, elm, "xa_load_or_alloc")
        return -EINVAL
    res = await xa_cmpxchg(xa, index, None, elm)
    if res:
        await free_page(kho.heap, elm, "xa_load_or_alloc")   # __free(free_page) of the loser
        return res
    return elm


async def __kho_unpreserve_order(kho, pfn: int, order: int) -> None:
    pfn_high = shr_ulong(pfn, order)
    physxa = await xa_load(kho.orders, order)
    if not physxa:
        return                                          # WARN_ON_ONCE
    bits = await xa_load(phys_bits(kho, physxa), pfn_high // PRESERVE_BITS)
    if not bits:
        return                                          # WARN_ON_ONCE
    await modify_noting(kho, bits, "__kho_unpreserve_order", _clear, (pfn_high % PRESERVE_BITS,),
                        _release, (pfns(pfn, order),),
                        f"clear_bit({pfn_high % PRESERVE_BITS}) in __kho_unpreserve_order")


async def __kho_unpreserve(kho, pfn: int, end_pfn: int) -> None:
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        await __kho_unpreserve_order(kho, pfn, order)
        pfn = c_ulong(pfn + shl_int(1, order))


async def __kho_preserve_order(kho, pfn: int, order: int) -> int:
    pfn_high = shr_ulong(pfn, order)
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
    bits = await xa_load_or_alloc(kho, phys_bits(kho, physxa), pfn_high // PRESERVE_BITS)
    if bits < 0:
        return bits
    await modify_noting(kho, bits, "__kho_preserve_order", _set, (pfn_high % PRESERVE_BITS,),
                        _promise, (pfns(pfn, order),),
                        f"set_bit({pfn_high % PRESERVE_BITS}) in __kho_preserve_order")
    return 0


async def kho_preserve_folio(kho, phys: int, order: int) -> int:
    pfn = phys >> PAGE_SHIFT
    if kho_scratch_overlap(pfn << PAGE_SHIFT, PAGE_SIZE << order):
        return -EINVAL
    return await __kho_preserve_order(kho, pfn, order)


async def kho_unpreserve_folio(kho, phys: int, order: int) -> None:
    await __kho_unpreserve_order(kho, phys >> PAGE_SHIFT, order)


async def kho_preserve_pages(kho, phys: int, nr_pages: int) -> int:
    start_pfn = phys >> PAGE_SHIFT
    end_pfn = start_pfn + nr_pages
    pfn = start_pfn
    failed_pfn = 0
    err = 0
    if kho_scratch_overlap(start_pfn << PAGE_SHIFT, nr_pages << PAGE_SHIFT):
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


async def kho_unpreserve_pages(kho, phys: int, nr_pages: int) -> None:
    start_pfn = phys >> PAGE_SHIFT
    await __kho_unpreserve(kho, start_pfn, start_pfn + nr_pages)


# -- vmalloc preservation (kho_preserve_vmalloc and its chunks) ------------------------------------
#
# struct kho_vmalloc_chunk is one page: hdr.next (a KHOSER pointer, u64) then phys[KHO_VMALLOC_SIZE].
# struct kho_vmalloc (the caller's ``preservation``) is (first, total_pages, flags, order) here.

# The flags, the vm area and the chunk size: khomc.kho.k6_18.vmalloc (a667300bd53f, unchanged).

SIZEOF_KHO_VMALLOC = 16
KHO_VMALLOC_WALK_MAX = 64                  # the next kernel's chunk walk bound (header)


def kho_vmalloc_blob(preservation: tuple) -> bytes:
    """``struct kho_vmalloc`` as bytes: first (u64), total_pages (u32), flags, order (u16)."""
    first, total, flags, order = preservation
    return (first.to_bytes(8, "little") + total.to_bytes(4, "little")
            + flags.to_bytes(2, "little") + order.to_bytes(2, "little"))


def kho_vmalloc_unblob(data: bytes) -> tuple:
    return (int.from_bytes(data[0:8], "little"), int.from_bytes(data[8:12], "little"),
            int.from_bytes(data[12:14], "little"), int.from_bytes(data[14:16], "little"))


async def new_vmalloc_chunk(kho, cur: int) -> int:
    chunk = await get_zeroed_page(kho.heap, "new_vmalloc_chunk")
    if not chunk:
        return 0
    err = await kho_preserve_pages(kho, chunk, 1)
    if err:
        await free_page(kho.heap, chunk, "new_vmalloc_chunk")     # err_free
        return 0
    if cur:
        await memcpy_to(kho.heap, cur, chunk.to_bytes(8, "little"), "new_vmalloc_chunk")
    return chunk


async def kho_vmalloc_unpreserve_chunk(kho, chunk: int, order: int) -> None:
    pfn = chunk >> PAGE_SHIFT
    await __kho_unpreserve(kho, pfn, pfn + 1)
    i = 0
    while i < vmalloc_size(kho):
        raw = await heap_read_bytes(kho.heap, chunk + 8 + 8 * i, 8, "kho_vmalloc_unpreserve_chunk")
        phys = int.from_bytes(raw, "little")
        if not phys:
            break
        pfn = phys >> PAGE_SHIFT
        await __kho_unpreserve(kho, pfn, pfn + (1 << order))
        i += 1


async def kho_preserve_vmalloc(kho, vm, preservation: tuple):
    """``(err, *preservation as the call leaves it)``.  *vm* is find_vm_area's answer (a
    :class:`VmStruct`, or None for an address that is no vmalloc area)."""
    if vm is None:
        return -EINVAL, preservation
    if vm.flags & ~KHO_VMALLOC_SUPPORTED_FLAGS:
        return -EOPNOTSUPP, preservation
    flags = vmalloc_flags_to_kho(vm.flags)
    order = vm.order
    chunk = await new_vmalloc_chunk(kho, 0)
    if not chunk:
        return -ENOMEM, preservation
    preservation = (chunk,) + tuple(preservation[1:])       # KHOSER_STORE_PTR(->first, chunk)
    nr_contig_pages = 1 << order
    idx = 0
    err = 0
    err_free = False                                         # a ``goto err_free`` was taken
    i = 0
    while i < len(vm.pages):
        phys = vm.pages[i]
        err = await kho_preserve_pages(kho, phys, nr_contig_pages)
        if err:
            err_free = True
            break
        await memcpy_to(kho.heap, chunk, phys.to_bytes(8, "little"), "kho_preserve_vmalloc",
                        8 + 8 * idx)
        idx += 1
        if idx == vmalloc_size(kho):
            chunk = await new_vmalloc_chunk(kho, chunk)
            if not chunk:
                if "vmalloc-chunk-err-unset" not in kho.mutants:
                    err = -ENOMEM
                err_free = True
                break
            idx = 0
        i += nr_contig_pages
    if err_free:
        if "vmalloc-unwind-own-order" in kho.mutants:
            preservation = tuple(preservation[:3]) + (order,)
        await kho_unpreserve_vmalloc(kho, preservation)      # err_free: reads ->order as given
        return err, preservation
    return 0, (preservation[0], len(vm.pages), flags, order)


async def kho_unpreserve_vmalloc(kho, preservation: tuple) -> None:
    chunk = preservation[0]
    while chunk:
        tmp = chunk
        await kho_vmalloc_unpreserve_chunk(kho, chunk, preservation[3])
        raw = await heap_read_bytes(kho.heap, chunk, 8, "kho_unpreserve_vmalloc")
        chunk = int.from_bytes(raw, "little")
        await free_page(kho.heap, tmp, "kho_unpreserve_vmalloc")


async def kho_alloc_preserve(kho, size: int, site: str) -> int:
    """A zeroed folio big enough for *size* bytes, preserved: its address or -errno
    (the ERR_PTR)."""
    if not size:
        return -EINVAL
    order = get_order(size)
    if order > MAX_PAGE_ORDER:
        return -E2BIG
    folio = await folio_alloc(kho.heap, order, site)
    if not folio:
        return -ENOMEM
    ret = await kho_preserve_folio(kho, folio, order)
    if ret:
        await folio_put(kho.heap, folio, site)
        return ret
    return folio


async def kho_unpreserve_free(kho, mem: int, order: int, site: str) -> None:
    if not mem:
        return
    await kho_unpreserve_folio(kho, mem, order)
    await folio_put(kho.heap, mem, site)


# -- serialization (kho_finalize) -------------------------------------------------------------------

def chunk_body(order: int, elms: tuple) -> bytes:
    """``hdr.order``, ``hdr.num_elms`` and the bitmaps[] of a khoser_mem_chunk (after hdr.next)."""
    out = order.to_bytes(4, "little") + len(elms).to_bytes(4, "little")
    for phys_start, bitmap in elms:
        out += phys_start.to_bytes(8, "little") + bitmap.to_bytes(8, "little")
    return out


async def new_chunk(kho, cur: int) -> int:
    chunk = await get_zeroed_page(kho.heap, "new_chunk")
    if chunk and cur:
        await memcpy_to(kho.heap, cur, chunk.to_bytes(8, "little"), "new_chunk")
    return chunk


async def kho_mem_ser_free(kho, first: int) -> None:
    chunk = first
    while chunk:
        head = await heap_read_bytes(kho.heap, chunk, 8, "kho_mem_ser_free")
        await free_page(kho.heap, chunk, "kho_mem_ser_free")
        chunk = int.from_bytes(head, "little")


def _read_map(values, tid, heap, addr, site):
    new_values, data = _heap_read(values, tid, heap, addr, site)
    value = rootfdt.get_u64(data, PROP_PRESERVED_MEMORY_MAP) \
        if isinstance(data, bytes) and data else None
    return new_values, value or 0


def _set_map(data, phys):
    return rootfdt.set_u64(data, PROP_PRESERVED_MEMORY_MAP, phys), None


async def kho_update_memory_map(kho, first: int) -> None:
    root = await load(kho.fdt)
    heap = kho.heap
    old = await Op(heap.vars, _read_map, heap, root, "kho_update_memory_map",
                   text="phys = get_unaligned(preserved-memory-map)")
    if old and "update-map-no-free" not in kho.mutants:
        await kho_mem_ser_free(kho, old)
    await heap_modify(heap, root, "kho_update_memory_map", _set_map, first)


async def kho_mem_serialize(kho) -> int:
    orders = await xa_entries(kho.orders)
    first = 0
    chunk = 0
    i = 0
    while i < len(orders):
        order, physxa = orders[i]
        chunk = await new_chunk(kho, chunk)
        if not chunk:
            await kho_mem_ser_free(kho, first)
            return -ENOMEM
        if not first:
            first = chunk
        bitmaps = await xa_entries(phys_bits(kho, physxa))
        elms = ()
        j = 0
        while j < len(bitmaps):
            if len(elms) == KHOSER_BITMAP_SIZE:
                await memcpy_to(kho.heap, chunk, chunk_body(order, elms), "kho_mem_serialize", 8)
                chunk = await new_chunk(kho, chunk)
                if not chunk:
                    await kho_mem_ser_free(kho, first)
                    return -ENOMEM
                elms = ()
            idx, bits = bitmaps[j]
            elms = elms + ((shl_ulong(idx * PRESERVE_BITS, order + PAGE_SHIFT), bits),)
            j += 1
        await memcpy_to(kho.heap, chunk, chunk_body(order, elms), "kho_mem_serialize", 8)
        i += 1
    await kho_update_memory_map(kho, first)
    return 0


async def kho_finalize(kho) -> int:
    await mutex_lock(kho.lock)
    ret = await kho_mem_serialize(kho)
    if ret:
        await mutex_unlock(kho.lock)
        return ret
    await store(kho.finalized, True)
    await mutex_unlock(kho.lock)
    return 0


# -- subtrees -------------------------------------------------------------------------------------

def _fdt_add(data, name, sub_prop, phys):
    return rootfdt.add_subtree(data if isinstance(data, bytes) else b"", name, sub_prop, phys)


def _fdt_remove(data, sub_prop, phys):
    return rootfdt.remove_subtree(data if isinstance(data, bytes) else b"", sub_prop, phys), None


async def kho_add_subtree(kho, name: str, fdt: int) -> int:
    await mutex_lock(kho.lock)
    root = await load(kho.fdt)
    err = await modify_noting(kho, root, "kho_add_subtree", _fdt_add, (name, PROP_SUB_FDT, fdt),
                              _subtree_added, (name, fdt),
                              f"kho_add_subtree({name!r}, {fdt:#x}): fdt_add_subnode+setprop")
    if not err and await kho_debugfs_fdt_add(kho, name, fdt, False):
        if "subtree-error-keeps-node" in kho.mutants:
            await Op((kho.ghost,), _ghost_only, _subtree_removed, (name, fdt),
                     text="kho_add_subtree returns the debugfs error")
            err = -ENOMEM                   # the node stays in the root FDT
        # 6.19: WARN_ON_ONCE(kho_debugfs_fdt_add(...)), the subtree stays and 0 is returned
    await mutex_unlock(kho.lock)
    return err


async def add_subtree_call(kho, name: str, blob: int, size: int) -> int:
    """How a client's ``kho_add_subtree`` call reads in this era: ``(name, fdt)``."""
    return await kho_add_subtree(kho, name, blob)


async def kho_remove_subtree(kho, fdt: int) -> None:
    await mutex_lock(kho.lock)
    root = await load(kho.fdt)
    await modify_noting(kho, root, "kho_remove_subtree", _fdt_remove, (PROP_SUB_FDT, fdt),
                        _subtree_removed, (None, fdt), f"kho_remove_subtree({fdt:#x})")
    await mutex_unlock(kho.lock)


# -- kho_init (fs_initcall) ---------------------------------------------------------------------

def _write_blob(data, blob):
    return blob, None


async def kho_out_fdt_setup(kho, root: int) -> int:
    """*root* is ``kho_out.fdt``, which kho_init has just stored (its own write, read back
    without a step: no other task runs before kho_init is done)."""
    await heap_modify(kho.heap, root, "kho_out_fdt_setup", _write_blob,
                      rootfdt.setup(KHO_FDT_COMPATIBLE, PROP_PRESERVED_MEMORY_MAP, 0))
    return 0


async def kho_init(kho) -> int:
    """On an error the C disables KHO (``kho_out.fdt = NULL``, ``kho_enable = false``); the
    model's other tasks then stay blocked in :func:`kho_wait_ready` (a scenario that lets
    kho_init fail shows it as a deadlock; the default scenarios do not)."""
    fdt = await kho_alloc_preserve(kho, PAGE_SIZE, "kho_init")
    if fdt < 0:
        return fdt                       # err_free_scratch: kho_enable = false
    await store(kho.fdt, fdt)
    err = await kho_out_fdt_setup(kho, fdt)
    if err:
        await kho_unpreserve_free(kho, fdt, 0, "kho_init")
        await store(kho.fdt, 0)
        return err
    await store(kho.ready, True)
    return 0


# -- kexec (kho_fill_kimage, kernel/kexec_core.c's kernel_kexec) ------------------------------

async def _kexec_file_load(kho) -> int:
    """kimage_file_prepare_segments: kho_fill_kimage before the image load handler places
    the kernel (kernel/kexec_file.c); an error fails the load, no image installed."""
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    err, image, root = await kho_fill_kimage(kho, Kimage(True, ()))
    if not err:
        err, image = kexec.kexec_add_buffer(image, KERNEL_KBUF, _locate)
    if not err:
        await store(kho.image, KhoImage(image, root))
    await kexec_unlock(kho.kexec_lock)
    return err


async def kexec_file_load(kho) -> int:
    """kexec_file_load(2) with kho_fill_kimage: ``image->kho.fdt`` = the root page, plus the
    scratch segment.  One step: under the kexec lock it touches only the image."""
    await kho_wait_ready(kho)
    return await atomic(_kexec_file_load)(kho)


def _machine_kexec(values, tid):
    image, pages, ghost, _, _ = values
    return (image, pages, ghost, True, Handover(image, pages, ghost)), None


async def _reboot_prepare(kho, image) -> int:
    return await liveupdate_reboot(kho)


async def kernel_kexec(kho) -> int:
    """reboot(LINUX_REBOOT_CMD_KEXEC): under kexec_trylock, liveupdate_reboot (luo_core.py),
    then machine_kexec."""
    return await kexec.kernel_kexec(
        kho, (kho.image, kho.heap.pages, kho.ghost, kho.heap.halted, kho.handover),
        _machine_kexec, _reboot_prepare)


# -- the next kernel ------------------------------------------------------------------------------

def root_blob(h: Handover) -> bytes:
    return read_phys(h.pages, h.image.kho_fdt, PAGE_SIZE)


def kho_get_mem_map_phys(fdt) -> int:
    mem = prop(fdt, PROP_PRESERVED_MEMORY_MAP)
    if mem is None or len(mem) != 8:
        return 0                                      # "failed to get preserved memory bitmaps"
    return int.from_bytes(mem, "little")


class _Oops(Exception):
    """The next kernel faults or hangs in kho_mem_deserialize: the message says where."""


def _boot_read(pages: tuple, phys: int, size: int, what: str) -> bytes:
    if phys + size > len(pages) << PAGE_SHIFT:
        raise _Oops(f"{what}: read of {size} bytes at {phys:#x} is outside memory")
    return read_phys(pages, phys, size)


def deserialize_bitmap(order: int, phys_start: int, bitmap: int, pages: tuple,
                       reserved: set, private: dict) -> None:
    """For each set bit of the page-sized bitmap: ``int sz = 1 << (order + PAGE_SHIFT)``,
    ``phys = elm->phys_start + (bit << (order + PAGE_SHIFT))`` (an unsigned int order),
    memblock_reserve(phys, sz) and the page's magic and order in ``page->private``."""
    if not bitmap:
        raise _Oops("NULL bitmap pointer dereferenced in deserialize_bitmap")
    bits = int.from_bytes(_boot_read(pages, bitmap, PAGE_SIZE, "bitmap->preserve"), "little")
    shift = c_uint(order + PAGE_SHIFT)
    sz = c_ulong(shl_int(1, shift))                # memblock_reserve's phys_addr_t size
    while bits:
        bit = (bits & -bits).bit_length() - 1
        bits &= bits - 1
        phys = c_ulong(phys_start + shl_ulong(bit, shift))
        pfn = phys >> PAGE_SHIFT
        if pfn >= len(pages):
            raise _Oops(f"page->private write for pfn {pfn:#x}, past the memmap")
        # memblock_reserve(phys, sz): PFN_DOWN(phys) .. PFN_UP(phys + sz) stay out of the
        # buddy allocator; PFNs past the machine change nothing a property reads
        reserved.update(range(pfn, min(-(-(phys + sz) // PAGE_SIZE), len(pages))))
        private[pfn] = order


def kho_mem_deserialize(fdt, first: int, pages: tuple) -> NextKernel:
    """Every chunk from *first* (``preserved-memory-map``): ``for (i = 0; i !=
    chunk->hdr.num_elms; i++) deserialize_bitmap(chunk->hdr.order, &chunk->bitmaps[i])``, then
    ``hdr.next``.  The chunk pages are KHO's metadata (the promises' ``metadata``)."""
    reserved: set = set()
    metadata: set = set()
    private: dict = {}
    chunk = first
    seen: set = set()
    try:
        while chunk:
            if chunk in seen:
                raise _Oops(f"hang: the chunk list cycles back to {chunk:#x}")
            seen.add(chunk)
            hdr = _boot_read(pages, chunk, CHUNK_HDR, "chunk->hdr")
            metadata.add(chunk >> PAGE_SHIFT)
            order = int.from_bytes(hdr[8:12], "little")
            num_elms = int.from_bytes(hdr[12:16], "little")
            i = 0
            while i != num_elms:
                elm = _boot_read(pages, chunk + CHUNK_HDR + i * CHUNK_ELM, CHUNK_ELM,
                                 f"chunk->bitmaps[{i}]")
                deserialize_bitmap(order, int.from_bytes(elm[0:8], "little"),
                                   int.from_bytes(elm[8:16], "little"), pages, reserved, private)
                i += 1
            chunk = int.from_bytes(hdr[0:8], "little")
    except _Oops as oops:
        return NextKernel(False, f"next kernel crashes: {oops}", fdt, frozenset(reserved),
                          frozenset(metadata), tuple(sorted(private.items())), str(oops))
    return NextKernel(True, "", fdt, frozenset(reserved), frozenset(metadata),
                      tuple(sorted(private.items())))


def boot(h: Handover) -> NextKernel:
    """kho_populate + kho_memory_init on what the old kernel left: the FDT at image->kho.fdt."""
    parsed = unflatten(root_blob(h))
    if parsed.tree is None:
        return refused(f"disabling KHO revival: {parsed.reason}")
    fdt = parsed.tree
    if prop(fdt, "compatible") != KHO_FDT_COMPATIBLE.encode() + b"\0":
        return refused(f"disabling KHO revival: root is not compatible with "
                       f"{KHO_FDT_COMPATIBLE!r}", fdt)
    phys = kho_get_mem_map_phys(fdt)
    if not phys:
        return refused("disabling KHO revival: preserved-memory-map is 0 (kho_finalize never "
                       "ran)", fdt)
    return kho_mem_deserialize(fdt, phys, h.pages)


def kho_retrieve_subtree(nk: NextKernel, name: str, sub_prop: str | None = None) -> int:
    """The subtree's physical address, -ENOENT or -EINVAL."""
    if not nk.revived:
        return -ENOENT
    node = find(nk.fdt, (name,))
    if node is None:
        return -ENOENT
    val = prop(node, sub_prop or PROP_SUB_FDT)
    if val is None or len(val) != 8:
        return -EINVAL
    return int.from_bytes(val, "little")


def kho_restore_folio(nk: NextKernel, phys: int, restored: set) -> int | None:
    """kho_restore_folio: the folio's order, or None (no KHO magic at that page: never
    preserved, not a head, or restored before - the magic is cleared on restore)."""
    if phys % PAGE_SIZE:
        return None
    pfn = phys >> PAGE_SHIFT
    order = dict(nk.order).get(pfn)
    if order is None or order > MAX_PAGE_ORDER or pfn in restored:
        return None                       # WARN_ON_ONCE(magic, order)
    restored.add(pfn)
    return order


def kho_restore_page(nk: NextKernel, phys: int, restored: set) -> int | None:
    """The page's recorded order if it carries the KHO magic (cleared by this restore), else
    None (WARN_ON_ONCE(magic != KHO_PAGE_MAGIC || order > MAX_PAGE_ORDER))."""
    return kho_restore_folio(nk, phys, restored)


def kho_restore_pages(nk: NextKernel, phys: int, nr_pages: int, restored: set) -> bool:
    """kho_restore_pages: walk ``[pfn, pfn + nr_pages)`` in the same
    ``min(ctz(pfn), ilog2(end - pfn))`` steps as kho_preserve_pages and restore each head;
    False (NULL) at the first page without the magic.  Like the C it does not compare the
    order found in the page with the step's order."""
    start_pfn = phys >> PAGE_SHIFT
    end_pfn = start_pfn + nr_pages
    pfn = start_pfn
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        if kho_restore_page(nk, pfn << PAGE_SHIFT, restored) is None:
            return False
        pfn = c_ulong(pfn + shl_int(1, order))
    return True


# -- scratch placement of kexec segments (kho_fill_kimage, kho_walk_scratch, kho_locate_mem_hole) --
# kernel/liveupdate/kexec_handover.c@dd03dd60e8cd as in 6.16 (kernel/kexec_file.c's
# kexec_add_buffer and hole search: khomc.kernel.kexec); unchanged in the stored radix-tree
# (7.1) version of the file, so no 7.1 or mainline delta.  kho_scratch[] is three 1 MiB areas
# above every numbered page (kho_reserve_scratch's lowmem, global and node areas; the model's
# allocator never hands out scratch memory, see kho_scratch_overlap).

kho_scratch = ((kexec.SCRATCH_BASE, 1 << 20), (kexec.SCRATCH_BASE + (1 << 20), 1 << 20),
               (kexec.SCRATCH_BASE + (2 << 20), 1 << 20))
KERNEL_KBUF = kexec.KexecBuf("kernel", b"\x7fELF", 4, KERNEL_IMAGE_SIZE, kexec.SZ_64K)


async def kho_fill_kimage(kho, image: Kimage):
    """(err, image, image->kho.fdt): the root page whatever the state (d7255959b69a), then
    the scratch array through kexec_add_buffer (64 KiB aligned, top-down)."""
    root = await load(kho.fdt)                    # image->kho.fdt = virt_to_phys(kho_out.fdt)
    scratch_size = 16 * len(kho_scratch)          # sizeof(*kho_scratch) * kho_scratch_cnt
    blob = b"".join(a.to_bytes(8, "little") + n.to_bytes(8, "little") for a, n in kho_scratch)
    scratch = kexec.KexecBuf("kho-scratch", blob, scratch_size, scratch_size, kexec.SZ_64K,
                             buf_max=kexec.ULONG_MAX, top_down=True)
    err, image = kexec.kexec_add_buffer(image, scratch, _locate)
    if err:
        return err, image, root
    return 0, image, root


def kho_walk_scratch(image: Kimage, kbuf, func):
    ret, mem = 0, None
    i = 0
    while i < len(kho_scratch):
        addr, size = kho_scratch[i]
        ret, mem = func(image, (addr, addr + size - 1), kbuf)
        if ret:
            break
        i += 1
    return ret, mem


def kho_locate_mem_hole(image: Kimage, kbuf, func):
    """1 for a crash image (kho_enable is true here); else 0 and the hole in scratch, or
    -EADDRNOTAVAIL.  Candidates are checked against the other segments only."""
    if kbuf.image_type == kexec.KEXEC_TYPE_CRASH:
        return 1, None
    ret, mem = kho_walk_scratch(image, kbuf, func)
    return (0, mem) if ret == 1 else (-kexec.EADDRNOTAVAIL, None)


def _locate(image: Kimage, kbuf, func):
    """kexec_locate_mem_hole's call of kho_locate_mem_hole, by name (the linked era's)."""
    return kho_locate_mem_hole(image, kbuf, func)


def kho_restore_vmalloc(nk: NextKernel, pages: tuple, preservation: tuple, restored: set):
    """kho_restore_vmalloc: the area's pages (physical addresses, in order) or None (NULL).

    Like the C, pages restored before a failure stay restored (their magic is cleared; the C
    leaks them), and each chunk page is restored then freed after its ``hdr.next`` is read.
    Model bound: a chunk address outside the machine's memory, or a walk of more than
    :data:`KHO_VMALLOC_WALK_MAX` chunks (only a corrupted list gets there), is None - the
    kernel would fault or walk on."""
    chunk, total_pages, pflags, order = preservation
    vm_flags = kho_flags_to_vmalloc(pflags)
    if vm_flags & ~KHO_VMALLOC_SUPPORTED_FLAGS:
        return None
    out = []                                    # pages = kvmalloc_array(total_pages, ...)
    contig_pages = 1 << order
    walked = 0
    while chunk:
        if chunk % PAGE_SIZE or chunk + PAGE_SIZE > len(pages) * PAGE_SIZE or \
                walked >= KHO_VMALLOC_WALK_MAX:
            return None
        walked += 1
        data = read_phys(pages, chunk, PAGE_SIZE)
        i = 0
        while i < KHO_VMALLOC_SIZE:
            phys = int.from_bytes(data[8 + 8 * i:16 + 8 * i], "little")
            if not phys:
                break
            if len(out) + contig_pages > total_pages:
                return None                     # err_free_pages_array
            if not kho_restore_pages(nk, phys, contig_pages, restored):
                return None
            out.extend(phys + j * PAGE_SIZE for j in range(contig_pages))
            i += 1
        if not kho_restore_pages(nk, chunk, 1, restored):
            return None
        chunk = int.from_bytes(data[0:8], "little")   # then __free_page(page)
    if len(out) != total_pages:
        return None
    return tuple(out)                           # __get_vm_area_node + vmap_pages_range succeed


def kho_restore_free(nk: NextKernel, mem: int, restored: set) -> bool:
    """kho_restore_free: restore the folio at *mem* and put it; False where the C WARNs (no
    KHO magic there)."""
    if not mem:
        return True
    return kho_restore_folio(nk, mem, restored) is not None


# model/scenarios/v5_recursive.py (h3) calls these two by their former names.
retrieve_subtree = kho_retrieve_subtree
restore_folio = kho_restore_folio
