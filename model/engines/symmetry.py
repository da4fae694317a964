"""Symmetry reduction for interchangeable tasks.

Owns the canonical form of a state under a model's declared symmetry.  A scenario declares
interchangeable *units* with ``model.symmetric([(task, (var, ...)), ...])``: a task and the world
slots it owns (a driver and its item count).  Units must run the same code on arguments of the
same class: with each unit's own vars replaced by placeholders, their task states must coincide.
The search then stores one representative per orbit: two states that differ only by a
permutation of the units are the same state.

**Task ids inside world values.**  A slot that holds task ids registers a pure relabelling
function in ``Model.task_ids``: every lock made with ``Mutex.new`` and friends (its owner, a
rwsem's holders), and a heap built with ``Heap(..., claim=True)`` (each object's allocating and
freeing task, the order in which tasks claimed their page ranges, the task names in a KASAN
report; khomc.kernel.alloc).  Those slots are permuted together with the units: the state in
which unit 0 holds a lock and unit 1 waits is the same, up to the permutation, as the one in
which unit 1 holds it and unit 0 waits.  The canonical form sorts the units by their abstract
state and own vars, renames the units' task ids to their sorted positions in every registered
slot, and - among units whose abstract states tie - takes the arrangement whose key hashes
lowest (any fixed choice is sound: two states get the same key only if a permutation maps one
onto the other).  This relies on no task *observing* a unit's task id (lock operations observe
None, 0/1 or True/False; allocations observe an address that depends on the claim order, not on
the task) and on units spawning no tasks.

**Heaps.**  A heap with fixed per-task page ranges (the default) is refused: the addresses a
unit's objects get depend on its task id and flow into bytes (records, FDTs, bitmaps) that no
relabelling can reach.  With ``claim=True`` the address depends only on the order of first
allocation, so the permutation of task ids is the whole symmetry.

**Properties.**  The reduction is sound for ``always``, ``final``, ``sometimes``, ``assertions``
and ``deadlock-free`` when the properties are symmetric.  Two checks: at construction a property
that mentions (in its closure, defaults or constants, followed through functions, containers and
objects) some but not all of the units' task names or own vars singles out a unit and the
model is refused; and :func:`check_invariance`, run by the tests on every scenario that
declares units, walks the plain search's reachable states and asserts that each permuted image
is reachable too and that every property and built-in check has the same value on it (the
automorphism the reduction assumes).

**Termination.**  Fair-cycle analysis is not done on orbits (TLC's symmetry-with-liveness
trap, tlaplus#59: fairness names tasks, which a permutation moves).  What is decided is the
stronger statement that no run is infinite at all: the full graph has a cycle exactly when
the graph of orbits has one (a path from s to a permuted image p(s) repeats to p(p(s)), ...,
and returns to s because the permutations form a finite group), so an acyclic graph of
orbits makes ``terminates`` HOLDS; a cycle of orbits leaves it UNKNOWN
(khomc.engines.liveness).
"""

from __future__ import annotations

import types
from itertools import permutations, product
from operator import itemgetter

