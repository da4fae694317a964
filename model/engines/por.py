"""Partial-order reduction: ample sets on task-private state, and sleep sets on independence.

Owns ``--por``, which turns on both (the sleep sets only in breadth-first search without a
depth bound or symmetry; see :class:`SleepSets`).

**Ample sets.**  Two steps are independent when their effects touch disjoint world slots (or
both only read).  A scenario declares slots private to one task (``model.var(..., private_to=
"task")``): only that task may touch them, and properties may not read them (both enforced when
reduction is on - a violation is a SpecError, not a silent unsoundness).  A step whose whole
footprint (every effect of its atomic section, every outcome) is its own task's private slots -
or no shared slot at all, like a pure ``choose`` - and after which the task goes on, is
independent of every step any other task can ever take and invisible to every property, so
exploring one task's such steps alone from a state - an *ample set* - is enough (Peled's
conditions C0-C2; Clarke, Grumberg and Peled, "Model Checking", ch. 10).  The cycle proviso C3
in the breadth-first form of Bošnački and Holzmann: the ample set is used only if all its
successors are new states; otherwise the state is fully expanded.

This preserves every reachable *visible* state, hence the verdicts of ``always``, ``final``,
``sometimes``, ``assertions`` and ``deadlock-free`` (a state has an ample set exactly when it
has an enabled step).  ``terminates`` needs the full graph: the search records every step the
reduction skipped with its target state, and when every such target was visited (always so for
the sleep sets alone) the full graph is recovered and analysed exactly (:func:`complete_graph`);
otherwise ``terminates`` is UNKNOWN, said in the result.  Steps that spawn tasks, finish
their task, or touch an undeclared footprint are never ample.

**Sleep sets** (:class:`SleepSets`) need no declaration: they use the footprint of each step,
the *locations* its effects declare (:meth:`khomc.runtime.step.Stepper.expand_footprints` with
``Stepper.locations`` on), and prune the steps whose other order was already explored.  They
visit every reachable state, so they reduce transitions, not states (properties/kho_eras/
test_reductions_kho.py pins both).

**Locations.**  A location is a world slot, or one part of a slot the model split
(``Model.split``: the heap's memory is one slot holding a tuple of pages, and each page is a
location ``(slot, pfn)``; :func:`khomc.kernel.alloc.register_memory`).  The heap's accesses name
the pages of the object they touch (``locations()``), so two tasks' accesses to different
objects are independent; an effect that names the whole memory slot touches every page.  The
world layout and every state are unchanged: only the dependency relation is finer.

**Writes that did not happen.**  A step declares the locations it *may* write; KASAN's slot,
for instance, is written only by a bad access.  :func:`effective` turns the declared footprint
of a step taken in state *s* into the one it has in *s*: every declared location stays read,
and only the locations whose value the step actually changed stay written.  Two steps that are
independent by these footprints commute in *s*: neither changed a location the other reads,
so each reads the same values - hence is enabled, takes the same outcome and makes the same
changes - in either order, and their changes are to disjoint locations.  A step's effective
footprint stays valid in every state reached from *s* by steps independent of it (they change
none of its reads), which is what a sleeping step's stored footprint needs.  properties/engine/
test_por_locations.py checks the commutation on every pair of steps of every state of small
KHO scenarios.
"""

from __future__ import annotations

from ..runtime.tasks import SpecError


def effective(state, nxt, fp):
    """The footprint *fp* = ``(reads, writes)`` of the step from *state* to *nxt* as it is in
    *state*: reads every declared location, writes only those it changed (see the module
    header).  None stays None."""
    if fp is None:
        return None
    reads, writes = fp
    if not writes:
        return fp
    w0, w1 = state[0], nxt[0]
    changed = []
    for loc in writes:
        if type(loc) is int:
            a, b = w0[loc], w1[loc]
        else:
            slot, part = loc
            a, b = w0[slot], w1[slot]
            if a is b:
                continue
            a, b = a[part], b[part]
        if a is not b and a != b:
            changed.append(loc)
    if len(changed) == len(writes):
        return reads | writes, writes
    return reads | writes, frozenset(changed)


