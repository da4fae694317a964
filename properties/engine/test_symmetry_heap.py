"""Symmetry over a heap: task ids inside world values (objects' owners, claimed page ranges,
KASAN reports, lock owners) are permuted with the units, and the declared symmetry is checked
to be an automorphism of the plain search's reachable states (khomc.engines.symmetry)."""

import pytest

from khomc.engines.search import Search, check
from khomc.engines.symmetry import check_invariance
from khomc.kernel.alloc import Heap, folio_alloc, folio_put, memcpy_to, memory_safe
from khomc.kernel.locking import Mutex, mutex_lock, mutex_unlock
from khomc.runtime import Model, SpecError, load, store
from khomc.runtime.effects import Update


async def _client(heap, lock, count, order, double_free):
    """Allocate a folio, fill it, count it under the lock, free it (twice: the bug)."""
    folio = await folio_alloc(heap, order, "client")
    if not folio:
        return -12
    await memcpy_to(heap, folio, b"x", "client")
    await mutex_lock(lock)
    n = await load(count)
    await store(count, n + 1)
    await mutex_unlock(lock)
    await folio_put(heap, folio, "client")
    if double_free:
        await folio_put(heap, folio, "client")
    return 0


def _clients(n, double_free=False, claim=True, declare=True, fail_allocs=1):
    m = Model("t", f"heap-clients{n}")
    heap = Heap(m, 3, n, fail_allocs, claim=claim)
    lock = Mutex.new(m, "lock")
    count = m.var("count", 0)
    for i in range(n):
        m.task(f"c{i}", _client, heap, lock, count, 1, double_free)
    if declare:
        m.symmetric([(f"c{i}", ()) for i in range(n)])
    m.always("memory-safety", lambda s: memory_safe(s, heap))
    m.final("counted", lambda s: s[count] + s[heap.budget] == n or s[count] < n)
    m.sometimes("all-counted", lambda s: s[count] == n)
    return m


def _verdicts(r):
    v = {p.name: p.verdict for p in r.properties}
    v.pop("terminates")
    return v


@pytest.mark.parametrize("n,double_free,full,reduced", [
    (2, False, 111, 56), (2, True, 147, 74), (3, False, 1795, 304), (3, True, 2986, 503)])
def test_symmetry_reduces_a_heap_model_and_keeps_its_verdicts(n, double_free, full, reduced):
    """The clients allocate from page ranges claimed in allocation order, so a permutation of
    them permutes only task ids: objects' allocating and freeing tasks, the claim order, the
    lock owner and - with the double free - the task names in KASAN's report."""
    plain = check(_clients(n, double_free))
    sym = check(_clients(n, double_free), symmetry=True)
    assert (plain.distinct, sym.distinct) == (full, reduced)
    assert _verdicts(plain) == _verdicts(sym)
    assert (plain.property("memory-safety").verdict.name ==
            ("VIOLATED" if double_free else "HOLDS"))


@pytest.mark.parametrize("n", [2, 3])
def test_the_declared_symmetry_is_an_automorphism_of_the_reachable_states(n):
    m = _clients(n, True)
    search = Search(m)
    search.run()
    assert check_invariance(m, search.states) == len(search.states) * (1 if n == 2 else 5)


def test_a_heap_with_fixed_ranges_is_refused():
    with pytest.raises(SpecError, match="own range of pages"):
        check(_clients(2, claim=False), symmetry=True)


def test_a_property_that_singles_out_a_unit_is_refused():
    m = _clients(2)
    m.always("c0-counted", lambda s: not s.done("c0") or s[m.vars[-1]] >= 0)
    with pytest.raises(SpecError, match="singles out c0"):
        check(m, symmetry=True)


def _note_tid(value, tid):
    return value + (tid,), None


async def _leaky(heap, seen):
    await Update(seen, _note_tid, text="note my tid")     # a task id the heap does not know
    await folio_alloc(heap, 0, "leaky")


def test_the_invariance_check_catches_an_unregistered_task_id():
    """A slot that stores raw task ids without registering a relabelling breaks the symmetry:
    the reduction would merge states the kernel can tell apart; check_invariance says so."""
    m = Model("t", "leaky")
    heap = Heap(m, 1, 2, claim=True)
    seen = m.var("seen", ())
    for i in range(2):
        m.task(f"c{i}", _leaky, heap, seen)
    m.symmetric([("c0", ()), ("c1", ())])
    search = Search(m)
    search.run()
    with pytest.raises(SpecError, match="not reachable"):
        check_invariance(m, search.states)
