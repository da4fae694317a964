"""Symmetry reduction for interchangeable tasks (safety properties only).

Owns the canonical form of a state under a model's declared symmetry.  A scenario declares
interchangeable *units* with ``model.symmetric([(task, (var, ...)), ...])``: a task and the world
slots it owns (a driver and its item count).  Units must run the same code on arguments of the
same class: with each unit's own vars replaced by placeholders, their task states must coincide.
The search then stores one representative per orbit: two states that differ only by a
permutation of the units are the same state.

**Task ids inside world values.**  A slot that holds task ids (a mutex's owner, a rwsem's
holders: every lock made with ``Mutex.new`` and friends registers a relabelling function in
``Model.task_ids``) is permuted together with the units: the state in which unit 0 holds a lock
and unit 1 waits is the same, up to the permutation, as the one in which unit 1 holds it and
unit 0 waits.  The canonical form sorts the units by their abstract state and own vars, renames
the units' task ids to their sorted positions in every registered slot, and - among units whose
abstract states tie - takes the arrangement whose key hashes lowest (any fixed choice is sound:
two states get the same key only if a permutation maps one onto the other).  This relies on no
task *observing* a unit's task id (lock operations observe None, 0/1 or True/False) and on
units spawning no tasks.  A model with a heap is refused: each task allocates from its own range
of pages, so permuting tasks would not permute the addresses their objects got.

Sound for ``always``, ``final``, ``sometimes``, ``assertions`` and ``deadlock-free`` as long as
the properties themselves are symmetric (they must not single out one unit).  It is *not* used
for termination (TLC's symmetry-with-liveness trap, tlaplus#59): a result that used symmetry says
so and leaves ``terminates`` UNKNOWN.
"""

from __future__ import annotations

from itertools import permutations, product

from ..runtime.effects import Effect, Var
from ..runtime.tasks import SpecError


class _Placeholder:
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __eq__(self, other):
        return isinstance(other, _Placeholder) and other.index == self.index

    def __hash__(self):
        return hash((_Placeholder, self.index))

    def __repr__(self):
        return f"<own{self.index}>"


def abstract(obj, mapping: dict):
    """*obj* with the Vars in *mapping* replaced by placeholders (a hashable representation)."""
    if isinstance(obj, Var):
        return mapping.get(obj, obj)
    if isinstance(obj, tuple):
        return tuple(abstract(x, mapping) for x in obj)
    if isinstance(obj, frozenset):
        return frozenset(abstract(x, mapping) for x in obj)
    if isinstance(obj, Effect):
        return tuple(abstract(x, mapping) for x in obj.key())
    var = getattr(obj, "var", None)
    if isinstance(var, Var):          # single-Var wrappers such as Mutex
        return (type(obj), abstract(var, mapping))
    return obj


class Symmetry:
    """Canonical keys of states of a model with declared interchangeable units."""

    def __init__(self, model, units):
        self.model = model
        table = model.table
        self.table = table
        names = [t.name for t in model.tasks]
        self.units = []
        for task, vars_ in units:
            if task not in names:
                raise SpecError(f"symmetry: no task named {task!r}")
            self.units.append((names.index(task), tuple(v.slot for v in vars_),
                               {v: _Placeholder(i) for i, v in enumerate(vars_)}))
        self.unit_tasks = {u[0] for u in self.units}
        self.unit_slots = {s for u in self.units for s in u[1]}
        self.other_tasks = [i for i in range(len(names)) if i not in self.unit_tasks]
        self.other_slots = [s for s in range(len(model.vars)) if s not in self.unit_slots]
        self._abstract: dict[tuple[int, int], int] = {}
        self._interned: dict = {}
        if model.split and self.units:
            raise SpecError("symmetry: this model has a heap, and each task allocates from its "
                            "own range of pages (khomc.kernel.alloc): permuting the units would "
                            "not permute the addresses of their objects")
        self.unit_tids = [u[0] for u in self.units]
        self.relabel = {s: fn for s, fn in model.task_ids.items()}
        self.other_relabel = [(i, self.relabel.get(s)) for i, s in enumerate(self.other_slots)]
        self.other_relabel = [(i, fn) for i, fn in self.other_relabel if fn is not None]
        self._check_units()

    def _check_units(self) -> None:
        starts = {self._abs_lid(i, self.model.table.start(self.model.tasks[u[0]]))
                  for i, u in enumerate(self.units)}
        if len(starts) != 1:
            raise SpecError("symmetry: the declared units do not run the same code on arguments "
                            "of the same class (their start states differ once their own vars "
                            "are abstracted)")

    def _abs_lid(self, unit: int, lid: int) -> int:
        k = (unit, lid)
        a = self._abstract.get(k)
        if a is None:
            key = self.table.key_of[lid]
            rep = abstract(key[1:], self.units[unit][2])   # without the task's name
            a = self._interned.setdefault(rep, len(self._interned))
            self._abstract[k] = a
        return a

    def canon(self, state):
        """A key equal for all states in the same orbit."""
        world, locs = state
        if not self.relabel:
            sig = sorted((self._abs_lid(i, locs[u[0]]),) + tuple(world[s] for s in u[1])
                         for i, u in enumerate(self.units))
            return (tuple(world[s] for s in self.other_slots),
                    tuple(locs[t] for t in self.other_tasks), locs[len(self.model.tasks):],
                    tuple(sig))
        return self._canon_relabelled(world, locs)

    def _canon_relabelled(self, world, locs):
        units = self.units
        sigs = [(self._abs_lid(i, locs[u[0]]), tuple(world[s] for s in u[1]))
                for i, u in enumerate(units)]
        order = sorted(range(len(units)), key=lambda i: (sigs[i][0], hash(sigs[i])))
        groups: list[list[int]] = []
        for i in order:
            if groups and sigs[groups[-1][0]] == sigs[i]:
                groups[-1].append(i)
            else:
                groups.append([i])
        fixed = (tuple(locs[t] for t in self.other_tasks), locs[len(self.model.tasks):])
        best = None
        for choice in product(*(permutations(g) for g in groups)):
            arranged = [i for g in choice for i in g]
            perm = {units[i][0]: self.unit_tids[k] for k, i in enumerate(arranged)}
            other = [world[s] for s in self.other_slots]
            for j, fn in self.other_relabel:
                other[j] = fn(other[j], perm)
            own = tuple((sigs[i][0], tuple(self.relabel[s](world[s], perm) if s in self.relabel
                                           else world[s] for s in units[i][1]))
                        for i in arranged)
            key = (tuple(other), fixed, own)
            if best is None or hash(key) < best[0]:
                best = (hash(key), key)
        return best[1]
