"""Reductions preserve verdicts: fingerprints (compact) and symmetry, against the plain search."""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build
from khomc.runtime import Model, SpecError, load, store
from khomc.runtime.effects import atomic
from khomc.trace import replay

EXAMPLES = [("counter", "racy", {"N": 3}), ("counter", "locked", {"N": 3}),
            ("counter", "abba", {}), ("counter", "spin", {}),
            ("spinkho", "ok", {"N": 3, "K": 2}), ("spinkho", "bug", {"N": 3, "K": 2})]


def verdicts(r):
    return {p.name: p.verdict for p in r.properties}


def terminates_analysed(r) -> bool:
    return any("termination was analysed on the full state graph" in n for n in r.notes)


@pytest.mark.parametrize("spec,scenario,params", EXAMPLES)
@pytest.mark.parametrize("engine", ["bfs", "dfs"])
def test_fingerprints_give_the_same_results(spec, scenario, params, engine):
    exact = check(build(spec, scenario, params), engine)
    fp = check(build(spec, scenario, params), engine, compact=True)
    assert (fp.distinct, fp.transitions) == (exact.distinct, exact.transitions)
    assert verdicts(fp) == verdicts(exact)
    assert "64-bit fingerprints" in fp.reductions
    assert 0 <= fp.collision_probability < 1e-9
    for p in fp.properties:   # counterexamples are rebuilt from schedules, not stored states
        if p.verdict is Verdict.VIOLATED:
            assert p.trace.steps == exact.property(p.name).trace.steps or engine == "dfs"


def test_fingerprints_use_less_memory_per_state():
    exact = check(build("spinkho", "ok", {"N": 3, "K": 3}))
    fp = check(build("spinkho", "ok", {"N": 3, "K": 3}), compact=True)
    assert fp.bytes_per_state < exact.bytes_per_state / 1.5


@pytest.mark.parametrize("N,full,reduced", [(2, 12, 8), (3, 59, 20), (4, 330, 48)])
def test_symmetry_reduces_states_and_keeps_safety_verdicts(N, full, reduced):
    plain = check(build("counter", "racy", {"N": N}))
    sym = check(build("counter", "racy", {"N": N}), symmetry=True)
    assert (plain.distinct, sym.distinct) == (full, reduced)
    v, w = verdicts(plain), verdicts(sym)
    assert v == w        # terminates too: the graph of orbits has no cycle, as the graph has none
    assert v["terminates"] is Verdict.HOLDS
    assert "symmetry" in sym.reductions
    assert any("graph of orbits has no cycle" in n for n in sym.notes)


def test_symmetry_is_ignored_when_the_model_declares_none():
    r = check(build("counter", "locked", {"N": 2}), symmetry=True)
    assert r.reductions == [] and r.distinct == 16


async def writer(x, v):
    await store(x, v)


async def reader(x):
    await load(x)


def test_units_that_run_different_code_are_refused():
    m = Model("t", "asym")
    x = m.var("x", 0)
    m.task("a", writer, x, 1)
    m.task("b", reader, x)
    m.symmetric([("a", ()), ("b", ())])
    with pytest.raises(SpecError, match="do not run the same code"):
        check(m, symmetry=True)


# -- partial-order reduction ---------------------------------------------------------------------

POR_EXAMPLES = EXAMPLES + [("counter", "private-work", {"N": 2, "K": 3}),
                           ("counter", "private-work", {"N": 3, "K": 3})]


@pytest.mark.parametrize("spec,scenario,params", POR_EXAMPLES)
@pytest.mark.parametrize("engine", ["bfs", "dfs"])
def test_por_keeps_every_safety_verdict(spec, scenario, params, engine):
    plain = check(build(spec, scenario, params), engine)
    por = check(build(spec, scenario, params), engine, por=True)
    v, w = verdicts(plain), verdicts(por)
    if terminates_analysed(por):       # the full graph was recovered: the same verdict
        assert por.distinct == plain.distinct
    else:                              # the reduction cut states off: not analysed
        assert w.pop("terminates") is Verdict.UNKNOWN
        v.pop("terminates")
    assert v == w
    assert por.distinct <= plain.distinct and por.transitions <= plain.transitions
    assert "partial-order reduction (ample sets on private state)" in por.reductions
    # sleep sets run breadth-first only; they visit every state the ample sets leave
    assert ("sleep sets on effect independence" in por.reductions) == (engine == "bfs")
    for p in por.properties:       # every counterexample is a real schedule
        if p.verdict is Verdict.VIOLATED and p.trace is not None:
            assert replay(p.trace, build(spec, scenario, params)).ok


@pytest.mark.parametrize("N,K,full,reduced", [(2, 3, (39, 62), (18, 19)),
                                              (3, 3, (275, 630), (68, 95))])
def test_por_reduces_states_and_transitions(N, K, full, reduced):
    plain = check(build("counter", "private-work", {"N": N, "K": K}))
    por = check(build("counter", "private-work", {"N": N, "K": K}), por=True)
    assert (plain.distinct, plain.transitions) == full
    assert (por.distinct, por.transitions) == reduced
    trace = por.property("no-lost-update").trace
    assert len(trace.steps) == len(plain.property("no-lost-update").trace.steps)


