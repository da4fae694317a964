"""KHO in 7.1: the preserved-memory radix tree handed over directly, no finalize ("stateless").

Two deltas on :mod:`khomc.kho.k6_19` (torvalds/linux:kernel/liveupdate/kexec_handover.c@
019fc3687237 is the era's commit; ABI include/linux/kho/abi/kexec_handover.h@3f2ad90060f6):

* :data:`D_3f2ad90060f6` "kho: adopt radix tree for preserved memory tracking" -
  ``struct kho_out`` gets ``radix_tree { root; lock }`` (:func:`kho_out_vars`);
  ``kho_radix_encode_key`` / ``kho_radix_get_table_index`` / ``kho_radix_get_bitmap_index``;
  ``kho_radix_add_page``: ``node = tree->root`` and its WARN are read before
  ``guard(mutex)(&tree->lock)``; under the mutex, descend levels 5..1, allocating each missing
  node with ``get_zeroed_page`` and linking it with ``node->table[idx] = phys``; on a failed
  allocation free the nodes made and clear the anchor link; then ``__set_bit`` in the leaf;
  ``kho_radix_del_page``: the same descent, WARN and return at a missing node, ``__clear_bit``,
  empty nodes never freed; ``kho_preserve_folio`` / ``kho_unpreserve_folio``,
  ``kho_preserve_pages`` (split by ``min(ctz(pfn), ilog2(end - pfn))``, unwinding
  ``[start, failed)`` on an error), ``kho_unpreserve_pages`` and ``__kho_unpreserve`` on the
  tree; the vmalloc functions are 6.19's (model/kho/k6_19/kexec_handover.py), which reach the
  tree through ``kho_preserve_pages`` / ``__kho_unpreserve`` by name - 019fc3687237 has them
  statement for statement as dd03dd60e8cd does, read at both commits, but for the tree argument;
  ``kho_out_fdt_setup``: ``compatible = "kho-v2"``, ``preserved-memory-map`` = the tree root;
  subtrees carry ``preserved-data``; next kernel: ``kho_mem_retrieve`` walks the tree
  (``kho_radix_walk_tree``) and reserves every set bit (``kho_preserved_memory_reserve``).
* :data:`D_6b0dd42d7681` "kho: remove finalize state and clients" - ``liveupdate_reboot`` no
  longer calls kho_finalize; the debugfs ``finalize`` file is gone (kexec_handover_debugfs.c@
  062dd306d99c): a write to it fails to open, -ENOENT.  kho_finalize and the chunk-list code
  the commits delete stay in the linked namespace, called by nothing.

Not a delta: 019fc3687237 itself ("kho: fix KASAN support for restored vmalloc regions", the
era's commit) changes only how kho_restore_vmalloc maps the restored area (``VM_UNINITIALIZED``,
``kasan_unpoison_vmalloc``, ``clear_vm_uninitialized_flag``): the model's next kernel keeps no
KASAN tags for vmalloc mappings, so the restore's pages and its NULL cases are the same before
and after it.

Architecture: x86-64 (LP64).  The range walks store ``min(count_trailing_zeros(pfn), ilog2(end_pfn -
pfn))`` in an ``unsigned int`` and shift by it; for PFN 0 that is 0xffffffff (count_trailing_zeros(0) is
-1), and a shift by at least the operand's width, undefined in C, is computed as x86-64 executes it
(count mod 32 for an ``int``, mod 64 for an ``unsigned long``; arm64's LSLV/LSRV do the same for these
operands) - khomc.kernel.bitops.  Only a range starting at PFN 0 reaches such a count.

Abstractions: the descent of add/del is one step taken after ``mutex_lock(tree->lock)`` (the
lock and unlock are steps of their own).  Every tree access but one is made under that lock:
the exception, machine_kexec's snapshot of memory, can only observe a partly linked path of
zeroed nodes, which carries no set bit, so the next kernel reserves the same set from it as
from the state before or after the descent.  ``tree->root`` (and its WARN) is read before the
lock in the C and inside the descent's step here: kho_init writes it once before any other task
runs, so where it is read cannot matter.

Facts: ../shared/reference/kho-semantics.md §2.7, §3.3, §5 (Mike Rapoport on never freeing
intermediate nodes, kexec list 2026-January/034745.html).
"""