class AmpleSets:
    """Ample sets of one task's steps whose whole footprint is private to that task."""

    def __init__(self, model):
        self.model = model
        self.table = model.table
        self.owner = dict(model.private)          # slot -> task name
        self.names = {v.slot: v.name for v in model.vars}
        self._checked: set[int] = set()

    def _refuse_foreign(self, task: str, slots, what: str) -> None:
        for s in slots:
            owner = self.owner.get(s)
            if owner is not None and owner != task:
                raise SpecError(f"task {task!r} touches {self.names[s]!r}, which is private "
                                f"to task {owner!r} ({what})")

    def _check_pending(self, lid: int) -> None:
        """Refuse a pending effect (enabled or not) that names another task's private slot."""
        self._checked.add(lid)
        eff = self.table.pending[lid]
        slots = eff.slots()
        if slots:
            self._refuse_foreign(self.table.name[lid], slots, eff.label())

    def _private_step(self, task: str, lid: int, step) -> bool:
        """Is *step* (``(tid, choices, state2, footprint)``) invisible and independent of every
        step of every other task?  Its whole footprint - every effect of its atomic section,
        every outcome - must be this task's private slots (an empty footprint, a pure
        ``choose``, qualifies), and the task must go on (finishing or crashing is visible)."""
        tid, _, nxt, fp = step
        if fp is None:
            return False
        reads = fp[0]
        owner = self.owner
        if reads and owner:
            self._refuse_foreign(task, reads, f"a step of {task!r}")
            if not all(owner.get(s) == task for s in reads):
                return False
        elif reads:
            return False                  # no private state: only empty footprints qualify
        lid2 = nxt[1][tid]
        return self.table.pending[lid2] is not None and lid2 != lid

    def ample(self, state, succ, seen) -> list:
        """The successors to explore: one task's private steps, or all of them.  *succ* holds
        ``(tid, choices, state2, footprint)`` (:meth:`Stepper.expand_footprints`)."""
        names = self.table.name
        checked = self._checked
        for lid in state[1]:                  # every pending effect must respect privacy
            if lid not in checked and self.table.pending[lid] is not None:
                self._check_pending(lid)
        succ = [(t, ch, nxt, effective(state, nxt, fp)) for t, ch, nxt, fp in succ]
        if not self.owner:                    # no private state: only empty footprints
            if not any(s[3] is not None and not s[3][0] for s in succ):
                return succ
        ample = None
        for tid, lid in enumerate(state[1]):
            mine = [s for s in succ if s[0] == tid]
            if not mine:
                continue
            task = names[lid]
            # every step is checked (for foreign accesses) even once an ample set is found
            private = all([self._private_step(task, lid, s) for s in mine])
            if ample is None and private and len(mine) < len(succ) and \
                    not any(seen(s[2]) for s in mine):   # cycle proviso: else expand fully
                ample = mine
                if not self.owner:
                    break                         # nothing left to check
        return succ if ample is None else ample


def independent(a, b) -> bool:
    """Do two steps with footprints *a* and *b* (``(reads, writes)`` or None) commute?  Yes when
    both are known and neither writes what the other reads or writes: then each leaves the
    other's enabledness and outcome unchanged (the lock a step waits on is a slot it reads)."""
    if a is None or b is None:
        return False
    ra, wa = a
    rb, wb = b
    return wa.isdisjoint(rb) and wb.isdisjoint(ra)


