"""Task keys by value (issue 12, item 4): a replayed task always reaches its recorded key.

A task's local state is keyed by (code position, live locals, hidden stack values) of each
frame.  The key must not depend on object identity (a closure the task creates is a new object
on every replay) nor on the insertion order of ``f_locals``, and a ``for`` loop's iterator or a
comprehension's accumulator is keyed by its live value (sequence and position), so loops with a
``for`` inside close into cycles.  The differential test runs every default scenario of every
spec with the task table's caches on (memoized transitions, a live coroutine per local state)
and off (every step replays the task from its observations) and asserts equal counts and
verdicts.
"""

import pytest

from khomc import registry
from khomc.engines.result import Bounds, Verdict
from khomc.engines.search import Search, check
from khomc.runtime import Model, NondeterministicSpec, load, op, store
from khomc.runtime import tasks
from khomc.runtime.frames import key_names


def run(model_fn, memo, **kw):
    m = model_fn()
    m.table.memo = memo
    return Search(m, "bfs", **kw).run()


def summary(r):
    return r.distinct, r.transitions, {p.name: p.verdict for p in r.properties}


def _add(values, tid, f):
    return (f(values[0]),), None


# -- closures ------------------------------------------------------------------------------

async def with_closure(x, k):
    bump = lambda v: v + k          # noqa: E731 - a closure created by the task on every run
    await op((x,), _add, bump)
    await op((x,), _add, bump)
    await load(x)


def closure_model():
    m = Model("t", "closure")
    x = m.var("x", 0)
    m.task("a", with_closure, x, 1)
    m.task("b", with_closure, x, 2)
    m.final("sum", lambda s: s[x] == 6)
    return m


def test_closures_are_keyed_by_value_so_replay_agrees():
    on, off = run(closure_model, True), run(closure_model, False)
    assert summary(on) == summary(off)
    assert summary(on)[2]["sum"] is Verdict.HOLDS


def test_closures_keyed_by_identity_break_replay(monkeypatch):
    """The mutant: functions kept as objects in the key (by identity) - the replay path then
    reaches a different key and reports a nondeterministic spec, as before issue 12."""
    monkeypatch.setattr(tasks, "_norm_function", lambda fn, depth: fn)
    with pytest.raises(NondeterministicSpec):
        run(closure_model, False)


# -- f_locals order --------------------------------------------------------------------------

async def rebinds(x):
    a = 1
    b = await load(x)
    del a
    await load(x)
    a = 2                            # re-inserted at the end of a live frame's f_locals
    await load(x)
    return a + b


def test_locals_keyed_in_code_order_not_insertion_order():
    def model():
        m = Model("t", "order")
        x = m.var("x", 0)
        m.task("r", rebinds, x)
        m.task("w", lambda_free_writer, x)
        return m
    assert summary(run(model, True)) == summary(run(model, False))
    names = key_names(rebinds.__code__, next(iter(tasks.hidden_depth.__globals__["yield_depths"](
        rebinds.__code__))))
    assert list(names) == [n for n in rebinds.__code__.co_varnames if n in names]


async def lambda_free_writer(x):
    await store(x, 1)


# -- for loops and comprehensions ----------------------------------------------------------

async def for_forever(x):
    while True:
        for i in (0, 1, 2):
            await store(x, i)


async def comprehension_forever(x, y):
    while True:
        pair = [await load(x) for _ in range(2)]
        await store(y, pair[0] == pair[1])


async def toggler(x):
    while True:
        await store(x, 1)
        await store(x, 0)


def for_model():
    m = Model("t", "for")
    x = m.var("x", 0)
    m.task("f", for_forever, x)
    return m


def comp_model():
    m = Model("t", "comp")
    x = m.var("x", 0)
    y = m.var("y", True)
    m.task("c", comprehension_forever, x, y)
    m.task("t", toggler, x)
    return m


def test_for_loop_iterator_is_keyed_by_its_position():
    """An endless ``while`` around a ``for``: keyed by the iterator's position, four states
    (x=0 at the start, then x = 0, 1, 2 each with the iterator one further; the second round
    meets the first); keyed by history (the old rule) the search would never end."""
    r = run(for_model, True)
    assert r.exhaustive and r.distinct == 4
    assert summary(r) == summary(run(for_model, False))


def test_comprehension_accumulator_is_keyed_by_its_items():
    r = run(comp_model, True)
    assert r.exhaustive
    assert summary(r) == summary(run(comp_model, False))


def test_for_loop_keyed_by_history_never_closes(monkeypatch):
    """The mutant: stack values not readable - the frame falls back to its history since
    entry, which grows forever: the search hits its state budget instead of finishing."""
    def opaque(coro, n):
        raise tasks._Opaque
    monkeypatch.setattr(tasks, "_stack_values", opaque)
    m = for_model()
    r = Search(m, "bfs", Bounds(max_states=500)).run()
    assert not r.exhaustive and r.distinct == 500


def test_half_an_expression_on_the_stack_is_part_of_the_key():
    async def adds(x, out):
        t = 0
        t += await load(x)           # t is on the stack while the task waits
        await store(out, t)

    def model():
        m = Model("t", "expr")
        x = m.var("x", 0)
        out = m.var("out", 0)
        m.task("a", adds, x, out)
        m.task("w", lambda_free_writer, x)
        return m
    assert summary(run(model, True)) == summary(run(model, False))


# -- every default scenario, caches on and off ---------------------------------------------

FAST_LIMIT = 3_000       # states: above this the caches-off run is left to the slow test

CASES = [(spec, sc.name) for spec in registry.SPECS for sc in registry.scenarios(spec)
         if sc.default]


# a scenario the review checks up to symmetry (three clients, millions of plain states, whose
# caches-off run would take hours) is compared at two clients: the same code paths
TWO_CLIENTS = {"clients": 2}


def _differential(spec, name, memo_off_only_if_small):
    sc = next(s for s in registry.scenarios(spec) if s.name == name)
    params = TWO_CLIENTS if sc.symmetry else None
    if memo_off_only_if_small:
        # a bounded probe decides, so a big scenario costs FAST_LIMIT states, not all of them
        probe = Search(sc.instantiate(params), "bfs",
                       bounds=Bounds(max_states=FAST_LIMIT + 1)).run()
        if not probe.exhaustive:
            pytest.skip(f"over {FAST_LIMIT:,} states: caches-off run in the slow test")
    m = sc.instantiate(params)
    on = Search(m, "bfs").run()
    m2 = sc.instantiate(params)
    m2.table.memo = False
    off = Search(m2, "bfs").run()
    assert on.exhaustive and off.exhaustive
    assert summary(on) == summary(off)


@pytest.mark.parametrize("spec,name", CASES, ids=[f"{s}/{n}" for s, n in CASES])
def test_caches_on_and_off_agree(spec, name):
    _differential(spec, name, True)


@pytest.mark.slow
@pytest.mark.parametrize("spec,name", CASES, ids=[f"{s}/{n}" for s, n in CASES])
def test_caches_on_and_off_agree_everywhere(spec, name):
    _differential(spec, name, False)
