"""The fast breadth-first search (issue 12, item 1) is the plain one, state for state.

``Search._bfs_fast`` keys the visited table by interned value ids, builds a successor's world
only when it is new, runs atomic sections through the effect memo and checks a new state only
for what its step changed (``Monitor.after_step``).  Against the plain loop (``Search._bfs``,
``search.fast = False``) on every default scenario of every spec: the same states with the same
ids in the same order (so the same traces), the same transitions, the same first violation and
witness of each property, and the same verdicts.  Each shortcut is shown able to fail with a
mutant.
"""

import pytest

from khomc import registry
from khomc.engines import monitor as monitor_mod
from khomc.engines.result import Bounds, Verdict
from khomc.engines.search import Search
from khomc.kernel import alloc
from khomc.kernel.alloc import Heap, heap_read_bytes, kfree, kzalloc, memcpy_to
from khomc.runtime import Model, SpecError, load, store
from khomc.runtime.step import Stepper


def _run(model, fast):
    s = Search(model, "bfs")
    s.fast = s.fast and fast
    r = s.run()
    return s, r


def _same(a, b):
    (sa, ra), (sb, rb) = a, b
    assert sa.states == sb.states
    assert list(sa.parent) == list(sb.parent) and list(sa.via_tid) == list(sb.via_tid)
    assert sa.via_choices == sb.via_choices and list(sa.depth) == list(sb.depth)
    assert sa.violations == sb.violations and sa.witness == sb.witness
    assert sa.deadlocks == sb.deadlocks
    assert (ra.distinct, ra.transitions) == (rb.distinct, rb.transitions)
    assert [(p.name, p.verdict, p.message) for p in ra.properties] == \
        [(p.name, p.verdict, p.message) for p in rb.properties]


SMALL = 20_000
CASES = [(spec, sc.name) for spec in registry.SPECS for sc in registry.scenarios(spec)
         if sc.default]


# a scenario the review checks up to symmetry (three clients, millions of plain states) is
# compared at two clients: the same code paths, every client racing the others
TWO_CLIENTS = {"clients": 2}


def _differential(spec, name, small_only):
    sc = next(s for s in registry.scenarios(spec) if s.name == name)
    params = TWO_CLIENTS if sc.symmetry else None
    if small_only:
        # a bounded probe decides, so a big scenario costs SMALL states, not all of them
        probe = Search(sc.instantiate(params), "bfs", bounds=Bounds(max_states=SMALL + 1)).run()
        if not probe.exhaustive:
            pytest.skip(f"over {SMALL:,} states: compared in the slow test")
    m = sc.instantiate(params)      # one model for both (its objects compare by identity)
    fast = _run(m, True)
    assert fast[0].fast or not fast[0]._fast_ok()
    _same(fast, _run(m, False))


@pytest.mark.parametrize("spec,name", CASES, ids=[f"{s}/{n}" for s, n in CASES])
def test_fast_and_plain_bfs_agree(spec, name):
    _differential(spec, name, True)


@pytest.mark.slow
@pytest.mark.parametrize("spec,name", CASES, ids=[f"{s}/{n}" for s, n in CASES])
def test_fast_and_plain_bfs_agree_everywhere(spec, name):
    _differential(spec, name, False)


# -- mutants --------------------------------------------------------------------------------

async def writer(x, v):
    await store(x, v)


async def reader(x, y):
    v = await load(x)
    await store(y, v)


def late_model():
    """``ok`` fails only once ``b`` is written, by the last step of a run."""
    m = Model("t", "late")
    a = m.var("a", 0)
    b = m.var("b", 0)
    m.task("wa", writer, a, 1)
    m.task("r", reader, a, b)
    m.always("ok", lambda s: s[b] == 0)
    m.sometimes("b-set", lambda s: s[b] == 1)
    return m


def test_incremental_checks_find_the_late_violation():
    s, r = _run(late_model(), True)
    assert s.fast
    v = {p.name: p.verdict for p in r.properties}
    assert v["ok"] is Verdict.VIOLATED and v["b-set"] is Verdict.HOLDS
    m = late_model()
    _same(_run(m, True), _run(m, False))


def test_a_memo_that_forgets_its_read_slots_misses_the_violation(monkeypatch):
    """The mutant: the read masks stay empty, so every step looks irrelevant to ``ok`` and
    its value is inherited from the initial state."""
    orig = monitor_mod._PropertyMemo._insert

    def forgetful(self, log, result):
        orig(self, log, result)
        self.wmask = 0
    monkeypatch.setattr(monitor_mod._PropertyMemo, "_insert", forgetful)
    s, r = _run(late_model(), True)
    assert {p.name: p.verdict for p in r.properties}["ok"] is Verdict.HOLDS


