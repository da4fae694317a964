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
* ``kvmalloc`` memory is placed physically contiguous: only its lifetime and bytes matter here.
* Freed pages are never reused (KASAN's quarantine, unbounded): any later access to them is
  reported, and their stale bytes stay readable to the next kernel, as in real memory.
* Contents are a ``bytes`` value, zero-extended (``b""`` is a zeroed object; reads past the stored
  bytes read zeros), or an immutable structured value for objects only the model reads (the
  ``struct xarray`` inside ``struct kho_mem_phys``).  kmalloc's uninitialised bytes read as zeros.

Allocation failure is an explicit branch: each allocation may return NULL while the scenario's
budget (``fail_allocs``, the failslab/fail_page_alloc fault injection of
Documentation/fault-injection) lasts, optionally only at named call sites.  Running out of pages
also returns NULL.

KASAN (mm/kasan/report.c): the first bad access is recorded in the ``kasan`` slot as a
:class:`KasanReport` naming the access, and the task and call site that allocated and freed the
object; the trace of the run gives the step numbers.  Accesses after the machine has kexec'ed
(``halted``) are not checked: the old kernel's other CPUs are stopped by then.
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
    """The first bad memory access, as generic KASAN prints it."""

    bug: str                  # use-after-free | double-free | invalid-free | wild-memory-access
    addr: int
    access: str               # "Read in <site> by task <name>"
    allocated: str            # "task <name> at <site>" or ""
    freed: str

    def __str__(self) -> str:
        lines = [f"BUG: KASAN: {self.bug} at addr {self.addr:#x}", self.access]
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
                 fail_sites: frozenset | None = None):
        self.model = model
        self.per_task = per_task
        self.nr_pages = 1 + per_task * nr_tasks       # PFN 0 is never handed out
        self.pages = model.var("memory", (None,) * self.nr_pages)
        self.kasan = model.var("kasan", None)
        self.budget = model.var("fail_allocs", fail_allocs)
        self.halted = model.var("halted", False)
        self.fail_sites = fail_sites
        self.fail_allocs = fail_allocs

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


# -- finding objects ------------------------------------------------------------------------------

def lookup(pages: tuple, addr: int) -> tuple[int, Obj] | None:
    """(head PFN, object) of the object containing *addr*, or None if no object was ever there."""
    pfn = addr >> PAGE_SHIFT
    if addr <= 0 or pfn >= len(pages):
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
    """Allocate *npages* pages for an object of *size* bytes; observe its address or 0."""

    __slots__ = ("heap", "kind", "npages", "size", "site", "align")
    _fields = ("heap", "kind", "npages", "size", "site", "align")
    branching = True

    def __init__(self, heap: Heap, kind: str, npages: int, size: int, site: str, align: int = 1):
        self.heap = heap
        self.kind = kind
        self.npages = npages
        self.size = size
        self.site = site
        self.align = align

    def outcomes(self, world, tid):
        heap = self.heap
        pages = world[heap.pages.slot]
        lo = 1 + tid * heap.per_task
        pfn = _find_free(pages, self.npages, self.align, lo, lo + heap.per_task)
        if pfn is None:
            return [(world, 0)]
        obj = Obj(self.kind, self.npages, self.size, True, tid, self.site, None, None, b"")
        w = list(world)
        w[heap.pages.slot] = _place(pages, pfn, obj)
        out = [(tuple(w), pfn << PAGE_SHIFT)]
        budget = world[heap.budget.slot]
        if budget > 0 and heap.may_fail(self.site):
            w = list(world)
            w[heap.budget.slot] = budget - 1
            out.append((tuple(w), 0))
        return out

    def step(self, world, tid):
        return self.outcomes(world, tid)[0]

    def label(self):
        return f"{self.kind}({self.size}) in {self.site}"

    def slots(self):
        return (self.heap.pages.slot, self.heap.budget.slot)


