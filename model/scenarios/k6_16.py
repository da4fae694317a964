"""KHO 6.16 (torvalds/linux:kernel/kexec_handover.c@00c010e130e5): scenarios and bounds.

Scenario names are shared with the other eras where they mean the same thing (``test-kho``,
``fdbox-race``), so ``khomc replay TRACE --against ERA`` and the review's era comparison work.
Every builder takes ``kernel`` (a linked era, :class:`khomc.kho.ledger.Kernel`; default this
spec's whole era), so the 6.17 and 6.18 specs and ``khomc bisect`` build the same scenarios on
any prefix of the ledger.  Common parameter: ``pages`` (physical pages per allocating task);
abort-then-kexec also takes ``reuse`` (the allocator may serve that many allocations from freed
blocks, with one more kernel user allocating; 0 by default) and scratch-load / scratch-preserve
``debug`` (CONFIG_KEXEC_HANDOVER_DEBUG).
The pins and the explanation of every VIOLATED verdict are in
properties/kho_eras/test_k6_16_k6_18.py.
"""

from __future__ import annotations

from khomc.scenarios.counters import count_up as _count_up, wait_for as _wait_for
from khomc.drivers import fdbox_notifier
from khomc.kernel.alloc import folio_alloc, kmalloc, memcpy_to
from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, read_phys
from khomc.kernel.locking import Mutex
from khomc.kho import k6_16
from khomc.kho.k6_16.test_kho import ORDERS
from khomc.runtime import Model, Scenario
from khomc.scenarios.params import declare
from khomc.runtime.effects import Op, Update, atomic, choose, store
from khomc.promises import k6_16 as props

ERA = k6_16.ERA

PREVIOUS = "v5"
CHANGES = (
    "6.16 (v6-v8, merged as 3dc92c311498..4e1d010e3bda; the series "
    "20250509074635.3187114-1-changyuanl@google.com) drops v5's hashtable state tree and fdt_max: "
    "each user builds its own FDT and links it with kho_add_subtree(ser, name, fdt) from its "
    "KEXEC_KHO_FINALIZE callback into a one-page root FDT (kho-v1, preserved-memory-map).  Since "
    "v7 (20250501225425.635167-1-changyuanl@google.com) kho_preserve_folio takes no ser argument "
    "and reads kho_out.finalized with no lock (Jason Gunthorpe asked for a lock-free preserve, "
    "20250321134629.GA252045@nvidia.com).  Finalize and abort are debugfs writes under "
    "kho_out.lock; kho_abort frees every bitmap (unpreserving everything, client pages included); "
    "kho_fill_kimage passes the root FDT's address at kexec_file_load whether or not finalized "
    "(torvalds/linux:kernel/kexec_handover.c@00c010e130e5).")


async def module(kho, fn, loaded, *args):
    """A driver's module init, then ``loaded += 1`` (the init script waits for all)."""
    ret = await fn(kho, *args)
    await Update(loaded, _count_up, text="module loaded")
    return ret


async def operator(k, kho, loaded, modules: int, steps: tuple):
    """The init script of tools/testing/selftests/kho (init.c@82ee50252dc8): after every module
    has loaded, ``finalize`` (debugfs), ``load`` (kexec_file_load), ``kexec``; kho_init first."""
    ret = await k.kho_init(kho)
    results = (("kho_init", ret),)
    await Update(loaded, _wait_for, modules, text=f"wait for {modules} modules")
    i = 0
    while i < len(steps):
        name, arg = steps[i]
        if name == "finalize":
            ret = await k.kho_out_finalize_set(kho, arg)
        elif name == "load":
            ret = await k.kexec_file_load(kho)
        elif name == "kexec":
            ret = await k.kernel_kexec(kho)
        elif name == "wait":
            ret = await Update(arg, _wait_set, text=f"wait for {arg.name}")
        else:
            raise AssertionError(f"operator: unknown step {name!r}")
        results = results + ((name, ret),)
        i += 1
    return results


def _machine(k, name: str, doc: str, pages: int, ntasks: int, fail_allocs: int = 0,
             fail_sites=None, reuse: int = 0):
    m = Model(k.ERA.name, name, doc=doc)
    heap = Heap(m, pages, ntasks, fail_allocs, fail_sites, reuse)
    kho = k.K616(m, heap, k)
    loaded = m.var("modules_loaded", 0)
    return m, kho, loaded


SELFTEST = (("finalize", 1), ("load", 0), ("kexec", 0))


USER_BYTES = b"another kernel user's data"


async def _kmalloc_write(kho):
    buf = await kmalloc(kho.heap, PAGE_SIZE, "kmalloc_user")
    if buf:
        await memcpy_to(kho.heap, buf, USER_BYTES, "kmalloc_user")
    return buf


async def kmalloc_user(kho):
    """Any other kernel user of a running kernel: one kmalloc'd page, filled with its own
    data (one step: nobody else knows the object yet).  With reuse on, the allocator may
    serve it from a block KHO freed."""
    return await atomic(_kmalloc_write)(kho)