from __future__ import annotations

import struct
from itertools import compress

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, free_page, get_zeroed_page, kfree, kzalloc, heap_modify, heap_read_bytes, memcpy_to, read_phys
from khomc.kernel.bitops import _clear, _set, c_uint, c_ulong, shl_int, shl_ulong, shr_ulong
from khomc.kernel.errno import EINVAL, ENOENT, ENOMEM
from khomc.kernel.locking import Mutex, mutex_lock, mutex_unlock
from khomc.runtime.effects import atomic, load, store
from khomc.runtime.spec import Model
from khomc.kho import rootfdt
from khomc.kho.fdt import prop, unflatten
from khomc.kho.ledger import Delta
from khomc.kho.k6_19.kexec_handover import PROP_PRESERVED_MEMORY_MAP, Handover, _promise, _release, count_trailing_zeros, ilog2, kho_scratch_overlap, modify_noting, pfns, root_blob
from khomc.kho.v5.kexec_handover_in import MAX_PAGE_ORDER, NextKernel, refused
from khomc.kho.k6_19.luo_core import liveupdate_enabled_now
from khomc.kho.k6_19.luo_flb import luo_flb_serialize
from khomc.kho.k6_19.luo_session import luo_session_serialize
from khomc.kho.k6_19.kexec_handover import kho_alloc_preserve, kho_unpreserve_free

D_3f2ad90060f6 = Delta("3f2ad90060f6", "kho: adopt radix tree for preserved memory tracking")
D_6b0dd42d7681 = Delta("6b0dd42d7681", "kho: remove finalize state and clients")

KHO_ORDER_0_LOG2 = 64 - PAGE_SHIFT
KHO_TABLE_SIZE_LOG2 = 9                    # 512 u64 entries in a node
KHO_BITMAP_SIZE_LOG2 = PAGE_SHIFT + 3      # a leaf is one page of bits
KHO_TREE_MAX_DEPTH = 6                     # levels 5..1 are tables, 0 the bitmap (4 KiB pages)


def encode_key(phys: int, order: int) -> int:
    """kho_radix_encode_key.

    >>> hex(encode_key(0x3000, 0))
    '0x10000000000003'
    >>> hex(encode_key(0, 0xffffffff))      # PFN 0's range order: 52 - 0xffffffff is 53
    '0x20000000000000'
    """
    h = shl_ulong(1, c_uint(KHO_ORDER_0_LOG2 - order))     # 1UL << (int - unsigned int)
    l = shr_ulong(phys, c_uint(PAGE_SHIFT + order))
    return h | l


def decode_key(key: int) -> tuple:
    """kho_radix_decode_key: ``(phys, order)``.

    >>> decode_key(encode_key(0x4000, 1))
    (16384, 1)
    >>> decode_key(1 << 53)                 # fls64 54: order 0xffffffff, key << 11 is 0
    (0, 4294967295)
    """
    order = c_uint(KHO_ORDER_0_LOG2 - key.bit_length() + 1)  # *order: unsigned int
    return shl_ulong(key, c_uint(PAGE_SHIFT + order)), order


def table_index(key: int, level: int) -> int:
    return (key >> ((level - 1) * KHO_TABLE_SIZE_LOG2 + KHO_BITMAP_SIZE_LOG2)) % \
        (1 << KHO_TABLE_SIZE_LOG2)


def bitmap_index(key: int) -> int:
    return key % (1 << KHO_BITMAP_SIZE_LOG2)


D_3f2ad90060f6.sets(KHO_FDT_COMPATIBLE="kho-v2", PROP_SUB_FDT="preserved-data")
D_6b0dd42d7681.sets(HAS_FINALIZE=False)


