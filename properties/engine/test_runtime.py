"""The runtime's contract: effects, atomic, choose, select, spawn, cloning by replay, errors."""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.runtime import (Model, NondeterministicSpec, SpecError, atomic, choose, load, select,
                           spawn, store, update)
from khomc.runtime.frames import CLEAN_DEPTH, is_clean, live_locals, yield_depths
from khomc.trace import replay


def verdicts(r):
    return {p.name: p.verdict for p in r.properties}


# -- atomic ------------------------------------------------------------------------------------

async def atomic_increment(count):
    async with atomic():
        v = await load(count)
        await store(count, v + 1)


def _inc(v, tid):
    return v + 1, None


def test_atomic_section_closes_the_lost_update():
    m = Model("t", "atomic")
    count = m.var("count", 0)
    for i in range(3):
        m.task(f"inc{i}", atomic_increment, count)
    m.final("no-lost-update", lambda s: s[count] == 3)
    r = check(m)
    assert verdicts(r)["no-lost-update"] is Verdict.HOLDS
    # the read and the write are one step: 3! orders of 3 steps, 8 distinct states
    assert r.distinct == 8


@atomic
async def decorated_increment(count):
    v = await load(count)
    await store(count, v + 1)


async def call_decorated(count):
    await decorated_increment(count)
    await decorated_increment(count)


def test_atomic_decorator():
    m = Model("t", "atomic-fn")
    count = m.var("count", 0)
    m.task("a", call_decorated, count)
    m.task("b", call_decorated, count)
    m.final("all", lambda s: s[count] == 4)
    assert verdicts(check(m))["all"] is Verdict.HOLDS


def _held(v, tid):
    return None if v else (True, None)


async def sleeps_in_atomic(flag):
    async with atomic():
        await load(flag)
        await update(flag, _held)   # blocks: flag is already set


def test_blocking_inside_atomic_is_a_spec_error():
    m = Model("t", "sleep-in-atomic")
    flag = m.var("flag", True)
    m.task("t", sleeps_in_atomic, flag)
    with pytest.raises(SpecError, match="sleeping in atomic context"):
        check(m)


# -- choose, select, spawn -------------------------------------------------------------------

async def chooser(out):
    order = await choose((0, 1, 2), "folio order")
    await store(out, order)


def test_choose_explores_every_option_and_traces_record_it():
    m = Model("t", "choose")
    out = m.var("out", None)
    m.task("c", chooser, out)
    m.always("not-order-2", lambda s: s[out] != 2)
    m.sometimes("order-1", lambda s: s[out] == 1)
    r = check(m)
    assert verdicts(r)["not-order-2"] is Verdict.VIOLATED
    assert verdicts(r)["order-1"] is Verdict.HOLDS
    trace = r.property("not-order-2").trace
    assert trace.steps[0].choices == (2,)
    assert trace.steps[0].effects[0][:2] == ("choose folio order", "2")
    assert replay(trace, _rebuild_choose()).ok


def _rebuild_choose():
    m = Model("t", "choose")
    out = m.var("out", None)
    m.task("c", chooser, out)
    m.always("not-order-2", lambda s: s[out] != 2)
    return m


async def worker(x):
    await store(x, 1)


async def parent(x):
    tid = await spawn("kworker", worker, x)
    assert tid == 1


def test_spawn_starts_a_task():
    m = Model("t", "spawn")
    x = m.var("x", 0)
    m.task("parent", parent, x)
    m.final("worker-ran", lambda s: s[x] == 1)
    r = check(m)
    assert verdicts(r)["worker-ran"] is Verdict.HOLDS
    assert verdicts(r)["assertions"] is Verdict.HOLDS
    assert r.distinct == 3


def _positive(v, tid):
    return (v, "pos") if v > 0 else None


def _zero(v, tid):
    return (v, "zero") if v == 0 else None


async def selector(x, out):
    i, obs = await select(update(x, _positive), update(x, _zero))
    await store(out, obs)


def test_select_takes_only_enabled_alternatives():
    m = Model("t", "select")
    x = m.var("x", 0)
    out = m.var("out", None)
    m.task("s", selector, x, out)
    m.final("zero", lambda s: s[out] == "zero")
    assert verdicts(check(m))["zero"] is Verdict.HOLDS


# -- task keys -------------------------------------------------------------------------------

async def looping(x):
    n = 0
    while True:
        v = await load(x)
        n = (n + 1) % 2
        if v:
            return


def test_loops_close_into_cycles():
    """(code position, live locals) keys: the loop's states repeat, so the search is finite."""
    m = Model("t", "loop")
    x = m.var("x", False)
    m.task("l", looping, x)
    r = check(m)
    assert r.exhaustive and r.distinct == 2
    assert verdicts(r)["terminates"] is Verdict.VIOLATED  # x is never set: a fair spin


async def for_loop(x):
    for i in range(3):
        await store(x, i)


def test_for_loops_are_sound_without_merging():
    m = Model("t", "for")
    x = m.var("x", 0)
    m.task("f", for_loop, x)
    m.final("last", lambda s: s[x] == 2)
    r = check(m)
    assert verdicts(r)["last"] is Verdict.HOLDS and r.distinct == 4


def test_static_stack_depths():
    async def clean(e):
        x = await e
        return x

    async def dirty(e, a):
        return a + await e

    assert set(yield_depths(clean.__code__).values()) == {CLEAN_DEPTH}
    (off,) = yield_depths(dirty.__code__)
    assert not is_clean(dirty.__code__, off)
    assert live_locals(clean.__code__) == {next(iter(yield_depths(clean.__code__))): frozenset()}


async def keeps_a_list(x):
    seen = []
    await load(x)
    seen.append(1)
    await load(x)


def test_mutable_local_state_is_refused_with_its_name():
    m = Model("t", "list")
    x = m.var("x", 0)
    m.task("t", keeps_a_list, x)
    with pytest.raises(SpecError, match="local variable 'seen' .* unhashable list"):
        check(m)


# -- the determinism contract, at run time -----------------------------------------------------

_CALLS = [0]


def _impure_value():
    _CALLS[0] += 1
    return _CALLS[0]


async def impure(flag, out):
    await load(flag)
    await store(out, _impure_value())   # depends on a global, not on an observation
    await load(flag)


async def setter(flag):
    await store(flag, True)


def test_nondeterministic_spec_is_caught_on_replay():
    m = Model("t", "impure")
    flag = m.var("flag", False)
    out = m.var("out", 0)
    m.task("impure", impure, flag, out)
    m.task("setter", setter, flag)
    with pytest.raises(NondeterministicSpec, match=r"task 'impure' at its step 1 asked for "
                                                   r"write out := \d+ on replay"):
        check(m)


async def crashes(x):
    await load(x)
    raise RuntimeError("boom")


def test_exception_in_model_code_is_an_assertion_violation():
    m = Model("t", "crash")
    x = m.var("x", 0)
    m.task("t", crashes, x)
    r = check(m)
    p = r.property("assertions")
    assert p.verdict is Verdict.VIOLATED and "RuntimeError: boom" in p.message


def test_sometimes_unreachable_is_vacuity():
    m = Model("t", "vacuous")
    x = m.var("x", 0)
    m.task("w", worker, x)
    m.sometimes("x-is-2", lambda s: s[x] == 2)
    p = check(m).property("x-is-2")
    assert p.verdict is Verdict.VIOLATED and p.message.startswith("vacuous")
