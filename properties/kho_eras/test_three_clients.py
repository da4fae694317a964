"""Three interchangeable KHO clients per era (issue 12 items 5 and 6): pins of the plain and the
symmetry-reduced search, equal verdicts, and the declared symmetry checked to be an
automorphism of the plain search's reachable states (khomc.engines.symmetry.check_invariance).

Every verdict of these scenarios HOLDS (no VIOLATED to explain): each client preserves its
folio before the operator starts, which is the API's intended use in every era.

v5 ``three-preservers``: the clients race each other in kho_preserve_folio (tree_lock for read,
the tracker's xarray of bitmaps); the default review checks three clients without symmetry
(614,253 states); ``--symmetry`` reduces them to 102,414.

v5-anchor ``three-preservers``: the same clients on the anchor design (616,557 states, 102,798
with ``--symmetry``); in the default review, checked there up to symmetry (Scenario.symmetry).

v5-recursive ``three-preservers`` (in the default review with three clients, checked there up
to symmetry: 616,557 states, 17.6 s plain; 102,798 with ``--symmetry``, 6.9 s): v5's clients
on recursive FDTs.  The era
keeps v5's kho_preserve_folio and tracker, so what is raced is the same as on v5; the counts
equal v5-anchor's (4,297 / 2,150 at two clients): both eras change only what kexec_file_load
reserves and kernel_kexec writes, one step each, and the clients link no FDT of their own.

v4 ``three-preservers`` (in the default review: 15,969 states, 2,682 with ``--symmetry``, under
a second each; both pinned by default): v4 has no preservation call, so each client is a module
that allocates its folio and registers a KEXEC_KHO_DUMP notifier (register_kho_notifier raced
between the clients on the chain's rwsem); the operator activates once all have loaded, and
kho_serialize runs the callbacks one after another under kho_out.lock, each writing
``client@<folio> { compatible; mem = <folio>; }`` into the shared FDT; then load, kexec.

k6.19 / 7.1 / mainline-2026-04 ``three-preservers`` (khomc.scenarios.luo.three_preservers; in
the default review with three clients): the clients race each other in kho_preserve_folio -
6.19's tracker (xa_load_or_alloc's kzalloc and xa_cmpxchg three ways), 7.1's
kho_radix_add_page under the tree's mutex - before the operator loads and reboots.  6.19:
291,859 states, 48,727 with ``--symmetry`` (pinned with the slow tests; two clients by
default); 7.1 and mainline: 14,832 and 2,539.  The late-preserve gap of 6.19 (test-kho-race)
is not raced here: the operator waits for every client.

k6.16 / 6.17 / 6.18 ``three-preservers`` (in the default review, checked there up to symmetry:
5,259,411 plain states, 143 s, against 876,750 with ``--symmetry``, 41 s; pinned at two clients
in the default suite and at three with the slow tests): every safety property HOLDS (the
clients preserve before the operator finalizes, so the unlocked ``finalized`` check of
preserve-race is not raced here; what is raced is the tracker's bitmap allocation,
xa_load_or_alloc's kzalloc + xa_cmpxchg, between the clients).
"""

import pytest

from khomc import registry
from khomc.engines.result import Verdict
from khomc.engines.search import DEFAULT_GRAPH_LIMIT, Search, check
from khomc.engines.symmetry import check_invariance

# (spec, scenario, params): (plain distinct, reduced distinct)
PINS = {
    ("k6.16", "three-preservers", (("clients", 2),)): (24363, 12186),
    ("k6.17", "three-preservers", (("clients", 2),)): (24363, 12186),
    ("k6.18", "three-preservers", (("clients", 2),)): (24363, 12186),
    ("v5", "three-preservers", (("clients", 2),)): (4229, 2116),
    ("v5-anchor", "three-preservers", (("clients", 2),)): (4297, 2150),
    ("v5-recursive", "three-preservers", (("clients", 2),)): (4297, 2150),
    ("v4", "three-preservers", (("clients", 2),)): (605, 304),
    ("v4", "three-preservers", ()): (15969, 2682),
    ("k6.19", "three-preservers", (("clients", 2),)): (2773, 1396),
    ("k7.1", "three-preservers", ()): (14832, 2539),
    ("mainline-2026-04", "three-preservers", ()): (14832, 2539),
    # a design mutant, so that the reduced search is seen keeping a VIOLATED verdict too:
    # kho_reserve_scratch's area overlaps the allocator's memory, so preserved folios lie in
    # scratch (nothing-in-scratch VIOLATED in both searches)
    ("v5", "three-preservers", (("clients", 2), ("mutants", "scratch-overlaps-memory"))):
        (4229, 2116),
}
# the default bounds (three clients): the default review checks them without symmetry,
# except 6.16-6.18's (Scenario.symmetry: checked up to symmetry)
SLOW_PINS = {
    ("k6.16", "three-preservers", ()): (5259411, 876750),
    ("v5", "three-preservers", ()): (614253, 102414),
    ("v5-anchor", "three-preservers", ()): (616557, 102798),
    ("v5-recursive", "three-preservers", ()): (616557, 102798),
    ("k6.19", "three-preservers", ()): (291859, 48727),
}

# the scenarios this file owns (the era files' pinned-set checks leave them to it)
NAMES = {"three-preservers"}


def _verdicts(r):
    return {p.name: p.verdict for p in r.properties}


ALL = {**PINS, **SLOW_PINS}
# 6.17 and 6.18 give 6.16's counts: checked with the slow tests only
LATER = {"k6.17", "k6.18"}


def _slow(k) -> bool:
    return k in SLOW_PINS or k[0] in LATER


CASES = [pytest.param(*k, id=f"{k[0]}-{k[1]}-{dict(k[2])}",
                      marks=[pytest.mark.slow] if _slow(k) else []) for k in ALL]


@pytest.mark.parametrize("spec,scenario,params", CASES)
def test_symmetry_reduces_and_keeps_the_verdicts(spec, scenario, params):
    full, reduced = ALL[(spec, scenario, params)]
    plain = check(registry.build(spec, scenario, dict(params)))
    sym = check(registry.build(spec, scenario, dict(params)), symmetry=True)
    assert (plain.distinct, sym.distinct) == (full, reduced)
    v, w = _verdicts(plain), _verdicts(sym)
    # up to symmetry terminates HOLDS when the graph of orbits has no cycle (these have none)
    assert w.pop("terminates") is Verdict.HOLDS
    # the termination analysis needs the state graph, kept up to DEFAULT_GRAPH_LIMIT states
    assert v.pop("terminates") is (Verdict.HOLDS if full <= DEFAULT_GRAPH_LIMIT
                                   else Verdict.UNKNOWN)
    assert v == w
    assert all(x is not Verdict.UNKNOWN for x in v.values())
    mutated = dict(params).get("mutants")
    assert (v["nothing-in-scratch"] is Verdict.VIOLATED) if mutated else \
        Verdict.VIOLATED not in v.values()


@pytest.mark.parametrize("spec,scenario,params", [
    pytest.param(*k, id=f"{k[0]}-{k[1]}-{dict(k[2])}",
                 marks=[pytest.mark.slow] if _slow(k) else []) for k in PINS])
def test_the_declared_symmetry_is_an_automorphism(spec, scenario, params):
    m = registry.build(spec, scenario, dict(params))
    search = Search(m)
    search.run()
    assert check_invariance(m, search.states) > 0