@pytest.mark.parametrize("scenario,params,full,reduced", [
    ("ok", {"N": 3, "K": 3}, (8704, 24544), (8704, 9214)),
    ("bug", {"N": 3, "K": 3}, (69463, 199549), (69463, 84739)),
])
def test_sleep_sets_prune_transitions_and_visit_every_state(scenario, params, full, reduced):
    """No private state here: the ample sets never apply, the sleep sets alone prune steps
    whose other order was already explored - every state is still reached.  (With each
    step's writes cut to what it changed - a failed trylock or a guard that finds the flag
    already set writes nothing - 131,815 transitions of the BUG model became 84,739.)"""
    plain = check(build("spinkho", scenario, params))
    por = check(build("spinkho", scenario, params), por=True)
    assert (plain.distinct, plain.transitions) == full
    assert (por.distinct, por.transitions) == reduced
    v, w = verdicts(plain), verdicts(por)
    v.pop("terminates"), w.pop("terminates")
    assert v == w


def test_sleep_sets_need_sound_independence(monkeypatch):
    """The check can fail: if every pair of steps were independent (a wrong independence
    relation), the sleep sets would prune steps whose results nothing else reaches."""
    from khomc.engines import por as por_module
    plain = check(build("spinkho", "bug", {"N": 3, "K": 3}))
    monkeypatch.setattr(por_module, "independent", lambda a, b: True)
    wrong = check(build("spinkho", "bug", {"N": 3, "K": 3}), por=True)
    assert wrong.distinct < plain.distinct


def test_sleep_sets_re_expand_states_reached_with_fewer_steps_asleep(monkeypatch):
    """With state caching, a state reached again with a smaller sleep set explores the steps
    woken up (Godefroid's rule).  The BUG model exercises it with the declared footprints
    (every declared write counted as a write); with the writes cut to what each step changed
    no state of it needs re-expanding, and every state is still visited."""
    from khomc.engines import por as por_module
    plain = check(build("spinkho", "bug", {"N": 3, "K": 3}))
    por = check(build("spinkho", "bug", {"N": 3, "K": 3}), por=True)
    assert por.distinct == plain.distinct and por.transitions < plain.transitions
    monkeypatch.setattr(por_module, "effective", lambda state, nxt, fp: fp)
    declared = check(build("spinkho", "bug", {"N": 3, "K": 3}), por=True)
    assert declared.distinct == plain.distinct
    assert (declared.transitions, por.transitions) == (131815, 84739)
    note = next(n for n in declared.notes if n.startswith("sleep sets:"))
    assert "167 states re-expanded" in note


def test_por_analyses_termination_on_the_recovered_graph(monkeypatch):
    """The sleep sets skip steps whose other order was explored, but every state is visited:
    recording each skipped step with its target gives back the full graph, on which the
    spinning waiter's fair cycle is found as without reduction.  Without the skipped steps'
    edges (a mutant) the cycle's edge is missing and the analysis wrongly says HOLDS; when an
    ample set cuts states off (private-work), ``terminates`` stays UNKNOWN."""
    from khomc.engines import search as search_module
    plain = check(build("counter", "spin", {}))
    por = check(build("counter", "spin", {}), por=True)
    assert plain.property("terminates").verdict is Verdict.VIOLATED
    assert por.property("terminates").verdict is Verdict.VIOLATED and terminates_analysed(por)
    assert replay(por.property("terminates").trace, build("counter", "spin", {})).ok
    cut = check(build("counter", "private-work", {"N": 2, "K": 3}), por=True)
    assert cut.property("terminates").verdict is Verdict.UNKNOWN
    monkeypatch.setattr(search_module, "complete_graph",
                        lambda search: (setattr(search, "por_skipped", []) or True))
    wrong = check(build("counter", "spin", {}), por=True)
    assert wrong.property("terminates").verdict is Verdict.HOLDS


def test_por_refuses_checkpoints():
    with pytest.raises(ValueError, match="sleep sets"):
        check(build("counter", "racy", {"N": 2}), por=True, checkpoint="x.ckpt")


async def pokes(buf):
    await store(buf, 9)


async def owner(buf):
    await store(buf, 1)


def test_touching_another_tasks_private_state_is_refused():
    m = Model("t", "private")
    buf = m.var("buf", 0, private_to="owner")
    m.task("owner", owner, buf)
    m.task("intruder", pokes, buf)
    with pytest.raises(SpecError, match="touches 'buf', which is private to task 'owner'"):
        check(m, por=True)


def test_properties_may_not_read_private_state_under_por():
    m = Model("t", "private-visible")
    buf = m.var("buf", 0, private_to="owner")
    m.task("owner", owner, buf)
    m.always("buf-small", lambda s: s[buf] < 5)
    with pytest.raises(SpecError, match="private to a task"):
        check(m, por=True)
    assert verdicts(check(m))["buf-small"] is Verdict.HOLDS   # fine without reduction


async def private_then_shared(buf, x):
    async with atomic():
        await store(buf, 1)              # private...
        await store(x, 1)                # ...but the same step writes a shared variable


