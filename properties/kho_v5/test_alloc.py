"""The allocator as the kernel's (khomc.kernel.alloc): freed memory is reused when the scenario
allows it, so a use after free corrupts another user's data silently; freeing with the wrong
allocator is reported as the kernel reports it.  Small hand-built models on the primitives."""

import pytest

from khomc.engines.search import check
from khomc.kernel.alloc import (PAGE_SIZE, Heap, folio_alloc, folio_put, free_page,
                                get_zeroed_page, heap_read_bytes, kfree, kmalloc, kvfree, kvmalloc,
                                kzalloc, memcpy_to)
from khomc.runtime import Model, load, store


# -- reuse: a use after free corrupts the next owner ----------------------------------------------

async def _stale_writer(heap, published, done):
    """Allocate, publish, free - then write through the stale pointer (the bug)."""
    p = await kzalloc(heap, 16, "writer_alloc")
    await store(published, p)
    await kfree(heap, p, "writer_free")
    await store(done, True)
    await memcpy_to(heap, p, b"EVIL", "writer_uaf")


async def _victim(heap, done, seen):
    while not await load(done):
        pass
    q = await kzalloc(heap, 16, "victim_alloc")
    await memcpy_to(heap, q, b"GOOD", "victim_init")
    data = await heap_read_bytes(heap, q, 4, "victim_read")
    await store(seen, (q, data))


def _uaf_model(reuse: int):
    m = Model("t", f"uaf-reuse{reuse}")
    heap = Heap(m, 2, 2, reuse=reuse)
    published = m.var("published", 0)
    done = m.var("done", False)
    seen = m.var("seen", None)
    m.task("writer", _stale_writer, heap, published, done)
    m.task("victim", _victim, heap, done, seen)
    m.always("memory-safety", lambda s: s[heap.kasan] is None)
    m.final("victim-reads-its-data", lambda s: s[seen] is not None and s[seen][1] == b"GOOD")
    m.sometimes("victim-got-the-freed-block",
                lambda s: s[seen] is not None and s[seen][0] == s[published])
    return m, heap


def test_without_reuse_kasan_sees_the_use_after_free():
    m, _ = _uaf_model(0)
    r = check(m)
    assert r.property("memory-safety").verdict.value == "VIOLATED"
    assert "use-after-free" in str(r.property("memory-safety").trace.steps[-1].changes["kasan"][1])
    assert r.property("victim-reads-its-data").verdict.value == "HOLDS"
    assert r.property("victim-got-the-freed-block").verdict.value == "VIOLATED"   # vacuous


def test_with_reuse_the_stale_write_corrupts_the_next_owner_unreported():
    m, heap = _uaf_model(1)
    r = check(m)
    corrupt = r.property("victim-reads-its-data")
    assert corrupt.verdict.value == "VIOLATED"
    assert r.property("victim-got-the-freed-block").verdict.value == "HOLDS"


def _final_states(m):
    """Every final world of *m* (a tiny explicit search, no engine features)."""
    from khomc.runtime.step import Stepper
    st = Stepper(m)
    init = st.initial()
    seen, todo, finals = {init}, [init], []
    while todo:
        s = todo.pop()
        succ = st.expand(s)
        if st.all_done(s):
            finals.append(s[0])
        for _, _, nxt in succ:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return finals


def test_reuse_corruption_is_silent_and_kasan_catches_the_rest():
    m, heap = _uaf_model(1)
    seen = m.vars[[v.name for v in m.vars].index("seen")]
    outcomes = {(w[seen.slot][1], w[heap.kasan.slot] is None) for w in _final_states(m)}
    # reused and written after: the victim reads EVIL and KASAN said nothing;
    # reused and written before the victim's init: GOOD, silent; not reused: UAF reported
    assert (b"EVIL", True) in outcomes
    assert (b"GOOD", False) in outcomes
    assert all(not (data == b"EVIL" and not clean) for data, clean in outcomes)