from ..kernel.alloc import KasanReport, Obj, _relabel_obj, _rename
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
        if self.units and any(slot not in model.task_ids for slot in model.split):
            raise SpecError("symmetry: this model has a heap, and each task allocates from its "
                            "own range of pages (khomc.kernel.alloc): permuting the units would "
                            "not permute the addresses of their objects (build the heap with "
                            "Heap(..., claim=True))")
        self.unit_tids = [u[0] for u in self.units]
        self.unit_set = frozenset(self.unit_tids)
        self.relabel = {s: fn for s, fn in model.task_ids.items()}
        if self.relabel:
            # a slot that registers no relabelling may still hold copies of registered values
            # (a snapshot of memory with its objects' task ids, a KASAN report): walked deeply
            names = [t.name for t in model.tasks]
            for s in range(len(model.vars)):
                if s not in self.relabel:
                    self.relabel[s] = _DeepRelabel(names)
        self.other_relabel = [(i, self.relabel.get(s)) for i, s in enumerate(self.other_slots)]
        self.other_relabel = [(i, fn) for i, fn in self.other_relabel if fn is not None]
        self._cache: dict = {}    # (slot index, id(value), perm) -> (value, relabelled)
        self._holds_memo: dict = {}   # id(value) -> (value, holds a task id)
        self._check_units()
        self._check_properties()

    def _check_units(self) -> None:
        starts = {self._abs_lid(i, self.model.table.start(self.model.tasks[u[0]]))
                  for i, u in enumerate(self.units)}
        if len(starts) != 1:
            raise SpecError("symmetry: the declared units do not run the same code on arguments "
                            "of the same class (their start states differ once their own vars "
                            "are abstracted)")

    def _check_properties(self) -> None:
        names = [self.model.tasks[u[0]].name for u in self.units]
        marks = {}
        for i, u in enumerate(self.units):
            marks[names[i]] = i
            for v in u[2]:
                marks[v] = i
        for p in self.model.properties:
            if p.fn is None:
                continue
            seen = _mentions(p.fn, marks)
            if seen and len(seen) < len(self.units):
                which = ", ".join(names[i] for i in sorted(seen))
                raise SpecError(f"symmetry: property {p.name!r} singles out {which} (it names "
                                "some but not all of the declared units), so permuting the "
                                "units could change its value")

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
        groups = _tie_groups(sigs, [sg[0] for sg in sigs])
        fixed = (tuple(locs[t] for t in self.other_tasks), locs[len(self.model.tasks):])
        raw = [world[s] for s in self.other_slots]
        # the slots whose value can hold a task id in this state (once per state, not per
        # arrangement): a registered slot always, an unregistered one when it is not an atom
        cands = [(j, fn) for j, fn in self.other_relabel
                 if type(fn) is not _DeepRelabel or
                 (type(raw[j]) not in _ATOMS and self._holds(raw[j]))]
        best = None
        for choice in product(*(permutations(g) for g in groups)):
            arranged = [i for g in choice for i in g]
            perm = {units[i][0]: self.unit_tids[k] for k, i in enumerate(arranged)
                    if units[i][0] != self.unit_tids[k]}
            other = list(raw)
            if perm:
                pkey = tuple(sorted(perm.items()))
                cache = self._cache
                if len(cache) > 65536:
                    cache.clear()
                for j, fn in cands:
                    v = other[j]
                    if type(v) in _ATOMS:
                        other[j] = fn(v, perm)        # a lock's owner: a bare task id
                        continue
                    ck = (j, id(v), pkey)
                    hit = cache.get(ck)
                    if hit is None or hit[0] is not v:
                        hit = (v, fn(v, perm))      # the value is kept: its id stays valid
                        cache[ck] = hit
                    other[j] = hit[1]
            own = tuple((sigs[i][0], tuple(self.relabel[s](world[s], perm) if s in self.relabel
                                           else world[s] for s in units[i][1]))
                        for i in arranged)
            key = (tuple(other), fixed, own)
            if best is None or hash(key) < best[0]:
                best = (hash(key), key)
        return best[1]

    def _holds(self, value) -> bool:
        """Whether *value* holds a unit's heap object or a KASAN report anywhere (memoized by
        identity; the value is kept so that its id stays valid)."""
        memo = self._holds_memo
        hit = memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if len(memo) > 65536:
            memo.clear()
        got = _names_a_unit(value, self.unit_set)
        memo[id(value)] = (value, got)
        return got

    # -- images (the invariance check) -------------------------------------------------------
    def image(self, state, order: tuple, lid_of: dict):
        """*state* with unit i moved to unit ``order[i]`` (task ids and own vars with it), or
        None when the moved unit's local state was never reached by its new task.  *lid_of*
        maps (unit, abstract id) to a local id of that unit's task."""
        world, locs = state
        units = self.units
        perm = {units[i][0]: units[order[i]][0] for i in range(len(units))}
        w = list(world)
        for s, fn in self.relabel.items():
            w[s] = fn(world[s], perm)
        new_locs = list(locs)
        for i, u in enumerate(units):
            j = order[i]
            lid = lid_of.get((j, self._abs_lid(i, locs[u[0]])))
            if lid is None:
                return None
            new_locs[units[j][0]] = lid
            for a, b in zip(u[1], units[j][1]):
                fn = self.relabel.get(a)
                w[b] = fn(world[a], perm) if fn is not None else world[a]
        return (tuple(w), tuple(new_locs))

    def lids_by_abstract(self) -> dict:
        table = self.table
        names = [self.model.tasks[u[0]].name for u in self.units]
        out = {}
        for lid, name in enumerate(table.name):
            for i, n in enumerate(names):
                if n == name:
                    out.setdefault((i, self._abs_lid(i, lid)), lid)
        return out


