"""The engines on the example specs: pinned verdicts and state counts, BFS = DFS, an oracle.

Pinned numbers were re-derived by hand where small (racy/locked counter) and by the independent
tuple BFS in oracle.py for the SPIN-comparable model.
"""

import pytest

from khomc.engines.result import Bounds, Verdict
from khomc.registry import build
from khomc.engines.search import check

from .oracle import explore

HOLDS, VIOLATED, UNKNOWN = Verdict.HOLDS, Verdict.VIOLATED, Verdict.UNKNOWN


def verdicts(result):
    return {p.name: p.verdict for p in result.properties}


def test_racy_counter_loses_an_update(run):
    """Two unlocked read-then-write increments: the final count can be 1.  BFS finds the
    4-step interleaving read, read, write, write."""
    r = run("counter", "racy")
    assert (r.distinct, r.transitions) == (12, 14)
    assert verdicts(r)["no-lost-update"] is VIOLATED
    trace = r.property("no-lost-update").trace
    assert [s.task for s in trace.steps] in (["inc0", "inc1", "inc0", "inc1"],
                                             ["inc0", "inc1", "inc1", "inc0"])
    assert verdicts(r)["all-incremented"] is HOLDS


def test_locked_counter_holds(run):
    r = run("counter", "locked")
    assert (r.distinct, r.transitions) == (16, 16)
    assert all(v is HOLDS for v in verdicts(r).values()), verdicts(r)
    assert r.exhaustive


def _racy_oracle(N):
    """Hand-written BFS of N read-then-write incrementers: (distinct, transitions, finals)."""
    init = (0, (("read",),) * N)
    seen, todo, transitions, finals = {init}, [init], 0, set()
    while todo:
        count, pcs = todo.pop()
        succ = []
        for i, pc in enumerate(pcs):
            if pc == ("read",):
                succ.append((count, pcs[:i] + (("write", count),) + pcs[i + 1:]))
            elif pc[0] == "write":
                succ.append((pc[1] + 1, pcs[:i] + (("done",),) + pcs[i + 1:]))
        if not succ:
            finals.add(count)
        transitions += len(succ)
        for n in succ:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return len(seen), transitions, finals


@pytest.mark.parametrize("N", [2, 3])
def test_racy_counter_matches_a_hand_written_oracle(run, N):
    r = run("counter", "racy", N=N)
    distinct, transitions, finals = _racy_oracle(N)
    assert (r.distinct, r.transitions) == (distinct, transitions) == \
        {2: (12, 14), 3: (59, 99)}[N]
    assert finals == set(range(1, N + 1))   # every count from 1 to N is a possible outcome
    assert verdicts(r)["no-lost-update"] is VIOLATED


def test_abba_deadlock_names_holders_and_waiters(run):
    r = run("counter", "abba")
    p = r.property("deadlock-free")
    assert p.verdict is VIOLATED
    assert "cpu0 waits: mutex_lock(B) sleeps: held by cpu1" in p.message
    assert "cpu1 waits: mutex_lock(A) sleeps: held by cpu0" in p.message
    assert len(p.trace.steps) == 2


def test_spinning_task_is_reported_with_a_lasso(run):
    r = run("counter", "spin")
    p = r.property("terminates")
    assert p.verdict is VIOLATED
    assert p.trace.loop_start is not None
    assert [s.task for s in p.trace.steps[p.trace.loop_start:]] == ["waiter"]
    assert verdicts(r)["deadlock-free"] is HOLDS


def test_unfair_cycles_are_not_termination_bugs(run):
    """Drivers may add/remove forever while the finalizer is enabled: that is starvation by
    the scheduler, not a task that cannot finish, so `terminates` HOLDS."""
    assert verdicts(run("spinkho", "ok", N=2, K=2))["terminates"] is HOLDS


