"""The compiled inner loop of the fast BFS (model/engines/_bfsloop.c) is the Python loop.

``Search._bfs_compiled`` hands batches of frontier entries to ``_bfsloop.bfs_batch``; the
Python loop of ``Search._bfs_fast`` is the reference (``search.compiled = False``, or
``KHOMC_PURE_PYTHON=1``).  Compared here state for state on every default scenario small
enough, on the symmetric ones at two clients, and on the loop's exits: the graph passing its
limit, ``max_states``, stopping at the first violation, Ctrl-C, a checkpoint and its resume.
test_fast_bfs.py compares the fast search (now compiled) with the plain one as well.
"""

import shutil
import signal

import pytest

from khomc import registry
from khomc.engines import search as search_mod
from khomc.engines.result import Bounds
from khomc.engines.search import Search
from khomc.runtime import Model, SpecError, load, store

pytestmark = pytest.mark.skipif(search_mod._bfsloop is None,
                                reason="khomc.engines._bfsloop was not built")

SMALL = 20_000
CASES = [(spec, sc.name) for spec in registry.SPECS for sc in registry.scenarios(spec)
         if sc.default]


def _search(model, compiled, **kw):
    s = Search(model, "bfs", **kw)
    assert s.fast
    s.compiled = compiled
    return s, s.run()


def _same(a, b):
    (sa, ra), (sb, rb) = a, b
    assert sa.states == sb.states
    assert list(sa.parent) == list(sb.parent) and list(sa.via_tid) == list(sb.via_tid)
    assert sa.via_choices == sb.via_choices and list(sa.depth) == list(sb.depth)
    assert (list(sa.esrc), list(sa.edst), list(sa.etid)) == \
        (list(sb.esrc), list(sb.edst), list(sb.etid))
    assert sa.violations == sb.violations and sa.witness == sb.witness
    assert sa.deadlocks == sb.deadlocks
    assert (ra.distinct, ra.transitions, ra.stop) == (rb.distinct, rb.transitions, rb.stop)
    assert [(p.name, p.verdict, p.message) for p in ra.properties] == \
        [(p.name, p.verdict, p.message) for p in rb.properties]


def _model(spec, name):
    sc = next(s for s in registry.scenarios(spec) if s.name == name)
    return sc, sc.instantiate({"clients": 2} if sc.symmetry else None)


def test_the_extension_is_built_where_a_compiler_is():
    """A fresh install on a machine with a C compiler builds the extension (setup.py marks it
    optional, so a failed build would otherwise pass unseen and every search would run the
    Python loop)."""
    if shutil.which("cc") or shutil.which("gcc"):
        assert search_mod._bfsloop is not None
        assert search_mod.compiled_loop()


@pytest.mark.parametrize("spec,name", CASES, ids=[f"{s}/{n}" for s, n in CASES])
def test_compiled_and_python_loops_agree(spec, name):
    sc, m = _model(spec, name)
    probe = Search(m, "bfs", bounds=Bounds(max_states=SMALL + 1)).run()
    if not probe.exhaustive:
        pytest.skip(f"over {SMALL:,} states")
    _same(_search(m, True), _search(m, False))


def test_symmetric_search_agrees():
    sc, m = _model("k6.16", "three-preservers")
    _same(_search(m, True, symmetry=True), _search(m, False, symmetry=True))


@pytest.mark.parametrize("kw", [
    {"graph_limit": 100},                       # the graph is dropped mid-search
    {"bounds": Bounds(max_states=777)},         # max-states with a frontier left
    {"stop_at_first": True},                    # the first violation ends the search
], ids=["graph-limit", "max-states", "stop-at-first"])
def test_exits_agree(kw):
    m = registry.build("v5", "fdbox-race")
    _same(_search(m, True, **kw), _search(m, False, **kw))


def test_reordered_outcomes_are_seen():
    """The comparison is sensitive: the compiled loop fed each effect's outcomes reversed
    finds the same states under other ids, and ``_same`` says so."""
    m = registry.build("spinkho", "ok", {"N": 2, "K": 2})
    ref = _search(m, False)
    s = Search(m, "bfs")
    outcomes = s.stepper.fast_outcomes
    s.stepper.fast_outcomes = lambda *a: tuple(reversed(outcomes(*a)))
    got = (s, s.run())
    assert got[1].distinct == ref[1].distinct
    with pytest.raises(AssertionError):
        _same(got, ref)


