"""The independence partial-order reduction relies on, checked pair by pair.

With footprints of locations (the heap's pages as parts of the memory slot, khomc.kernel.alloc)
and each step's writes cut to what it changed in the state (khomc.engines.por.effective), two
steps of different tasks that the reduction calls independent in a state must commute there:
each is still enabled after the other, with the same outcome (same choices), and both orders
reach the same state.  Checked on every pair of steps of every reachable state of small KHO
scenarios of each era and of a hand-built heap model, and shown able to fail: with the heap's
accesses declaring a page too few, the check finds a pair that does not commute.
"""

import pytest

from khomc import registry
from khomc.engines.por import effective, independent
from khomc.kernel import alloc
from khomc.kernel.alloc import Heap, kfree, kzalloc, memcpy_to
from khomc.runtime import Model, load, store
from khomc.runtime.step import Stepper


def _successors(stepper, state):
    return {(t, ch): (nxt, effective(state, nxt, fp))
            for t, ch, nxt, fp in stepper.expand_footprints(state)}


def commutation_failures(model, limit=None):
    """Pairs (state, step a, step b) judged independent that do not commute."""
    stepper = Stepper(model)
    stepper.locations = True
    init = stepper.initial()
    seen, todo, bad, pairs = {init}, [init], [], 0
    while todo:
        state = todo.pop()
        succ = _successors(stepper, state)
        items = list(succ.items())
        for i, (ka, (sa, fa)) in enumerate(items):
            for kb, (sb, fb) in items[i + 1:]:
                if ka[0] == kb[0] or not independent(fa, fb):
                    continue
                pairs += 1
                after_a = _successors(stepper, sa).get(kb)
                after_b = _successors(stepper, sb).get(ka)
                if after_a is None or after_b is None or after_a[0] != after_b[0]:
                    bad.append((state, ka, kb))
        for nxt, _ in succ.values():
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
        if limit is not None and len(seen) > limit:
            break
    return bad, pairs


SMALL = [("v4", "dt-max-race"), ("v5", "autofinalize"), ("v5", "freed-buffer"),
         ("v5", "callback-reenters"), ("k6.16", "preserve-race"), ("k6.18", "double-restore"),
         ("k6.19", "test-kho-race"), ("k6.19", "refinalize-race"), ("k7.1", "test-kho-race"),
         pytest.param("v4", "fdbox-race", marks=pytest.mark.slow),
         pytest.param("v5", "fdbox-race", marks=pytest.mark.slow)]


@pytest.mark.parametrize("spec,scenario", SMALL)
def test_independent_steps_commute_on_kho_scenarios(spec, scenario):
    bad, pairs = commutation_failures(registry.build(spec, scenario, {}))
    assert pairs > 0
    assert bad == []


async def _owner(heap, mine, slot):
    p = await kzalloc(heap, 16, "own_alloc")
    await memcpy_to(heap, p, b"A", "own_write")
    await store(slot, p)
    other = await load(mine)
    if other:
        await memcpy_to(heap, other, b"B", "cross_write")
    await kfree(heap, p, "own_free")


def _heap_model(reuse=0):
    m = Model("t", "pages")
    heap = Heap(m, 2, 2, reuse=reuse)
    a = m.var("a", 0)
    b = m.var("b", 0)
    m.task("t0", _owner, heap, b, a)
    m.task("t1", _owner, heap, a, b)
    m.always("memory-safety", lambda s: s[heap.kasan] is None)
    return m


@pytest.mark.parametrize("reuse", [0, 1])
def test_independent_steps_commute_on_a_shared_heap(reuse):
    bad, pairs = commutation_failures(_heap_model(reuse))
    assert pairs > 0 and bad == []


def test_the_check_fails_when_a_footprint_misses_a_page(monkeypatch):
    """A mutant: heap accesses that name no page at all.  Two tasks' writes to one object are
    then called independent, and the check finds the pair that does not commute."""
    monkeypatch.setattr(alloc.Heap, "object_pages", lambda self, addr: frozenset())
    bad, _ = commutation_failures(_heap_model())
    assert bad


def test_pages_of_different_objects_are_independent():
    m = _heap_model()
    stepper = Stepper(m)
    stepper.locations = True
    heap = next(v for v in m.vars if v.name == "memory")
    state = stepper.initial()
    fps = {t: fp for t, _, _, fp in stepper.expand_footprints(state)}
    # the two tasks allocate in their own ranges: different pages, independent
    assert independent(fps[0], fps[1])
    assert all(type(x) is tuple and x[0] == heap.slot for x in fps[0][1])