def test_reuse_is_bounded_by_its_budget():
    m, heap = _uaf_model(1)
    worlds = _final_states(m)
    assert {w[heap.reuse_left.slot] for w in worlds} == {0, 1}
    assert Heap(Model("t", "x"), 1, 1).reuse_left is None      # reuse off: no extra slot


async def _reuse_keeps_stale_bytes(heap, out):
    p = await kmalloc(heap, 8, "first")
    await memcpy_to(heap, p, b"SECRET!!", "fill")
    await kfree(heap, p, "free")
    q = await kmalloc(heap, 8, "second")          # no __GFP_ZERO
    r = await kzalloc(heap, 8, "third")
    a = await heap_read_bytes(heap, q, 8, "peek")
    b = await heap_read_bytes(heap, r, 8, "peek0")
    await store(out, (q == p, a, b))


def test_kmalloc_reuse_keeps_stale_bytes_and_kzalloc_clears():
    m = Model("t", "stale")
    heap = Heap(m, 3, 1, reuse=1)
    out = m.var("out", None)
    m.task("t", _reuse_keeps_stale_bytes, heap, out)
    values = {w[out.slot] for w in _final_states(m)}
    assert (True, b"SECRET!!", bytes(8)) in values     # kmalloc got the freed block back
    assert (False, bytes(8), bytes(8)) in values       # or a fresh one


# -- the next kernel reads what a later user wrote ------------------------------------------------

async def _handover_uaf(heap, handed):
    folio = await folio_alloc(heap, 0, "preserve_alloc")
    await memcpy_to(heap, folio, b"PRESERVED", "fill")
    await store(handed, folio)                   # "preserved": the next kernel will read it
    await folio_put(heap, folio, "buggy_put")    # ...but the driver frees it anyway
    other = await get_zeroed_page(heap, "someone_else")
    await memcpy_to(heap, other, b"OTHER", "other_fill")


def test_reused_preserved_page_hands_another_users_bytes_to_the_next_kernel():
    from khomc.kernel.alloc import read_phys
    m = Model("t", "handover")
    heap = Heap(m, 2, 1, reuse=1)
    handed = m.var("handed", 0)
    m.task("driver", _handover_uaf, heap, handed)
    got = {read_phys(w[heap.pages.slot], w[handed.slot], 9) for w in _final_states(m)}
    assert got == {b"PRESERVED", b"OTHER" + bytes(4)}


# -- the wrong allocator --------------------------------------------------------------------------

async def _misfree(heap, alloc, free, result):
    p = await alloc(heap)
    await free(heap, p, "wrong_free")
    await store(result, p)


ALLOCS = {
    "kzalloc": lambda h: kzalloc(h, 16, "alloc"),
    "kvmalloc": lambda h: kvmalloc(h, 16, "alloc"),
    "get_zeroed_page": lambda h: get_zeroed_page(h, "alloc"),
    "folio_alloc0": lambda h: folio_alloc(h, 0, "alloc"),
    "folio_alloc1": lambda h: folio_alloc(h, 1, "alloc"),
}


def _report_of(alloc, free, **kw):
    m = Model("t", "misfree")
    heap = Heap(m, 4, 1, **kw)
    result = m.var("result", 0)
    m.task("drv", _misfree, heap, ALLOCS[alloc], free, result)
    worlds = _final_states(m)
    assert len(worlds) == 1
    w = worlds[0]
    from khomc.kernel.alloc import lookup
    obj = lookup(w[heap.pages.slot], w[result.slot])[1]
    return w[heap.kasan.slot], obj.live