class KeyCanon:
    """:meth:`Symmetry.canon` on the fast search's interned keys (``Stepper.vkey``: one small
    int per world slot, then the task locals) instead of on world values.

    The same arrangements are tried (units sorted by their abstract local state and own
    slots' ids, every order of the units whose signatures tie) and the key that hashes lowest
    is taken, so two keys are equal exactly when their states lie in one orbit: the search
    stores the same representatives as the plain loop with :meth:`Symmetry.canon`.

    Only the slots whose value holds a unit's task id are relabelled: each interned value is
    classified once (*inert* when the two permutations that generate all others, a cycle of
    the units and a swap of two, leave it as it is), and a relabelled id is memoized per
    (id, permutation).  The split slot (the heap's memory) is classified and relabelled part
    by part, so a memory that differs from one seen before in one page costs one page; its
    relabelling must act page by page, as the heap's does (khomc.kernel.alloc.
    register_task_ids) and :class:`_DeepRelabel` does."""

    def __init__(self, sym: Symmetry, stepper):
        self.sym = sym
        self.st = stepper
        n = len(sym.model.vars)
        self.fns = [sym.relabel.get(s) for s in range(n)]
        self.memo = [{} for _ in range(n)]     # per slot: (id, permutation) -> relabelled id
        self.part_memo: dict = {}              # (part, id, permutation) -> relabelled id
        self.other = list(sym.other_slots)
        self.ntasks = len(sym.model.tasks)
        tids = sym.unit_tids
        self.generators = [dict(zip(tids, tids[1:] + tids[:1])),
                           {tids[0]: tids[1], tids[1]: tids[0]}] if len(tids) > 1 else []
        # per slot / per part of the split slot, per value id: holds a unit's task id
        self.live = [[] for _ in range(n)]
        self.part_live: list = []
        self.index = {s: j for j, s in enumerate(self.other)}
        # (index in other, slot) of the slots that held a unit's task id in a value so far
        self.live_slots: list = []
        stepper.fresh = []
        self.unit_tids = list(tids)
        self.unit_set = sym.unit_set
        self.no_own = all(not u[1] for u in sym.units)
        self.abs_of: dict = {}                 # unit task's local id -> abstract id
        self.other_slots = _getter(self.other)           # wk -> the other slots' ids
        self.other_locs = _getter(list(sym.other_tasks))  # locs -> the other tasks' locals
        self.perms: dict = {}                  # arrangement -> (permutation, its key)

    @property
    def compiled_view(self):
        """The tables the compiled loop reads to run :meth:`__call__`'s common case itself
        (model/engines/_keycanon.c), taken at the start of each batch and changed in place
        only; None where that case never applies (units with own slots, nothing to
        relabel)."""
        if not (self.no_own and self.sym.relabel):
            return None
        return (self.abs_of, tuple(self.unit_tids), tuple(self.sym.other_tasks), self.ntasks,
                tuple(self.other), self.live, self.live_slots, self.perms, self.memo,
                self.st.fresh)

    # -- classification of interned values ---------------------------------------------------
    def _moved(self, fn, value) -> bool:
        if type(fn) is _DeepRelabel:    # one walk, no copy: an object of a unit, a report
            return _names_a_unit(value, self.unit_set)
        return any(fn(value, g) != value for g in self.generators)

    def _classify(self) -> None:
        """Classify the values interned since the last call (``Stepper.fresh`` names their
        slots): whether each holds a unit's task id."""
        st = self.st
        fresh = sorted(set(st.fresh))    # parts (negative) before the split slot's ids
        st.fresh.clear()
        m = st._m
        for x in fresh:
            if x < 0:
                p = -1 - x
                while len(self.part_live) <= p:
                    self.part_live.append([])
                flags = self.part_live[p]
                fm = self.fns[m]
                for v in st._pvals[p][len(flags):]:
                    flags.append(self._moved(fm, (v,)))
        for x in fresh:
            if x < 0 or self.fns[x] is None:
                continue
            flags = self.live[x]
            start = len(flags)
            if x == m:
                part_live = self.part_live
                for ids in st._mparts[start:]:
                    flags.append(any(part_live[p][i] for p, i in enumerate(ids)))
            else:
                fn = self.fns[x]
                for v in st._vals[x][start:]:
                    flags.append(self._moved(fn, v))
            j = self.index.get(x)
            if j is not None and (j, x) not in self.live_slots and any(flags[start:]):
                self.live_slots.append((j, x))

    # -- relabelling ids ---------------------------------------------------------------------
    def _vid(self, slot: int, vid: int, pkey: tuple, perm: dict) -> int:
        memo = self.memo[slot]
        k = (vid, pkey)
        got = memo.get(k)
        if got is None:
            st = self.st
            fn = self.fns[slot]
            if slot == st._m:
                got = self._split(vid, pkey, perm, fn)
            else:
                got = st.vid(slot, fn(st._vals[slot][vid], perm))
            memo[k] = got
        return got

    def _split(self, mid: int, pkey: tuple, perm: dict, fn) -> int:
        st = self.st
        memo = self.part_memo
        out = []
        for p, pid in enumerate(st._mparts[mid]):
            if not self.part_live[p][pid]:
                out.append(pid)
                continue
            k = (p, pid, pkey)
            got = memo.get(k)
            if got is None:
                got = memo[k] = st._pid(p, fn((st._pvals[p][pid],), perm)[0])
            out.append(got)
        return st._split_join(tuple(out))

    # -- the canonical key -------------------------------------------------------------------
    def _abs(self, lid: int) -> int:
        """The abstract id of a unit task's local id (lids are per task: one table for all)."""
        a = self.abs_of.get(lid)
        if a is None:
            name = self.sym.table.name[lid]
            i = next(i for i, u in enumerate(self.sym.units)
                     if self.sym.model.tasks[u[0]].name == name)
            a = self.abs_of[lid] = self.sym._abs_lid(i, lid)
        return a

    def __call__(self, key):
        wk, locs = key
        sym = self.sym
        abs_of = self.abs_of
        heads = [abs_of.get(locs[t]) for t in self.unit_tids]
        if None in heads:
            heads = [self._abs(locs[t]) for t in self.unit_tids]
        if self.no_own:
            sigs = heads
        else:
            sigs = [(h, tuple([wk[s] for s in u[1]])) for h, u in zip(heads, sym.units)]
        fixed = (self.other_locs(locs), locs[self.ntasks:])
        raw = self.other_slots(wk)
        if not sym.relabel:
            return (raw, fixed, tuple(sorted(sigs)))
        if self.st.fresh:
            self._classify()
        live = self.live
        moving = [(j, s) for j, s in self.live_slots if live[s][raw[j]]]
        if len(set(sigs)) == len(sigs) or (not moving and self.no_own):
            # no ties, or ties that no world slot tells apart: every order of the tied units
            # gives the same key, so one arrangement is enough
            order = tuple(sorted(range(len(sigs)), key=sigs.__getitem__))
            return self._arranged(order, sigs, raw, moving, wk, fixed)
        groups = _tie_groups(sigs, heads)
        best = None
        for choice in product(*(permutations(g) for g in groups)):
            k = self._arranged(tuple([i for g in choice for i in g]), sigs, raw, moving, wk,
                               fixed)
            h = hash(k)
            if best is None or h < best[0]:
                best = (h, k)
        return best[1]

    def _arranged(self, arranged: tuple, sigs, raw, moving, wk, fixed):
        """The key of the arrangement that puts unit ``arranged[k]`` in position k."""
        perm = self.perms.get(arranged)
        if perm is None:
            units, tids = self.sym.units, self.unit_tids
            p = {units[i][0]: tids[k] for k, i in enumerate(arranged) if units[i][0] != tids[k]}
            perm = self.perms[arranged] = (p, tuple(sorted(p.items())))
        perm, pkey = perm
        own = tuple([sigs[i] for i in arranged])
        if not pkey:
            return (tuple(raw), fixed, own)
        vid = self._vid
        other = raw
        if moving:
            other = list(raw)
            for j, s in moving:
                other[j] = vid(s, raw[j], pkey, perm)
        if not self.no_own:
            fns = self.fns
            units = self.sym.units
            own = tuple([(sigs[i][0], tuple([wk[s] if fns[s] is None
                                             else vid(s, wk[s], pkey, perm)
                                             for s in units[i][1]])) for i in arranged])
        return (tuple(other), fixed, own)