@pytest.mark.parametrize("N,K,bug,distinct,transitions", [
    (2, 2, False, 333, 708),
    (3, 3, False, 8704, 24544),
    (2, 2, True, 1307, 2758),
    (3, 3, True, 69463, 199549),
])
def test_spinkho_counts_match_the_independent_oracle(run, N, K, bug, distinct, transitions):
    r = run("spinkho", "bug" if bug else "ok", N=N, K=K)
    assert (r.distinct, r.transitions) == (distinct, transitions)
    assert explore(N, K, bug)[:2] == (distinct, transitions)
    assert verdicts(r)["assertions"] is (VIOLATED if bug else HOLDS)
    assert verdicts(r)["kexec-reached"] is HOLDS
    assert verdicts(r)["all-notified"] is HOLDS


def test_spinkho_bug_shortest_counterexample(run):
    """BFS gives the TOCTOU in its shortest form: check !frozen, freeze, add, re-sum."""
    r = run("spinkho", "bug", N=2, K=1)
    trace = r.property("assertions").trace
    labels = [e[0] for s in trace.steps for e in s.effects]
    assert labels[0].startswith("select check !frozen")
    assert labels[1].startswith("atomic { frozen = true")
    assert "items[0]++" in labels[2] or "items[1]++" in labels[2]
    assert len(trace.steps) == 5


@pytest.mark.parametrize("spec,scenario,params", [
    ("counter", "racy", {"N": 3}), ("counter", "locked", {"N": 3}), ("counter", "abba", {}),
    ("counter", "spin", {}), ("spinkho", "ok", {"N": 2, "K": 2}),
    ("spinkho", "bug", {"N": 2, "K": 2}),
])
def test_dfs_agrees_with_bfs(spec, scenario, params):
    bfs = check(build(spec, scenario, params), "bfs")
    dfs = check(build(spec, scenario, params), "dfs")
    assert (dfs.distinct, dfs.transitions) == (bfs.distinct, bfs.transitions)
    assert verdicts(dfs) == verdicts(bfs)


def test_bfs_counterexamples_are_never_longer_than_dfs():
    bfs = check(build("spinkho", "bug", {"N": 2, "K": 2}), "bfs")
    dfs = check(build("spinkho", "bug", {"N": 2, "K": 2}), "dfs")
    assert len(bfs.property("assertions").trace.steps) <= len(dfs.property("assertions").trace.steps)


@pytest.mark.parametrize("bounds,stop", [
    (Bounds(max_states=100), "max-states"),
    (Bounds(max_depth=3), "max-depth"),
    (Bounds(time_limit=1e-9), "time-limit"),
])
@pytest.mark.parametrize("engine", ["bfs", "dfs"])
def test_budgets_end_in_unknown_with_the_numbers(bounds, stop, engine):
    r = check(build("spinkho", "ok", {"N": 3, "K": 3}), engine, bounds)
    assert r.stop == stop
    assert not r.exhaustive
    v = verdicts(r)
    # nothing is claimed to hold on a partial search
    assert HOLDS not in [v[name] for name in ("assertions", "deadlock-free", "terminates",
                                              "all-notified")]
    assert r.distinct > 0 and r.seconds >= 0 and r.transitions >= 0
    assert r.as_dict()["exhaustive"] is False


def test_a_budget_does_not_hide_a_violation_already_found():
    r = check(build("counter", "racy", {"N": 2}), "bfs", Bounds(max_depth=4))
    assert verdicts(r)["no-lost-update"] is VIOLATED


def test_result_carries_its_numbers(run):
    r = run("counter", "locked")
    d = r.as_dict()
    for key in ("distinct_states", "transitions", "depth", "seconds", "states_per_s", "engine",
                "bounds"):
        assert key in d
    assert d["engine"] == "bfs" and d["distinct_states"] == 16


def test_progress_line_after_one_second():
    """The progress line appears once a search has run for a second, never before."""
    import io

    from khomc.engines.search import Progress

    class Stream(io.StringIO):
        def isatty(self):
            return True

    s = Stream()
    p = Progress(True, s)
    p.tick(100, 3, 10, p.start + 0.5)
    assert s.getvalue() == ""
    p.tick(200_000, 17, 1_234, p.start + 2.0)
    line = s.getvalue()
    assert "200,000 distinct states" in line and "100,000 states/s" in line
    assert "depth 17" in line and "frontier 1,234" in line