def build_test_kho(k, nr_folios=1, pages=8, dup=False, steps=SELFTEST, name="test-kho", doc="",
                   fail_allocs=0, fail_sites=None, guards=None, reuse=0):
    m, kho, loaded = _machine(k, name, doc, pages, 3 if reuse else 2, fail_allocs, fail_sites,
                              reuse)
    done = m.var("test_kho.done", False)
    m.task("test_kho", module, kho, k.kho_test_init, loaded, nr_folios, ORDERS, dup, done)
    m.task("operator", operator, k, kho, loaded, 1, steps)
    if reuse:
        m.task("user", kmalloc_user, kho)
    watch = props.Watch(k, kho, test_kho=True)
    if guards is None:
        guards = (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED, props.TEST_KHO_OK)
    props.register(m, kho, watch, guards)
    return m


def build_fdbox_race(k, pages=8, steps=(("load", 0), ("finalize", 1), ("kexec", 0))):
    """Two FDBoxes save an fd each, the second drops it again, while the operator loads,
    finalizes and kexecs (the v5 scenario of the same name)."""
    m, kho, loaded = _machine(k, "fdbox-race", build_fdbox_race.__doc__, pages, 3)
    boxes = []
    for i, drop in ((0, False), (1, True)):
        box = f"fdbox{i}"
        lock = Mutex.new(m, f"{box}.lock")
        state = m.var(f"{box}.state", (False, ()))
        m.task(box, fdbox_notifier.fdbox, kho, k, box, lock, state, 1, drop, loaded)
        boxes.append((box, state))
    m.task("operator", operator, k, kho, loaded, 2, steps)
    props.register(m, kho, props.Watch(k, kho, tuple(boxes)),
                   (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


async def _alloc_asked(k, kho, order, contents, site):
    addr = await folio_alloc(kho.heap, order, site)
    if addr:
        await memcpy_to(kho.heap, addr, contents, site)
        pfn = addr >> PAGE_SHIFT
        await Op((kho.ghost,), k.ghost_ask, frozenset(range(pfn, pfn + (1 << order))),
                 text="ghost: to be preserved")
    return addr


async def late_preserver(k, kho, orders: tuple) -> int:
    """A user preserving one folio of a chosen order at any time, racing finalize (the v7 API
    promises "anytime before KHO finalization"; -EBUSY after is fine)."""
    order = await choose(orders, "folio order")
    folio = await atomic(_alloc_asked)(k, kho, order, b"late", "late_preserver")
    ret = await k.kho_preserve_folio(kho, folio, order)
    pfn = folio >> PAGE_SHIFT
    await k.client_preserved(kho, "late", "kho_preserve_folio", (folio, order), ret,
                             frozenset(range(pfn, pfn + (1 << order))))
    return ret


def build_preserve_race(k, pages=8):
    """A preserve of an order-0 or order-1 folio races the operator's finalize, load, kexec:
    the unlocked ``finalized`` check the v5 review asked about."""
    m, kho, loaded = _machine(k, "preserve-race", build_preserve_race.__doc__, pages, 2)
    m.task("late", late_preserver, k, kho, ORDERS)
    m.task("operator", operator, k, kho, loaded, 0, SELFTEST)
    props.register(m, kho, props.Watch(k, kho), (props.KEXEC_REACHED, props.FINALIZE_OK,
                                                 props.REVIVED))
    return m


async def range_preserver(k, kho, nr: int, record=None) -> int:
    """A client preserving *nr* pages of an order-2 allocation with the era's range call
    (kho_preserve_phys until 8375b76517cb, kho_preserve_pages after it): blocks of order 1 then
    0 for nr=3.  With a *record* it keeps ("pages", (phys, nr), bytes, ret) for its
    next-kernel half (khomc.promises.k6_16.client_restores)."""
    folio = await atomic(_alloc_asked)(k, kho, 2, b"range", "range_preserver")
    if not folio:
        return -12
    if hasattr(k, "kho_preserve_pages"):
        ret = await k.kho_preserve_pages(kho, folio, nr)
    else:
        ret = await k.kho_preserve_phys(kho, folio, nr << PAGE_SHIFT)
    pfn = folio >> PAGE_SHIFT
    await k.client_preserved(kho, "range", "preserve range", (folio, nr), ret,
                             frozenset(range(pfn, pfn + nr)))
    if record is not None:
        await store(record, ("pages", (folio, nr), b"range", ret))
    return ret


def build_range_race(k, pages=8):
    """A 3-page range preserve (an order-1 block, then an order-0 block) races the operator's
    finalize, load and kexec; the client's next kernel restores the range (6.18:
    kho_restore_pages) and checks its bytes.  The unlocked ``finalized`` check of every era
    lets a block run after kho_finalize walked the tracker: a block with a new kho_mem_phys is
    in no chunk, the call returns 0 and the page is lost; in 6.18 kho_restore_pages then finds
    no magic on it and returns NULL.  (469661d0d3a5 moves the check per block; see
    properties/kho_eras/test_bisect.py for why no verdict moves with it.)"""
    m, kho, loaded = _machine(k, "range-race", build_range_race.__doc__, pages, 2)
    record = m.var("range.record", None)
    m.task("range", range_preserver, k, kho, 3, record)
    m.task("operator", operator, k, kho, loaded, 0, SELFTEST)
    props.register(m, kho, props.Watch(k, kho, folios=(("range", record),)),
                   (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


async def boot_range_preserver(k, kho, nr: int, record) -> int:
    """A client preserving *nr* pages of memory reserved at boot at physical address 0 (the
    range a ``reserve_mem=`` or firmware carve-out gets at the start of DRAM on a board whose
    DRAM starts at 0, such as the Raspberry Pi 4) with the era's range call; it records
    ("pages", (0, nr), b"", ret) for its next-kernel half.  The bytes are not judged (page 0
    is NULL to the model's allocator): what is judged is what the next kernel reserves and
    what kho_restore_pages returns."""
    if hasattr(k, "kho_preserve_pages"):
        ret = await k.kho_preserve_pages(kho, 0, nr)
    else:
        ret = await k.kho_preserve_phys(kho, 0, nr << PAGE_SHIFT)
    await k.client_preserved(kho, "range", "preserve range", (0, nr), ret,
                             frozenset(range(0, nr)))
    await store(record, ("pages", (0, nr), b"", ret))
    return ret


def build_range_pfn0(k, pages=8, npages=3):
    """A client preserves *npages* pages starting at PFN 0 (memory memblock-reserved at boot,
    ``Heap(boot_range=npages)``), then the operator finalizes, loads and kexecs; its next kernel
    restores the range (6.18: kho_restore_pages).  No race: one schedule but for the
    operator's steps.  Not a default scenario.

    Verdicts (pinned in properties/kho_eras/test_k6_16_k6_18.py): preserved-pages-survive
    (no-page-lost) VIOLATED on 6.16, 6.17 and 6.18, and restore-returns-preserved VIOLATED on
    6.18 - a kernel bug, as written at every era's commit.  ``order = min(
    count_trailing_zeros(0), ilog2(npages))`` is ``min(-1, ...)`` = -1 (COUNT_TRAILING_ZEROS_0,
    include/linux/count_zeros.h), stored in an ``unsigned int``: 0xffffffff.
    __kho_preserve_order records PFN 0 at order 0xffffffff (``pfn >> order`` is 0 whatever
    the count), then ``pfn += 1 << order``: an int shift by 0xffffffff, undefined in C; on
    x86-64 (and arm64) the count is taken mod 32, so ``1 << 31`` = INT_MIN, sign-extended
    into the unsigned long pfn: 0xffffffff80000000, past end_pfn.  The call returns 0 after
    recording only PFN 0.  At finalize the chunk of order 0xffffffff says ``phys_start`` 0;
    the next kernel's deserialize_bitmap computes ``int sz = 1 << (order + PAGE_SHIFT)`` with
    the unsigned sum wrapping to 11: memblock_reserve(0, 2048), which keeps page 0 only.
    PFNs 1..npages-1, which the client was told are preserved, go to the buddy allocator of the
    next kernel: their contents are lost (no-page-lost).  ``page->private`` of PFN 0 holds
    order 0xffffffff: 6.16's kho_restore_folio(0) and 6.18's kho_restore_page (magic right,
    order > MAX_PAGE_ORDER: WARN_ON_ONCE) return NULL, so 6.18's kho_restore_pages(0, npages)
    returns NULL (restore-returns-preserved; 6.16 has no range restore: the client reads its
    range in place, and only no-page-lost sees the loss).  On 6.18 the client's failed restore
    fails no-page-lost as well (it judges the clients' restores).  No later commit changes the
    order computation (see properties/kho_eras/test_mainline_2026_04.py)."""
    m = Model(k.ERA.name, "range-pfn0", doc=build_range_pfn0.__doc__)
    nr = npages
    heap = Heap(m, pages, 2, 0, None, 0, boot_range=nr)
    kho = k.K616(m, heap, k)
    loaded = m.var("modules_loaded", 0)
    record = m.var("range.record", None)
    m.task("range", _boot_range_module, k, kho, loaded, nr, record)
    m.task("operator", operator, k, kho, loaded, 1, SELFTEST)
    props.register(m, kho, props.Watch(k, kho, folios=(("range", record),)),
                   (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


async def _boot_range_module(k, kho, loaded, nr, record):
    """The client's module init (boot_range_preserver), then ``loaded += 1``."""
    ret = await boot_range_preserver(k, kho, nr, record)
    await Update(loaded, _count_up, text="module loaded")
    return ret


def _range_pfn0(k, pages: int = 8, npages: int = 3) -> Model:
    return build_range_pfn0(k, pages, npages)


_range_pfn0.__doc__ = build_range_pfn0.__doc__


def _range_race(k, pages: int = 8) -> Model:
    return build_range_race(k, pages)


_range_race.__doc__ = build_range_race.__doc__


def vmalloc_bytes(i: int) -> bytes:
    """What a vmalloc client writes into its area's page *i*."""
    return b"vmalloc page %d" % i


async def _vmalloc_area(k, kho, n, order=0):
    """vmalloc(n pages): blocks of ``1 << order`` pages (order 0: each page on its own; a
    VM_ALLOW_HUGE_VMAP area: order-1 folios), every page filled."""
    area = ()
    while len(area) < n:
        block = await folio_alloc(kho.heap, order, "vmalloc")
        if not block:
            return area
        j = 0
        while j < 1 << order:
            page = block + j * PAGE_SIZE
            await memcpy_to(kho.heap, page, vmalloc_bytes(len(area)), "vmalloc")
            area = area + (page,)
            j += 1
    pfns = frozenset(p >> PAGE_SHIFT for p in area)
    await Op((kho.ghost,), k.ghost_ask, pfns, text="ghost: to be preserved")
    return area


def chunk_list(pages: tuple, first: int) -> frozenset:
    """Ghost only: the PFNs of a ``struct kho_vmalloc``'s chunk pages, following ``hdr.next``
    from *first* in memory as it is (a freed chunk's stale bytes included; at most one visit
    per page, so a corrupted list ends)."""
    out = set()
    chunk = first
    while chunk and chunk >> PAGE_SHIFT not in out and len(out) < len(pages):
        out.add(chunk >> PAGE_SHIFT)
        chunk = int.from_bytes(read_phys(pages, chunk, 8), "little")
    return frozenset(out)


def _note_vmalloc(values, tid, area, first, err):
    """Ghost only: the client notes its kho_preserve_vmalloc's return (client_preserved's
    rule) for its area's pages and every chunk page of the ``struct kho_vmalloc`` it got
    back: the chunks are preserved on its behalf, and the next kernel reserves them."""
    pages, ghost = values
    pfns = frozenset(p >> PAGE_SHIFT for p in area) | chunk_list(pages, first)
    ghost, _ = k6_16.kexec_handover._note(ghost, tid, pfns, True, err == 0)
    return (pages, ghost), None


async def vmalloc_preserver(k, kho, n: int, record, done, order: int = 0) -> int:
    """A client preserving an *n*-page vmalloc area with kho_preserve_vmalloc (6.18,
    a667300bd53f) - blocks of ``1 << order`` pages, VM_ALLOW_HUGE_VMAP when *order* > 0; its
    record keeps the ``struct kho_vmalloc`` the call filled; then ``done += 1``."""
    area = await atomic(_vmalloc_area)(k, kho, n, order)
    if len(area) != n:
        return -12
    flags = k.VM_ALLOC | (k.VM_ALLOW_HUGE_VMAP if order else 0)
    err, preservation = await k.kho_preserve_vmalloc(kho, k.VmStruct(area, flags, order),
                                                     (0, 0, 0, 0))
    await Op((kho.heap.pages, kho.ghost), _note_vmalloc, area, preservation[0], err,
             text=f"ghost: vmalloc kho_preserve_vmalloc{area} = {err}")
    await store(record, ("vmalloc", (preservation, area),
                         tuple(vmalloc_bytes(i) for i in range(n)), err))
    await Update(done, _count_up, text="client done")
    return err


def vmalloc_client(m, k, kho, loaded, npages: int, steps: tuple, order: int = 0):
    """The vmalloc scenarios' machine: a :func:`vmalloc_preserver` of *npages* pages in blocks
    of ``1 << order``, the operator's *steps* (``done`` is the client's end), the promises with
    the client's own restore."""
    record = m.var("vmalloc.record", None)
    done = m.var("vmalloc.done", 0)
    m.task("vmalloc", vmalloc_preserver, k, kho, npages, record, done, order)
    m.task("operator", operator, k, kho, loaded, 0,
           tuple(("wait", done) if step == "wait" else step for step in steps))
    props.register(m, kho, props.Watch(k, kho, folios=(("vmalloc", record),)),
                   (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


RACE_STEPS = (("finalize", 1), "wait", ("load", 0), ("kexec", 0))


def build_vmalloc_race(k, pages=8, npages=2):
    """A 2-page vmalloc area preserved with kho_preserve_vmalloc (its chunk page, then each
    page through kho_preserve_pages) races the operator's finalize, load and kexec; the
    client's next kernel restores it with kho_restore_vmalloc and checks the pages, their
    order and their bytes.  The operator loads and kexecs only once the call has returned
    (the chunk page kho_preserve_vmalloc allocates is known to the client only then).  6.18
    only (a667300bd53f adds the calls)."""
    m, kho, loaded = _machine(k, "vmalloc-race", build_vmalloc_race.__doc__, pages, 2)
    return vmalloc_client(m, k, kho, loaded, npages, RACE_STEPS)


def _vmalloc_race(k, pages: int = 8, npages: int = 2) -> Model:
    return build_vmalloc_race(k, pages, npages)


_vmalloc_race.__doc__ = build_vmalloc_race.__doc__


def build_vmalloc_huge(k, pages=16, chunk=511, fail_allocs=0):
    """A VM_ALLOW_HUGE_VMAP vmalloc area - two order-1 blocks, four pages - preserved with
    kho_preserve_vmalloc, then the operator finalizes, loads and kexecs; the client's next
    kernel restores it with kho_restore_vmalloc and checks the pages, their order and bytes.
    6.18 as written (kernel/kexec_handover.c@a4a508df2aa3) fills the restored pages array with
    ``pages[idx++] = page``, the block's head each time: the area comes back as (head, head,
    head, head) of its blocks (restore-returns-preserved: VIOLATED, a kernel bug; vfree of such
    an area frees each head twice and never a tail; 6.19's dd03dd60e8cd writes ``page + j``).
    no-preserved-page-lost fails with it: the reserved set is right, the client's restore is
    not.  With ``-D chunk=1 -D fail_allocs=1`` the next chunk's allocation may fail after the
    first block, and vmalloc-chunk-full's stale 0 is returned for a huge area too (its
    err_free also unwinds with the caller's ``preservation->order``, 0 - the bug the LUO eras
    keep, shown there where the return code is right: vmalloc-huge-unwind)."""
    m, kho, loaded = _machine(k, "vmalloc-huge", build_vmalloc_huge.__doc__, pages, 2,
                              fail_allocs, frozenset({"new_vmalloc_chunk"}))
    kho.vmalloc_size = 0 if chunk == 511 else chunk
    return vmalloc_client(m, k, kho, loaded, 4, ("wait", ("finalize", 1), ("load", 0),
                                                 ("kexec", 0)), order=1)


def _vmalloc_huge(k, pages: int = 16, chunk: int = 511, fail_allocs: int = 0) -> Model:
    return build_vmalloc_huge(k, pages, chunk, fail_allocs)


_vmalloc_huge.__doc__ = build_vmalloc_huge.__doc__


def build_vmalloc_chunk_full(k, pages=8, npages=2, chunk=2, fail_allocs=1):
    """A 2-page vmalloc area preserved with kho_preserve_vmalloc on a build whose chunk holds
    ``chunk`` (2) entries, racing the operator's finalize, load and kexec; one allocation may
    fail.  After the second page the chunk is full and kho_preserve_vmalloc allocates the next
    one; when that get_zeroed_page fails, 6.18 as written (a667300bd53f, still so at v6.18)
    frees every chunk - unpreserving the pages - and returns ``err``, which is the last
    kho_preserve_pages's 0: the client is told its area is preserved, keeps a
    ``struct kho_vmalloc`` whose ``first`` is a freed page, and its next kernel gets NULL from
    kho_restore_vmalloc (no-page-lost, revived: VIOLATED, a kernel bug; 6.19's
    kexec_handover.c@dd03dd60e8cd sets ``err = -ENOMEM`` before ``goto err_free``).  The
    lowered chunk size is an abstraction of the loop's bound only (khomc.kho.k6_18.vmalloc);
    with fail_allocs=0 every promise holds."""
    m, kho, loaded = _machine(k, "vmalloc-chunk-full", build_vmalloc_chunk_full.__doc__, pages, 2,
                              fail_allocs, frozenset({"new_vmalloc_chunk"}))
    kho.vmalloc_size = chunk
    return vmalloc_client(m, k, kho, loaded, npages, RACE_STEPS)


def _vmalloc_chunk_full(k, pages: int = 8, npages: int = 2, chunk: int = 2,
                        fail_allocs: int = 1) -> Model:
    return build_vmalloc_chunk_full(k, pages, npages, chunk, fail_allocs)


_vmalloc_chunk_full.__doc__ = build_vmalloc_chunk_full.__doc__


def build_range_abort(k, pages=8, fail_allocs=1):
    """A range preserve (3 pages: an order-1 and an order-0 block) races ``echo 1 > finalize``
    and ``echo 0 > finalize``; one allocation may fail (the tracker's kzalloc / page
    allocations).  When the second block fails after kho_abort has emptied the tracker, the
    unwind ``__kho_unpreserve(start, failed)`` finds no kho_mem_phys for order 1: 6.16's loop
    ``continue``s without advancing and never ends; 6.18's b05addf6f059 returns instead."""
    m, kho, loaded = _machine(k, "range-abort", build_range_abort.__doc__, pages, 2,
                              fail_allocs, frozenset({"xa_load_or_alloc",
                                                      "__kho_preserve_order"}))
    m.task("range", range_preserver, k, kho, 3)
    m.task("operator", operator, k, kho, loaded, 0, (("finalize", 1), ("finalize", 0)))
    props.register(m, kho, props.Watch(k, kho), (props.FINALIZE_OK,))
    return m


def _range_abort(k, pages: int = 8, fail_allocs: int = 1) -> Model:
    return build_range_abort(k, pages, fail_allocs)


_range_abort.__doc__ = build_range_abort.__doc__


MOVABLE_BYTES = b"movable user page"


def _wait_set(v, tid):
    return None if not v else (v, v)


async def _movable_alloc(k, kho, slot):
    addr = await folio_alloc(kho.heap, 0, "movable_user")
    if addr:
        await memcpy_to(kho.heap, addr, MOVABLE_BYTES, "movable_user")
        pfn = addr >> PAGE_SHIFT
        await Op((kho.ghost,), k.ghost_ask, frozenset({pfn}), text="ghost: to be preserved")
    await store(slot, addr)


async def movable_user(k, kho, slot):
    """Userspace memory (a memfd or anonymous page): one movable order-0 folio, which the page
    allocator serves from the CMA pageblocks of a scratch area, filled and handed to the driver
    that preserves it (nobody else knows the page before: one step)."""
    await atomic(_movable_alloc)(k, kho, slot)


async def movable_preserver(k, kho, slot, record):
    """A driver preserving the user's folio with kho_preserve_folio; it keeps (phys, order,
    bytes, ret) for its next-kernel half, which restores the folio and checks its bytes.  Its
    own tracker allocations come from its own (unmovable, non-scratch) range."""
    folio = await Update(slot, _wait_set, text="wait for the user's page")
    ret = await k.kho_preserve_folio(kho, folio, 0)
    await k.client_preserved(kho, "driver", "kho_preserve_folio", (folio, 0), ret,
                             frozenset({folio >> PAGE_SHIFT}))
    await store(record, ("folio", (folio, 0), MOVABLE_BYTES, ret))
    return ret


async def loader(k, kho):
    """``kexec -s -l``: kexec_file_load at any time after kho_init (a late_initcall)."""
    await Update(kho.fdt, _wait_set, text="wait for kho_init")
    return await k.kexec_file_load(kho)


def build_scratch_load(k, pages=15, debug=False):
    """kexec_file_load places its segments while a driver preserves a user's movable page and
    the operator finalizes and kexecs.  kho_scratch[] is the movable user's range (the lowmem
    area: CMA, where the user's folio lands, its first page 64 KiB aligned) followed by the
    default areas; the operator's and the driver's allocations are unmovable and land outside
    scratch.  kho_fill_kimage's kexec_add_buffer asks kho_locate_mem_hole, which walks the
    scratch areas in order: the one-page scratch array fits top-down, 64 KiB aligned, only at
    the first page of the lowmem area - the user's folio - and the 64 KiB kernel only in a
    default area.  No era checks a segment against preserved memory; machine_kexec's
    relocation then copies the scratch array over the preserved folio, and the driver's next
    kernel restores a folio with other bytes.  (6.18 with ``-D debug=1``: kho_preserve_folio
    refuses the scratch page with -EINVAL, and nothing preserved is lost.)"""
    m = Model(k.ERA.name, "scratch-load", doc=build_scratch_load.__doc__)
    heap = Heap(m, pages, 4, 0)
    scratch = (((1 + pages) << PAGE_SHIFT, pages << PAGE_SHIFT),) + k.SCRATCH_DEFAULT
    kho = k.K616(m, heap, k, scratch, bool(debug))
    loaded = m.var("modules_loaded", 0)
    slot = m.var("user.folio", 0)
    record = m.var("driver.record", None)
    m.task("operator", operator, k, kho, loaded, 0, (("finalize", 1), ("kexec", 0)))
    m.task("user", movable_user, k, kho, slot)
    m.task("driver", movable_preserver, k, kho, slot, record)
    m.task("loader", loader, k, kho)
    props.register(m, kho, props.Watch(k, kho, folios=(("driver", record),)),
                   (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


def _scratch_load(k, pages: int = 15, debug: bool = False) -> Model:
    return build_scratch_load(k, pages, debug)


_scratch_load.__doc__ = build_scratch_load.__doc__


def build_scratch_preserve(k, pages=4, debug=False):
    """A client whose memory is movable - it is allocated from the CMA pageblocks of a KHO
    scratch area, as memfd or anonymous pages can be - preserves one folio of it, then the
    selftest's finalize, load, kexec.  The next kernel allocates its early memory from scratch
    (memblock_set_kho_scratch_only), so a preserved page there is overwritten before anyone
    restores it.  6.16-6.18 do not check (6.18's e38f65d317df does, only with
    CONFIG_KEXEC_HANDOVER_DEBUG: ``-D debug=1``)."""
    m = Model(k.ERA.name, "scratch-preserve", doc=build_scratch_preserve.__doc__)
    heap = Heap(m, pages, 2, 0)
    # task 1 (the movable client) allocates from the last range: that range is the first
    # scratch area (the lowmem one), then the era's default areas the segments fit in
    scratch = (((1 + pages) << PAGE_SHIFT, pages << PAGE_SHIFT),) + k.SCRATCH_DEFAULT
    kho = k.K616(m, heap, k, scratch, bool(debug))
    loaded = m.var("modules_loaded", 0)
    m.task("operator", operator, k, kho, loaded, 0, SELFTEST)
    m.task("movable", late_preserver, k, kho, (0,))
    props.register(m, kho, props.Watch(k, kho), (props.KEXEC_REACHED, props.FINALIZE_OK))
    return m


def _scratch_preserve(k, pages: int = 4, debug: bool = False) -> Model:
    return build_scratch_preserve(k, pages, debug)


_scratch_preserve.__doc__ = build_scratch_preserve.__doc__


def _append(results, tid, item):
    return results + (item,), None


async def retrying_operator(k, kho, loaded, modules: int, results):
    """The selftest's operator that retries a failed ``echo 1 > finalize`` once, then loads and
    kexecs; every return code goes to *results* (read by the finalize-retry promise)."""
    await k.kho_init(kho)
    await Update(loaded, _wait_for, modules, text=f"wait for {modules} modules")
    ret = await k.kho_out_finalize_set(kho, 1)
    await Update(results, _append, ("finalize", ret), text=f"finalize returned {ret}")
    if ret:
        ret = await k.kho_out_finalize_set(kho, 1)
        await Update(results, _append, ("retry", ret), text=f"retried finalize returned {ret}")
    await k.kexec_file_load(kho)
    return await k.kernel_kexec(kho)


def build_finalize_retry(k, pages=8, fail_allocs=1):
    """test_kho, then a finalize that may fail at its one allocation of a chunk page
    (kho_mem_serialize's new_chunk), which aborts; the operator retries once, loads, kexecs.
    The first finalize's FINALIZE callbacks have already run kho_add_subtree, which put a
    ``sub_fdts/kho_test`` blob on ``kho_out.ser.fdt_list``; kho_abort does not clear that list
    (only kho_out_update_debugfs_fdt after a successful abort does), so the retry's
    kho_add_subtree gets -EEXIST from debugfs_create_blob, test_kho's callback returns
    NOTIFY_BAD, and the retry fails too - with no allocation failure left."""
    m, kho, loaded = _machine(k, "finalize-retry", build_finalize_retry.__doc__, pages, 2,
                              fail_allocs, frozenset({"new_chunk"}))
    done = m.var("test_kho.done", False)
    results = m.var("operator.results", ())
    m.task("test_kho", module, kho, k.kho_test_init, loaded, 1, (0,), False, done)
    m.task("operator", retrying_operator, k, kho, loaded, 1, results)
    watch = props.Watch(k, kho, test_kho=True)
    props.register(m, kho, watch, (props.KEXEC_REACHED, props.FINALIZE_OK, props.TEST_KHO_OK))
    props.register_retry(m, kho, results)
    return m


def _finalize_retry(k, pages: int = 8, fail_allocs: int = 1) -> Model:
    return build_finalize_retry(k, pages, fail_allocs)


_finalize_retry.__doc__ = build_finalize_retry.__doc__


def _test_kho(k, nr_folios: int = 1, pages: int = 8) -> Model:
    """lib/test_kho.c: module init preserves folios of a chosen order; the selftest finalizes,
    loads and kexecs; the next kernel restores and checks the checksum."""
    return build_test_kho(k, nr_folios, pages, doc=_test_kho.__doc__)


def _test_kho_refinalize(k, nr_folios: int = 1, pages: int = 8) -> Model:
    """test_kho, then finalize, abort, finalize again, load, kexec."""
    return build_test_kho(k, nr_folios, pages,
                          steps=(("finalize", 1), ("finalize", 0)) + SELFTEST,
                          name="test-kho-refinalize", doc=_test_kho_refinalize.__doc__)


def _abort_then_kexec(k, nr_folios: int = 1, pages: int = 8, reuse: int = 0) -> Model:
    """test_kho, then load, finalize, abort and kexec without finalizing again.  With
    ``-D reuse=1`` the allocator may serve one allocation from a freed block, and one more
    kernel user kmallocs a page and writes its own data into it: when that page is a chunk
    or bitmap kho_abort freed, the next kernel (6.16/6.17: the aborted FDT is still handed
    over) parses that user's data as KHO's preserved-memory-map."""
    return build_test_kho(k, nr_folios, pages,
                          steps=(("load", 0), ("finalize", 1), ("finalize", 0), ("kexec", 0)),
                          name="abort-then-kexec", doc=_abort_then_kexec.__doc__, reuse=reuse)


def _double_restore(k, pages: int = 8) -> Model:
    """test_kho lists its folio twice (driver misuse): the next kernel restores it twice."""
    return build_test_kho(k, 1, pages, dup=True, name="double-restore",
                          doc=_double_restore.__doc__)


def _fdbox_race(k, pages: int = 8) -> Model:
    return build_fdbox_race(k, pages)


def _preserve_race(k, pages: int = 8) -> Model:
    return build_preserve_race(k, pages)


_fdbox_race.__doc__ = build_fdbox_race.__doc__
_preserve_race.__doc__ = build_preserve_race.__doc__


def on_era(era, builder):
    """*builder* on *era*: ``build(kernel=None, **params)``, the kernel defaulting to the whole
    era (``khomc bisect`` passes a prefix of its ledger)."""
    def build(kernel=None, **params):
        return builder(kernel or era.namespace(), **params)
    build.__doc__ = builder.__doc__
    build.__name__ = builder.__name__.lstrip("_")
    return build


TABLE = (
    ("test-kho", _test_kho, {"nr_folios": 1, "pages": 8},
     "lib/test_kho.c: preserve, finalize, load, kexec, restore + checksum"),
    ("fdbox-race", _fdbox_race, {"pages": 8},
     "FDBox x2 save/drop an fd || load, finalize, kexec"),
    ("preserve-race", _preserve_race, {"pages": 8},
     "a folio preserve racing finalize's unlocked finalized check"),
    ("test-kho-refinalize", _test_kho_refinalize, {"nr_folios": 1, "pages": 8},
     "test_kho; finalize, abort, finalize, load, kexec"),
    ("abort-then-kexec", _abort_then_kexec, {"nr_folios": 1, "pages": 8, "reuse": 0},
     "test_kho; load, finalize, abort, kexec"),
    ("double-restore", _double_restore, {"pages": 8},
     "test_kho lists one folio twice (driver misuse): restore at most once"),
    ("range-abort", _range_abort, {"pages": 8, "fail_allocs": 1},
     "a 3-page range preserve || finalize, abort; one allocation may fail"),
    ("range-race", _range_race, {"pages": 8},
     "a 3-page range preserve racing finalize, load, kexec; the range restored"),
    ("scratch-load", _scratch_load, {"pages": 15, "debug": False},
     "kexec_file_load places segments in scratch || a movable page preserved, finalize, kexec"),
    ("finalize-retry", _finalize_retry, {"pages": 8, "fail_allocs": 1},
     "test_kho; finalize fails at new_chunk, retry, load, kexec (debugfs fdt_list)"),
    ("scratch-preserve", _scratch_preserve, {"pages": 4, "debug": False},
     "a movable (scratch/CMA) folio preserved || finalize, load, kexec"),
    ("range-pfn0", _range_pfn0, {"pages": 8, "npages": 3},
     "a 3-page range at PFN 0 (boot memory, DRAM at 0) preserved, finalize, load, kexec"),
)


# Scenarios of the functions a later commit adds: (the function, the table entry); an era gets
# them when its linked kernel has the function.
LATER = (
    ("kho_preserve_vmalloc",
     ("vmalloc-race", _vmalloc_race, {"pages": 8, "npages": 2},
      "a 2-page vmalloc area preserved racing finalize, load, kexec; restored (6.18)")),
    ("kho_preserve_vmalloc",
     ("vmalloc-huge", _vmalloc_huge,
      {"pages": 16, "chunk": 511, "fail_allocs": 0},
      "a huge-vmap area (two order-1 blocks) preserved; finalize, load, kexec; restored")),
    ("kho_preserve_vmalloc",
     ("vmalloc-chunk-full", _vmalloc_chunk_full,
      {"pages": 8, "npages": 2, "chunk": 2, "fail_allocs": 1},
      "vmalloc-race on a 2-entry chunk: the next chunk's allocation may fail (6.18 returns 0)")),
)


# Checked by the pins (properties/kho_eras/test_k6_16_k6_18.py) and by ``khomc check``, not by
# the default review (whose REPORT.md has a size budget): the range and vmalloc races, whose
# findings are preserve-race's; and scratch-load on 6.17 (6.16's to the state) and 6.18 (6.16's
# verdicts; its debug-config run is pinned); range-pfn0 (an arm64 board's boot memory at PFN 0).
# vmalloc-chunk-full and vmalloc-huge are in the review: 6.18's own kernel bugs.
NOT_DEFAULT = frozenset({"range-race", "vmalloc-race", "range-pfn0"})
NOT_DEFAULT_ON = {"k6.17": frozenset({"scratch-load"}), "k6.18": frozenset({"scratch-load"})}


def scenarios_for(era, table=TABLE, not_default=frozenset(), later=LATER,
                  symmetric=frozenset()) -> list:
    """*era*'s scenarios: *table*'s, then those of *later* whose function the era has; the
    review checks those named in *symmetric* up to their declared symmetry."""
    k = era.namespace()
    table = tuple(table) + tuple(entry for fn, entry in later if hasattr(k, fn))
    not_default = frozenset(not_default) | NOT_DEFAULT | NOT_DEFAULT_ON.get(era.name, frozenset())
    return declare([Scenario(name, on_era(era, fn), dict(params), doc,
                             default=name not in not_default, symmetry=name in symmetric)
                    for name, fn, params, doc in table])


SCENARIOS = scenarios_for(ERA)


# -- three interchangeable clients (issue 12 item 6; symmetry: khomc.engines.symmetry) ----------

async def _preserver(kho, orders):
    """late_preserver as a module's init (``module`` passes the KHO state first)."""
    return await late_preserver(kho.kernel, kho, orders)


def _three_preservers(k, pages: int = 8, clients: int = 3) -> Model:
    """*clients* interchangeable clients (same code, same arguments) each preserve one folio
    of a chosen order (0 or 1: folios of two orders, each client choosing) from their module
    init, concurrently with each other (xa_load_or_alloc's bitmap allocation and
    xa_cmpxchg raced three ways: the loser frees its page), then the selftest's operator
    finalizes, loads and kexecs once every module has loaded.  Memory: *pages* pages per
    task, claimed in the order the tasks first allocate (``Heap(claim=True)``), so the
    clients are declared symmetric and ``--symmetry`` identifies states that differ by a
    permutation of them.  Every property HOLDS (no VIOLATED to explain; pins in
    properties/kho_eras/test_three_clients.py).  The default review checks it with
    ``--symmetry`` (876,750 states, 41 s on this 2-core machine; the plain search needs
    5,259,411 states, 113 s, and is left to ``khomc check``); ``terminates`` HOLDS there too:
    the graph of orbits has no cycle, so no run of the full graph is infinite."""
    m = Model(k.ERA.name, "three-preservers", doc=_three_preservers.__doc__)
    heap = Heap(m, pages, clients + 1, 0, claim=True)
    kho = k.K616(m, heap, k)
    loaded = m.var("modules_loaded", 0)
    names = tuple(f"client{i}" for i in range(clients))
    for name in names:
        m.task(name, module, kho, _preserver, loaded, ORDERS)
    m.task("operator", operator, k, kho, loaded, clients, SELFTEST)
    m.symmetric([(name, ()) for name in names])
    props.register(m, kho, props.Watch(k, kho), (props.KEXEC_REACHED, props.FINALIZE_OK,
                                                 props.REVIVED))
    return m


THREE_PRESERVERS = ("three-preservers", _three_preservers, {"pages": 8, "clients": 3},
                    "3 interchangeable clients preserve an order-0/1 folio each, then "
                    "finalize, load, kexec (the review checks it up to symmetry)")
SCENARIOS = SCENARIOS + scenarios_for(ERA, (THREE_PRESERVERS,), (), (), {"three-preservers"})
