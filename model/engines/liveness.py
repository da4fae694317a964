"""Termination under weak fairness, on the explored state graph.

Owns the ``terminates`` property.  A run that never finishes is an infinite path; in a finite
state graph it ends in a cycle inside one strongly connected component (SCC).  A cycle is only a
real bug if it is *fair*: a task that stays enabled all along it must also take steps in it
(otherwise the scheduler merely starved that task - a driver spinning add/remove while the
finalizer waits is not a termination bug, the kernel's scheduler would run the finalizer).

So an SCC with an internal edge is reported when every task enabled in all of its states takes
an internal edge.  The report is a lasso: the shortest prefix to the SCC, then a cycle through
it that lets each such task take a step.  Tarjan's algorithm runs iteratively over compact
arrays; networkx is kept for small exports, not for graphs of millions of edges.

The three passes over every state and edge (the adjacency, the components, each component's
summary) run compiled where the optional extension ``khomc.engines._liveness`` was built
(model/engines/_liveness.c, the same statements); the Python functions here are the
reference, run with ``KHOMC_PURE_PYTHON=1`` or without the extension.
"""

from __future__ import annotations

import os
from array import array
from collections import deque

from .result import Verdict

try:
    from . import _liveness
except ImportError:             # built without a C compiler: the Python passes below
    _liveness = None


def compiled() -> bool:
    """Do the graph passes run compiled (the extension is built and not turned off)?"""
    return _liveness is not None and not os.environ.get("KHOMC_PURE_PYTHON")


def _csr(n: int, src: array, dst: array, tid: array):
    """Adjacency in compressed sparse rows: for node u, edges start[u]..start[u+1]."""
    if compiled():
        m = len(src)
        start, out_dst, out_tid = array("l", [0]) * (n + 1), array("l", [0]) * m, \
            array("h", [0]) * m
        _liveness.csr(n, src, dst, tid, start, out_dst, out_tid)
        return start, out_dst, out_tid
    return _csr_py(n, src, dst, tid)


def _csr_py(n: int, src: array, dst: array, tid: array):
    """:func:`_csr` in Python (the reference)."""
    count = array("l", [0]) * (n + 1)
    for u in src:
        count[u + 1] += 1
    for i in range(n):
        count[i + 1] += count[i]
    start = array("l", count)
    fill = array("l", count)
    out_dst = array("l", [0]) * len(src)
    out_tid = array("h", [0]) * len(src)
    for u, v, t in zip(src, dst, tid):
        k = fill[u]
        out_dst[k] = v
        out_tid[k] = t
        fill[u] = k + 1
    return start, out_dst, out_tid


def strongly_connected(n: int, start: array, dst: array) -> array:
    """Component number of every node (iterative Tarjan)."""
    if compiled():
        comp = array("l", [-1]) * n
        _liveness.scc(n, start, dst, comp)
        return comp
    return _strongly_connected_py(n, start, dst)


def _strongly_connected_py(n: int, start: array, dst: array) -> array:
    """:func:`strongly_connected` in Python (the reference)."""
    index = array("l", [-1]) * n
    low = array("l", [0]) * n
    comp = array("l", [-1]) * n
    on_stack = bytearray(n)
    stack: list[int] = []
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, start[root])]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        while work:
            u, k = work[-1]
            if k < start[u + 1]:
                work[-1] = (u, k + 1)
                v = dst[k]
                if index[v] == -1:
                    index[v] = low[v] = counter
                    counter += 1
                    stack.append(v)
                    on_stack[v] = 1
                    work.append((v, start[v]))
                elif on_stack[v] and index[v] < low[u]:
                    low[u] = index[v]
                continue
            work.pop()
            if work:
                p = work[-1][0]
                if low[u] < low[p]:
                    low[p] = low[u]
            if low[u] == index[u]:
                while True:
                    w = stack.pop()
                    on_stack[w] = 0
                    comp[w] = ncomp
                    if w == u:
                        break
                ncomp += 1
    return comp


def fair_cycles(n, start, dst, tid, comp):
    """Yield (component, members, tasks that must step) for each fair non-trivial SCC, in
    the order of their smallest state."""
    summary = _compiled_summary(n, start, dst, tid, comp)
    if summary is None:
        yield from _fair_cycles_py(n, start, dst, tid, comp)
        return
    for c, must_step in summary[0]:
        yield c, [u for u in range(n) if comp[u] == c], must_step


def _compiled_summary(n, start, dst, tid, comp):
    """``_liveness.fair``'s (fair components with their tasks, any cycle at all), or None
    where the Python passes run (not compiled, or a task id past the 64-bit masks)."""
    if not compiled():
        return None
    try:
        return _liveness.fair(n, max(comp, default=-1) + 1, start, dst, tid, comp)
    except ValueError:
        return None


def _fair_cycles_py(n, start, dst, tid, comp):
    """:func:`fair_cycles` in Python (the reference)."""
    members: dict[int, list[int]] = {}
    for u in range(n):
        members.setdefault(comp[u], []).append(u)
    for c, nodes in members.items():
        taken: set[int] = set()
        always_enabled: set[int] | None = None
        for u in nodes:
            enabled = set()
            for k in range(start[u], start[u + 1]):
                enabled.add(tid[k])
                if comp[dst[k]] == c:
                    taken.add(tid[k])
            always_enabled = enabled if always_enabled is None else always_enabled & enabled
        if not taken:
            continue  # a single state without a self-loop: no cycle
        if always_enabled <= taken:
            yield c, nodes, sorted(always_enabled)


