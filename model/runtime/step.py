"""The stepping contract every engine uses: initial state, enabled steps, successors.

Owns the semantics of one engine step.  A *state* is ``(world, locs)``: the world tuple and one
local id per task (see :mod:`khomc.runtime.tasks`).  A *step* is ``(tid, choices)``: task *tid*
runs its pending effect - and, inside an atomic section, every effect up to the end of the
section - taking outcome ``choices[i]`` at the i-th branching effect it meets.

Engines call :meth:`Stepper.expand` in their inner loop (fast path: memoized task transitions,
no recording) and :meth:`Stepper.execute` to rebuild a trace (slow path: every effect's label
and observation).  Both share :meth:`Stepper._run`, so traces and search cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress
from operator import is_not, itemgetter
from typing import Any

from .effects import Spawn
from .spec import Model
from .tasks import SpecError, TaskSpec


@dataclass(frozen=True)
class EffectRecord:
    """One effect inside a step: what it was, what the task observed, which outcome."""

    label: str
    obs: Any
    choice: int | None = None
    objects: tuple = ()        # names of the shared variables the effect may touch
    writes: bool = False       # the effect may change them (not a plain read)


def _effect_footprint(eff, tid: int = 0, split: dict | None = None) -> tuple | None:
    """(reads, writes) of one effect as frozensets of slots, or None if it declares none.

    With *split* (``Model.split``, asked for by partial-order reduction: ``Stepper.locations``)
    the sets hold locations: a slot not in *split*, or one part ``(slot, i)`` of a split slot;
    an effect with a ``locations(tid)`` method names its own, any other touches every part of a
    split slot it names."""
    slots = eff.slots()
    if slots is None:
        return None
    if split:
        own = getattr(eff, "locations", None)
        if own is not None:
            return own(tid)
        locs: set = set()
        for s in slots:
            part = split.get(s)
            if part is None:
                locs.add(s)
            else:
                locs |= part
        reads = frozenset(locs)
    else:
        reads = frozenset(slots)
    return reads, (reads if not eff.read_only else frozenset())


class _Footprints:
    """Collects the union of the footprints of the effects a step runs (``_run``'s record
    argument, without building EffectRecords)."""

    __slots__ = ("stepper", "reads", "writes", "unknown", "tid")

    def __init__(self, stepper, tid: int = 0):
        self.stepper = stepper
        self.tid = tid
        self.reads: set = set()
        self.writes: set = set()
        self.unknown = False

    def add(self, lid: int) -> None:
        fp = self.stepper.footprint(lid, self.tid)
        if fp is None:
            self.unknown = True
        else:
            self.reads |= fp[0]
            self.writes |= fp[1]

    def value(self) -> tuple | None:
        return None if self.unknown else (frozenset(self.reads), frozenset(self.writes))


_FINISHED = "finished"    # memo node of a finished task
_UNMEMO = "unmemo"        # memo node of an effect the fast path hands to _run
_NOTHING = object()       # no value seen yet
_MAX_PLANS = 1 << 18      # bound on the cached expansion plans (task-locals tuples)


class PartsKey(tuple):
    """The effect-memo key, read off a search key *wk*, of an effect that names the parts
    of the split slot it touches: ``(ids of its other declared slots, ids of those parts)``.

    A tuple ``(others, m, pick, mparts, cache, split)`` that the compiled loop reads as well
    as calls (``memo_key`` in model/engines/_bfsloop.c, the same statements): *others* gets
    the other slots' ids (None: there are none), *m* is the split slot, *pick* gets the
    touched parts' ids from the slot's part ids (``()``: no part; None: the whole slot's
    id), *mparts* is the Stepper's part ids by whole-slot id.  For an effect whose parts
    depend on the world (``locations_in``), *cache* maps the other slots' ids to its
    ``(pick, written parts)`` and *split* fills it on a miss; both are None otherwise."""

    __slots__ = ()

    def __call__(self, wk) -> tuple:
        others, m, pick, mparts, cache, split = self
        o = others(wk) if others is not None else ()
        if cache is not None:
            got = cache.get(o)
            if got is None:
                got = split(o, wk)
            pick = got[0]
        if pick is None:
            return o, wk[m]
        return o, (() if type(pick) is tuple else pick(mparts[wk[m]]))


def _split_slot(model) -> int | None:
    """The one slot of *model* split into parts ``(slot, i)`` = its value's item *i* (the
    heap's memory: khomc.kernel.alloc.register_memory), or None."""
    if len(model.split) != 1:
        return None
    (m, parts), = model.split.items()
    initial = model.initial_world[m]
    if type(initial) is not tuple or parts != frozenset((m, p) for p in range(len(initial))):
        return None
    return m