@pytest.mark.parametrize("alloc,free,bug,title,still_live", [
    # kfree of page-allocator memory: free_large_kmalloc refuses a non-large-kmalloc folio
    ("get_zeroed_page", kfree, "not-kmalloc", "Not a kmalloc allocation", True),
    ("folio_alloc1", kfree, "not-kmalloc", "Not a kmalloc allocation", True),
    ("folio_alloc0", kvfree, "not-kmalloc", "Not a kmalloc allocation", True),
    # the page allocator freeing slab or vmalloc memory, or a folio at the wrong order
    ("kzalloc", free_page, "bad-page-state", "BUG: Bad page state in process drv  pfn:00001",
     True),
    ("kzalloc", folio_put, "bad-page-state", "BUG: Bad page state", True),
    ("kvmalloc", folio_put, "bad-page-state", "BUG: Bad page state", True),
    ("folio_alloc1", free_page, "bad-page-state", "BUG: Bad page state", True),
    # kfree of vmalloc memory
    ("kvmalloc", kfree, "invalid-free", "", True),
])
def test_wrong_allocator_is_reported_as_the_kernel_reports_it(alloc, free, bug, title,
                                                               still_live):
    report, live = _report_of(alloc, free)
    assert report is not None and report.bug == bug
    assert title in str(report) and "wrong_free" in str(report)
    assert live == still_live


@pytest.mark.parametrize("alloc,free", [
    ("kzalloc", kfree), ("kzalloc", kvfree), ("kvmalloc", kvfree),
    ("get_zeroed_page", free_page), ("get_zeroed_page", folio_put),
    ("folio_alloc0", free_page), ("folio_alloc1", folio_put)])
def test_the_right_allocator_frees_silently(alloc, free):
    report, live = _report_of(alloc, free)
    assert report is None and not live


def test_before_the_large_kmalloc_page_type_kfree_frees_a_page_with_a_warning():
    report, live = _report_of("get_zeroed_page", kfree, large_kmalloc_type=False)
    assert report.bug == "not-kmalloc" and "order 0" in report.title and not live
    report, live = _report_of("folio_alloc1", kfree, large_kmalloc_type=False)
    assert report is None and not live          # an order-1 folio: freed without a word


async def _twice(heap, alloc, free):
    p = await alloc(heap)
    await free(heap, p, "first_free")
    await free(heap, p, "second_free")


@pytest.mark.parametrize("alloc,free,text", [
    ("kzalloc", kfree, "BUG: KASAN: double-free"),
    ("get_zeroed_page", free_page, "VM_BUG_ON_PAGE(page_ref_count(page) == 0)"),
    ("folio_alloc0", folio_put, "VM_BUG_ON_PAGE(page_ref_count(page) == 0)")])
def test_double_free_reports_name_both_frees(alloc, free, text):
    m = Model("t", "twice")
    heap = Heap(m, 2, 1)
    m.task("drv", _twice, heap, ALLOCS[alloc], free)
    (w,) = _final_states(m)
    report = w[heap.kasan.slot]
    assert report.bug == "double-free"
    assert text in str(report) and "first_free" in str(report) and "second_free" in str(report)


async def _free_inside(heap):
    p = await kzalloc(heap, 2 * PAGE_SIZE, "alloc")
    await kfree(heap, p + PAGE_SIZE, "inside_free")


def test_kfree_of_a_pointer_inside_an_object_is_an_invalid_free():
    m = Model("t", "inside")
    heap = Heap(m, 3, 1)
    m.task("drv", _free_inside, heap)
    (w,) = _final_states(m)
    assert w[heap.kasan.slot].bug == "invalid-free"
    assert "BUG: KASAN: invalid-free" in str(w[heap.kasan.slot])


async def _double_free_after_reuse(heap, got):
    p = await kzalloc(heap, 16, "a")
    await kfree(heap, p, "free1")
    q = await kzalloc(heap, 16, "b")
    await kfree(heap, p, "free2")           # frees q's object when q reused p's block
    await store(got, q == p)


def test_a_double_free_after_reuse_frees_the_new_owner_unreported():
    m = Model("t", "df-reuse")
    heap = Heap(m, 2, 1, reuse=1)
    got = m.var("got", None)
    m.task("drv", _double_free_after_reuse, heap, got)
    outcomes = {(w[got.slot], w[heap.kasan.slot] is None) for w in _final_states(m)}
    assert outcomes == {(True, True), (False, False)}


def test_negative_budgets_are_refused():
    with pytest.raises(ValueError, match="reuse"):
        Heap(Model("t", "x"), 1, 1, reuse=-1)
