"""Symmetry in the fast breadth-first search (issue 12, item 5): the same search as the plain
loop's, state for state.

``Search._bfs_fast`` with ``symmetry=True`` keys its visited table by
``khomc.engines.symmetry.KeyCanon`` - the canonical form of ``Symmetry.canon`` computed on the
interned value ids, relabelling only the slots (and memory pages) whose value holds a unit's
task id - and also by each raw key it already canonicalised.  Against the plain loop with
``Symmetry.canon`` on values (``search.fast = False``), on every scenario that declares
interchangeable units (at two clients, and the examples): the same representatives with the
same ids in the same order, the same discovery tree, transitions and verdicts.  A mutant
shows the comparison can fail: a canonical form that forgets to relabel the memory keeps
several keys for one orbit.
"""

import pytest

from khomc import registry
from khomc.engines import symmetry as symmetry_mod
from khomc.engines.search import Search
from .test_fast_bfs import _same
from .test_reductions import _lockers


def _run(model, fast):
    s = Search(model, "bfs", symmetry=True)
    if not fast:
        s.fast, s._canon = False, None
    r = s.run()
    return s, r


def _symmetric_scenarios():
    out = []
    for spec in registry.SPECS:
        for sc in registry.scenarios(spec):
            params = {"clients": 2} if "clients" in sc.params else {}
            m = registry.build(spec, sc.name, params)
            if m.symmetry:
                out.append((spec, sc.name, params))
    return out


CASES = _symmetric_scenarios()


def test_every_symmetric_scenario_is_compared():
    """The KHO eras with a three-client scenario declare their clients symmetric (and the
    racy counter does): the comparison below is not vacuous."""
    specs = {spec for spec, _, _ in CASES}
    assert {"counter", "v4", "v5", "v5-recursive", "k6.16", "k6.19", "k7.1"} <= specs


@pytest.mark.parametrize("spec,name,params", CASES,
                         ids=[f"{s}/{n}" for s, n, _ in CASES])
def test_fast_and_plain_symmetric_bfs_agree(spec, name, params):
    m = registry.build(spec, name, params)     # one model for both (objects compare by id)
    fast = _run(m, True)
    assert fast[0].fast and fast[0]._canon is not None
    plain = _run(m, False)
    _same(fast, plain)
    assert fast[1].distinct < Search(registry.build(spec, name, params)).run().distinct


@pytest.mark.parametrize("n", [2, 3, 4])
def test_a_mutex_owner_is_permuted_in_the_interned_keys(n):
    m = _lockers(n)
    _same(_run(m, True), _run(m, False))


def _no_memory_relabel(monkeypatch):
    orig = symmetry_mod.KeyCanon._classify

    def forget(self):
        orig(self)
        self.live_slots[:] = [(j, s) for j, s in self.live_slots if s != self.st._m]
    monkeypatch.setattr(symmetry_mod.KeyCanon, "_classify", forget)


def test_mutant_forgetting_the_memory_splits_orbits(monkeypatch):
    """Objects on the heap record their allocating task: not relabelling the memory leaves
    them unpermuted, so the states of one orbit keep different keys and the fast search no
    longer stores one state per orbit (2,586 states against 1,396 orbits)."""
    params = {"clients": 2}
    plain = _run(registry.build("k6.19", "three-preservers", params), False)[1].distinct
    _no_memory_relabel(monkeypatch)
    fast = _run(registry.build("k6.19", "three-preservers", params), True)[1].distinct
    assert (plain, fast) == (1396, 2586)


def test_every_scenario_reviewed_up_to_symmetry_declares_units():
    """``Scenario(symmetry=True)`` on a model that declares no interchangeable units would be
    checked plain while the review says "up to symmetry": refused here."""
    flagged = [(spec, sc.name) for spec in registry.SPECS for sc in registry.scenarios(spec)
               if sc.symmetry]
    assert len(flagged) == 5        # v5-anchor, v5-recursive, 6.16, 6.17, 6.18
    for spec, name in flagged:
        assert registry.build(spec, name, {"clients": 2}).symmetry, (spec, name)


@pytest.mark.parametrize("spec", ["k6.16", "v5-recursive"])
def test_the_compiled_canon_is_keycanon(spec):
    """The compiled loop computes most canonical keys itself (model/engines/_keycanon.c:
    no ties a relabelled slot tells apart, everything memoized) and calls KeyCanon for the
    rest.  On every raw key of a search up to symmetry, where it answers, it gives
    KeyCanon's key; it answers for most of them, and calls back for the ties."""
    from khomc.engines import search as search_mod
    if search_mod._bfsloop is None:
        pytest.skip("khomc.engines._bfsloop was not built")
    s, r = _run(registry.build(spec, "three-preservers", {"clients": 3}), True)
    canon = s._canon
    view = canon.compiled_view
    assert view is not None
    keys = s.states.keys
    answered = 0
    for k in keys[:: max(1, len(keys) // 2000)]:
        got = search_mod._bfsloop.keycanon(canon, view, k)
        want = canon(k)
        if got is not None:
            answered += 1
            assert got == want
    sampled = len(keys[:: max(1, len(keys) // 2000)])
    assert answered > sampled * 9 // 10