@D_3f2ad90060f6.replaces
def kho_out_vars(kho, model: Model) -> None:
    """``struct kho_out``: ``finalized`` stays, ``track`` becomes ``radix_tree { root; lock }``."""
    kho.finalized = model.var("kho_out.finalized", False)
    kho.tree_lock = Mutex.new(model, "kho_out.radix_tree.lock")
    kho.tree_root = model.var("kho_out.radix_tree.root", 0)


@D_3f2ad90060f6.replaces
async def kho_finalize(kho) -> int:
    """Between the two commits there is nothing to serialize: finalize only sets the flag
    under kho_out.lock.  (Inferred from the series' description - patch 1 "replaces the
    xarray-based tracker", patch 2 "removes the now-obsolete kho_finalize()"; the text of
    kho_finalize at 3f2ad90060f6 is not in the stored index.)"""
    await mutex_lock(kho.lock)
    await store(kho.finalized, True)
    await mutex_unlock(kho.lock)
    return 0


@D_6b0dd42d7681.replaces(name="kho_out_vars")
def kho_out_vars_6b0dd42d7681(kho, model: Model) -> None:
    """``struct kho_out`` without ``finalized``."""
    kho.tree_lock = Mutex.new(model, "kho_out.radix_tree.lock")
    kho.tree_root = model.var("kho_out.radix_tree.root", 0)


def _write_blob(data, blob):
    return blob, None


@D_3f2ad90060f6.replaces
async def kho_out_fdt_setup(kho, root: int) -> int:
    tree = await load(kho.tree_root)
    await heap_modify(kho.heap, root, "kho_out_fdt_setup", _write_blob,
                      rootfdt.setup(KHO_FDT_COMPATIBLE, PROP_PRESERVED_MEMORY_MAP, tree))
    return 0


@D_3f2ad90060f6.replaces
async def kho_init(kho) -> int:
    """The tree's root is ``kzalloc(PAGE_SIZE)`` (a slab object, neither preserved nor from
    the page allocator), the root FDT a kho_alloc_preserve'd page."""
    root = await kzalloc(kho.heap, PAGE_SIZE, "kho_init")
    if not root:
        return -ENOMEM                   # err_free_scratch: kho_enable = false
    await store(kho.tree_root, root)
    fdt = await kho_alloc_preserve(kho, PAGE_SIZE, "kho_init")
    if fdt < 0:
        await kfree(kho.heap, root, "kho_init")      # err_free_kho_radix_tree_root
        await store(kho.tree_root, 0)
        return fdt
    await store(kho.fdt, fdt)
    err = await kho_out_fdt_setup(kho, fdt)
    if err:
        await kho_unpreserve_free(kho, fdt, 0, "kho_init")   # err_free_fdt
        await kfree(kho.heap, root, "kho_init")
        await store(kho.tree_root, 0)
        await store(kho.fdt, 0)
        return err
    await store(kho.ready, True)
    return 0


# -- the radix tree -------------------------------------------------------------------------------

async def _read_entry(kho, node: int, idx: int, site: str) -> int:
    raw = await heap_read_bytes(kho.heap, node + idx * 8, 8, site)
    return int.from_bytes(raw, "little")


async def _descend_add(kho, pfn: int, order: int) -> int:
    key = encode_key(pfn << PAGE_SHIFT, order)
    node = await load(kho.tree_root)
    if not node:
        return -EINVAL                                  # WARN_ON_ONCE(!tree->root)
    made = ()
    anchor = None
    i = KHO_TREE_MAX_DEPTH - 1
    while i > 0:
        idx = table_index(key, i)
        nxt = await _read_entry(kho, node, idx, "kho_radix_add_page")
        if nxt:
            node = nxt
            i -= 1
            continue
        new = await get_zeroed_page(kho.heap, "kho_radix_add_page")
        if not new:
            j = 0
            while j < len(made):
                await free_page(kho.heap, made[j], "kho_radix_add_page")
                j += 1
            if anchor is not None:
                await memcpy_to(kho.heap, anchor[0], bytes(8), "kho_radix_add_page", anchor[1] * 8)
            return -ENOMEM
        await memcpy_to(kho.heap, node, new.to_bytes(8, "little"), "kho_radix_add_page", idx * 8)
        if anchor is None:
            anchor = (node, idx)
        made = made + (new,)
        node = new
        i -= 1
    bit = bitmap_index(key)
    await modify_noting(kho, node, "kho_radix_add_page", _set, (bit,), _promise,
                        (pfns(pfn, order),), f"__set_bit({bit}) in kho_radix_add_page")
    return 0