class SleepSets:
    """Sleep sets (Godefroid, "Partial-Order Methods for the Verification of Concurrent
    Systems", LNCS 1032, ch. 5) on effect independence, with state caching.

    A transition is ``(tid, choices)``: task *tid*'s step taking those outcomes.  When a state's
    steps are explored in order, step u's successor inherits, asleep, every step explored before
    u (and every step asleep in the state) that is independent of u: its result is reached by
    the other order, so exploring it again from u's successor only repeats work.  Sleeping
    steps are never explored; every reachable state is still visited (sleep sets prune
    transitions, not states), so every state property keeps its verdict.

    With state caching a state reached again with a sleep set that is not a superset of the one
    it was expanded with must explore the steps that were asleep then and are awake now; its
    stored sleep set becomes the intersection (Godefroid, Fig. 5.3).  Breadth-first search does
    this by putting the state back in the frontier with just those steps to explore, so a
    state's depth may exceed its distance from the initial state: traces stay valid but are
    not guaranteed shortest under --por.
    """

    def __init__(self):
        self.sleep: dict[int, dict] = {}     # state id -> {(tid, choices): footprint}
        self.expanded: set[int] = set()      # state ids expanded at least once
        self.slept = 0                       # steps not explored because asleep
        self.reexpanded = 0                  # states put back for steps woken up

    def explore(self, sid: int, succ: list, only=None) -> list:
        """Which of *succ* (``(tid, choices, state2, footprint)``) to explore from *sid*, each
        with the sleep set its successor inherits: ``[(tid, choices, state2, sleep), ...]``.
        *only*, on a re-expansion, is the set of steps woken up."""
        asleep = self.sleep.get(sid, {})
        self.expanded.add(sid)
        done: list = []
        out = []
        for tid, choices, nxt, fp in succ:
            k = (tid, choices)
            if k in asleep or (only is not None and k not in only):
                self.slept += k in asleep
                continue
            inherited = {}
            if fp is not None:
                for t, f in asleep.items():
                    if t[0] != tid and independent(f, fp):
                        inherited[t] = f
                for t, f in done:
                    if t[0] != tid and independent(f, fp):
                        inherited[t] = f
                done.append((k, fp))
            out.append((tid, choices, nxt, inherited))
        return out

    def arrive(self, nid: int, sleep: dict, new: bool):
        """Record that state *nid* was reached with *sleep*; return the steps to explore again
        from it (a set) when it was already expanded with steps now awake, else None."""
        if new:
            self.sleep[nid] = sleep
            return None
        old = self.sleep.get(nid, {})
        if all(k in sleep for k in old):
            return None
        self.sleep[nid] = {k: f for k, f in old.items() if k in sleep}
        if nid not in self.expanded:
            return None                  # not expanded yet: it will use the smaller set
        self.reexpanded += 1
        return {k for k in old if k not in sleep}


def skipped_steps(sid: int, full: list, kept: list) -> list:
    """``(sid, tid, state2)`` of every step of *full* (``(tid, choices, state2, fp)``) that is
    not in *kept* (the same shape): the steps a reduction did not explore from state *sid*."""
    taken = {(k[0], k[1]) for k in kept}
    return [(sid, t, nxt) for t, ch, nxt, _ in full if (t, ch) not in taken]


def complete_graph(search) -> bool:
    """Add to *search*'s recorded graph an edge for every step the reduction skipped, if every
    one of them leads to a visited state; return whether it did.

    Then the recorded graph is the full state graph: the same states (every one visited) and,
    from each expanded state, an edge for each of its steps (explored or skipped), so the
    termination analysis (:mod:`khomc.engines.liveness`) is exact on it.  The sleep sets visit
    every state, so their skipped steps always qualify; an ample set that cut a state off makes
    the graph incomplete, and ``terminates`` stays UNKNOWN."""
    ids, key = search.ids, search.key
    edges = []
    for sid, tid, nxt in search.por_skipped:
        nid = ids.get(key(nxt))
        if nid is None:
            return False
        edges.append((sid, nid, tid))
    for sid, nid, tid in edges:
        search.esrc.append(sid)
        search.edst.append(nid)
        search.etid.append(tid)
    search.por_skipped = []
    return True
