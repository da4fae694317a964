"""Sampling engines: hypothesis stateful with shrinking, seeded random and PCT.

They find the same violations as the exhaustive search on scopes both can do, their
counterexamples shrink to the BFS-shortest length, they are reproducible from their seed, they
reach scopes BFS cannot, and they never claim HOLDS.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.sampling import Sampler
from khomc.engines.search import check
from khomc.engines.stateful import Stateful
from khomc.registry import build
from khomc.trace import replay

CASES = [("counter", "racy", {"N": 2}, "no-lost-update"),
         ("counter", "abba", {}, "deadlock-free"),
         ("spinkho", "bug", {"N": 2, "K": 1}, "assertions"),
         ("spinkho", "bug", {"N": 3, "K": 3}, "assertions")]


def violated(result):
    return {p.name for p in result.properties if p.verdict is Verdict.VIOLATED}


def bfs_length(spec, scenario, params, prop):
    return len(check(build(spec, scenario, params)).property(prop).trace.steps)


@pytest.mark.parametrize("spec,scenario,params,prop", CASES)
def test_stateful_finds_and_shrinks_to_the_bfs_length(spec, scenario, params, prop):
    model = build(spec, scenario, params)
    engine = Stateful(model, examples=300, steps=60, seed=1)
    r = engine.run()
    assert prop in violated(r)
    trace = r.property(prop).trace
    assert len(trace.steps) == bfs_length(spec, scenario, params, prop)
    assert engine.hypothesis_length >= len(trace.steps)
    assert replay(trace, build(spec, scenario, params)).ok


@pytest.mark.parametrize("engine", ["random", "pct"])
@pytest.mark.parametrize("spec,scenario,params,prop", CASES[:3])
def test_random_and_pct_find_the_same_violations(engine, spec, scenario, params, prop):
    r = Sampler(build(spec, scenario, params), engine, seed=7, runs=3000, steps=20).run()
    assert prop in violated(r)
    trace = r.property(prop).trace
    assert len(trace.steps) == bfs_length(spec, scenario, params, prop)   # after shrinking
    assert replay(trace, build(spec, scenario, params)).ok


@pytest.mark.parametrize("engine", ["random", "pct"])
def test_sampling_is_reproducible_from_its_seed(engine):
    def schedule(seed):
        r = Sampler(build("spinkho", "bug", {"N": 3, "K": 3}), engine, seed=seed, runs=500,
                    steps=30, shrink=False).run()
        return [(s.task, s.choices) for s in r.property("assertions").trace.steps]
    assert schedule(11) == schedule(11)
    assert schedule(11) != schedule(12)


def test_stateful_is_reproducible_from_its_seed():
    def schedule():
        e = Stateful(build("spinkho", "bug", {"N": 3, "K": 3}), examples=100, steps=40, seed=5,
                     shrink=False)
        r = e.run()
        return [(s.task, s.choices) for s in r.property("assertions").trace.steps]
    assert schedule() == schedule()


def test_stateful_reaches_scopes_bfs_cannot():
    """N=6 K=6 is 15 M states for TLC; the stateful engine finds the TOCTOU in seconds and
    shrinks it to the 9 steps a BFS would give (check, freeze, add, six re-sum reads)."""
    e = Stateful(build("spinkho", "bug", {"N": 6, "K": 6}), examples=200, steps=100, seed=3)
    r = e.run()
    assert "assertions" in violated(r)
    assert len(r.property("assertions").trace.steps) == 9


def test_sampling_never_claims_holds():
    for r in (Sampler(build("counter", "locked", {"N": 2}), "random", runs=200).run(),
              Stateful(build("counter", "locked", {"N": 2}), examples=50).run()):
        kinds = {p.name: (p.kind, p.verdict) for p in r.properties}
        for name, (kind, verdict) in kinds.items():
            if kind != "sometimes":
                assert verdict is Verdict.UNKNOWN, (r.engine, name)
        assert not r.exhaustive


def test_pct_depth_one_runs_each_task_to_completion_in_priority_order():
    """d=1: no change points, so the highest-priority task runs until it finishes or blocks:
    no interleaving of the racy counter, hence no lost update - PCT needs depth 2 for it."""
    r = Sampler(build("counter", "racy", {"N": 2}), "pct", seed=0, runs=200, steps=10,
                depth=1).run()
    assert "no-lost-update" not in violated(r)
    r = Sampler(build("counter", "racy", {"N": 2}), "pct", seed=0, runs=200, steps=4,
                depth=2).run()
    assert "no-lost-update" in violated(r)


# -- on KHO v5 ---------------------------------------------------------------------------------

def test_stateful_matches_bfs_on_a_kho_violation():
    """v5 with the tree mutators' freeze check removed, two FDBoxes of one fd: the stateful
    engine finds the use-after-free (a drop after the freeze frees a record the conversion
    still reads) and shrinks it to the BFS-shortest 27 steps."""
    params = {"boxes": 2, "fds": 1, "mutants": "add-skips-freeze-check"}
    bfs = check(build("v5", "fdbox-many", params))
    shortest = len(bfs.property("memory-safety").trace.steps)
    r = Stateful(build("v5", "fdbox-many", params), examples=200, steps=80, seed=1).run()
    assert "memory-safety" in violated(r)
    assert len(r.property("memory-safety").trace.steps) == shortest == 27


@pytest.mark.slow
def test_stateful_finds_the_race_at_six_fdboxes_of_four_fds():
    """Six FDBoxes of four fds each is far beyond exhaustive search; the stateful engine finds
    the conversion race of the mutant in seconds (time to first counterexample and the length
    before and after shrinking are in the result's notes)."""
    e = Stateful(build("v5", "fdbox-many", {"mutants": "add-skips-freeze-check"}),
                 examples=100, steps=150, seed=1)
    r = e.run()
    assert violated(r) & {"conversion-race-free", "memory-safety"}
    assert any("first counterexample after" in n for n in r.notes)