async def shared_writer(x):
    await store(x, 2)


def test_an_atomic_section_that_starts_private_is_not_ample():
    """The ample check looks at the whole step, every effect of its atomic section: taking
    this step alone would lose the final state x == 1 (a soundness bug found and fixed)."""
    def build_model():
        m = Model("t", "atomic-private")
        buf = m.var("buf", 0, private_to="a")
        x = m.var("x", 0)
        m.task("a", private_then_shared, buf, x)
        m.task("b", shared_writer, x)
        m.final("x-is-2", lambda s: s[x] == 2)
        return m
    plain, por = check(build_model()), check(build_model(), por=True)
    assert plain.distinct == por.distinct == 5
    assert verdicts(por)["x-is-2"] is Verdict.VIOLATED


# -- symmetry with task ids inside world values ---------------------------------------------------

async def _locker(lock, inside, rounds):
    from khomc.kernel.locking import mutex_lock, mutex_unlock
    k = 0
    while k < rounds:
        await mutex_lock(lock)
        n = await load(inside)
        await store(inside, n + 1)
        n = await load(inside)
        await store(inside, n - 1)
        await mutex_unlock(lock)
        k += 1


def _lockers(n, rounds=1, declare=True):
    from khomc.kernel.locking import Mutex
    m = Model("t", f"lockers{n}")
    lock = Mutex.new(m, "lock")
    inside = m.var("inside", 0)
    for i in range(n):
        m.task(f"l{i}", _locker, lock, inside, rounds)
    if declare:
        m.symmetric([(f"l{i}", ()) for i in range(n)])
    m.always("mutual-exclusion", lambda s: s[inside] <= 1)
    m.sometimes("someone-inside", lambda s: s[inside] == 1)
    return m


@pytest.mark.parametrize("n,full,owners_fixed,owners_permuted", [
    (2, 24, 18, 13), (3, 68, 34, 19), (4, 176, 55, 25)])
def test_symmetry_permutes_a_mutex_owner_with_the_tasks(n, full, owners_fixed, owners_permuted):
    """The mutex's slot holds its owner's task id: permuting the tasks permutes it too, so the
    state in which l0 holds the lock and l1 waits is one with the state in which l1 holds it
    and l0 waits.  Without that (the slot compared as it is, the behaviour before locks
    registered their slots) far fewer states are identified.  For two tasks the count checks by
    hand: 24 states, 2 of them (start, end) fixed by the swap, (24 + 2) / 2 = 13 orbits."""
    plain = check(_lockers(n))
    sym = check(_lockers(n), symmetry=True)
    fixed_model = _lockers(n)
    fixed_model.task_ids.clear()
    fixed = check(fixed_model, symmetry=True)
    assert (plain.distinct, fixed.distinct, sym.distinct) == (full, owners_fixed, owners_permuted)
    for r in (sym, fixed):
        v, w = verdicts(plain), verdicts(r)
        v.pop("terminates"), w.pop("terminates")
        assert v == w


def test_symmetry_refuses_a_model_with_a_heap():
    from khomc.kernel.alloc import Heap
    m = _lockers(2)
    Heap(m, 1, 2)
    with pytest.raises(SpecError, match="own range of pages"):
        check(m, symmetry=True)


# -- termination up to symmetry -------------------------------------------------------------------

async def _spinner(flag):
    while await load(flag) == 0:
        pass


def _spinners(declare=True):
    """Two interchangeable tasks spin on a flag nobody sets: every run is infinite."""
    m = Model("t", "spinners")
    flag = m.var("flag", 0)
    m.task("s0", _spinner, flag)
    m.task("s1", _spinner, flag)
    if declare:
        m.symmetric([("s0", ()), ("s1", ())])
    return m


def test_a_cycle_of_orbits_leaves_terminates_undecided():
    """The plain search finds the fair cycle (VIOLATED); up to symmetry the graph of orbits
    has a cycle, and its fairness is not judged there: UNKNOWN, never HOLDS."""
    plain = check(_spinners())
    sym = check(_spinners(), symmetry=True)
    assert verdicts(plain)["terminates"] is Verdict.VIOLATED
    term = next(p for p in sym.properties if p.name == "terminates")
    assert term.verdict is Verdict.UNKNOWN and "cycle" in term.message


def test_mutant_missing_a_self_loop_of_orbits_would_claim_termination(monkeypatch):
    """The test above can fail: the spinners' cycle of orbits is a self-loop (a state whose
    spin step leads back to its own orbit), and a quotient check that looked only for
    components of several orbits would report HOLDS for a model that never ends."""
    from collections import Counter

    from khomc.engines import liveness

    def multi_node_cycles_only(pr, n, start, dst, tid, comp):
        if max(Counter(comp[u] for u in range(n)).values()) > 1:
            pr.message = "cycle"
            return pr
        pr.verdict = Verdict.HOLDS
        return pr
    monkeypatch.setattr(liveness, "_quotient_termination", multi_node_cycles_only)
    assert verdicts(check(_spinners(), symmetry=True))["terminates"] is Verdict.HOLDS
