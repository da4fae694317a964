"""The compiled graph passes of the termination check (model/engines/_liveness.c) are the
Python ones of model/engines/liveness.py.

Compared on random graphs (self-loops, parallel edges, nodes without edges, tasks 0..63) -
the adjacency arrays, the component numbers and the fair components with their tasks, in
order - and on the scenarios whose ``terminates`` is violated or holds, verdict and message.
"""

from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from khomc import registry
from khomc.engines import liveness
from khomc.engines.search import Search

pytestmark = pytest.mark.skipif(liveness._liveness is None,
                                reason="khomc.engines._liveness was not built")


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 40))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                    st.sampled_from([0, 1, 2, 5, 63])), max_size=120))
    return (n, array("l", [e[0] for e in edges]), array("l", [e[1] for e in edges]),
            array("h", [e[2] for e in edges]))


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_the_compiled_passes_are_the_python_ones(graph):
    n, src, dst, tid = graph
    start, odst, otid = liveness._csr(n, src, dst, tid)
    assert (start, odst, otid) == liveness._csr_py(n, src, dst, tid)
    comp = liveness.strongly_connected(n, start, odst)
    assert comp == liveness._strongly_connected_py(n, start, odst)
    fair = [(c, list(nodes), list(tasks))
            for c, nodes, tasks in liveness.fair_cycles(n, start, odst, otid, comp)]
    assert fair == [(c, list(nodes), list(tasks))
                    for c, nodes, tasks in liveness._fair_cycles_py(n, start, odst, otid, comp)]
    cyclic = any(comp[odst[k]] == comp[u] for u in range(n) for k in range(start[u], start[u + 1]))
    assert liveness._has_cycle(n, start, odst, otid, comp) == cyclic


def test_a_task_past_the_masks_runs_the_python_passes():
    n, src, dst, tid = (2, array("l", [0, 1, 0, 1]), array("l", [1, 0, 0, 1]),
                        array("h", [64, 64, 70, 70]))
    start, odst, otid = liveness._csr(n, src, dst, tid)
    comp = liveness.strongly_connected(n, start, odst)
    assert liveness._compiled_summary(n, start, odst, otid, comp) is None
    assert [t for _, _, t in liveness.fair_cycles(n, start, odst, otid, comp)] == [[64, 70]]


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError):
        liveness._liveness.csr(2, array("l", [0, 5]), array("l", [1, 0]), array("h", [0, 0]),
                               array("l", [0]) * 3, array("l", [0]) * 2, array("h", [0]) * 2)
    with pytest.raises(TypeError):
        liveness._liveness.scc(1, array("i", [0, 0]), array("l"), array("l", [0]))


@pytest.mark.parametrize("spec,scenario,params", [
    ("counter", "spin", None),                  # a fair cycle: VIOLATED, with a lasso
    ("spinkho", "ok", {"N": 2, "K": 2}),        # only unfair cycles: HOLDS
    ("v5", "fdbox-race", None),                 # no cycle
])
def test_the_verdicts_are_the_python_ones(spec, scenario, params, monkeypatch):
    def terminates(env):
        if env:
            monkeypatch.setenv("KHOMC_PURE_PYTHON", "1")
        else:
            monkeypatch.delenv("KHOMC_PURE_PYTHON", raising=False)
        r = Search(registry.build(spec, scenario, params), "bfs").run()
        p = next(p for p in r.properties if p.name == "terminates")
        return p.verdict, p.message, p.trace and [s.task for s in p.trace.steps]
    compiled, python = terminates(False), terminates(True)
    assert compiled == python
    assert compiled[0].name == {"spin": "VIOLATED"}.get(scenario, "HOLDS")
