"""Symmetry reduction for interchangeable tasks (safety properties only).

Owns the canonical form of a state under a model's declared symmetry.  A scenario declares
interchangeable *units* with ``model.symmetric([(task, (var, ...)), ...])``: a task and the world
slots it owns (a driver and its item count).  Units must run the same code on arguments of the
same class: with each unit's own vars replaced by placeholders, their task states must coincide.
The search then stores one representative per orbit: two states that differ only by a
permutation of the units are the same state.

Sound for ``always``, ``final``, ``sometimes``, ``assertions`` and ``deadlock-free`` as long as
the properties themselves are symmetric (they must not single out one unit).  It is *not* used
for termination (TLC's symmetry-with-liveness trap, tlaplus#59): a result that used symmetry says
so and leaves ``terminates`` UNKNOWN.
"""

from __future__ import annotations

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
        sig = sorted((self._abs_lid(i, locs[u[0]]),) + tuple(world[s] for s in u[1])
                     for i, u in enumerate(self.units))
        return (tuple(world[s] for s in self.other_slots),
                tuple(locs[t] for t in self.other_tasks), locs[len(self.model.tasks):],
                tuple(sig))
