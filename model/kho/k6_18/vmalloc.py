"""KHO 6.18's vmalloc preservation (a667300bd53f) and lib/test_kho.c's use of it (90eb9ae35727).

Both halves of a667300bd53f "kho: add support for preserving vmalloc allocations" (vmalloc
series v5, 20250921054458.4043761-1-rppt@kernel.org), as torvalds/linux:kernel/kexec_handover.c
has them at v6.18:

* ``new_vmalloc_chunk(cur)`` - get_zeroed_page, ``kho_preserve_pages(chunk, 1)`` (free_page and
  NULL on error), link ``cur->hdr.next``;
* ``kho_vmalloc_unpreserve_chunk(chunk, order)`` - ``__kho_unpreserve`` of the chunk page and of
  each non-zero ``chunk->phys[i]`` (i < KHO_VMALLOC_SIZE) for ``1 << order`` pages (the
  ``order`` argument and the bound are 7ecd2e439d12's and the out-of-bounds fix's, both 6.18-rc
  fixes of a667300bd53f, folded in here);
* ``kho_vmalloc_free_chunks(preservation)`` - that, then free_page of each chunk;
* ``kho_preserve_vmalloc(vm, preservation)`` - -EINVAL without a vm area, -EOPNOTSUPP for
  unsupported flags, the first chunk (-ENOMEM) stored in ``preservation->first``, then for
  every ``1 << order`` pages ``kho_preserve_pages`` and ``chunk->phys[idx++] = phys``, a new
  chunk when one is full; on an error ``kho_vmalloc_free_chunks(preservation)`` and the error -
  which is still 0 when it is ``new_vmalloc_chunk`` that failed inside the loop (as written);
  ``total_pages``, ``flags`` and ``order`` are stored only on success, so the error path's
  ``kho_vmalloc_free_chunks`` reads the caller's ``preservation->order``;
* ``kho_restore_vmalloc(preservation)`` (the next kernel) - each chunk's phys entries restored
  with ``kho_restore_pages(phys, 1 << order)`` (NULL if there are more than ``total_pages``)
  and put in the pages array as ``pages[idx++] = page``: the block's head page ``1 << order``
  times, so a huge-vmap area comes back as its heads repeated (6.19,
  kexec_handover.c@dd03dd60e8cd, writes ``page + j``),
  then the chunk page itself (``kho_restore_pages(chunk, 1)``, freed after reading ``next``);
  NULL unless exactly ``total_pages`` were found.  Pages restored before a NULL stay restored.

lib/test_kho.c after 90eb9ae35727 "lib/test_kho: use kho_preserve_vmalloc instead of storing
addresses in fdt": ``folios_info`` is a vmalloc_array whose ``struct kho_vmalloc`` goes into the
FDT as the ``folios_info`` property; the next kernel restores it with kho_restore_vmalloc and
reads the folios from it.  The 6.18 file was not read at that commit: the order of calls
(generate, preserve the data, write the FDT, register the notifier) follows the current
lib/test_kho.c's kho_test_preserve_data with 6.18's notifier.

Abstractions: a vmalloc area is a :class:`VmStruct` - its pages, ``vm->flags`` and page order
(order 0 and VM_ALLOC in every scenario but vmalloc-huge, whose area is two order-1 blocks
with VM_ALLOW_HUGE_VMAP); ``struct kho_vmalloc`` is a tuple
``(first, total_pages, flags, order)`` held by the caller (16 bytes when written to the FDT).
``KHO_VMALLOC_SIZE`` is the kernel's 511 in every default scenario.  vmalloc-chunk-full lowers
it (``chunk=N``, :attr:`K616.vmalloc_size`) so that a 2-page area fills a chunk: every
statement of the loop and of the error path runs as at 511, only the number of entries written
before ``idx == ARRAY_SIZE(chunk->phys)`` differs, and no code compares an index with any other
bound.  The next kernel's kho_restore_vmalloc keeps 511: a chunk is a get_zeroed_page'd page
whose entries past the lowered bound are never written, so its walk stops at the same entry
(these scenarios reuse no freed page, so no other user's bytes can sit there either).  That reaches the in-loop
new_vmalloc_chunk failure, where 6.18 as written returns ``err`` - still 0 from the last
successful kho_preserve_pages - after freeing the chunks: the caller is told "preserved" and
hands over a freed chunk (6.19, dd03dd60e8cd, sets ``err = -ENOMEM`` there).
The caller's ``preservation`` starts zeroed (the kernel's test passes an uninitialised stack
struct).
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, free_page, get_zeroed_page, heap_read_bytes, memcpy_to, read_phys
from khomc.kernel.errno import EINVAL, ENOMEM, EOPNOTSUPP
from khomc.kho.k6_18.kexec_handover import D_a667300bd53f, D_90eb9ae35727

KHO_VMALLOC_SIZE = (PAGE_SIZE - 8) // 8
VM_ALLOC = 0x00000002
VM_ALLOW_HUGE_VMAP = 0x00000400
KHO_VMALLOC_SUPPORTED_FLAGS = VM_ALLOC | VM_ALLOW_HUGE_VMAP
KHO_VMALLOC_HUGE_VMAP = 0x0002


class VmStruct(NamedTuple):
    """What ``find_vm_area(ptr)`` finds: the area's pages (physical addresses, in order), its
    ``vm->flags`` and ``get_vm_area_page_order(vm)``."""

    pages: tuple
    flags: int = VM_ALLOC
    order: int = 0


def vmalloc_flags_to_kho(vm_flags: int) -> int:
    kho_flags = 0
    if vm_flags & VM_ALLOC:
        kho_flags |= KHO_VMALLOC_ALLOC
    if vm_flags & VM_ALLOW_HUGE_VMAP:
        kho_flags |= KHO_VMALLOC_HUGE_VMAP
    return kho_flags


def kho_flags_to_vmalloc(kho_flags: int) -> int:
    vm_flags = 0
    if kho_flags & KHO_VMALLOC_ALLOC:
        vm_flags |= VM_ALLOC
    if kho_flags & KHO_VMALLOC_HUGE_VMAP:
        vm_flags |= VM_ALLOW_HUGE_VMAP
    return vm_flags


def vmalloc_size(kho) -> int:
    """``ARRAY_SIZE(chunk->phys)`` of the modelled build: KHO_VMALLOC_SIZE unless a scenario
    lowered it (see the module header)."""
    return kho.vmalloc_size or KHO_VMALLOC_SIZE
KHO_VMALLOC_ALLOC = 0x0001
SIZEOF_KHO_VMALLOC = 16


def kho_vmalloc_blob(preservation: tuple) -> bytes:
    first, total, flags, order = preservation
    return (first.to_bytes(8, "little") + total.to_bytes(4, "little")
            + flags.to_bytes(2, "little") + order.to_bytes(2, "little"))


def kho_vmalloc_unblob(data: bytes) -> tuple:
    return (int.from_bytes(data[0:8], "little"), int.from_bytes(data[8:12], "little"),
            int.from_bytes(data[12:14], "little"), int.from_bytes(data[14:16], "little"))


@D_a667300bd53f.replaces
async def new_vmalloc_chunk(kho, cur: int) -> int:
    chunk = await get_zeroed_page(kho.heap, "new_vmalloc_chunk")
    if not chunk:
        return 0
    err = await kho_preserve_pages(kho, chunk, 1)
    if err:
        await free_page(kho.heap, chunk, "new_vmalloc_chunk")
        return 0
    if cur:
        await memcpy_to(kho.heap, cur, chunk.to_bytes(8, "little"), "new_vmalloc_chunk")
    return chunk


@D_a667300bd53f.replaces
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


@D_a667300bd53f.replaces
async def kho_vmalloc_free_chunks(kho, preservation: tuple) -> None:
    chunk = preservation[0]
    while chunk:
        tmp = chunk
        await kho_vmalloc_unpreserve_chunk(kho, chunk, preservation[3])
        raw = await heap_read_bytes(kho.heap, chunk, 8, "kho_vmalloc_free_chunks")
        chunk = int.from_bytes(raw, "little")
        await free_page(kho.heap, tmp, "kho_vmalloc_free_chunks")


@D_a667300bd53f.replaces
async def kho_preserve_vmalloc(kho, vm, preservation: tuple):
    """(err, preservation as the call leaves it).  *vm* is find_vm_area's answer: a
    :class:`VmStruct`, or None for an address that is no vmalloc area."""
    if vm is None:
        return -EINVAL, preservation               # !find_vm_area(ptr)
    if vm.flags & ~KHO_VMALLOC_SUPPORTED_FLAGS:
        return -EOPNOTSUPP, preservation
    flags = vmalloc_flags_to_kho(vm.flags)
    order = vm.order                               # get_vm_area_page_order(vm)
    chunk = await new_vmalloc_chunk(kho, 0)
    if not chunk:
        return -ENOMEM, preservation
    preservation = (chunk,) + preservation[1:]     # KHOSER_STORE_PTR(preservation->first)
    nr_contig_pages = 1 << order
    idx = 0
    err = 0
    i = 0
    while i < len(vm.pages):
        phys = vm.pages[i]
        err = await kho_preserve_pages(kho, phys, nr_contig_pages)
        if err:
            await kho_vmalloc_free_chunks(kho, preservation)     # err_free
            return err, preservation
        await memcpy_to(kho.heap, chunk, phys.to_bytes(8, "little"), "kho_preserve_vmalloc",
                        8 + 8 * idx)
        idx += 1
        if idx == vmalloc_size(kho):
            chunk = await new_vmalloc_chunk(kho, chunk)
            if not chunk:
                await kho_vmalloc_free_chunks(kho, preservation)
                return err, preservation           # err is 0 here, as written
            idx = 0
        i += nr_contig_pages
    return 0, (preservation[0], len(vm.pages), flags, order)


@D_a667300bd53f.replaces
def kho_restore_vmalloc(r, preservation: tuple, pages: tuple):
    """(the area's pages or None for NULL, the restorer after the call)."""
    chunk, total_pages, flags, order = preservation
    if kho_flags_to_vmalloc(flags) & ~KHO_VMALLOC_SUPPORTED_FLAGS:
        return None, r
    contig_pages = 1 << order
    out = []
    limit = len(pages) << PAGE_SHIFT
    walked = 0
    while chunk:
        if chunk + PAGE_SIZE > limit or walked > 64:
            return None, r                         # the next kernel faults / hangs
        walked += 1
        data = read_phys(pages, chunk, PAGE_SIZE)
        i = 0
        while i < KHO_VMALLOC_SIZE:
            phys = int.from_bytes(data[8 + 8 * i:16 + 8 * i], "little")
            if not phys:
                break
            if len(out) + contig_pages > total_pages:
                return None, r
            got, r = kho_restore_pages(r, phys, contig_pages)
            if got is None:
                return None, r
            out.extend([phys] * contig_pages)    # pages[idx++] = page: the head, as v6.18 has it
            i += 1
        got, r = kho_restore_pages(r, chunk, 1)
        if got is None:
            return None, r
        chunk = int.from_bytes(data[0:8], "little")   # then __free_page(page)
    if len(out) != total_pages:
        return None, r
    return tuple(out), r


# -- lib/test_kho.c after 90eb9ae35727 -------------------------------------------------------

@D_90eb9ae35727.replaces(name="kho_test_save")
async def kho_test_save_90eb9ae35727(kho, nr_folios: int, orders: tuple, dup: bool) -> int:
    folios = await kho_test_generate_data(kho, nr_folios, orders)
    if isinstance(folios, int):
        return folios
    listed = folios + folios[:1] if dup else folios
    info = tuple(f | o for f, o, _ in listed)
    err, preservation = await kho_test_preserve_data(kho, folios, info)
    if err:
        return err
    blob = test_fdt_blob((("folios_info", kho_vmalloc_blob(preservation)),), len(info),
                         checksum(d for _, _, d in listed))
    fdt = await folio_alloc_filled(kho, 0, blob, "kho_test_prepare_fdt")
    if not fdt:
        return -ENOMEM
    err = await register_kho_notifier(
        kho, NotifierBlock(KHO_TEST_FDT, kho_test_notifier, (kho, fdt)))
    if err:
        await folio_put(kho.heap, fdt, "kho_test_save")
    return err


@D_90eb9ae35727.replaces
async def kho_test_preserve_data(kho, folios: tuple, info: tuple):
    """(err, struct kho_vmalloc): folios_info in a vmalloc'ed page, preserved, then each folio."""
    page = await folio_alloc_filled(kho, 0, b"".join(v.to_bytes(8, "little") for v in info),
                                    "vmalloc_array")
    if not page:
        return -ENOMEM, (0, 0, 0, 0)
    err, preservation = await kho_preserve_vmalloc(kho, VmStruct((page,)), (0, 0, 0, 0))
    await client_preserved(kho, KHO_TEST_FDT, "kho_preserve_vmalloc", (page,), err,
                           frozenset({page >> PAGE_SHIFT} | ({preservation[0] >> PAGE_SHIFT}
                                                              if preservation[0] else set())))
    if err:
        return err, preservation
    i = 0
    while i < len(folios):
        err = await kho_preserve_folio(kho, folios[i][0], folios[i][1])
        await client_preserved(kho, KHO_TEST_FDT, "kho_preserve_folio", folios[i][:2], err,
                               _folio_pfns(folios[i][0], folios[i][1]))
        if err:
            return err, preservation
        i += 1
    return 0, preservation


@D_90eb9ae35727.replaces(name="kho_test_restore_data")
def kho_test_restore_data_90eb9ae35727(tree, pages: tuple, r):
    node = find(tree, ("data",))
    raw = prop(node, "folios_info") if node is not None else None
    old = prop(node, "csum") if node is not None else None
    nr = prop(node, "nr_folios") if node is not None else None
    if raw is None or len(raw) != SIZEOF_KHO_VMALLOC or old is None or nr is None:
        return False, r
    area, r = kho_restore_vmalloc(r, kho_vmalloc_unblob(raw), pages)
    if area is None:
        return False, r
    info = read_phys(pages, area[0], PAGE_SIZE)
    chunks = []
    for i in range(int.from_bytes(nr, "little")):
        value = int.from_bytes(info[8 * i:8 * i + 8], "little")
        phys, order = value & ~(PAGE_SIZE - 1), value & (PAGE_SIZE - 1)
        got, r = kho_restore_folio(r, phys)
        if got is None or got != order:
            break
        chunks.append(read_phys(pages, phys, PAGE_SIZE << order).rstrip(b"\0"))
    return checksum(chunks) == int.from_bytes(old, "little"), r


from khomc.kernel.alloc import folio_put  # noqa: E402
from khomc.kernel.notifier import NotifierBlock  # noqa: E402
from khomc.kho.fdt import find, prop  # noqa: E402
from khomc.kho.k6_16.kexec_handover import __kho_unpreserve, client_preserved, kho_preserve_folio, register_kho_notifier  # noqa: E402,F401
from khomc.kho.k6_16.kexec_handover_in import kho_restore_folio  # noqa: E402,F401
from khomc.kho.k6_16.test_kho import KHO_TEST_FDT, _folio_pfns, checksum, folio_alloc_filled, kho_test_generate_data, kho_test_notifier, test_fdt_blob  # noqa: E402,F401
from khomc.kho.k6_18.kexec_handover import kho_preserve_pages_8375b76517cb as kho_preserve_pages  # noqa: E402,F401
from khomc.kho.k6_18.kexec_handover_in import kho_restore_pages_8375b76517cb as kho_restore_pages  # noqa: E402,F401