def test_interned_keys_are_equal_exactly_when_states_are():
    m = late_model()
    st = Stepper(m)
    init = st.initial()
    w, locs = init
    assert st.vkey(init) == st.vkey(((0, 0) + w[2:], locs))
    assert st.vkey(init) != st.vkey(((1, 0) + w[2:], locs))
    big = ((1, (2, 3)), b"x" * 100)
    twin = ((1, (2, 3)), b"x" * 100)
    assert st.vkey(((big,) + w[1:], locs)) == st.vkey(((twin,) + w[1:], locs))
    assert st.vkey_from(((big,) + w[1:], locs), w, st.vkey(init)[0]) == \
        st.vkey(((big,) + w[1:], locs))


# -- heap effects memoized by the pages they touch ------------------------------------------

async def _writer(heap, slot):
    p = await kzalloc(heap, 16, "w_alloc")
    await store(slot, p)
    await memcpy_to(heap, p, b"A", "w_write")
    await memcpy_to(heap, p, b"B", "w_write2")


async def _reader(heap, slot, out):
    p = await load(slot)
    if p:
        await store(out, await heap_read_bytes(heap, p, 1, "r_read"))


async def _bystander(heap):
    q = await kzalloc(heap, 16, "b_alloc")
    await memcpy_to(heap, q, b"C", "b_write")
    await kfree(heap, q, "b_free")


def heap_model():
    """A reader reads the writer's object while the writer fills it and a bystander
    allocates, writes and frees its own object (other pages of the same memory slot)."""
    m = Model("t", "pages")
    heap = Heap(m, 2, 3)
    p = m.var("p", 0)
    out = m.var("out", None)
    m.task("writer", _writer, heap, p)
    m.task("reader", _reader, heap, p, out)
    m.task("bystander", _bystander, heap)
    m.always("memory-safety", lambda s: s[heap.kasan] is None)
    m.sometimes("read-B", lambda s: s[out] == b"B")
    return m


def _read_nodes(search):
    return [node for node in search.stepper._memo.values()
            if type(node) is tuple and node[3].label().startswith("read 1 bytes")]


def test_heap_effects_are_memoized_by_their_pages():
    m = heap_model()
    fast = _run(m, True)
    _same(fast, _run(m, False))
    (read,) = _read_nodes(fast[0])
    assert read[7] is not None            # keyed by pages, not by the whole memory slot
    # one entry per content of the writer's object (zeros, "A", "B"), whatever the
    # bystander's pages hold; keyed by the whole slot it takes one per memory value
    assert len(read[5]) == 3
    seen = {state[0][0] for state in fast[0].states}
    assert len(seen) > 3


def test_a_heap_read_that_hides_its_pages_is_memoized_wrong(monkeypatch):
    """The mutant: a heap read names no page it reads.  Its memo entry is then reused when
    the writer has changed the object, and the fast search no longer matches the plain one."""
    orig = alloc.HeapOp.locations

    def hiding(self, tid):
        reads, writes = orig(self, tid)
        if self.writes_object:
            return reads, writes
        return frozenset(x for x in reads if type(x) is not tuple), writes
    monkeypatch.setattr(alloc.HeapOp, "locations", hiding)
    m = heap_model()
    fast, plain = _run(m, True), _run(m, False)
    assert fast[1].distinct < plain[1].distinct


def test_a_heap_write_outside_its_pages_is_a_spec_error(monkeypatch):
    """The mutant: heap accesses that name no page; the write to the object is refused."""
    monkeypatch.setattr(alloc.Heap, "object_pages", lambda self, addr: frozenset())
    with pytest.raises(SpecError, match="outside its locations"):
        _run(heap_model(), True)


async def _claimer(heap):
    p = await kzalloc(heap, 16, "c_alloc")
    await memcpy_to(heap, p, b"X", "c_write")
    q = await kzalloc(heap, 16, "c_alloc2")
    await kfree(heap, q, "c_free")


def claim_model():
    """Three tasks allocate from ranges claimed in first-allocation order (Heap(claim=True)):
    an allocation's footprint is the range the ``ranges`` slot gives it (Alloc.locations_in)."""
    m = Model("t", "claims")
    heap = Heap(m, 2, 3, claim=True)
    for i in range(3):
        m.task(f"c{i}", _claimer, heap)
    m.always("memory-safety", lambda s: s[heap.kasan] is None)
    return m


def test_allocations_from_claimed_ranges_are_memoized_by_their_range():
    m = claim_model()
    fast = _run(m, True)
    _same(fast, _run(m, False))
    allocs = [node for node in fast[0].stepper._memo.values()
              if type(node) is tuple and type(node[3]) is alloc.Alloc]
    assert allocs and all(node[7] is not None for node in allocs)


def test_a_claimed_range_footprint_naming_the_wrong_range_is_a_spec_error(monkeypatch):
    """The mutant: every allocation claims to come from the first range; the second
    claimant's allocation writes its own range, outside that footprint, and is refused."""
    orig = alloc.Alloc.locations_in

    def first_range(self, world, tid):
        claims = self.heap.claims.slot
        return orig(self, world[:claims] + ((tid,),) + world[claims + 1:], tid)
    monkeypatch.setattr(alloc.Alloc, "locations_in", first_range)
    with pytest.raises(SpecError, match="outside its locations"):
        _run(claim_model(), True)