def _path_within(start, dst, tid, comp, c, src, goal):
    """Shortest edge path inside component *c* from *src* to a node satisfying goal(u, k)."""
    prev = {src: None}
    q = deque([src])
    while q:
        u = q.popleft()
        for k in range(start[u], start[u + 1]):
            v = dst[k]
            if comp[v] != c:
                continue
            if goal(u, k):
                path = [k]
                while prev[u] is not None:
                    pu, pk = prev[u]
                    path.append(pk)
                    u = pu
                path.reverse()
                return path
            if v not in prev:
                prev[v] = (u, k)
                q.append(v)
    return None


def lasso(search, start, dst, tid, comp, c, nodes, must_step):
    """(entry state id, list of edge indices forming a fair cycle from the entry back to it)."""
    depth = search.depth
    entry = min(nodes, key=lambda u: (depth[u], u))
    cycle: list[int] = []
    here = entry
    for t in must_step:
        seg = _path_within(start, dst, tid, comp, c, here,
                           lambda u, k, t=t: tid[k] == t)
        cycle += seg
        here = dst[seg[-1]]
    if here != entry or not cycle:
        seg = _path_within(start, dst, tid, comp, c, here, lambda u, k: dst[k] == entry)
        cycle += seg
    return entry, cycle


def termination_check(search, prop, pr, exhausted, build_trace):
    if not exhausted:
        pr.message = "the search did not finish, so cycles were not analysed"
        return pr
    if search.por is not None and search.record_graph and not search.graph_complete:
        pr.message = ("not analysed: partial-order reduction skipped steps to states it did "
                      "not visit, so the full graph is not known")
        return pr
    if not search.record_graph:
        pr.message = (f"the state graph ({search.count:,} states) exceeded the "
                      f"graph limit ({search.graph_limit:,}); termination was not analysed")
        return pr
    n = search.count
    start, dst, tid = _csr(n, search.esrc, search.edst, search.etid)
    comp = strongly_connected(n, start, dst)
    if search.symmetry is not None:
        return _quotient_termination(pr, n, start, dst, tid, comp)
    for c, nodes, must_step in fair_cycles(n, start, dst, tid, comp):
        entry, cycle = lasso(search, start, dst, tid, comp, c, nodes, must_step)
        loop = []
        for k in cycle:
            loop.append((tid[k], _choices_of_edge(search, k, start, dst, tid)))
        names = search.stepper.task_names(search.state_of(entry))
        looping = sorted({names[t] for t, _ in loop})
        pr.verdict = Verdict.VIOLATED
        pr.message = (f"a fair cycle of {len(loop)} steps never finishes: "
                      f"{', '.join(looping)} loop(s) forever after {depth_of(search, entry)} steps")
        pr.trace = build_trace(search, entry, prop, "VIOLATED", pr.message, loop=loop)
        return pr
    pr.verdict = Verdict.HOLDS
    pr.message = f"no fair cycle among {n:,} states"
    return pr


def _quotient_termination(pr, n, start, dst, tid, comp):
    """``terminates`` on the graph of orbits a symmetric search explored.  A cycle of the
    full graph through s projects onto a cycle of orbits; conversely a path from s to a
    permuted image p(s) repeats, p being an automorphism, to p(s), p(p(s)), ... and comes back
    to s since the permutations form a finite group.  So the full graph is acyclic exactly when
    the quotient is: no cycle of orbits means every run ends (HOLDS).  A cycle of orbits is
    not judged: weak fairness names tasks, which the permutation moves along the cycle."""
    if _has_cycle(n, start, dst, tid, comp):
        pr.message = ("not decided: the graph of orbits has a cycle, and whether it "
                      "is fair is not judged up to symmetry (run without --symmetry)")
        return pr
    pr.verdict = Verdict.HOLDS
    pr.message = (f"no cycle among {n:,} orbits (up to symmetry): every run ends, under any "
                  "fairness")
    return pr


def _has_cycle(n, start, dst, tid, comp) -> bool:
    """Does an edge stay inside its component (a self-loop included)?"""
    summary = _compiled_summary(n, start, dst, tid, comp)
    if summary is not None:
        return summary[1]
    return any(comp[dst[k]] == comp[u] for u in range(n) for k in range(start[u], start[u + 1]))


def depth_of(search, sid):
    return search.depth[sid]


def _choices_of_edge(search, k, start, dst, tid):
    """Choices of an edge: recomputed by expanding its source (edges store only the task)."""
    # find the edge's source: the u with start[u] <= k < start[u+1]
    lo, hi = 0, len(start) - 2
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if start[mid] <= k:
            lo = mid
        else:
            hi = mid - 1
    u = lo
    target = search.key(search.state_of(dst[k]))
    for t, choices, nxt in search.stepper.expand(search.state_of(u)):
        if t == tid[k] and search.key(nxt) == target:
            return choices
    raise AssertionError("edge not reproducible")  # pragma: no cover
