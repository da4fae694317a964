"""Physical memory and the allocators over it, with KASAN-style use-after-free detection.

Owns the model of memory every KHO era shares: ``nr_pages`` numbered physical pages (PFN 0..),
the objects allocated on them and their contents, and the generic-KASAN report of a bad access.

Allocators (semantics of mm/slub.c, mm/util.c, mm/page_alloc.c and include/linux/gfp.h at
torvalds/linux v6.14, the base of the KHO v5 series):

* ``kzalloc`` / ``kmalloc``, ``kvmalloc``, ``get_zeroed_page``, ``folio_alloc(order)``; each
  returns a physical address (``virt_to_phys`` is the identity here) or 0 for NULL.
* ``kfree`` / ``kvfree`` / ``free_page`` / ``folio_put`` (a folio here has one reference, so
  folio_put frees it).  ``kfree(NULL)`` is a no-op, as in the kernel.

Simplifications, each chosen so that no property loses a counterexample:

* Every object starts on a page boundary and takes whole pages (a slab of one object).  Physical
  addresses therefore differ from a real kernel's, but every address the next kernel reads is
  still a page the old kernel really allocated.  Folios and pages are naturally aligned to their
  order; kmalloc/kvmalloc objects only to a page.
* Each task allocates from its own range of ``per_task`` pages, as a task pinned to its own CPU
  would from that CPU's per-cpu page lists and slabs (mm/page_alloc.c pcp lists, SLUB's
  per-cpu slabs): the address an allocation gets does not depend on how other tasks'
  allocations interleave with it.  That is one behaviour a real kernel can show, and it keeps
  the state space from multiplying by every permutation of addresses; no property here depends
  on which address an object gets, only on its identity, contents and lifetime.
* ``Heap(..., claim=True)``: a task's range is not fixed by its task id but claimed at its
  first successful fresh allocation, in claim order (the first task to allocate gets the lowest
  range; slot ``ranges`` holds the claimants' task ids in that order).  The address an
  allocation gets then depends on the order in which tasks first allocated, never on which task
  it is, so permuting interchangeable tasks permutes nothing else (symmetry reduction,
  khomc.engines.symmetry: the heap registers its slots' task ids - objects' allocating and
  freeing tasks, the claimants, KASAN's task names - in ``Model.task_ids``).  Still one
  behaviour a real kernel can show: each task keeps to its own pages once it has some.
* ``kvmalloc`` memory is placed physically contiguous: only its lifetime and bytes matter here.
* Reuse of freed memory is a bounded choice (``Heap(..., reuse=N)``, default 0).  With
  ``reuse=0`` freed memory is never handed out again (KASAN's quarantine, unbounded): any later
  access is reported and the stale bytes stay readable to the next kernel.  With ``reuse=N`` an
  allocation may also, while the budget of N reuses lasts, be served from any freed block of the
  same page count and alignment, as the kernel's allocators serve later allocations from freed
  memory (SLUB's per-cpu freelists, and KASAN's quarantine once it is reduced:
  ``kasan_quarantine_reduce`` from ``__kasan_slab_alloc`` / ``____kasan_kmalloc`` in
  mm/kasan/common.c@022012dcf442; freed pages go straight back to the page allocator, which
  poisons but does not quarantine them).  The reused block is live again with its new owner's
  allocation track, so a stale pointer into it is *not* reported: a write through it silently
  changes the new owner's data, and a read returns the new owner's bytes - what the next kernel
  reads is whatever the last user wrote.  kzalloc / get_zeroed_page clear a reused block;
  kmalloc and folio_alloc (no __GFP_ZERO) leave its stale bytes.  Abstraction: only a whole
  freed block is reused, at its own head PFN (no buddy split or merge); that under-approximates
  the addresses a real kernel may hand out again, so a bug found with reuse is a real
  interleaving, and a HOLDS with reuse on covers these reuse patterns only.  The choice is
  offered after the fresh-page outcome and the failure outcome, so traces recorded with
  ``reuse=0`` replay unchanged.
* Contents are a ``bytes`` value, zero-extended (``b""`` is a zeroed object; reads past the stored
  bytes read zeros), or an immutable structured value for objects only the model reads (the
  ``struct xarray`` inside ``struct kho_mem_phys``).  kmalloc's uninitialised bytes read as zeros.

Allocation failure is an explicit branch: each allocation may return NULL while the scenario's
budget (``fail_allocs``, the failslab/fail_page_alloc fault injection of
Documentation/fault-injection) lasts, optionally only at named call sites.  Running out of pages
also returns NULL.

KASAN (mm/kasan/report.c@015b109f1f7a): the first bad access is recorded in the ``kasan`` slot as
a :class:`KasanReport` naming the access, and the task and call site that allocated and freed
the object; the trace of the run gives the step numbers.  Accesses after the machine has
kexec'ed (``halted``) are not checked: the old kernel's other CPUs are stopped by then.  The
report kinds and their kernel text:

* ``use-after-free``, ``null-ptr-deref``, ``wild-memory-access``: ``kasan_report`` ->
  ``print_error_description``: "BUG: KASAN: <type> in <ip>" then "Read|Write ... at addr ...
  by task ..." (types from ``kasan_get_bug_type``, mm/kasan/report_generic.c@0f9b35f38318).
* ``invalid-free`` / ``double-free``: ``kasan_report_invalid_free`` prints "BUG: KASAN:
  invalid-free in <ip>" / "BUG: KASAN: double-free in <ip>".  kfree of a slab object:
  ``____kasan_slab_free`` reports invalid-free when the pointer is not the object's start
  (``nearest_obj(...) != object``) and double-free when the object is already poisoned
  (``!kasan_byte_accessible``) - mm/kasan/common.c@022012dcf442.  The object is not freed.

Freeing with the wrong allocator, as the kernel handles it (each recorded in the same slot, with
the kernel's own first line as ``title``; the memory stays allocated except on the pre-patch
kfree path below):

* kfree / kvfree of page-allocator memory (``get_zeroed_page``, ``folio_alloc``): kfree finds
  no slab flag and calls ``free_large_kmalloc``, which since the large-kmalloc page type
  (Matthew Wilcox, Z8W_1l7lCFqMiwXV@casper.infradead.org, mm/slub.c) refuses a folio that is
  not a large kmalloc: ``WARN_ON_ONCE`` and ``dump_page(..., "Not a kmalloc allocation")``,
  then returns.  With ``Heap(..., large_kmalloc_type=False)`` (kernels before that patch)
  kfree frees the page through ``kasan_kfree_large`` (invalid-free if not the head page,
  double-free if already freed) after ``WARN_ON_ONCE(order == 0)`` for an order-0 page.
* free_page / folio_put of slab memory (``kmalloc``): the page allocator's free-time check
  finds a page that is not in the state a freed page must be in and prints "BUG: Bad page
  state in process <comm>  pfn:<pfn>" (``bad_page`` in mm/page_alloc.c; the slab page type
  reads as a nonzero mapcount); the page is not put on a free list.
* free_page of a higher-order folio, folio_put / free_page of a kvmalloc block: the same
  bad-page report (wrong order, not a page-allocator page).
* free_page / folio_put of a page that was already freed: the refcount is already zero,
  ``VM_BUG_ON_PAGE(page_ref_count(page) == 0)`` (CONFIG_DEBUG_VM) - reported as
  ``double-free`` with that title: KASAN does not watch page refcounts.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..runtime.effects import Effect, Op, Var
from ..runtime.spec import Model

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


class Obj(NamedTuple):
    """One allocated object, at its head PFN.  Tail pages of the object hold the head PFN."""

    kind: str                 # kmalloc | kvmalloc | page | folio
    npages: int
    size: int                 # bytes asked for (folios: PAGE_SIZE << order)
    live: bool
    alloc_tid: int
    alloc_site: str
    free_tid: int | None
    free_site: str | None
    data: Any                 # bytes, zero-extended; or a structured immutable value


class KasanReport(NamedTuple):
    """The first bad memory access or free, as the kernel prints it (see the module header)."""

    bug: str                  # use-after-free | double-free | invalid-free | wild-memory-access
    #                           | null-ptr-deref | not-kmalloc | bad-page-state
    addr: int
    access: str               # "Read in <site> by task <name>"
    allocated: str            # "task <name> at <site>" or ""
    freed: str
    title: str = ""           # the kernel's first line when it is not a KASAN report

    def __repr__(self) -> str:     # without an empty title, as traces saved before it show it
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields
                           if f != "title" or self.title)
        return f"KasanReport({fields})"

    def __str__(self) -> str:
        lines = [self.title or f"BUG: KASAN: {self.bug} at addr {self.addr:#x}", self.access]
        if self.allocated:
            lines.append(f"Allocated by {self.allocated}")
        if self.freed:
            lines.append(f"Freed by {self.freed}")
        return "\n".join(lines)


class Heap:
    """The physical pages of one scenario and the slots of its allocator state.

    Slots: ``pages`` (tuple, one entry per PFN: None free, an :class:`Obj` at a head PFN, the head
    PFN at a tail page), ``kasan`` (None or the first report), ``budget`` (allocation failures
    still allowed), ``halted`` (the machine has kexec'ed).
    Invariant: an Obj at PFN p with npages n has p's n-1 successors holding p.
    """

    def __init__(self, model: Model, per_task: int, nr_tasks: int, fail_allocs: int = 0,
                 fail_sites: frozenset | None = None, reuse: int = 0,
                 large_kmalloc_type: bool = True, claim: bool = False, boot_range: int = 0):
        if reuse < 0 or fail_allocs < 0:
            raise ValueError(f"Heap: reuse ({reuse}) and fail_allocs ({fail_allocs}) are "
                             "budgets and cannot be negative")
        self.model = model
        self.per_task = per_task
        self.nr_pages = 1 + per_task * nr_tasks       # PFN 0 is never handed out
        if not 0 <= boot_range <= self.nr_pages:
            raise ValueError(f"Heap: boot_range ({boot_range}) must fit in the "
                             f"{self.nr_pages} pages of memory")
        # Invariant: boot_range > 0 puts a live object of that many pages at PFN 0 - memory
        # memblock reserved at boot (reserve_mem=, a firmware carve-out) on a machine whose
        # DRAM starts at physical address 0 (arm64 boards such as the Raspberry Pi 4); no
        # allocator hands it out, its pages are skipped by the task range they overlap
        memory = (None,) * self.nr_pages
        if boot_range:
            boot = Obj("memblock", boot_range, boot_range * PAGE_SIZE, True, -1,
                       "memblock_reserve at boot", None, None, b"")
            memory = (boot,) + (0,) * (boot_range - 1) + memory[boot_range:]
        self.pages = model.var("memory", memory)
        self.kasan = model.var("kasan", None)
        self.budget = model.var("fail_allocs", fail_allocs)
        self.halted = model.var("halted", False)
        self.fail_sites = fail_sites
        self.fail_allocs = fail_allocs
        self.reuse = reuse
        # Invariant: reuses still allowed; a slot only when reuse is on (layout unchanged else)
        self.reuse_left = model.var("reuse", reuse) if reuse else None
        self.large_kmalloc_type = large_kmalloc_type
        # Invariant: the task ids that claimed a range, in claim order; a slot only with claim
        self.claims = model.var("ranges", ()) if claim else None
        register_memory(model, self)
        if claim:
            register_task_ids(model, self)

    def __eq__(self, other):
        return isinstance(other, Heap) and other.pages == self.pages

    def __hash__(self):
        return hash((Heap, self.pages))

    def __repr__(self):
        return "heap"

    def task_name(self, tid: int) -> str:
        tasks = self.model.tasks
        return tasks[tid].name if 0 <= tid < len(tasks) else f"task#{tid}"

    def may_fail(self, site: str) -> bool:
        return self.fail_sites is None or site in self.fail_sites

    def can_fail(self, site: str) -> bool:
        """Whether an allocation at *site* may ever fail in this scenario (a static fact)."""
        return self.fail_allocs > 0 and self.may_fail(site)

    @property
    def vars(self) -> tuple[Var, Var, Var]:
        return (self.pages, self.kasan, self.halted)

    @property
    def all_pages(self) -> frozenset:
        """Every page of memory as a partial-order-reduction location ``(slot, pfn)``."""
        return self.model.split[self.pages.slot]

    def object_pages(self, addr: int) -> frozenset:
        """The pages an access at *addr* may touch: its own page and the pages below it in the
        same task range (the object's head is among them).  Empty for an address outside
        memory (a NULL or wild access touches no page)."""
        pfn = addr >> PAGE_SHIFT
        if addr <= 0 or pfn >= self.nr_pages:
            return frozenset()
        lo = 1 + (pfn - 1) // self.per_task * self.per_task
        m = self.pages.slot
        return frozenset((m, p) for p in range(lo, pfn + 1))


def register_memory(model: Model, heap: Heap) -> None:
    """Tell the engines that the memory slot is made of pages: partial-order reduction then
    treats an effect that names the whole slot as touching every page ``(slot, pfn)``, and an
    effect with ``locations()`` as touching only the pages it names.  The world layout and the
    semantics are unchanged (one slot holds the tuple of pages)."""
    m = heap.pages.slot
    model.split[m] = frozenset((m, p) for p in range(heap.nr_pages))


def register_task_ids(model: Model, heap: Heap) -> None:
    """Register the heap's slots that hold task ids (claim mode only, see the module header)
    with pure relabelling functions ``fn(value, {old tid: new tid})``."""
    def pages(value, perm):
        return tuple(_relabel_obj(e, perm) if type(e) is Obj else e for e in value)

    def claims(value, perm):
        return tuple(perm.get(t, t) for t in value)

    def kasan(report, perm):
        if report is None:
            return None
        names = {heap.task_name(a): heap.task_name(b) for a, b in perm.items()}
        return report._replace(**{f: _rename(getattr(report, f), names)
                                  for f in ("access", "allocated", "freed", "title")})

    model.task_ids[heap.pages.slot] = pages
    model.task_ids[heap.claims.slot] = claims
    model.task_ids[heap.kasan.slot] = kasan


def _relabel_obj(obj: Obj, perm: dict) -> Obj:
    a, f = obj.alloc_tid, obj.free_tid
    if a not in perm and f not in perm:
        return obj
    return obj._replace(alloc_tid=perm.get(a, a), free_tid=perm.get(f, f))


def _rename(text: str, names: dict) -> str:
    """*text* of a report with the task names after "task " and "process " renamed."""
    import re
    return re.sub(r"(task |process )(\S+)",
                  lambda mt: mt.group(1) + names.get(mt.group(2), mt.group(2)), text)


# -- finding objects ------------------------------------------------------------------------------

def lookup(pages: tuple, addr: int) -> tuple[int, Obj] | None:
    """(head PFN, object) of the object containing *addr*, or None if no object was ever there.
    PFN 0 holds an object only with ``Heap(boot_range=...)``; otherwise address 0 finds none."""
    pfn = addr >> PAGE_SHIFT
    if addr < 0 or pfn >= len(pages):
        return None
    entry = pages[pfn]
    if entry is None:
        return None
    if isinstance(entry, int):
        pfn, entry = entry, pages[entry]
    return pfn, entry


def read_phys(pages: tuple, phys: int, length: int) -> bytes:
    """The bytes at [phys, phys+length) as the next kernel finds them (stale data included).

    >>> read_phys((None, None), 0x1000, 4)
    b'\\x00\\x00\\x00\\x00'
    """
    out = bytearray()
    while length > 0:
        found = lookup(pages, phys)
        in_page = PAGE_SIZE - (phys & (PAGE_SIZE - 1))
        n = min(length, in_page)
        if found is None or not isinstance(found[1].data, bytes):
            out += bytes(n)
        else:
            head, obj = found
            off = phys - (head << PAGE_SHIFT)
            chunk = obj.data[off:off + n]
            out += chunk + bytes(n - len(chunk))
        phys += n
        length -= n
    return bytes(out)


def _find_free(pages: tuple, npages: int, align: int, lo: int, hi: int) -> int | None:
    """Lowest run of *npages* never-used pages in [lo, hi) starting at a multiple of *align*."""
    pfn = -(-lo // align) * align
    while pfn + npages <= min(hi, len(pages)):
        if all(pages[p] is None for p in range(pfn, pfn + npages)):
            return pfn
        pfn += align
    return None


def _place(pages: tuple, pfn: int, obj: Obj) -> tuple:
    tail = (pfn,) * (obj.npages - 1)
    return pages[:pfn] + (obj,) + tail + pages[pfn + obj.npages:]


def _replace(pages: tuple, pfn: int, obj: Obj) -> tuple:
    return pages[:pfn] + (obj,) + pages[pfn + 1:]


# -- allocation (a branching effect) --------------------------------------------------------------

class Alloc(Effect):
    """Allocate *npages* pages for an object of *size* bytes; observe its address or 0.

    Outcomes, in this order: a fresh block of the task's own range and the failure (while the
    fault-injection budget lasts), or NULL when the range is full; then - while the reuse budget lasts -
    each freed block of the same page count and alignment, lowest PFN first."""

    __slots__ = ("heap", "kind", "npages", "size", "site", "align", "zero")
    _fields = ("heap", "kind", "npages", "size", "site", "align", "zero")
    branching = True

    def __init__(self, heap: Heap, kind: str, npages: int, size: int, site: str, align: int = 1,
                 zero: bool = True):
        self.heap = heap
        self.kind = kind
        self.npages = npages
        self.size = size
        self.site = site
        self.align = align
        self.zero = zero

    def outcomes(self, world, tid):
        heap = self.heap
        pages = world[heap.pages.slot]
        claims = None
        if heap.claims is None:
            index = tid
        else:
            claims = world[heap.claims.slot]
            index = claims.index(tid) if tid in claims else len(claims)
        lo = 1 + index * heap.per_task
        pfn = _find_free(pages, self.npages, self.align, lo, lo + heap.per_task)
        obj = Obj(self.kind, self.npages, self.size, True, tid, self.site, None, None, b"")
        if pfn is None:
            out = [(world, 0)]                      # the task's range is full: NULL
        else:
            w = list(world)
            w[heap.pages.slot] = _place(pages, pfn, obj)
            if claims is not None and index == len(claims):
                w[heap.claims.slot] = claims + (tid,)
            out = [(tuple(w), pfn << PAGE_SHIFT)]
            budget = world[heap.budget.slot]
            if budget > 0 and heap.may_fail(self.site):
                w = list(world)
                w[heap.budget.slot] = budget - 1
                out.append((tuple(w), 0))
        if heap.reuse_left is not None and world[heap.reuse_left.slot] > 0:
            left = world[heap.reuse_left.slot]
            for head, old in _freed_blocks(pages, self.npages, self.align):
                again = obj if self.zero else obj._replace(data=old.data)
                w = list(world)
                w[heap.pages.slot] = _replace(pages, head, again)
                w[heap.reuse_left.slot] = left - 1
                out.append((tuple(w), head << PAGE_SHIFT))
        return out

    def step(self, world, tid):
        return self.outcomes(world, tid)[0]

    def label(self):
        return f"{self.kind}({self.size}) in {self.site}"

    def slots(self):
        out = (self.heap.pages.slot, self.heap.budget.slot)
        if self.heap.claims is not None:
            out += (self.heap.claims.slot,)
        if self.heap.reuse_left is not None:
            out += (self.heap.reuse_left.slot,)
        return out

    def locations(self, tid):
        """(reads, writes) at page granularity (partial-order reduction): the task's own range
        of pages; every page when freed blocks may be reused; the failure budget only when
        this site can fail."""
        heap = self.heap
        m = heap.pages.slot
        if heap.reuse_left is not None or heap.claims is not None:
            locs = set(heap.all_pages) | {v.slot for v in (heap.reuse_left, heap.claims)
                                          if v is not None}
        else:
            lo = 1 + tid * heap.per_task
            locs = {(m, p) for p in range(lo, min(lo + heap.per_task, heap.nr_pages))}
        if heap.can_fail(self.site):
            locs.add(heap.budget.slot)
        locs = frozenset(locs)
        return locs, locs

    def locations_in(self, world, tid):
        """:meth:`locations` in *world*, for the fast search's effect memo: with claimed
        ranges (and no reuse) the pages of the one range the allocation comes from - the
        task's claimed range, or the next unclaimed one - and the claimants; a function of
        the ``ranges`` slot alone.  As :meth:`locations` otherwise."""
        heap = self.heap
        if heap.claims is None or heap.reuse_left is not None:
            return self.locations(tid)
        claims = world[heap.claims.slot]
        lo = 1 + (claims.index(tid) if tid in claims else len(claims)) * heap.per_task
        m = heap.pages.slot
        locs = {(m, p) for p in range(lo, min(lo + heap.per_task, heap.nr_pages))}
        locs.add(heap.claims.slot)
        if heap.can_fail(self.site):
            locs.add(heap.budget.slot)
        locs = frozenset(locs)
        return locs, locs


def _freed_blocks(pages: tuple, npages: int, align: int):
    """(head PFN, Obj) of every freed block of *npages* pages at a multiple of *align*."""
    for pfn, entry in enumerate(pages):
        if type(entry) is Obj and not entry.live and entry.npages == npages and pfn % align == 0:
            yield pfn, entry


def _pages_for(size: int) -> int:
    return max(1, -(-size // PAGE_SIZE))


def kzalloc(heap: Heap, size: int, site: str) -> Alloc:
    return Alloc(heap, "kmalloc", _pages_for(size), size, site)


def kmalloc(heap: Heap, size: int, site: str) -> Alloc:
    """kmalloc without __GFP_ZERO: a reused block keeps its stale bytes (fresh memory reads as
    zeros, see the module header)."""
    return Alloc(heap, "kmalloc", _pages_for(size), size, site, 1, False)


def kvmalloc(heap: Heap, size: int, site: str) -> Alloc:
    return Alloc(heap, "kvmalloc", _pages_for(size), size, site)


def get_zeroed_page(heap: Heap, site: str) -> Alloc:
    return Alloc(heap, "page", 1, PAGE_SIZE, site, 1)


def folio_alloc(heap: Heap, order: int, site: str) -> Alloc:
    return Alloc(heap, "folio", 1 << order, PAGE_SIZE << order, site, 1 << order, False)


# -- checked accesses -----------------------------------------------------------------------------

class HeapOp(Op):
    """An :class:`Op` on the heap's slots that touches one object: the one containing *addr*.

    Same semantics as Op; it adds :meth:`locations`, the pages it may read and write, for
    partial-order reduction.  The object containing a page starts at that page or below it in
    the same task range (objects never cross ranges), so its head is one of those pages.  KASAN's
    slot is read and written only when the access is bad; the reduction sees from each step's
    outcome whether it wrote it (see :mod:`khomc.engines.por`)."""

    __slots__ = ("addr", "writes_object")

    def __init__(self, heap: Heap, fn, addr: int, writes_object: bool, *args, text=None):
        super().__init__(heap.vars, fn, heap, addr, *args, text=text)
        self.addr = addr
        self.writes_object = writes_object

    def locations(self, tid):
        heap = self.args[0]
        near = heap.object_pages(self.addr)
        reads = near | {heap.kasan.slot, heap.halted.slot}
        writes = (near if self.writes_object else frozenset()) | {heap.kasan.slot}
        return frozenset(reads), frozenset(writes)


def _who(heap: Heap, tid, site) -> str:
    return f"task {heap.task_name(tid)} at {site}"


def _report(heap: Heap, bug: str, addr: int, what: str, tid: int, site: str,
            obj: Obj | None, title: str = "") -> KasanReport:
    access = f"{what} in {site} by task {heap.task_name(tid)}"
    if obj is None:
        return KasanReport(bug, addr, access, "", "", title)
    freed = "" if obj.free_tid is None else _who(heap, obj.free_tid, obj.free_site)
    return KasanReport(bug, addr, access, _who(heap, obj.alloc_tid, obj.alloc_site), freed, title)


def _check(heap, values, tid, addr, what, site):
    """(found or None, new kasan value) for an access of kind *what* to *addr*."""
    pages, kasan, halted = values
    found = lookup(pages, addr)
    if halted or kasan is not None:
        return found, kasan
    if found is None:
        bug = "null-ptr-deref" if addr < PAGE_SIZE else "wild-memory-access"
        return None, _report(heap, bug, addr, what, tid, site, None)
    if not found[1].live:
        return found, _report(heap, "use-after-free", addr, what, tid, site, found[1])
    return found, kasan


def _heap_read(values, tid, heap, addr, site):
    found, kasan = _check(heap, values, tid, addr, "Read", site)
    data = found[1].data if found is not None else b""
    return (values[0], kasan, values[2]), data


def _heap_modify(values, tid, heap, addr, site, fn, args):
    found, kasan = _check(heap, values, tid, addr, "Write", site)
    pages = values[0]
    if found is None:
        return (pages, kasan, values[2]), None
    pfn, obj = found
    data, obs = fn(obj.data, *args)
    return (_replace(pages, pfn, obj._replace(data=data)), kasan, values[2]), obs


def heap_read(heap: Heap, addr: int, site: str) -> Op:
    """Read a whole object's contents (one load of the memory at *addr*)."""
    return HeapOp(heap, _heap_read, addr, False, site, text=f"read {addr:#x} in {site}")


def _heap_read_bytes(values, tid, heap, addr, length, site):
    found, kasan = _check(heap, values, tid, addr, "Read", site)
    data = b""
    if found is not None and isinstance(found[1].data, bytes):
        off = addr - (found[0] << PAGE_SHIFT)
        data = found[1].data[off:off + length]
    return (values[0], kasan, values[2]), data + bytes(length - len(data))


def heap_read_bytes(heap: Heap, addr: int, length: int, site: str) -> Op:
    """``memcpy(dst, addr, length)`` out of an object: its bytes, zero-extended."""
    return HeapOp(heap, _heap_read_bytes, addr, False, length, site,
                  text=f"read {length} bytes at {addr:#x} in {site}")


def heap_modify(heap: Heap, addr: int, site: str, fn, *args) -> Op:
    """Atomically replace an object's contents by ``fn(data, *args) -> (data, observation)``."""
    return HeapOp(heap, _heap_modify, addr, True, site, fn, args,
                  text=f"write {addr:#x} in {site}")


def _put_bytes(data, offset, value):
    data = data if isinstance(data, bytes) else b""
    if len(data) < offset:
        data = data + bytes(offset - len(data))
    return data[:offset] + value + data[offset + len(value):], None


def memcpy_to(heap: Heap, addr: int, value: bytes, site: str, offset: int = 0) -> Op:
    """``memcpy(obj + offset, value, len)`` as one write."""
    return heap_modify(heap, addr, site, _put_bytes, offset, value)


# -- freeing --------------------------------------------------------------------------------------

_SLAB_APIS = ("kfree", "kvfree")


def _frees(api: str, obj: Obj) -> bool:
    """Does *api* take the path that matches how *obj* was allocated?"""
    if api == "kfree":
        return obj.kind == "kmalloc"
    if api == "kvfree":                   # is_vmalloc_addr() ? vfree() : kfree()
        return obj.kind in ("kmalloc", "kvmalloc")
    if api == "free_page":                # free_pages(addr, 0): one order-0 page
        return obj.kind in ("page", "folio") and obj.npages == 1
    return obj.kind in ("page", "folio")  # folio_put: any page-allocator folio


def _free(values, tid, heap, addr, site, api):
    pages, kasan, halted = values
    if addr == 0:
        return values, None               # kfree(NULL) / free_page(0): nothing to do
    found = lookup(pages, addr)
    head = found is not None and (found[0] << PAGE_SHIFT) == addr
    if halted or kasan is not None:       # unchecked: free what a correct call would free
        if head and found[1].live and _frees(api, found[1]):
            pfn, obj = found
            pages = _replace(pages, pfn, obj._replace(live=False, free_tid=tid, free_site=site))
        return (pages, kasan, halted), None
    obj = found[1] if found is not None else None
    name = heap.task_name(tid)
    if obj is None:
        return (pages, _report(heap, "invalid-free", addr, "Free", tid, site, None), halted), None
    if _frees(api, obj):
        if not head:
            bug = "invalid-free" if api in _SLAB_APIS else "bad-page-state"
            title = "" if api in _SLAB_APIS else _bad_page(name, addr)
            return (pages, _report(heap, bug, addr, "Free", tid, site, obj, title), halted), None
        if not obj.live:
            title = "" if api in _SLAB_APIS else \
                "VM_BUG_ON_PAGE(page_ref_count(page) == 0) in put_page_testzero"
            return (pages, _report(heap, "double-free", addr, "Free", tid, site, obj, title),
                    halted), None
    elif api in _SLAB_APIS and obj.kind in ("page", "folio"):
        # kfree of page-allocator memory: no slab flag -> free_large_kmalloc
        if heap.large_kmalloc_type:
            title = (f"WARNING: in free_large_kmalloc (mm/slub.c) by task {name}: "
                     f"page:{addr >> PAGE_SHIFT:#x} dumped because: Not a kmalloc allocation")
            return (pages, _report(heap, "not-kmalloc", addr, "Free", tid, site, obj, title),
                    halted), None
        if not head:
            return (pages, _report(heap, "invalid-free", addr, "Free", tid, site, obj),
                    halted), None
        if not obj.live:
            return (pages, _report(heap, "double-free", addr, "Free", tid, site, obj),
                    halted), None
        pfn = found[0]
        pages = _replace(pages, pfn, obj._replace(live=False, free_tid=tid, free_site=site))
        if obj.npages == 1:               # WARN_ON_ONCE(order == 0), then freed all the same
            title = (f"WARNING: in free_large_kmalloc (mm/slub.c) by task {name}: "
                     f"object pointer: {addr:#x} (order 0)")
            kasan = _report(heap, "not-kmalloc", addr, "Free", tid, site, obj, title)
        return (pages, kasan, halted), None
    elif api in _SLAB_APIS:
        # kfree of kvmalloc (vmalloc) memory: virt_to_folio() of a vmalloc address is not a
        # page of the direct map; the model reports it as KASAN's invalid-free
        return (pages, _report(heap, "invalid-free", addr, "Free", tid, site, obj), halted), None
    else:
        # the page allocator freeing slab / vmalloc memory, or a folio at the wrong order
        return (pages, _report(heap, "bad-page-state", addr, "Free", tid, site, obj,
                               _bad_page(name, addr)), halted), None
    pfn = found[0]
    pages = _replace(pages, pfn, obj._replace(live=False, free_tid=tid, free_site=site))
    return (pages, kasan, halted), None


def _bad_page(comm: str, addr: int) -> str:
    return f"BUG: Bad page state in process {comm}  pfn:{addr >> PAGE_SHIFT:05x}"


def _free_op(heap: Heap, addr: int, site: str, api: str) -> Op:
    return HeapOp(heap, _free, addr, True, site, api, text=f"{api}({addr:#x}) in {site}")


def kfree(heap: Heap, addr: int, site: str) -> Op:
    return _free_op(heap, addr, site, "kfree")


def kvfree(heap: Heap, addr: int, site: str) -> Op:
    return _free_op(heap, addr, site, "kvfree")


def free_page(heap: Heap, addr: int, site: str) -> Op:
    return _free_op(heap, addr, site, "free_page")


def folio_put(heap: Heap, addr: int, site: str) -> Op:
    return _free_op(heap, addr, site, "folio_put")


class FailPoint(Effect):
    """An allocation whose memory the model does not track (KHO's private bookkeeping such as
    a ``struct kho_prop`` or a kstrdup'ed name): only its failure matters.  Observes True when
    the allocation succeeded, False when the failure budget was spent on it."""

    __slots__ = ("heap", "site")
    _fields = ("heap", "site")
    branching = True

    def __init__(self, heap: Heap, site: str):
        self.heap = heap
        self.site = site

    def outcomes(self, world, tid):
        out = [(world, True)]
        budget = world[self.heap.budget.slot]
        if budget > 0 and self.heap.may_fail(self.site):
            w = list(world)
            w[self.heap.budget.slot] = budget - 1
            out.append((tuple(w), False))
        return out

    def step(self, world, tid):
        return world, True

    def label(self):
        return f"allocate in {self.site}"

    def slots(self):
        return (self.heap.budget.slot,)


async def may_allocate(heap: Heap, site: str) -> bool:
    """Whether an untracked allocation at *site* succeeds; no step when it cannot fail."""
    if not heap.can_fail(site):
        return True
    return await FailPoint(heap, site)


def memory_safe(view, heap: Heap) -> bool:
    """No KASAN report was recorded."""
    return view[heap.kasan] is None
