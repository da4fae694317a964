"""networkx analyses of an explored state graph: export, livelocks, lock order.

Owns ``khomc graph``.  After an exhaustive search that recorded its state graph:

* **export** the graph (DOT for Graphviz, GraphML for Gephi/yEd/networkx) when it is small
  enough to look at;
* **livelocks**: terminal strongly connected components with an internal edge - once a run
  enters one it can never reach a final state, whatever the scheduler does (stronger than the
  fair-cycle ``terminates`` check, which also catches cycles that can be left).  Each is
  reported with a lasso trace;
* **lock order** (lockdep's closure, Documentation/locking/lockdep-design.rst): in every explored
  state, a task about to acquire lock B while holding lock A adds the edge A -> B, with the state
  as witness.  A cycle is a potential deadlock even if no explored run deadlocked, because each
  edge was seen on some run.  Locks are the world slots that lock-acquiring effects
  (``effect.acquires``) target; a slot's holders are read from its value (a tid for a mutex,
  ``(writer, readers)`` for an rw_semaphore).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from .liveness import _choices_of_edge, _csr
from .search import Search


class ExportError(ValueError):
    """The state graph cannot be exported; the message says why in one line."""


def state_graph(search: Search, limit: int = 5000) -> nx.MultiDiGraph:
    """The explored graph: nodes are state ids (with a label), edges carry the task name.

    Raises ExportError when the graph was not recorded or has more than *limit* states."""
    if not search.record_graph:
        raise ExportError("the search did not record its state graph (too large or symmetry "
                          "on): nothing exported")
    if search.count > limit:
        raise ExportError(f"the state graph has {search.count:,} states, more than the export "
                          f"limit {limit:,}: nothing exported (raise --export-limit, or lower "
                          "the scenario's bounds)")
    model = search.model
    g = nx.MultiDiGraph(spec=model.spec, scenario=model.scenario)
    for sid in range(search.count):
        state = search.state_of(sid)
        world = ", ".join(f"{k}={v!r}" for k, v in model.describe_world(state[0]).items())
        g.add_node(sid, label=f"#{sid} {world}", depth=int(search.depth[sid]),
                   final=search.stepper.all_done(state), initial=sid == 0)
    names = search.model.table.name
    for u, v, t in zip(search.esrc, search.edst, search.etid):
        task = names[search.state_of(u)[1][t]] if not search.compact else str(t)
        g.add_edge(int(u), int(v), task=task)
    return g


def write_dot(g: nx.MultiDiGraph, path: str | Path) -> Path:
    """Graphviz DOT, written directly (no pydot needed)."""
    def q(text) -> str:
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = [f"digraph {q(g.graph.get('spec', 'khomc') + '/' + g.graph.get('scenario', ''))} {{",
             "  node [shape=box, fontsize=9];"]
    for n, data in g.nodes(data=True):
        style = ", style=bold" if data.get("initial") else ""
        style += ", peripheries=2" if data.get("final") else ""
        lines.append(f"  {n} [label={q(data.get('label', n))}{style}];")
    for u, v, data in g.edges(data=True):
        lines.append(f"  {u} -> {v} [label={q(data.get('task', ''))}];")
    lines.append("}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_graphml(g: nx.MultiDiGraph, path: str | Path) -> Path:
    nx.write_graphml(g, str(path))
    return Path(path)


def livelocks(search: Search) -> list[tuple[int, list]]:
    """Each terminal non-trivial SCC as (entry state id, cycle schedule [(tid, choices)])."""
    g = nx.DiGraph()
    g.add_nodes_from(range(search.count))
    g.add_edges_from(zip(search.esrc, search.edst))
    cond = nx.condensation(g)
    start, dst, tid = _csr(search.count, search.esrc, search.edst, search.etid)
    found = []
    for c in cond.nodes:
        members = cond.nodes[c]["members"]
        if cond.out_degree(c) != 0:
            continue
        if len(members) == 1 and not g.has_edge(next(iter(members)), next(iter(members))):
            continue                                    # a final state or a deadlock
        entry = min(members, key=lambda u: (search.depth[u], u))
        cycle = _cycle_through(g, entry, members)
        schedule = []
        for u, v in cycle:
            for k in range(start[u], start[u + 1]):
                if dst[k] == v:
                    schedule.append((tid[k], _choices_of_edge(search, k, start, dst, tid)))
                    break
        found.append((entry, schedule))
    return found


def _cycle_through(g: nx.DiGraph, entry: int, members) -> list[tuple[int, int]]:
    sub = g.subgraph(members)
    for v in sub.successors(entry):
        if v == entry:
            return [(entry, entry)]
        path = nx.shortest_path(sub, v, entry)
        return [(entry, v)] + list(zip(path, path[1:]))
    raise AssertionError("terminal SCC without an internal edge")  # pragma: no cover


def holders(value) -> set:
    """Tasks holding a lock, from its slot value (mutex: tid; rwsem: (writer, readers))."""
    if value is None:
        return set()
    if isinstance(value, int) and not isinstance(value, bool):
        return {value}
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], frozenset):
        writer, readers = value
        return set(readers) | ({writer} if writer is not None else set())
    return set()


def lock_order(search: Search) -> nx.DiGraph:
    """Lock classes (by name) and the 'acquired while holding' edges seen in explored states."""
    table = search.model.table
    names = {v.slot: v.name for v in search.model.vars}
    g = nx.DiGraph()
    lock_slots: set[int] = set()
    pending_acquires = []
    for sid in range(search.count):
        state = search.state_of(sid)
        for t, lid in enumerate(state[1]):
            eff = table.pending[lid]
            if eff is not None and eff.acquires:
                slot = eff.var.slot
                lock_slots.add(slot)
                pending_acquires.append((sid, state, t, slot))
    g.add_nodes_from(names[s] for s in lock_slots)
    for sid, state, t, slot in pending_acquires:
        world = state[0]
        task = table.name[state[1][t]]
        for held in lock_slots:
            if held != slot and t in holders(world[held]):
                a, b = names[held], names[slot]
                if not g.has_edge(a, b):
                    g.add_edge(a, b, state=sid, task=task)
    return g


def lock_cycles(g: nx.DiGraph) -> list[list[str]]:
    return [c for c in nx.simple_cycles(g)]