def _tie_groups(sigs: list, heads: list) -> list[list[int]]:
    """The units' indices sorted by (abstract state *heads*, hash of the signature) and
    grouped where the signatures *sigs* are equal: the units any order may arrange."""
    order = sorted(range(len(sigs)), key=lambda i: (heads[i], hash(sigs[i])))
    groups: list[list[int]] = []
    for i in order:
        if groups and sigs[groups[-1][0]] == sigs[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _getter(indices: list):
    """A function from a tuple to the tuple of its items at *indices* (in C)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    if indices:
        i = indices[0]
        return lambda t: (t[i],)
    return lambda t: ()


def check_invariance(model, states) -> int:
    """Assert that the declared symmetry is an automorphism of *states* (every reachable state
    of *model*'s plain search): each image under a permutation of the units is among them, and
    every property, ``assertions`` and ``deadlock-free`` (whether the state can move) has the
    same value on it.  Returns how many images were compared; raises SpecError naming the
    first state that breaks it."""
    from ..runtime.step import Stepper
    from .monitor import Monitor
    sym = Symmetry(model, model.symmetry)
    lid_of = sym.lids_by_abstract()
    reach = set(states)
    monitor = Monitor(model)
    stepper = Stepper(model)
    n = 0
    orders = [p for p in permutations(range(len(sym.units))) if p != tuple(range(len(sym.units)))]
    for st in states:
        fails = sorted(monitor.failing(st))
        hits = sorted(monitor.reached(st))
        moves = bool(stepper.expand(st))
        for order in orders:
            img = sym.image(st, order, lid_of)
            if img is None or img not in reach:
                raise SpecError(f"symmetry: the image of a reachable state under {order} is "
                                f"not reachable: {model.describe_world(st[0])}")
            if (sorted(monitor.failing(img)) != fails or sorted(monitor.reached(img)) != hits
                    or bool(stepper.expand(img)) != moves):
                raise SpecError(f"symmetry: a property has another value on the image under "
                                f"{order} of {model.describe_world(st[0])}")
            n += 1
    return n


def _mentions(fn, marks: dict, limit: int = 6) -> set:
    """The units (values of *marks*) whose task names or own Vars *fn* can reach."""
    found: set = set()
    seen: set = set()
    stack = [(fn, 0)]
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen or depth > limit:
            continue
        seen.add(id(obj))
        try:
            if obj in marks:
                found.add(marks[obj])
                continue
        except TypeError:
            pass
        if isinstance(obj, (str, bytes, int, float, bool, type(None))):
            continue
        kids: list = []
        if isinstance(obj, (tuple, list, set, frozenset)):
            kids = list(obj)
        elif isinstance(obj, dict):
            kids = list(obj.keys()) + list(obj.values())
        elif isinstance(obj, types.FunctionType):
            kids = [c.cell_contents for c in (obj.__closure__ or ()) if _has_contents(c)]
            kids += list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
            kids.append(obj.__code__)
        elif isinstance(obj, type(_mentions.__code__)):
            kids = list(obj.co_consts)
        elif isinstance(obj, (types.MethodType, staticmethod, classmethod)):
            kids = [obj.__func__, getattr(obj, "__self__", None)]
        elif isinstance(obj, type) or type(obj).__name__ in _OPAQUE:
            continue       # the model itself names every task: not a property's choice
        else:
            d = getattr(obj, "__dict__", None)
            if d is not None:
                kids = list(d.values())
            slots = getattr(type(obj), "__slots__", ())
            for k in ((slots,) if isinstance(slots, str) else
                      slots if isinstance(slots, (tuple, list)) else ()):
                if hasattr(obj, k):
                    kids.append(getattr(obj, k))
        stack.extend((k, depth + 1) for k in kids)
    return found


class _DeepRelabel:
    """Relabel task ids inside an unregistered slot's value: the heap's objects (their
    allocating and freeing tasks) and KASAN reports (task names) wherever they sit in tuples,
    named tuples and frozensets; any other value is kept as it is."""

    __slots__ = ("names",)

    def __init__(self, names):
        self.names = names

    def __call__(self, value, perm):
        if type(value) in _ATOMS:
            return value
        return _deep(value, perm, self.names)


def _deep(value, perm, names):
    t = type(value)
    if t in _ATOMS:
        return value
    if t is Obj:
        return _relabel_obj(value, perm)
    if t is KasanReport:
        rn = {names[a]: names[b] for a, b in perm.items()}
        return value._replace(**{f: _rename(getattr(value, f), rn)
                                 for f in ("access", "allocated", "freed", "title")})
    if isinstance(value, tuple):
        items = [_deep(x, perm, names) for x in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return t._make(items) if hasattr(t, "_make") else t(items)
    if t is frozenset:
        items = [_deep(x, perm, names) for x in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return frozenset(items)
    return value


def _names_a_unit(value, units: frozenset) -> bool:
    """Whether :class:`_DeepRelabel` can change *value* under a permutation of *units*: it
    holds a heap object allocated or freed by one of them, or a KASAN report (whose task
    names are taken to name one)."""
    t = type(value)
    if t in _ATOMS:
        return False
    if t is Obj:
        return value.alloc_tid in units or value.free_tid in units
    if t is KasanReport:
        return True
    if isinstance(value, (tuple, frozenset)):
        return any(_names_a_unit(x, units) for x in value)
    return False


_ATOMS = frozenset({int, str, bytes, bool, float, type(None)})

_OPAQUE = frozenset({"Model", "TaskTable", "TaskSpec", "View", "Monitor"})


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True
