"""Exhaustive explicit-state search: breadth-first (shortest counterexamples) and depth-first.

Owns the search loop, its budgets and progress line, and the bookkeeping that turns a state id
back into a schedule.  Both orders share one visited table and check every property of the
model in the same pass.  The visited table holds either exact states (the default: no
collision can hide a state) or, with ``compact=True``, 64-bit fingerprints and no states at all
beyond the frontier (TLC's way: the result then states the probability that a collision hid a
state).  With ``symmetry=True`` and a model that declares interchangeable units, states are
stored up to a permutation of the units (``terminates`` then only when no cycle of orbits
exists, khomc.engines.liveness).  Properties:

* ``always`` and ``assertions`` on each new state, ``final`` on states where all tasks finished,
  ``sometimes`` until first reached, ``deadlock-free`` on states without successors;
* ``terminates`` after the search, on the recorded state graph (:mod:`khomc.engines.liveness`),
  when it fits under ``graph_limit`` states.

Verdicts follow :mod:`khomc.engines.result`: a property is HOLDS only if the search exhausted
the state space; a budget or Ctrl-C leaves the undecided ones UNKNOWN with the numbers reached.
"""

from __future__ import annotations

import gc
import os
import random
import signal
import sys
import time
from array import array
from collections import deque

from ..runtime.spec import ASSERTIONS, DEADLOCK, FINAL, SOMETIMES, TERMINATION, Model
from ..runtime.step import _FINISHED, _MAX_PLANS, _UNMEMO, Stepper
from .monitor import Monitor
from .por import complete_graph, skipped_steps
from .result import Bounds, CheckResult, PropertyResult, Verdict

try:        # the fast BFS's inner loop, compiled (optional: the same loop runs in Python)
    from . import _bfsloop
except ImportError:                                     # pragma: no cover - no compiler
    _bfsloop = None

DEFAULT_GRAPH_LIMIT = 2_000_000
BATCH = 1024        # frontier entries between two looks at the clock, Ctrl-C and budgets


def compiled_loop() -> bool:
    """Does the fast BFS run its compiled inner loop?  (Not with KHOMC_PURE_PYTHON=1.)"""
    return _bfsloop is not None and not os.environ.get("KHOMC_PURE_PYTHON")


class KeyedStates:
    """Every state of the fast BFS, by id, stored as its interned key ``(value ids, task
    locals)`` (the key the visited table already holds: no world tuple is kept per state).

    ``states[i]`` rebuilds the world from the ids (``Stepper.world_of``): equal, slot by
    slot, to the state found (it holds the first-interned of the values equal to each of its
    slots, as the visited table identifies equal values).  Under symmetry the key is the raw
    key the state was found with, so the state is the representative the search expanded."""

    __slots__ = ("keys", "stepper")

    def __init__(self, stepper):
        self.keys: list = []
        self.stepper = stepper

    def append(self, state) -> None:
        self.keys.append(self.stepper.vkey(state))

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._state(k) for k in self.keys[i]]
        return self._state(self.keys[i])

    def _state(self, key) -> tuple:
        return self.stepper.world_of(key[0]), key[1]

    def __iter__(self):
        return (self._state(k) for k in self.keys)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    __hash__ = None


class Progress:
    """A progress line on stderr once a search has run for more than a second.

    With ``report`` set, each tick calls ``report(distinct, rate, depth, frontier)`` instead
    (worker processes of a swarm send their progress to the coordinator that way).
    """

    def __init__(self, enabled: bool, stream=None, report=None):
        self.enabled = enabled
        self.report = report
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.last = self.start
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.shown = False

    def tick(self, distinct: int, depth: int, frontier: int, now: float) -> None:
        if not self.enabled or now - self.start < 1.0:
            return
        if now - self.last < (1.0 if self.tty or self.report else 10.0):
            return
        self.last = now
        rate = distinct / (now - self.start)
        if self.report is not None:
            self.report(distinct, rate, depth, frontier)
            return
        line = (f"khomc: {distinct:,} distinct states, {rate:,.0f} states/s, depth {depth}, "
                f"frontier {frontier:,}")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown and self.tty:
            self.stream.write("\n")
            self.stream.flush()