def test_ctrl_c_and_resume(tmp_path):
    """Ctrl-C between two batches: the checkpoint holds every state found, and the resumed
    search ends where an uninterrupted one does."""
    m = registry.build("spinkho", "ok", {"N": 3, "K": 3})
    ref = _search(m, True)[1]
    path = str(tmp_path / "ck")
    s = Search(m, "bfs", checkpoint=path)
    seen = {"n": 0}
    tick = s.progress.tick

    def interrupt(*a):
        seen["n"] += 1
        if seen["n"] == 3:
            s._on_sigint(signal.SIGINT, None)
        tick(*a)
    s.progress.tick = interrupt
    first = s.run()
    assert first.stop == "interrupted" and 0 < first.distinct < ref.distinct
    again = Search.resume(path).run()
    assert (again.distinct, again.transitions) == (ref.distinct, ref.transitions)
    assert [(p.name, p.verdict) for p in again.properties] == \
        [(p.name, p.verdict) for p in ref.properties]


async def _writer(x, v):
    await store(x, v)


async def _reader(x, y):
    await store(y, await load(x))


def _raising_model():
    """``ratio`` divides by ``a``, written 0 by the last step of one order."""
    m = Model("t", "raising")
    a = m.var("a", 1)
    b = m.var("b", 0)
    m.task("w", _writer, a, 0)
    m.task("r", _reader, a, b)
    m.always("ratio", lambda s: 1 // s[a] >= 0)
    return m


def test_a_raising_property_is_named_alike():
    """A property that raises inside the compiled property checks is the Python loop's
    SpecError, naming the property."""
    errors = []
    for compiled in (True, False):
        with pytest.raises(SpecError) as exc:
            _search(_raising_model(), compiled)
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and "'ratio' raised ZeroDivisionError" in errors[0]


def test_the_incremental_checks_run_in_c(monkeypatch):
    """The compiled loop runs Monitor.after_step's checks itself (check_new): the Python
    after_step is called only on states where every task has finished (the final
    properties), and the verdicts equal the Python loop's, which calls it on every state
    the gates let through."""
    from khomc.engines import monitor as monitor_mod
    calls = []
    real = monitor_mod.Monitor.after_step

    def counted(self, state, *args):
        calls.append(self.done_ids.issuperset(state[1]))
        return real(self, state, *args)

    monkeypatch.setattr(monitor_mod.Monitor, "after_step", counted)
    sc, model = _model("v5", "fdbox-race")
    _search(model, False)
    assert calls and not all(calls)
    python_calls = len(calls)
    calls.clear()
    sc, model = _model("v5", "fdbox-race")
    _search(model, True)
    assert all(calls) and len(calls) < python_calls
    _same(_search(_model("v5", "fdbox-race")[1], True),
          _search(_model("v5", "fdbox-race")[1], False))


@pytest.mark.parametrize("spec,name", [("v5", "fdbox-race"), ("k6.16", "fdbox-race"),
                                       ("k6.19", "three-preservers")])
def test_the_compiled_parts_key_is_the_python_one(spec, name):
    """A heap effect's memo key (step.PartsKey: the ids of its other slots and of the pages it
    touches) is computed by the compiled loop's own statements (memo_key); on every state
    key of a real search they give the Python key, for the effects with fixed pages and the
    ones whose pages depend on the world (the cache of locations_in)."""
    from khomc.runtime.step import PartsKey
    model = registry.build(spec, name, {"clients": 2} if name == "three-preservers" else None)
    s = Search(model, "bfs", graph_limit=0)
    s.run()
    getters = [node[6] for node in s.stepper._memo.values()
               if type(node) is tuple and type(node[6]) is PartsKey]
    assert getters
    if spec != "k6.19":             # both kinds: fixed pages (no cache), world-dependent
        assert {g[4] is None for g in getters} == {True, False}
    keys = s.states.keys[:: max(1, len(s.states.keys) // 300)]
    for g in getters:
        for k in keys:
            assert search_mod._bfsloop.memo_key(g, k[0]) == g(k[0])