async def kho_radix_add_page(kho, pfn: int, order: int) -> int:
    await mutex_lock(kho.tree_lock)
    err = await atomic(_descend_add)(kho, pfn, order)
    await mutex_unlock(kho.tree_lock)
    return err


async def _descend_del(kho, pfn: int, order: int) -> None:
    key = encode_key(pfn << PAGE_SHIFT, order)
    node = await load(kho.tree_root)
    if not node:
        return
    i = KHO_TREE_MAX_DEPTH - 1
    while i > 0:
        idx = table_index(key, i)
        nxt = await _read_entry(kho, node, idx, "kho_radix_del_page")
        if not nxt:
            return                                      # WARN_ON: never preserved
        node = nxt
        i -= 1
    bit = bitmap_index(key)
    await modify_noting(kho, node, "kho_radix_del_page", _clear, (bit,), _release,
                        (pfns(pfn, order),), f"__clear_bit({bit}) in kho_radix_del_page")


async def kho_radix_del_page(kho, pfn: int, order: int) -> None:
    await mutex_lock(kho.tree_lock)
    await atomic(_descend_del)(kho, pfn, order)
    await mutex_unlock(kho.tree_lock)


@D_3f2ad90060f6.replaces
async def kho_preserve_folio(kho, phys: int, order: int) -> int:
    if kho_scratch_overlap(phys, PAGE_SIZE << order):
        return -EINVAL
    return await kho_radix_add_page(kho, phys >> PAGE_SHIFT, order)


@D_3f2ad90060f6.replaces
async def __kho_unpreserve(kho, pfn: int, end_pfn: int) -> None:
    while pfn < end_pfn:
        order = c_uint(min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn)))
        await kho_radix_del_page(kho, pfn, order)
        pfn = c_ulong(pfn + shl_int(1, order))


@D_3f2ad90060f6.replaces
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
        err = await kho_radix_add_page(kho, pfn, order)
        if err:
            failed_pfn = pfn
            break
        pfn = c_ulong(pfn + shl_int(1, order))
    if err:
        await __kho_unpreserve(kho, start_pfn, failed_pfn)
    return err


@D_3f2ad90060f6.replaces
async def kho_unpreserve_pages(kho, phys: int, nr_pages: int) -> None:
    start_pfn = phys >> PAGE_SHIFT
    await __kho_unpreserve(kho, start_pfn, start_pfn + nr_pages)


@D_3f2ad90060f6.replaces
async def kho_unpreserve_folio(kho, phys: int, order: int) -> None:
    await kho_radix_del_page(kho, phys >> PAGE_SHIFT, order)


# -- the next kernel ------------------------------------------------------------------------------

