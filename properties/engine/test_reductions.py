"""Reductions preserve verdicts: fingerprints (compact) and symmetry, against the plain search."""

import pytest

from model.engines.result import Verdict
from model.engines.search import check
from model.registry import build
from model.runtime import Model, SpecError, load, store

EXAMPLES = [("counter", "racy", {"N": 3}), ("counter", "locked", {"N": 3}),
            ("counter", "abba", {}), ("counter", "spin", {}),
            ("spinkho", "ok", {"N": 3, "K": 2}), ("spinkho", "bug", {"N": 3, "K": 2})]


def verdicts(r):
    return {p.name: p.verdict for p in r.properties}


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
    assert w.pop("terminates") is Verdict.UNKNOWN      # liveness is not checked under symmetry
    v.pop("terminates")
    assert v == w
    assert "symmetry (safety properties only)" in sym.reductions
    assert any("safety properties only" in n for n in sym.notes)


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