def _pages_for(size: int) -> int:
    return max(1, -(-size // PAGE_SIZE))


def kzalloc(heap: Heap, size: int, site: str) -> Alloc:
    return Alloc(heap, "kmalloc", _pages_for(size), size, site)


kmalloc = kzalloc


def kvmalloc(heap: Heap, size: int, site: str) -> Alloc:
    return Alloc(heap, "kvmalloc", _pages_for(size), size, site)


def get_zeroed_page(heap: Heap, site: str) -> Alloc:
    return Alloc(heap, "page", 1, PAGE_SIZE, site, 1)


def folio_alloc(heap: Heap, order: int, site: str) -> Alloc:
    return Alloc(heap, "folio", 1 << order, PAGE_SIZE << order, site, 1 << order)


# -- checked accesses -----------------------------------------------------------------------------

def _who(heap: Heap, tid, site) -> str:
    return f"task {heap.task_name(tid)} at {site}"


def _report(heap: Heap, bug: str, addr: int, what: str, tid: int, site: str,
            obj: Obj | None) -> KasanReport:
    access = f"{what} in {site} by task {heap.task_name(tid)}"
    if obj is None:
        return KasanReport(bug, addr, access, "", "")
    freed = "" if obj.free_tid is None else _who(heap, obj.free_tid, obj.free_site)
    return KasanReport(bug, addr, access, _who(heap, obj.alloc_tid, obj.alloc_site), freed)


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
    return Op(heap.vars, _heap_read, heap, addr, site, text=f"read {addr:#x} in {site}")


def _heap_read_bytes(values, tid, heap, addr, length, site):
    found, kasan = _check(heap, values, tid, addr, "Read", site)
    data = b""
    if found is not None and isinstance(found[1].data, bytes):
        off = addr - (found[0] << PAGE_SHIFT)
        data = found[1].data[off:off + length]
    return (values[0], kasan, values[2]), data + bytes(length - len(data))


def heap_read_bytes(heap: Heap, addr: int, length: int, site: str) -> Op:
    """``memcpy(dst, addr, length)`` out of an object: its bytes, zero-extended."""
    return Op(heap.vars, _heap_read_bytes, heap, addr, length, site,
              text=f"read {length} bytes at {addr:#x} in {site}")


def heap_modify(heap: Heap, addr: int, site: str, fn, *args) -> Op:
    """Atomically replace an object's contents by ``fn(data, *args) -> (data, observation)``."""
    return Op(heap.vars, _heap_modify, heap, addr, site, fn, args,
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

def _free(values, tid, heap, addr, site, kinds):
    pages, kasan, halted = values
    if addr == 0:
        return values, None
    found = lookup(pages, addr)
    if halted or kasan is not None:
        if found is not None and found[1].live and (found[0] << PAGE_SHIFT) == addr:
            pfn, obj = found
            pages = _replace(pages, pfn, obj._replace(live=False, free_tid=tid, free_site=site))
        return (pages, kasan, halted), None
    if found is None or (found[0] << PAGE_SHIFT) != addr or found[1].kind not in kinds:
        obj = found[1] if found is not None else None
        return (pages, _report(heap, "invalid-free", addr, "Free", tid, site, obj), halted), None
    pfn, obj = found
    if not obj.live:
        return (pages, _report(heap, "double-free", addr, "Free", tid, site, obj), halted), None
    pages = _replace(pages, pfn, obj._replace(live=False, free_tid=tid, free_site=site))
    return (pages, kasan, halted), None


def kfree(heap: Heap, addr: int, site: str) -> Op:
    return Op(heap.vars, _free, heap, addr, site, ("kmalloc",), text=f"kfree({addr:#x}) in {site}")


def kvfree(heap: Heap, addr: int, site: str) -> Op:
    return Op(heap.vars, _free, heap, addr, site, ("kmalloc", "kvmalloc"),
              text=f"kvfree({addr:#x}) in {site}")


def free_page(heap: Heap, addr: int, site: str) -> Op:
    return Op(heap.vars, _free, heap, addr, site, ("page",), text=f"free_page({addr:#x}) in {site}")


def folio_put(heap: Heap, addr: int, site: str) -> Op:
    return Op(heap.vars, _free, heap, addr, site, ("folio",), text=f"folio_put({addr:#x}) in {site}")


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