class StepError(Exception):
    """A step that cannot be taken in this state (used by replay to explain divergence)."""


class Stepper:
    """Successor function of a :class:`Model`.  Holds the model's task table."""

    def __init__(self, model: Model):
        self.model = model
        self.table = model.table
        self.names = self.table.name
        self._single_fp: dict = {}      # local id -> footprint of its one-effect step
        # footprints as locations (pages of split slots, khomc.engines.por) instead of slots
        self.locations = False
        # the effect-outcome memo of the fast path: (lid << 16 | tid) -> _UNMEMO, or
        # (getter of the effect's declared slots, {slot values: outcomes}); see _outcomes
        self._memo: dict = {}
        self._plans: dict = {}          # task-locals tuple -> its expansion plan (see _plan)
        # per world slot, its values interned as small ints (value -> id): the keys of the
        # breadth-first search's visited table (vkey), hashed without walking large values
        self._intern: list | None = None
        # the split slot (the heap's memory, Model.split) interned part by part: its id in a
        # key stands for the tuple of its parts' ids (_mparts[id]), so an effect that names
        # the parts it touches (locations()) is memoized by their ids alone (_memo_node)
        self._m = _split_slot(model)
        self._pintern: list = []        # per part: its values -> ids
        self._pvals: list = []          # per part: its values by id
        self._vals: list | None = None  # per slot (not the split one): its values by id
        self._mintern: dict = {}        # tuple of part ids -> id of the whole slot
        self._mparts: list = []         # id of the whole slot -> tuple of part ids
        # None, or the slots (part p as -1 - p) that interned a new value since the last
        # look (khomc.engines.symmetry.KeyCanon classifies new values by them)
        self.fresh: list | None = None

    # -- interned keys (the fast breadth-first search of khomc.engines.search) ---------------
    def vid(self, slot: int, value, old=None, old_id: int | None = None) -> int:
        """The small int standing for *value* in world slot *slot* (equal values, one id).
        The split slot's id is that of the tuple of its parts' ids (each part interned on its
        own; *old*, *old_id*: a value of the slot and its id, whose identical parts are not
        hashed again)."""
        if slot == self._m:
            return self._split_id(value, old, old_id)
        d = self._intern[slot]
        v = d.get(value)
        if v is None:
            v = d[value] = len(d)
            self._vals[slot].append(value)
            if self.fresh is not None:
                self.fresh.append(slot)
        return v

    def _pid(self, p: int, value) -> int:
        """The id of *value* as part *p* of the split slot."""
        d = self._pintern[p]
        i = d.get(value)
        if i is None:
            i = d[value] = len(d)
            self._pvals[p].append(value)
            if self.fresh is not None:
                self.fresh.append(-1 - p)
        return i

    def world_of(self, wk) -> tuple:
        """The world whose key is *wk* (ids back to values)."""
        m, vals, pvals = self._m, self._vals, self._pvals
        return tuple(tuple(pvals[p][i] for p, i in enumerate(self._mparts[v])) if s == m
                     else vals[s][v] for s, v in enumerate(wk))

    def _split_id(self, value, old=None, old_id=None) -> int:
        pint = self._pintern
        while len(pint) < len(value):
            pint.append({})
            self._pvals.append([])
        pid = self._pid
        if old is not None and len(old) == len(value):      # the common case: one pass
            oldp = self._mparts[old_id]
            return self._split_join(tuple([i if v is o else pid(p, v) for p, v, o, i in
                                           zip(range(len(value)), value, old, oldp)]))
        ids = []
        oldp = self._mparts[old_id] if old is not None else None
        for p, v in enumerate(value):
            if oldp is not None and p < len(old) and v is old[p]:
                ids.append(oldp[p])
            else:
                ids.append(pid(p, v))
        return self._split_join(tuple(ids))

    def _split_join(self, ids: tuple) -> int:
        """The id of the split slot whose parts have the ids *ids*."""
        mid = self._mintern.get(ids)
        if mid is None:
            mid = self._mintern[ids] = len(self._mparts)
            self._mparts.append(ids)
            if self.fresh is not None:
                self.fresh.append(self._m)
        return mid

    def split_write(self, mid: int, pids: tuple) -> int:
        """The id of the split slot of id *mid* with the parts ``(part, id)`` of *pids*
        replaced."""
        ids = list(self._mparts[mid])
        for p, i in pids:
            ids[p] = i
        return self._split_join(tuple(ids))

    def vkey(self, state) -> tuple:
        """*state* as ``(value ids, task locals)``: each world slot's value as a small int.
        Two states have equal keys exactly when they are equal (slot by slot equality, as
        the tuples compare); hashing one never walks a world value."""
        world, locs = state
        if self._intern is None:
            self._intern = [{} for _ in world]
            self._vals = [[] for _ in world]
        vid = self.vid
        return tuple([vid(s, v) for s, v in enumerate(world)]), locs

    def vkey_from(self, state, world, wk) -> tuple:
        """:meth:`vkey` of *state*, given the key *wk* of a world *world* it shares slots with
        (a slot holding the same object has the same id: no hash)."""
        w2, locs = state
        vid = self.vid
        return tuple([wk[s] if v is world[s] else vid(s, v, world[s], wk[s])
                      for s, v in enumerate(w2)]), locs

    def apply_fast(self, world, wk, writes, wids, pg):
        """The world and key after one outcome of :meth:`fast_outcomes` from *world*, *wk*."""
        return self.world_after(world, writes, pg), self.key_after(wk, wids, pg)

    def world_after(self, world, writes, pg) -> tuple:
        """*world* with an outcome's slot *writes* and part writes *pg* applied."""
        w = list(world)
        for slot, value in writes:
            w[slot] = value
        if pg is not None:
            m = self._m
            pages = list(world[m])
            for p, value in pg[2]:
                pages[p] = value
            w[m] = tuple(pages)
        return tuple(w)

    def key_after(self, wk, wids, pg) -> tuple:
        """The key *wk* with an outcome's written value ids *wids* and part writes *pg*."""
        kl = list(wk)
        for slot, v in wids:
            kl[slot] = v
        if pg is not None:
            kl[self._m] = self.split_step(pg, wk[self._m])
        return tuple(kl)

    def split_step(self, pg, mid: int) -> int:
        """The split slot's id after the part writes *pg* of a memo outcome, from id *mid*."""
        mid2 = pg[0].get(mid)
        if mid2 is None:
            mid2 = pg[0][mid] = self.split_write(mid, pg[1])
        return mid2

    def fast_outcomes(self, world, tid: int, lid: int, node, wk=None) -> tuple:
        """The effect-memo entry of *node* in *world* (of key *wk*) for the fast search: per
        outcome ``(choices, writes, written value ids, lid2, chained, mask of written slots,
        part writes)``.  *part writes* is None, or - for an effect memoized by the parts of
        the split slot it touches (node[7]) - ``(cache, ((part, id), ...), ((part, value),
        ...))``: the parts the outcome writes, applied to whatever the other parts hold
        (*cache*: the slot's id before -> after); *writes* then leaves the split slot out."""
        if self._intern is None:
            self._intern = [{} for _ in world]
            self._vals = [[] for _ in world]
        parts = node[7]
        if parts is None:
            getter = node[0]
            vals = getter(world) if getter is not None else ()
            res = node[1].get(vals)
            if res is None:
                res = node[1][vals] = self._outcomes(world, tid, lid, node)
        else:       # keyed by parts: the value memo (keyed by the whole slot) would miss
            res = self._outcomes(world, tid, lid, node)
        vid = self.vid
        m = self._m
        out = []
        for ci, writes, lid2, chain in res:
            mask = 0
            for s, _ in writes:
                mask |= 1 << s
            pg = None
            if parts is not None and mask >> m & 1:
                old = world[m]
                new = next(v for s, v in writes if s == m)
                writes = tuple((s, v) for s, v in writes if s != m)
                changed = [p for p in range(len(new)) if new[p] is not old[p]]
                written = parts(world)
                if len(new) != len(old) or not written.issuperset(changed):
                    raise SpecError(f"effect {node[3].label()!r} changed parts of "
                                    f"{self.model.vars[m].name} outside its locations(): "
                                    f"{sorted(set(changed) - written)}")
                pg = ({}, tuple([(p, self._pid(p, new[p])) for p in changed]),
                      tuple((p, new[p]) for p in changed))
            wids = tuple([(s, vid(s, v, world[s], wk[s]) if wk is not None else vid(s, v))
                          for s, v in writes])
            out.append((() if ci is None else (ci,), writes, wids, lid2, chain, mask, pg))
        return tuple(out)

    def initial(self) -> tuple:
        return self.model.initial_state()

    def task_names(self, state) -> list[str]:
        return [self.names[lid] for lid in state[1]]

    # -- fast path ---------------------------------------------------------------------------
    def expand(self, state) -> list:
        """All successors of *state*: a list of ``(tid, choices, state2)``.

        Memoizes each effect's outcomes per (local id, task index, values of the slots the
        effect declares): an effect is a pure function of the world slots it declares and the
        task index (the contract of :meth:`Effect.slots`, also what partial-order reduction
        relies on), and the local id fixes the effect.  A memo entry stores, per outcome, the
        choice index, only the slots the outcome changes and the next local id, so a step costs
        a dict lookup and one tuple rebuild.  Effects that declare no slots and ``Spawn`` take
        the generic :meth:`_run`; with the task table's caches off (``table.memo = False``,
        the replay baseline) the effect memo is off too.
        """
        if not self.table.memo:
            return self._expand_plain(state)
        world, locs = state
        plan = self._plans.get(locs)
        if plan is None:
            plan = self._plan(locs)
        out = []
        for tid, getter, outs, node, shared in plan:
            if outs is None:
                self._run(world, locs, tid, locs[tid], (), (), out, True, None, None)
                continue
            vals = getter(world) if getter is not None else ()
            last = node[4]
            if vals is last[0]:      # one slot, the same object as last time: no hash
                res = last[1]
            else:
                res = outs.get(vals)
                if res is None:
                    res = outs[vals] = self._outcomes(world, tid, locs[tid], node)
                last[0] = vals
                last[1] = res
            for ci, writes, lid2, chain in res:
                if writes:
                    if len(writes) == 1:
                        slot, value = writes[0]
                        w2 = world[:slot] + (value,) + world[slot + 1:]
                    else:
                        w = list(world)
                        for slot, value in writes:
                            w[slot] = value
                        w2 = tuple(w)
                else:
                    w2 = world
                ch = () if ci is None else (ci,)
                if chain:
                    self._chain(w2, locs, tid, lid2, ch, out)
                    continue
                locs2 = shared.get(lid2)
                if locs2 is None:
                    locs2 = shared[lid2] = locs[:tid] + (lid2,) + locs[tid + 1:]
                out.append((tid, ch, (w2, locs2)))
        return out

    def fast_chain(self, world, wk, locs, tid, lid, choices, mask, out) -> None:
        """Continue an atomic section from local *lid* for the fast search (as :meth:`_chain`,
        on value ids too): append ``(tid, choices, state2, key2, mask)`` to *out*, *mask* the
        world slots the whole step wrote, or None when part of the section took the generic
        :meth:`_run` (then the step's changes are not tracked: check everything)."""
        node = self._memo.get((lid << 16) | tid)
        if node is None:
            node = self._memo_node(lid, tid)
        res = None
        if node is not _UNMEMO:
            getter, kouts = node[6], node[5]
            kv = getter(wk) if getter is not None else ()
            res = kouts.get(kv)
            if res is None:
                res = kouts[kv] = self.fast_outcomes(world, tid, lid, node, wk)
        if not res:   # no memo, or blocked inside the section (_run raises the spec error)
            self.fast_chain_generic(world, wk, locs, tid, lid, choices, out)
            return
        for ci, writes, wids, lid2, chain, m, pg in res:
            if writes or pg is not None:
                w2, wk2 = self.apply_fast(world, wk, writes, wids, pg)
            else:
                w2, wk2 = world, wk
            ch = choices + ci
            if chain:
                self.fast_chain(w2, wk2, locs, tid, lid2, ch, mask | m, out)
            else:
                locs2 = locs[:tid] + (lid2,) + locs[tid + 1:]
                out.append((tid, ch, (w2, locs2), (wk2, locs2), mask | m))

    def fast_chain_generic(self, world, wk, locs, tid, lid, choices, out) -> None:
        """:meth:`fast_chain` where the memo has no outcome: the generic :meth:`_run`, whose
        successors' changes are not tracked (mask None)."""
        items: list = []
        self._run(world, locs, tid, lid, choices, (), items, False, None, None)
        for t, ch, nxt in items:
            out.append((t, ch, nxt, self.vkey_from(nxt, world, wk), None))

    def _plan(self, locs) -> list:
        """Per task of *locs* that has not finished: ``(tid, getter, outcomes by slot values,
        memo node, successor locals by next local id)``; the successor's task-locals tuple is
        shared by every state with these locals (one allocation instead of one per successor)."""
        plan = []
        memo = self._memo
        for tid, lid in enumerate(locs):
            node = memo.get((lid << 16) | tid)
            if node is None:
                node = self._memo_node(lid, tid)
            if node is _FINISHED:
                continue
            if node is _UNMEMO:
                plan.append((tid, None, None, node, None))
            else:
                plan.append((tid, node[0], node[1], node, {}))
        if len(self._plans) < _MAX_PLANS:
            self._plans[locs] = plan
        return plan

    def _chain(self, world, locs, tid, lid, choices, out) -> None:
        """Continue an atomic section from local *lid* through the effect memo (as _run)."""
        node = self._memo.get((lid << 16) | tid)
        if node is None:
            node = self._memo_node(lid, tid)
        if node is _UNMEMO:
            self._run(world, locs, tid, lid, choices, (), out, False, None, None)
            return
        getter, outs = node[0], node[1]
        vals = getter(world) if getter is not None else ()
        res = outs.get(vals)
        if res is None:
            res = outs[vals] = self._outcomes(world, tid, lid, node)
        if not res:   # blocked inside the section: _run raises the spec error
            self._run(world, locs, tid, lid, choices, (), out, False, None, None)
            return
        for ci, writes, lid2, chain in res:
            w = list(world)
            for slot, value in writes:
                w[slot] = value
            w2 = tuple(w)
            ch = choices if ci is None else choices + (ci,)
            if chain:
                self._chain(w2, locs, tid, lid2, ch, out)
            else:
                out.append((tid, ch, (w2, locs[:tid] + (lid2,) + locs[tid + 1:])))

    def _memo_node(self, lid: int, tid: int):
        if tid >= 1 << 16:
            return _UNMEMO
        eff = self.table.pending[lid]
        if eff is None:
            node = _FINISHED
        elif type(eff) is Spawn or eff.slots() is None:
            node = _UNMEMO
        else:
            slots = tuple(sorted(set(eff.slots())))
            getter = itemgetter(*slots) if slots else None
            kgetter, parts = self._parts_key(eff, tid, slots)
            # (getter of the declared slots, outcomes by their values, slots, effect, last
            # lookup, outcomes by their value ids for the fast search: fast_outcomes, getter
            # of those ids from a key, None or (parts read or written, parts written))
            node = (getter, {}, slots, eff, [_NOTHING, None], {},
                    getter if kgetter is None else kgetter, parts)
        self._memo[(lid << 16) | tid] = node
        return node

    def _parts_key(self, eff, tid: int, slots: tuple):
        """For an effect that names the split slot and the parts of it it touches
        (``locations(tid)``, the contract partial-order reduction relies on: its outcomes are
        a function of the parts it reads and the other slots it declares, and it writes no
        other part): the getter of its memo key from a search key - the ids of its other
        declared slots, then of the parts it touches - and the function of the world giving
        the parts it may write.  An effect with ``locations_in(world, tid)`` names them per
        world instead (as the claimed range of an allocation); that must be a function of its
        declared slots other than the split one, so the getter picks the parts by their ids
        (cached).  ``(None, None)`` for any other effect (memoized by the whole slot's id)."""
        m = self._m
        own = getattr(eff, "locations", None)
        if m is None or own is None or m not in slots:
            return None, None
        rest = [s for s in slots if s != m]
        others = itemgetter(*rest) if rest else None
        mparts = self._mparts

        def split(fp):
            reads, writes = fp
            if m in reads or m in writes:     # names the whole slot after all
                return None
            touched = sorted(loc[1] for loc in reads | writes
                             if type(loc) is tuple and loc[0] == m)
            written = frozenset(loc[1] for loc in writes if type(loc) is tuple and loc[0] == m)
            return (itemgetter(*touched) if touched else ()), written

        dyn = getattr(eff, "locations_in", None)
        if dyn is None:
            got = split(own(tid))
            if got is None:
                return None, None
            pick, written = got
            return PartsKey((others, m, pick, mparts, None, None)), lambda world: written
        cache: dict = {}
        world_of = self.world_of

        def dyn_split(o, wk):
            got = split(dyn(world_of(wk), tid))
            cache[o] = got if got is not None else (None, None)
            return cache[o]

        dkey = PartsKey((others, m, None, mparts, cache, dyn_split))

        def written(world):
            got = split(dyn(world, tid))
            return got[1] if got is not None else frozenset(range(len(world[m])))
        return dkey, written

    def _outcomes(self, world, tid, lid, node) -> tuple:
        """The memo entry of *node*'s effect in *world*: ``(choice or None, writes, lid2,
        chained)`` per outcome, *writes* the ``(slot, value)`` pairs the outcome changes."""
        eff, slots = node[3], node[2]
        table = self.table
        if eff.branching:
            outcomes = eff.outcomes(world, tid)
        else:
            r = eff.step(world, tid)
            outcomes = [] if r is None else [r]
        declared = frozenset(slots)
        res = []
        for ci, (w2, obs) in enumerate(outcomes):
            if w2 is world:
                writes = ()
            else:
                if len(w2) != len(world) or not declared.issuperset(
                        compress(range(len(world)), map(is_not, w2, world))):
                    raise SpecError(f"effect {eff.label()!r} changed world slots it does not "
                                    f"declare in slots() {slots}")
                writes = tuple((s, w2[s]) for s in slots if w2[s] is not world[s])
            lid2 = table.advance(lid, obs)
            chain = table.chained[lid2] and table.pending[lid2] is not None
            res.append((ci if eff.branching else None, writes, lid2, chain))
        return tuple(res)

    def _expand_plain(self, state) -> list:
        """:meth:`expand` without the effect memo (the task table's caches are off)."""
        world, locs = state
        table = self.table
        pending = table.pending
        chained = table.chained
        trans = table.trans
        out = []
        for tid, lid in enumerate(locs):
            eff = pending[lid]
            if eff is None:
                continue
            if eff.branching or type(eff) is Spawn:
                self._run(world, locs, tid, lid, (), (), out, True, None, None)
                continue
            r = eff.step(world, tid)
            if r is None:
                continue
            w2, obs = r
            lid2 = trans.get((lid, obs))
            if lid2 is None:
                lid2 = table.advance(lid, obs)
            if chained[lid2] and pending[lid2] is not None:
                self._run(w2, locs, tid, lid2, (), (), out, False, None, None)
                continue
            out.append((tid, (), (w2, locs[:tid] + (lid2,) + locs[tid + 1:])))
        return out

    def expand_footprints(self, state) -> list:
        """As :meth:`expand`, each successor with the footprint of its step appended:
        ``(tid, choices, state2, (reads, writes))`` with frozensets of world slots, or None when
        the step spawns a task or runs an effect that does not declare its slots.  A step that
        branches or runs an atomic section gets the union over all its outcomes (sound: a larger
        footprint only makes more steps dependent).  Used by the sleep sets of --por."""
        world, locs = state
        table = self.table
        pending = table.pending
        chained = table.chained
        trans = table.trans
        single = self._single_fp
        out = []
        for tid, lid in enumerate(locs):
            eff = pending[lid]
            if eff is None:
                continue
            if not eff.branching and type(eff) is not Spawn:
                r = eff.step(world, tid)
                if r is None:
                    continue
                w2, obs = r
                lid2 = trans.get((lid, obs))
                if lid2 is None:
                    lid2 = table.advance(lid, obs)
                if not (chained[lid2] and pending[lid2] is not None):
                    fp = single.get(lid if not self.locations else (lid, tid), False)
                    if fp is False:
                        fp = self.footprint(lid, tid)
                    out.append((tid, (), (w2, locs[:tid] + (lid2,) + locs[tid + 1:]), fp))
                    continue
            mine: list = []
            sink = _Footprints(self, tid)
            self._run(world, locs, tid, lid, (), (), mine, True, None, sink)
            fp = sink.value()
            for t, ch, nxt in mine:
                out.append((t, ch, nxt, fp if len(nxt[1]) == len(locs) else None))
        return out

    def footprint(self, lid: int, tid: int = 0) -> tuple | None:
        """The footprint of the effect local *lid* waits on when task *tid* runs it (cached per
        local id, and per task too for locations, which may depend on the task: its pages)."""
        key = lid if not self.locations else (lid, tid)   # a spawned task's tid may vary
        fp = self._single_fp.get(key, False)
        if fp is False:
            split = self.model.split if self.locations else None
            fp = self._single_fp[key] = _effect_footprint(self.table.pending[lid], tid, split)
        return fp

    def _run(self, world, locs, tid, lid, choices, spawned, out, first, follow, record):
        """Run task *tid* from local *lid* to the end of its step; append results to *out*.

        *follow*, when given, is the tuple of choices to take (replay); *record*, when given, is
        a list that receives one EffectRecord per effect.
        """
        table = self.table
        eff = table.pending[lid]
        if type(eff) is Spawn:
            new = table.start(TaskSpec(eff.name, eff.fn, eff.args))
            outcomes = [(world, len(locs) + len(spawned))]
            spawned = spawned + (new,)
        elif eff.branching:
            outcomes = eff.outcomes(world, tid)
        else:
            r = eff.step(world, tid)
            outcomes = [] if r is None else [r]
        if not outcomes:
            if first:
                return
            raise SpecError(
                f"task {table.name[lid]!r} blocked inside an atomic section on "
                f"{eff.label()!r} (sleeping in atomic context): "
                f"{eff.blocked_reason(world, lambda t: self.names[locs[t]])}")
        branching = eff.branching
        if branching and follow is not None:
            k = len(choices)
            if k >= len(follow):
                raise StepError(f"step needs a choice for {eff.label()!r} and the trace has none")
            ci = follow[k]
            if not 0 <= ci < len(outcomes):
                raise StepError(f"choice {ci} for {eff.label()!r} is out of range: only "
                                f"{len(outcomes)} outcome(s) in this state")
            indexed = [(ci, outcomes[ci])]
        else:
            indexed = list(enumerate(outcomes))
        for ci, (w2, obs) in indexed:
            if type(record) is _Footprints:
                record.add(lid)
            elif record is not None:
                slots = eff.slots() or ()
                record.append(EffectRecord(eff.label(), obs, ci if branching else None,
                                           tuple(self.model.vars[s].name for s in slots),
                                           not eff.read_only))
            lid2 = table.advance(lid, obs)
            ch = choices + (ci,) if branching else choices
            if table.chained[lid2] and table.pending[lid2] is not None:
                self._run(w2, locs, tid, lid2, ch, spawned, out, False, follow, record)
            else:
                out.append((tid, ch, (w2, locs[:tid] + (lid2,) + locs[tid + 1:] + spawned)))

    # -- slow path ---------------------------------------------------------------------------
    def execute(self, state, tid: int, choices: tuple = ()):
        """Take step ``(tid, choices)`` in *state*: return (state2, [EffectRecord, ...]).

        Raises StepError with the reason when the step cannot be taken.
        """
        world, locs = state
        if not 0 <= tid < len(locs):
            raise StepError(f"no task #{tid} in this state (it has {len(locs)} tasks)")
        lid = locs[tid]
        eff = self.table.pending[lid]
        if eff is None:
            raise StepError(f"task {self.names[lid]!r} has already finished")
        out: list = []
        record: list = []
        self._run(world, locs, tid, lid, (), (), out, True, tuple(choices), record)
        if not out:
            raise StepError(f"task {self.names[lid]!r} is blocked: "
                            f"{eff.blocked_reason(world, lambda t: self.names[locs[t]])}")
        return out[0][2], record

    def blocked(self, state) -> list[tuple[str, str]]:
        """For each unfinished task of a state with no successors: (task, why it waits)."""
        world, locs = state
        who = []
        for tid, lid in enumerate(locs):
            eff = self.table.pending[lid]
            if eff is not None:
                who.append((self.names[lid],
                            eff.blocked_reason(world, lambda t: self.names[locs[t]])))
        return who

    def all_done(self, state) -> bool:
        return self.table.done_ids.issuperset(state[1])
