"""Partial-order reduction: ample sets of steps on task-private state.

Owns ``--por``.  Two steps are independent when their effects touch disjoint world slots (or
both only read).  A scenario declares slots private to one task (``model.var(..., private_to=
"task")``): only that task may touch them, and properties may not read them (both enforced when
reduction is on - a violation is a SpecError, not a silent unsoundness).  A step whose effect
touches only its own task's private slots is then independent of every step any other task can
ever take, and invisible to every property, so exploring it alone from a state - an *ample set*
of one task - is enough (Peled's conditions C0-C2; Clarke, Grumberg and Peled, "Model Checking",
ch. 10).  The cycle proviso C3 in the breadth-first form of Bošnački and Holzmann: the ample set
is used only if one of its successors is a new state; otherwise the state is fully expanded.

This preserves every reachable *visible* state, hence the verdicts of ``always``, ``final``,
``sometimes``, ``assertions`` and ``deadlock-free`` (a state has an ample set exactly when it
has an enabled step).  The graph of a reduced search is not the full graph, so ``terminates`` is
not analysed under reduction (UNKNOWN, said in the result).  Steps that spawn tasks, continue an
atomic section, or touch an unknown footprint are never ample.
"""

from __future__ import annotations

from ..runtime.effects import Spawn
from ..runtime.tasks import SpecError


class AmpleSets:
    def __init__(self, model):
        self.model = model
        self.table = model.table
        self.owner = dict(model.private)          # slot -> task name
        self.names = {v.slot: v.name for v in model.vars}
        self._private_lid: dict[int, bool] = {}

    def _check(self, lid: int) -> bool:
        """Is the pending effect of *lid* private to its task?  Refuse foreign accesses."""
        table = self.table
        eff = table.pending[lid]
        task = table.name[lid]
        slots = eff.slots()
        if slots is not None:
            for s in slots:
                owner = self.owner.get(s)
                if owner is not None and owner != task:
                    raise SpecError(f"task {task!r} touches {self.names[s]!r}, which is private "
                                    f"to task {owner!r} ({eff.label()})")
        private = (slots is not None and bool(slots) and type(eff) is not Spawn
                   and all(self.owner.get(s) == task for s in slots))
        self._private_lid[lid] = private
        return private

    def ample(self, state, succ, seen) -> list:
        """The successors to explore: one private task's steps, or all of them."""
        pending = self.table.pending
        chained = self.table.chained
        cache = self._private_lid
        for lid in state[1]:                  # every pending effect must respect privacy
            if pending[lid] is not None and lid not in cache:
                self._check(lid)
        if len(succ) < 2:
            return succ
        for tid, lid in enumerate(state[1]):
            if pending[lid] is None or not cache[lid]:
                continue
            mine = [s for s in succ if s[0] == tid]
            if not mine or any(chained[s[2][1][tid]] for s in mine):
                continue
            if any(seen(s[2]) for s in mine):
                continue                      # cycle proviso: fully expand instead
            return mine
        return succ
