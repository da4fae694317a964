"""networkx analyses: state-graph export, livelocks (terminal SCCs), lock-order cycles."""

import networkx as nx

from khomc.cli import main
from khomc.engines import graph
from khomc.engines.result import Verdict
from khomc.engines.search import Search, check
from khomc.registry import build
from khomc.runtime.spec import Property
from khomc.trace import make_trace, replay


def searched(spec, scenario, **params):
    s = Search(build(spec, scenario, params))
    s.run()
    return s


def test_lock_order_flags_an_abba_pair_no_run_deadlocks_on():
    r = check(build("counter", "abba-serial", {}))
    assert r.property("deadlock-free").verdict is Verdict.HOLDS   # no explored run deadlocks
    order = graph.lock_order(searched("counter", "abba-serial"))
    assert set(order.edges) == {("A", "B"), ("B", "A")}
    assert sorted(map(sorted, graph.lock_cycles(order))) == [["A", "B"]]


def test_no_lock_cycle_when_locks_nest_consistently():
    order = graph.lock_order(searched("counter", "locked", N=2))
    assert graph.lock_cycles(order) == [] and set(order.nodes) == {"lock"}


def test_livelock_is_a_terminal_scc_reported_with_a_lasso():
    s = searched("counter", "spin")
    (entry, cycle), = graph.livelocks(s)
    assert len(cycle) == 1
    t = make_trace(s.model, s.schedule(entry), Property("terminates", "termination"),
                   "VIOLATED", "", "bfs", {}, loop=cycle)
    assert replay(t, build("counter", "spin", {})).ok


def test_cycles_that_can_be_left_are_not_livelocks():
    """Drivers adding and removing form cycles, but every run can still reach kexec."""
    assert graph.livelocks(searched("spinkho", "ok", N=2, K=2)) == []
    assert graph.livelocks(searched("counter", "abba")) == []   # a deadlock is not a livelock


def test_export_dot_and_graphml(tmp_path):
    s = searched("counter", "racy", N=2)
    g = graph.state_graph(s)
    assert g.number_of_nodes() == 12 and g.number_of_edges() == 14
    back = nx.read_graphml(graph.write_graphml(g, tmp_path / "g.graphml"))
    assert back.number_of_nodes() == 12 and back.number_of_edges() == 14
    dot = graph.write_dot(g, tmp_path / "g.dot").read_text()
    assert dot.startswith('digraph "counter/racy"') and dot.count("->") == 14
    assert "peripheries=2" in dot          # final states are marked


def test_graph_command(tmp_path):
    import io
    out = io.StringIO()
    code = main(["graph", "counter", "abba-serial", "--dot", str(tmp_path / "g.dot")], out=out)
    assert code == 1
    assert "possible circular locking dependency" in out.getvalue()
    out = io.StringIO()
    assert main(["graph", "counter", "locked"], out=out) == 0