class Search:
    """One exhaustive search of a model.  ``Search(model).run()`` returns a CheckResult."""

    def __init__(self, model: Model, engine: str = "bfs", bounds: Bounds | None = None,
                 progress: bool = False, graph_limit: int = DEFAULT_GRAPH_LIMIT,
                 stop_at_first: bool = False, compact: bool = False, symmetry: bool = False,
                 checkpoint: str | None = None, checkpoint_every: float = 60.0,
                 shuffle: int | None = None, por: bool = False):
        if engine not in ("bfs", "dfs"):
            raise ValueError(f"unknown exhaustive engine {engine!r} (bfs, dfs)")
        self.model = model
        self.engine = engine
        self.bounds = bounds or Bounds()
        self.stepper = Stepper(model)
        self.progress = Progress(progress)
        self.graph_limit = graph_limit
        self.stop_at_first = stop_at_first
        self.compact = compact
        self.symmetry = None
        if symmetry and model.symmetry:
            from .symmetry import Symmetry
            self.symmetry = Symmetry(model, model.symmetry)
        self.graph_limit = graph_limit
        # visited states (or their fingerprints) and the first-discovery tree
        self.ids: dict = {}
        self.states: list = []       # every state, by id (exact mode only; KeyedStates
        #                              in the fast BFS)
        self.parent = array("q")
        self.via_tid = array("h")
        self.via_choices: dict[int, tuple] = {}
        self.depth = array("l")
        # the state graph, for the termination analysis
        self.record_graph = graph_limit > 0
        self.esrc = array("l")
        self.edst = array("l")
        self.etid = array("h")
        self.transitions = 0
        # property bookkeeping: name -> state id (first violation / first witness)
        self.violations: dict[str, int] = {}
        self.witness: dict[str, int] = {}
        self.deadlocks: dict[int, list] = {}
        self.truncated = False
        self.frontier: deque = deque()
        self.elapsed = 0.0                 # seconds spent before a resume
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self._resumed = False
        self.shuffle = shuffle             # a seed: explore successors in a shuffled order
        self.por = None
        self.sleep = None
        if por:
            from .por import AmpleSets, SleepSets
            if checkpoint:
                raise ValueError("checkpoints do not record partial-order reduction's sleep "
                                 "sets: run a checkpointed search without --por")
            self.por = AmpleSets(model)
            self.stepper.locations = True         # footprints of pages, not the memory slot
            # the steps the reduction skips, with their targets: if every target is visited
            # the full graph is recovered and termination is analysed on it (por.py)
            self.por_skipped: list = []
            self.graph_complete = False
            # sleep sets: breadth-first, no depth bound (a state's depth may exceed its
            # distance), not with symmetry (steps name tasks of the state, not of its orbit)
            if engine == "bfs" and self.symmetry is None and self.bounds.max_depth is None:
                self.sleep = SleepSets()
        if checkpoint and engine != "bfs":
            raise ValueError("checkpoints need the bfs engine")
        self.fast = self._fast_ok()
        if self.fast:                       # the fast BFS keeps each state as its key
            self.states = KeyedStates(self.stepper)
        self.compiled = compiled_loop()     # the fast BFS's inner loop in C (_bfsloop.c)
        # under symmetry the fast search's visited table holds canonical interned keys
        self._canon = None
        if self.fast and self.symmetry is not None:
            from .symmetry import KeyCanon
            self._canon = KeyCanon(self.symmetry, self.stepper)

    def _fast_ok(self) -> bool:
        """Can the search run :meth:`_bfs_fast` (interned keys, incremental checks)?"""
        return (self.engine == "bfs" and self.por is None
                and not self.compact and self.shuffle is None and self.bounds.max_depth is None
                and self.model.table.memo)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> CheckResult:
        model = self.model
        self._props = list(model.properties)
        self._monitor = Monitor(model)
        self._monitor.compiled = self._monitor.compiled and self.compiled
        if self.por is not None:
            self._monitor.view.hidden = frozenset(model.private)
        start = time.perf_counter() - self.elapsed
        self._last_checkpoint = time.perf_counter()
        stop = "exhausted"
        self._stop_requested = False
        try:
            old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:              # not the main thread: Ctrl-C stays KeyboardInterrupt
            old_handler = None
        # The search allocates millions of tuples and no reference cycles worth collecting:
        # Python's cyclic collector would re-scan the visited table on every full collection
        # (about a fifth of the search's time).  Off for the search, restored on any exit.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            if self.fast and not self._fast_ok():     # the caches were turned off since
                if self.ids:
                    raise ValueError("the task table's caches were turned off after the "
                                     "search started")
                self.fast = False
                self.states = []
            init = self.stepper.initial()
            self._init = init
            if not self._resumed:
                self._add(init, -1, 0, (), 0)
                self.frontier.append((0, init))
            if self.fast:
                stop = self._bfs_fast(start)
            else:
                stop = self._bfs(start) if self.engine == "bfs" else self._dfs(start)
        except KeyboardInterrupt:
            stop = "interrupted"
        finally:
            if gc_was_enabled:
                # The objects the search made would all sit in the youngest generation, and
                # the first collection after it would scan every one of them (a fifth of the
                # search's time on k6.16 fdbox-race, for no garbage: states hold no cycles).
                # freeze + unfreeze moves them to the oldest generation unscanned, as if they
                # had survived the young collections; a later full collection still sees them.
                gc.freeze()
                gc.unfreeze()
                gc.enable()
            self.progress.done()
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
        seconds = time.perf_counter() - start
        if self.checkpoint and stop not in ("exhausted", "first", "max-depth"):
            self.elapsed = seconds
            from . import checkpoint
            checkpoint.save(self, self.checkpoint)
        return self._result(stop, seconds)

    def _on_sigint(self, signum, frame) -> None:
        """Ctrl-C: stop at the next state boundary (so a checkpoint is consistent); a second
        Ctrl-C interrupts at once."""
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True

    @classmethod
    def resume(cls, path: str, progress: bool = False, checkpoint_every: float = 60.0,
               bounds: Bounds | None = None) -> "Search":
        """A search that continues the one checkpointed in *path* (and keeps checkpointing)."""
        from . import checkpoint
        from .. import registry
        data = checkpoint.load(path)
        model = registry.build(data["spec"], data["scenario"], data["params"])
        search = cls(model, data["engine"], bounds or Bounds(), progress=progress,
                     graph_limit=data["graph_limit"], compact=data["compact"],
                     symmetry=data["symmetry"], checkpoint=str(path),
                     checkpoint_every=checkpoint_every)
        checkpoint.restore(search, data)              # states rebuilt from the tree
        return search

    @property
    def count(self) -> int:
        return len(self.parent)

    def key(self, state):
        """What the visited table stores for *state*."""
        if self.fast:
            k = self.stepper.vkey(state)
            return k if self._canon is None else self._canon(k)
        k = self.symmetry.canon(state) if self.symmetry is not None else state
        return hash(k) if self.compact else k

    def state_of(self, sid: int):
        """State number *sid* (re-executed from its schedule in compact mode)."""
        if not self.compact:
            return self.states[sid]
        state = self.stepper.initial()
        for tid, choices in self.schedule(sid):
            state, _ = self.stepper.execute(state, tid, choices)
        return state

    def memory_bytes(self) -> int:
        """Bytes held by the visited table, the discovery tree and the graph (an estimate:
        the tables' own sizes plus the states' tuples, sampled)."""
        arrays = sum(a.itemsize * len(a) for a in (self.parent, self.via_tid, self.depth,
                                                    self.esrc, self.edst, self.etid))
        table = sys.getsizeof(self.ids)
        if self.compact:
            per_key = 32                       # one int object per fingerprint
        elif self.fast:                        # the keys, held by the table and KeyedStates
            keys = self.states.keys
            table += sys.getsizeof(keys)
            sample = keys[:: max(1, len(keys) // 200)]
            per_key = sum(sys.getsizeof(k) + sys.getsizeof(k[0]) for k in sample) / \
                max(1, len(sample))
        else:
            table += sys.getsizeof(self.states)
            sample = self.states[:: max(1, len(self.states) // 200)]
            per_key = sum(sys.getsizeof(st) + sys.getsizeof(st[0]) + sys.getsizeof(st[1])
                          for st in sample) / max(1, len(sample))
        return int(arrays + table + per_key * self.count)

    def _add(self, state, parent: int, tid: int, choices: tuple, depth: int, key=None) -> int:
        sid = len(self.parent)
        self.ids[self.key(state) if key is None else key] = sid
        if not self.compact:
            self.states.append(state)
        self.parent.append(parent)
        self.via_tid.append(tid)
        if choices:
            self.via_choices[sid] = choices
        self.depth.append(depth)
        self._check(sid, state)
        return sid

    def _check(self, sid: int, state) -> None:
        for name in self._monitor.failing(state, self.violations):
            self.violations[name] = sid
        if len(self.witness) < len(self._monitor.sometimes):
            for name in self._monitor.reached(state, self.witness):
                self.witness[name] = sid

    def _expand(self, sid: int, state) -> list:
        if self.por is not None:
            ids, key = self.ids, self.key
            full = self.stepper.expand_footprints(state)
            succ = self.por.ample(state, full, lambda nxt: key(nxt) in ids)
            if self.record_graph and len(succ) < len(full):
                self.por_skipped.extend(skipped_steps(sid, full, succ))
            if self.sleep is None:
                succ = [s[:3] for s in succ]
        else:
            succ = self.stepper.expand(state)
        if self.shuffle is not None:
            random.Random(self.shuffle * 1_000_003 + sid).shuffle(succ)
        if not succ and not self.stepper.all_done(state):
            self.deadlocks.setdefault(sid, self.stepper.blocked(state))
            self.violations.setdefault("deadlock-free", sid)
        return succ

    def _budget_hit(self, now: float, start: float) -> str | None:
        b = self.bounds
        if b.max_states is not None and self.count >= b.max_states:
            return "max-states"
        if b.time_limit is not None and now - start >= b.time_limit:
            return "time-limit"
        return None

    def _done_early(self) -> bool:
        return self.stop_at_first and bool(self.violations)

    def _bfs(self, start: float) -> str:
        ids, depth, key = self.ids, self.depth, self.key
        max_depth = self.bounds.max_depth
        esrc, edst, etid = self.esrc, self.edst, self.etid
        frontier = self.frontier
        max_states = self.bounds.max_states or sys.maxsize
        expanded = 0
        plain = self.symmetry is None and not self.compact
        setdefault = ids.setdefault
        keep = not self.compact
        states_append = self.states.append
        parent, via_tid, via_choices = self.parent, self.via_tid, self.via_choices
        check = self._check
        while frontier:
            if self._stop_requested:
                return "interrupted"
            # the state leaves the frontier only once fully expanded, so a checkpoint written
            # on Ctrl-C expands it again on resume (what was already added is found in ids)
            entry = frontier[0]
            sid, state = entry[0], entry[1]
            expanded += 1
            d = depth[sid]
            succ = self._expand(sid, state)
            if max_depth is not None and d >= max_depth:
                if succ:
                    self.truncated = True
                frontier.popleft()
                continue
            if self.sleep is not None:
                self._bfs_sleep(sid, d, succ, entry[2] if len(entry) > 2 else None)
                succ = ()
            record = self.record_graph
            d1 = d + 1
            n = len(parent)
            for tid, choices, nxt in succ:
                # one hash per successor: setdefault both looks the state up and claims the
                # next id for it when it is new
                nid = setdefault(nxt if plain else key(nxt), n)
                if nid == n:
                    n += 1
                    if keep:
                        states_append(nxt)
                    parent.append(sid)
                    via_tid.append(tid)
                    if choices:
                        via_choices[nid] = choices
                    depth.append(d1)
                    check(nid, nxt)
                    frontier.append((nid, nxt))
                if record:
                    esrc.append(sid)
                    edst.append(nid)
                    etid.append(tid)
            self.transitions += len(succ)
            frontier.popleft()
            if self.record_graph and self.count > self.graph_limit:
                self._drop_graph()
            if self.count >= max_states and frontier:
                return "max-states"
            if (expanded & 1023) == 0 or self._done_early():
                hit = self._between_batches(start, d)
                if hit:
                    return hit
        return "max-depth" if self.truncated else "exhausted"

    def _bfs_fast(self, start: float) -> str:
        """Breadth-first search on interned keys with incremental property checks.

        The same search as :meth:`_bfs` (same states, ids, discovery tree, transitions and
        verdicts) for the common case (no reduction, no fingerprints, no depth bound, the task
        table's caches on), with three costs taken out of the inner loop:

        * the visited table is keyed by :meth:`Stepper.vkey` - each world slot's value as a
          small int, then the task locals - so a probe hashes a flat tuple of ints instead of
          walking page tuples and FDT bytes; a successor's key is its source's key with the
          written slots' ids (interned once per effect-memo entry) and the task's local
          replaced;
        * the effect memo is probed by the declared slots' value ids (no hash of the values);
        * a successor's world tuple is built only when the state is new, and a new state is
          checked only for what its step can have changed (:meth:`Monitor.after_step`).

        Steps that spawn a task, run an atomic section or an effect without declared slots
        take the generic path (``Stepper._run`` / ``_chain``) with a full check.

        With symmetry the visited table is keyed by each key's orbit (``KeyCanon``: the
        plain loop's ``Symmetry.canon`` on value ids) and by the raw keys already seen, so a
        successor met again costs one probe; the frontier keeps the raw key, from which the
        successors' keys are derived."""
        stepper = self.stepper
        table = stepper.table
        plans, plan_of, outcomes_of = stepper._plans, stepper._plan, stepper.fast_outcomes
        vkey, vkey_from, run_task = stepper.vkey, stepper.vkey_from, stepper._run
        fast_chain = stepper.fast_chain
        apply_fast, key_after, world_after = stepper.apply_fast, stepper.key_after, stepper.world_after
        ids = self.ids
        setdefault = ids.setdefault
        states_append = self.states.keys.append      # KeyedStates: the key, not the state
        parent, via_tid, via_choices, depth = self.parent, self.via_tid, self.via_choices, \
            self.depth
        esrc, edst, etid = self.esrc, self.edst, self.etid
        frontier = self.frontier
        max_states = self.bounds.max_states or sys.maxsize
        monitor = self._monitor
        after_step = monitor.after_step
        violations, witness = self.violations, self.witness
        done_ids = table.done_ids
        gw, gl, gall = monitor.gates(violations, witness)
        # symmetry: the visited table is keyed by orbit (KeyCanon), and also by the raw keys
        # already canonicalised (a 2-tuple never equals a canonical 3-tuple)
        canon = self._canon
        if self.compiled:
            return self._bfs_compiled(start)
        expanded = 0
        while frontier:
            if self._stop_requested:
                return "interrupted"
            entry = frontier[0]
            sid, state = entry[0], entry[1]
            wk = entry[2][0] if len(entry) > 2 else vkey(state)[0]
            world, locs = state
            expanded += 1
            plan = plans.get(locs)
            if plan is None:
                plan = plan_of(locs)
            record = self.record_graph
            d1 = depth[sid] + 1
            n = len(parent)
            ntrans = 0
            for tid, getter, outs, node, shared in plan:
                if outs is None:
                    generic = []
                    run_task(world, locs, tid, locs[tid], (), (), generic, True, None, None)
                    ntrans += self._fast_items(sid, d1, [
                        (t, c, nxt, vkey_from(nxt, world, wk), None) for t, c, nxt in generic])
                    n = len(parent)
                    gw, gl, gall = monitor.gates(violations, witness)
                    continue
                getter = node[6]
                kv = getter(wk) if getter is not None else ()
                kouts = node[5]
                res = kouts.get(kv)
                if res is None:
                    res = kouts[kv] = outcomes_of(world, tid, locs[tid], node, wk)
                for ch, writes, wids, lid2, chain, mask, pg in res:
                    if chain:
                        items = []
                        fast_chain(*apply_fast(world, wk, writes, wids, pg), locs, tid, lid2,
                                   ch, mask, items)
                        ntrans += self._fast_items(sid, d1, items)
                        n = len(parent)
                        gw, gl, gall = monitor.gates(violations, witness)
                        continue
                    if pg is not None:      # parts of the split slot: its id from the source's
                        wk2 = key_after(wk, wids, pg)
                    elif wids:              # (list, set, tuple: cheaper than slicing)
                        kl = list(wk)
                        for s, v in wids:
                            kl[s] = v
                        wk2 = tuple(kl)
                    else:
                        wk2 = wk
                    locs2 = shared.get(lid2)
                    if locs2 is None:
                        locs2 = shared[lid2] = locs[:tid] + (lid2,) + locs[tid + 1:]
                    k2 = (wk2, locs2)
                    ntrans += 1
                    if canon is None:
                        nid = setdefault(k2, n)
                    else:       # symmetry: a raw key seen before, else its orbit's key
                        nid = ids.get(k2)
                        if nid is None:
                            nid = ids[k2] = setdefault(canon(k2), n)
                    if nid == n:
                        n += 1
                        if pg is not None:
                            w2 = world_after(world, writes, pg)
                        elif writes:
                            w = list(world)
                            for slot, value in writes:
                                w[slot] = value
                            w2 = tuple(w)
                        else:
                            w2 = world
                        nxt = (w2, locs2)
                        states_append(k2)
                        parent.append(sid)
                        via_tid.append(tid)
                        if ch:
                            via_choices[nid] = ch
                        depth.append(d1)
                        if gall or (mask & gw) or (gl >> tid) & 1 or lid2 in done_ids:
                            fail, reach = after_step(nxt, mask, tid, violations, witness)
                            for name in fail:
                                violations[name] = nid
                            for name in reach:
                                witness[name] = nid
                            gw, gl, gall = monitor.gates(violations, witness)
                        frontier.append((nid, nxt, k2))
                    if record:
                        esrc.append(sid)
                        edst.append(nid)
                        etid.append(tid)
            if not ntrans and not done_ids.issuperset(locs):
                self.deadlocks.setdefault(sid, stepper.blocked(state))
                violations.setdefault("deadlock-free", sid)
            self.transitions += ntrans
            frontier.popleft()
            if record and n > self.graph_limit:
                self._drop_graph()
                esrc, edst, etid = self.esrc, self.edst, self.etid
            if n >= max_states and frontier:
                return "max-states"
            if (expanded & 1023) == 0 or (self.stop_at_first and violations):
                hit = self._between_batches(start, d1 - 1)
                if hit:
                    return hit
        return "exhausted"

    def _between_batches(self, start: float, depth: int) -> str | None:
        """What the breadth-first loops do every 1,024 entries (and at a first violation when
        they stop there): the progress line, the budgets, the checkpoint; the reason to stop."""
        now = time.perf_counter()
        self.progress.tick(self.count, depth, len(self.frontier), now)
        hit = self._budget_hit(now, start)
        if hit:
            return hit
        if self._done_early():
            return "first"
        if self.checkpoint and now - self._last_checkpoint >= self.checkpoint_every:
            from . import checkpoint
            self.elapsed = now - start
            checkpoint.save(self, self.checkpoint)
            self._last_checkpoint = time.perf_counter()
        return None

    def _bfs_compiled(self, start: float) -> str:
        """:meth:`_bfs_fast` with its inner loop in C (``_bfsloop.bfs_batch``, the same
        statements in the same order): batches of :data:`BATCH` frontier entries, between
        which this loop looks at Ctrl-C, the clock, the budgets and the checkpoint as the
        Python loop does every 1024 entries.  What the Python loop calls, the C loop calls
        back: memo nodes, effect-memo misses, spawns, property checks."""
        stepper, monitor = self.stepper, self._monitor
        violations, witness = self.violations, self.witness
        frontier = self.frontier
        max_states = self.bounds.max_states or sys.maxsize
        after_step = monitor.after_step
        m = stepper._m if stepper._m is not None else -1

        def gates():
            return monitor.gates(violations, witness)

        def on_new(nxt, mask, tid, nid):
            fail, reach = after_step(nxt, mask, tid, violations, witness)
            for name in fail:
                violations[name] = nid
            for name in reach:
                witness[name] = nid
            return monitor.gates(violations, witness)

        def generic(world, locs, tid, wk, sid, d1):
            out: list = []
            stepper._run(world, locs, tid, locs[tid], (), (), out, True, None, None)
            return self._fast_items(sid, d1, [
                (t, c, nxt, stepper.vkey_from(nxt, world, wk), None) for t, c, nxt in out])

        def check_full(nid, nxt):
            self._check(nid, nxt)
            return monitor.gates(violations, witness)

        def deadlock(sid, state):
            self.deadlocks.setdefault(sid, stepper.blocked(state))
            violations.setdefault("deadlock-free", sid)

        # after_step itself runs in C when the property checks are compiled (check_new)
        checks = monitor.compiled_checks(witness) if monitor.compiled else None
        # the split slot's id after part writes: found in C when its parts were seen before
        split = (stepper.split_step, stepper._mparts, stepper._mintern)
        # the compiled visited table finds a visited successor without building its key
        if type(self.ids) is dict:
            self.ids = _bfsloop.Visited(self.ids)
        expanded = 0
        while frontier:
            if self._stop_requested:
                return "interrupted"
            record = self.record_graph
            graph = (self.esrc.append, self.edst.append, self.etid.append) if record else None
            code, done, trans = _bfsloop.bfs_batch(
                frontier, frontier.popleft, frontier.append, stepper._plans,
                stepper.fast_outcomes, stepper.vkey, m, split, self.ids,
                self._canon, self.states.keys.append, self.parent, self.parent.append,
                self.via_tid.append, self.depth, self.depth.append, self.via_choices, graph,
                record, self.graph_limit, max_states, self.stop_at_first, violations,
                self.model.table.done_ids, gates, on_new, generic, deadlock, stepper._memo,
                stepper._memo_node, _UNMEMO, stepper.fast_chain_generic, check_full,
                _FINISHED, _MAX_PLANS, BATCH - (expanded % BATCH), checks)
            expanded += done
            self.transitions += trans
            if code == 0:
                break
            n = len(self.parent)
            if record and n > self.graph_limit:
                self._drop_graph()
            if n >= max_states and frontier:
                return "max-states"
            if expanded % BATCH == 0 or self._done_early():
                hit = self._between_batches(
                    start, self.depth[frontier[0][0]] if frontier else 0)
                if hit:
                    return hit
        return "exhausted"

    def _fast_items(self, sid: int, d1: int, items: list) -> int:
        """:meth:`_bfs_fast`'s successors of an atomic section, a spawn or an effect without
        declared slots: ``(tid, choices, state2, key2, mask)``; *mask* None (the changes were
        not tracked) checks every property."""
        ids, parent = self.ids, self.parent
        record = self.record_graph
        monitor = self._monitor
        violations, witness = self.violations, self.witness
        done_ids = self.model.table.done_ids
        canon = self._canon
        for tid, choices, nxt, k2, mask in items:
            n = len(parent)
            if canon is None:
                nid = ids.setdefault(k2, n)
            else:
                nid = ids.get(k2)
                if nid is None:
                    nid = ids[k2] = ids.setdefault(canon(k2), n)
            if nid == n:
                self.states.keys.append(k2)
                parent.append(sid)
                self.via_tid.append(tid)
                if choices:
                    self.via_choices[nid] = choices
                self.depth.append(d1)
                if mask is None:
                    self._check(nid, nxt)
                else:
                    gw, gl, gall = monitor.gates(violations, witness)
                    if gall or (mask & gw) or (gl >> tid) & 1 or nxt[1][tid] in done_ids:
                        fail, reach = monitor.after_step(nxt, mask, tid, violations, witness)
                        for name in fail:
                            violations[name] = nid
                        for name in reach:
                            witness[name] = nid
                self.frontier.append((nid, nxt, k2))
            if record:
                self.esrc.append(sid)
                self.edst.append(nid)
                self.etid.append(tid)
        return len(items)

    def _bfs_sleep(self, sid: int, d: int, succ: list, only) -> None:
        """Expand *sid* exploring only the steps its sleep set leaves awake (see SleepSets)."""
        ids, key, sleep, frontier = self.ids, self.key, self.sleep, self.frontier
        items = sleep.explore(sid, succ, only)
        record = self.record_graph
        if record and only is None and len(items) < len(succ):
            self.por_skipped.extend(skipped_steps(sid, succ, items))
        for tid, choices, nxt, zs in items:
            k = key(nxt)
            nid = ids.get(k)
            if nid is None:
                nid = self._add(nxt, sid, tid, choices, d + 1, k)
                frontier.append((nid, nxt))
                sleep.arrive(nid, zs, True)
            else:
                woke = sleep.arrive(nid, zs, False)
                if woke:
                    frontier.append((nid, nxt, woke))
            if record:
                self.esrc.append(sid)
                self.edst.append(nid)
                self.etid.append(tid)
        self.transitions += len(items)
        if record and self.count > self.graph_limit:
            self._drop_graph()

    def _dfs(self, start: float) -> str:
        ids, depth, key = self.ids, self.depth, self.key
        max_depth = self.bounds.max_depth
        esrc, edst, etid = self.esrc, self.edst, self.etid
        clock = time.perf_counter
        max_states = self.bounds.max_states or sys.maxsize
        stack = [(0, self._expand(0, self._init), 0)]
        expanded = 1
        while stack:
            if self._stop_requested:
                return "interrupted"
            sid, succ, i = stack[-1]
            d = depth[sid]
            if i == 0:
                if max_depth is not None and d >= max_depth:
                    if succ:
                        self.truncated = True
                    stack.pop()
                    continue
                self.transitions += len(succ)
            if i >= len(succ):
                stack.pop()
                continue
            stack[-1] = (sid, succ, i + 1)
            tid, choices, nxt = succ[i]
            k = key(nxt)
            nid = ids.get(k)
            if nid is None:
                nid = self._add(nxt, sid, tid, choices, d + 1, k)
                stack.append((nid, self._expand(nid, nxt), 0))
                expanded += 1
                if self.count >= max_states:
                    return "max-states"
                if (expanded & 1023) == 0 or self._done_early():
                    now = clock()
                    self.progress.tick(self.count, d + 1, len(stack), now)
                    hit = self._budget_hit(now, start)
                    if hit:
                        return hit
                    if self._done_early():
                        return "first"
            elif depth[nid] > d + 1 and max_depth is not None:
                # reached again on a shorter path: its subtree may have been cut by the bound
                depth[nid] = d + 1
                stack.append((nid, self._expand(nid, nxt), 0))
            if self.record_graph:
                esrc.append(sid)
                edst.append(nid)
                etid.append(tid)
                if self.count > self.graph_limit:
                    self._drop_graph()
        return "max-depth" if self.truncated else "exhausted"

    def _drop_graph(self) -> None:
        self.record_graph = False
        self.esrc = array("l")
        self.edst = array("l")
        self.etid = array("h")

    # -- schedules and results ---------------------------------------------------------------
    def schedule(self, sid: int) -> list[tuple[int, tuple]]:
        """The steps ``(tid, choices)`` from the initial state to state *sid*."""
        steps = []
        while sid > 0:
            steps.append((self.via_tid[sid], self.via_choices.get(sid, ())))
            sid = self.parent[sid]
        steps.reverse()
        return steps

    def _result(self, stop: str, seconds: float) -> CheckResult:
        from .liveness import termination_check  # graph code only when needed
        from ..trace import build_trace

        model = self.model
        exhausted = stop == "exhausted"
        res = CheckResult(model.spec, model.scenario, dict(model.params), self.engine,
                          self.bounds, distinct=self.count, transitions=self.transitions,
                          depth=max(self.depth) if len(self.depth) else 0, seconds=seconds,
                          stop=stop)
        res.bytes_per_state = self.memory_bytes() / max(1, self.count)
        from .coverage import unreached
        res.unreached = unreached(model)
        if self.compact:
            res.reductions.append("64-bit fingerprints")
            res.collision_probability = collision_probability(self.count, self.transitions)
            res.notes.append(f"fingerprints: probability that a collision hid a state "
                             f"(optimistic, as TLC computes it) {res.collision_probability:.1e}")
        if self.por is not None:
            res.reductions.append("partial-order reduction (ample sets on private state)")
            if exhausted and self.record_graph:
                self.graph_complete = complete_graph(self)
            if self.graph_complete:
                res.notes.append("partial-order reduction was used: every step it skipped "
                                 "leads to a visited state, so termination was analysed on "
                                 "the full state graph")
            else:
                res.notes.append("partial-order reduction was used and skipped steps to "
                                 "states it did not visit: termination was not analysed")
        if self.sleep is not None:
            res.reductions.append("sleep sets on effect independence")
            res.notes.append(f"sleep sets: {self.sleep.slept:,} steps not explored (asleep), "
                             f"{self.sleep.reexpanded:,} states re-expanded for steps woken "
                             "up; every state is visited, traces may not be the shortest")
        if self.symmetry is not None:
            res.reductions.append("symmetry")
            res.notes.append("symmetry reduction was used: safety verdicts hold for every "
                             "permutation of the declared units; termination is decided only "
                             "when the graph of orbits has no cycle")
        for p in self._props:
            res.properties.append(self._property_result(p, exhausted, build_trace,
                                                        termination_check))
        if not exhausted:
            res.notes.append(f"search stopped ({stop}) after {self.count:,} states: "
                             "undecided properties are UNKNOWN")
        return res

    def _property_result(self, p, exhausted, build_trace, termination_check) -> PropertyResult:
        return property_result(self, p, exhausted, build_trace, termination_check,
                               self._violation_message)

    def _violation_message(self, p, sid: int) -> str:
        if p.kind == DEADLOCK:
            waits = "; ".join(f"{t} waits: {why}" for t, why in self.deadlocks[sid])
            return f"deadlock after {self.depth[sid]} steps: {waits}"
        if p.kind == ASSERTIONS:
            table = self.model.table
            for lid in self.state_of(sid)[1]:
                if table.crashed[lid] is not None:
                    return f"task {table.name[lid]!r} raised {table.crashed[lid]}"
        if p.kind == FINAL:
            return f"fails in a final state reached after {self.depth[sid]} steps"
        return f"fails in a state reached after {self.depth[sid]} steps"


def collision_probability(distinct: int, generated: int) -> float:
    """TLC's optimistic estimate that a 64-bit fingerprint collision hid a state."""
    return distinct * max(0, generated - distinct) / 2.0 ** 64


def check(model: Model, engine: str = "bfs", bounds: Bounds | None = None, **kw) -> CheckResult:
    """Exhaustively check every property of *model*; see :class:`Search`."""
    return Search(model, engine, bounds, **kw).run()


LOST = "its trace could not be rebuilt: the partitions that hold its path were stopped"


def property_result(search, p, exhausted: bool, build_trace, termination_check,
                    message) -> PropertyResult:
    """The verdict of property *p* after *search* (a :class:`Search` or a distributed search:
    anything with ``witness``, ``violations``, ``depth`` and ``count``).  ``message(p, sid)``
    words a violation; it and ``build_trace`` may return None when the state's path cannot be
    rebuilt (a distributed search that lost a partition): the verdict then stays UNKNOWN and
    says why, never HOLDS or VIOLATED without its trace."""
    pr = PropertyResult(p.name, p.kind, Verdict.UNKNOWN, doc=p.doc)
    depth = search.depth
    if p.kind == SOMETIMES:
        sid = search.witness.get(p.name)
        if sid is not None:
            msg = f"reached after {depth[sid]} steps"
            trace = build_trace(search, sid, p, "HOLDS", msg)
            if trace is None:
                pr.message = f"{msg}, but {LOST}"
                return pr
            pr.verdict, pr.message, pr.trace = Verdict.HOLDS, msg, trace
        elif exhausted:
            pr.verdict = Verdict.VIOLATED
            pr.message = (f"vacuous: never reached in {search.count:,} states - the "
                          "scenario cannot get there, so the other verdicts prove nothing "
                          "about it")
        else:
            pr.message = "not reached before the search stopped"
        return pr
    if p.kind == TERMINATION:
        return termination_check(search, p, pr, exhausted, build_trace)
    sid = search.violations.get(p.name)
    if sid is not None:
        msg = message(p, sid)
        trace = build_trace(search, sid, p, "VIOLATED", msg) if msg else None
        if trace is None:
            pr.message = f"fails in a state reached after {depth[sid]} steps, but {LOST}"
            return pr
        pr.verdict, pr.message, pr.trace = Verdict.VIOLATED, msg, trace
    elif exhausted:
        pr.verdict = Verdict.HOLDS
        pr.message = f"in all {search.count:,} states"
    else:
        pr.message = "no violation in the states explored, but the search did not finish"
    return pr