MAX_NODES = 256
_TABLE = struct.Struct(f"<{PAGE_SIZE // 8}Q")      # a node's u64 table[512], little-endian
_SLOTS = range(PAGE_SIZE // 8)


@D_3f2ad90060f6.replaces
def boot(h: Handover) -> NextKernel:
    """kho_populate (fdt_check_header, compatible, kho_get_mem_map_phys != 0) and
    kho_memory_init -> kho_mem_retrieve: -ENOENT without the property, -EINVAL for 0, else
    kho_radix_walk_tree from the root with kho_preserved_memory_reserve for every set bit.

    Like the kernel, the walk checks nothing: a node address is followed wherever it points
    (memory the model has no object at reads as zeros, like the stale contents it stands for)
    and every decoded range is reserved, inside memory or not, of any order.  A key above
    the order-0 bit (``fls64(key)`` > KHO_ORDER_0_LOG2 + 1, which PFN 0's range order
    0xffffffff encodes to) decodes as x86-64 computes it (khomc.kernel.bitops: the order an
    ``unsigned int`` modulo 2**32, the shifts' counts masked).  One thing the model cannot
    follow ends the walk with a refusal naming it: more than :data:`MAX_NODES` nodes (only a
    corrupted tree gets there)."""
    parsed = unflatten(root_blob(h))
    if parsed.tree is None:
        return refused(f"disabling KHO revival: {parsed.reason}")
    fdt = parsed.tree
    if prop(fdt, "compatible") != KHO_FDT_COMPATIBLE.encode() + b"\0":
        return refused(f"disabling KHO revival: root is not compatible with "
                       f"{KHO_FDT_COMPATIBLE!r}", fdt)
    mem = prop(fdt, PROP_PRESERVED_MEMORY_MAP)
    if mem is None or len(mem) != 8 or not int.from_bytes(mem, "little"):
        return refused("disabling KHO revival: failed to get preserved memory map", fdt)
    root = int.from_bytes(mem, "little")
    reserved: set = set()
    metadata: set = set()
    orders: dict = {}
    stack = [(root, KHO_TREE_MAX_DEPTH - 1, 0)]
    while stack:
        node, level, start = stack.pop()
        if len(metadata) >= MAX_NODES:
            return refused(f"model bound: more than {MAX_NODES} radix nodes", fdt)
        metadata.add(node >> PAGE_SHIFT)
        page = read_phys(h.pages, node, PAGE_SIZE)
        if level == 0:
            bits = int.from_bytes(page, "little")
            while bits:
                b = (bits & -bits).bit_length() - 1
                bits &= bits - 1
                key = start | b
                phys, order = decode_key(key)
                pfn = phys >> PAGE_SHIFT
                # kho_preserved_memory_reserve: ``u64 sz = 1 << (order + PAGE_SHIFT)`` (an
                # int shift, then sign-extended), memblock_reserve(phys, sz), which keeps
                # PFN_DOWN(phys) .. PFN_UP(phys + sz) from the buddy allocator
                # (__free_memory_core frees PFN_UP(start) .. PFN_DOWN(end) of the free
                # ranges only).  The model's machine has len(h.pages) PFNs, and reserving
                # PFNs beyond them changes nothing a property reads, so the set is clipped
                # there (a key of a high order would otherwise ask for 2**50 PFNs).
                sz = c_ulong(shl_int(1, c_uint(order + PAGE_SHIFT)))
                reserved.update(range(min(pfn, len(h.pages)),
                                      min(-(-(phys + sz) // PAGE_SIZE), len(h.pages))))
                orders[pfn] = order
            continue
        shift = (level - 1) * KHO_TABLE_SIZE_LOG2 + KHO_BITMAP_SIZE_LOG2
        table = _TABLE.unpack(page)
        for i in compress(_SLOTS, table):            # the non-zero table[i], in index order
            stack.append((table[i], level - 1, start | (i << shift)))
    return NextKernel(True, "", fdt, frozenset(reserved), frozenset(metadata),
                      tuple(sorted(orders.items())))


@D_6b0dd42d7681.replaces
async def liveupdate_reboot(kho) -> int:
    """luo_core.c after 6b0dd42d7681: sessions and FLBs are serialized, nothing is finalized."""
    if not await liveupdate_enabled_now(kho):
        return 0
    err = await luo_session_serialize(kho)
    if err:
        return err
    await luo_flb_serialize(kho)
    return 0


@D_6b0dd42d7681.replaces
async def kho_out_finalize_set(kho, val: int) -> int:
    """No ``kho/out/finalize`` file since 6b0dd42d7681: the operator's open fails."""
    return -ENOENT
