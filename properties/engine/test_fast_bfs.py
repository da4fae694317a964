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
from khomc.runtime import Model, load, store
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


def _differential(spec, name, small_only):
    sc = next(s for s in registry.scenarios(spec) if s.name == name)
    if small_only:
        # a bounded probe decides, so a big scenario costs SMALL states, not all of them
        probe = Search(sc.instantiate(), "bfs", bounds=Bounds(max_states=SMALL + 1)).run()
        if not probe.exhaustive:
            pytest.skip(f"over {SMALL:,} states: compared in the slow test")
    m = sc.instantiate()      # one model for both (its objects compare by identity)
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
