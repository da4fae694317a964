"""One exhaustive breadth-first search split over hash partitions (Stern and Dill's scheme).

Owns the partitioned BFS: the per-partition share of the search (:class:`Partition`), the
coordinator that drives it level by level (:class:`DistributedSearch`) and the merged result.
The two transports that carry the same protocol live beside it: worker processes on this
machine (:mod:`khomc.engines.dist_local`) and Ray actors, on this machine or on a cluster
(:mod:`khomc.engines.dist_ray`).

The algorithm.  Every state has one owner, ``owner(state) = H(state) mod P``, where ``H`` is a
hash that is the same in every process: a 64-bit digest of each world slot's value and of each
task's local state, encoded canonically (:func:`stable_fingerprint`; Python's ``hash`` differs
between processes for strings and for objects hashed by identity).  A partition holds the
visited set of the states it owns and its part of the frontier.  One BFS level is two rounds:

1. ``expand``: every partition expands its frontier states; each successor is sent, batched per
   owner, to the partition that owns it (kept in place when it owns it itself);
2. ``receive``: each owner deduplicates what it received against its visited set, keeps the new
   states and checks the state properties on them (``assertions``, ``always``, ``final``,
   ``sometimes``); ``deadlock-free`` is checked in round 1 on states without successors.

Identical to the single-process BFS, not only equivalent.  A successor carries the key
``(rank of its parent in its level, index in the parent's successor list)``, which orders the
successors of a level exactly as the single-process BFS discovers them.  An owner keeps, for a
state reached several times in one level, the step with the smallest key (the one the
single-process BFS takes first); after each level the coordinator merges the owners' sorted
keys into the level's global ranks.  So global state number = states of earlier levels + rank,
which is exactly the single-process state id; the first violation of a property is the
violating state of smallest id, and the discovery tree (parent, task, choices) is the same
tree.  Counts, verdicts and traces therefore equal ``Search(model, 'bfs')``'s, and a
counterexample is the same shortest trace, rebuilt by the coordinator (which asks the owners
for each state's parent, level by level) and replayable by ``khomc replay``.  ``terminates``
is decided on the same state graph: owners record each transition (source id, successor index,
task, target) and the coordinator, when the graph is within ``graph_limit`` states, orders them
as the single-process search recorded them and runs :mod:`khomc.engines.liveness` on them.

Portable states.  Local ids of task states are numbered per process (:class:`TaskTable`), so a
state crosses a process boundary as ``(world, sender's local ids)`` and the first time a
sender names a local id to a receiver it sends its definition, ``(task, observations)`` (the
task's start spec and :meth:`TaskTable.history`); the receiver rebuilds it with
``TaskTable.start`` and ``TaskTable.advance`` (memoized) and keeps the translation.  World slot
values work the same way: each process numbers the distinct values it has seen (value ids), a
successor travels as ``(value ids, local ids)`` and a value crosses each link once, pickled
(the world holds immutable values: tuples, frozensets, frozen dataclasses; objects of the
model's build - a KHO object a notifier passes on, functions re-bound into an era - go by their
path from the model's roots, :class:`BuildRefs`).  The receiver maps each value to its own
object for it, so states share slot objects as they do in one process.

Budgets and faults.  ``max_depth`` is exact (a level bound); ``max_states`` and
``time_limit`` are checked after each level (the count may pass ``max_states`` by at most one
level).  A partition that dies (a killed process, a lost Ray actor) ends the search with
``stop = "worker-lost"``: every property not decided by the levels completed before is
UNKNOWN, never HOLDS.  Ctrl-C stops at the next round (a second Ctrl-C at once), stops every
worker and keeps what was reached (``stop = "interrupted"``).  Not supported here (refused by
the CLI): DFS, ``--compact``, ``--symmetry``, ``--por``, ``--first``, checkpoints.
"""

from __future__ import annotations

import hashlib
import pickle
import resource
import signal
import sys
import time
import types
from array import array
from dataclasses import fields, is_dataclass
from enum import Enum

from ..runtime.spec import ASSERTIONS, DEADLOCK, FINAL, TERMINATION
from .result import Bounds, CheckResult, PropertyResult, Verdict

DEFAULT_GRAPH_LIMIT = 2_000_000
IDX_BITS = 20                  # successor index bits of a key (a state has < 2**20 successors)
IDX_MASK = (1 << IDX_BITS) - 1
PART_BITS = 8                  # partition bits in the coordinator's merge (P <= 256)
MAX_PARTITIONS = 1 << PART_BITS


class WorkerLost(Exception):
    """A partition's process or actor died; the message names it."""


# -- hash-seed independent fingerprints ------------------------------------------------------
#
# Only the owner function uses them, so they need to be a function of the value (equal values,
# equal fingerprints, in every process), not injective: a collision only puts two states on the
# same partition.  Equal values of different types (1 == 1.0 == True, a Var and the plain tuple
# it equals) are encoded alike for that reason.

_SCALARS = (type(None), bool, int, float, str, bytes)
MAX_NEST = 32


def _canon(v, out: list, depth: int, memo: dict) -> None:
    t = type(v)
    if v is None:
        out.append(b"N")
    elif t is bool or t is int:
        out.append(b"i%d;" % v)
    elif t is float:
        out.append((b"i%d;" % int(v)) if v.is_integer() else (b"f" + repr(v).encode() + b";"))
    elif t is str:
        b = v.encode("utf-8", "surrogatepass")
        out.append(b"s%d:" % len(b) + b)
    elif t is bytes:
        out.append(b"b%d:" % len(v) + v)
    elif depth > MAX_NEST:
        out.append(b"~")
    else:
        # a value reached along several paths (shared sub-objects) is encoded once.  The memo
        # holds the object itself beside its encoding: an id is unique only among live
        # objects, and the encoding builds temporaries (a named tuple's or a dataclass's field
        # tuple, an effect's key()) that die at once, so an unpinned id would be handed to the
        # next temporary (CPython's tuple free lists) and that one would take the dead one's
        # encoding - a fingerprint depending on the process's allocation history (issue 13)
        k = (id(v), depth)
        done = memo.get(k)
        if done is None:
            sub: list = []
            _canon_composite(v, t, sub, depth, memo)
            done = memo[k] = (v, b"".join(sub))
        out.append(done[1])


def _canon_composite(v, t, out: list, depth: int, memo: dict) -> None:
    d1 = depth + 1
    if isinstance(v, tuple) and not hasattr(v, "_fields"):
        out.append(b"(%d:" % len(v))
        for x in v:
            _canon(x, out, d1, memo)
        out.append(b")")
    elif isinstance(v, (frozenset, set)):
        parts = sorted(_bytes(x, d1, memo) for x in v)
        out.append(b"{%d:" % len(parts))
        out.extend(parts)
        out.append(b"}")
    elif isinstance(v, dict):
        parts = sorted(_bytes(k, d1, memo) + b"=" + _bytes(x, d1, memo) for k, x in v.items())
        out.append(b"d%d:" % len(parts))
        out.extend(parts)
        out.append(b"}")
    elif isinstance(v, list):
        out.append(b"[%d:" % len(v))
        for x in v:
            _canon(x, out, d1, memo)
        out.append(b"]")
    elif t is types.CodeType:
        name = v.co_filename.rsplit("/", 1)[-1]
        out.append(f"c{name}:{v.co_qualname}:{v.co_firstlineno};".encode())
    elif isinstance(v, type):
        out.append(f"t{v.__module__}.{v.__qualname__};".encode())
    elif isinstance(v, Enum):
        out.append(f"e{type(v).__qualname__}.{v.name};".encode())
    elif isinstance(v, range):
        out.append(b"r%d,%d,%d;" % (v.start, v.stop, v.step))
    elif isinstance(v, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        out.append(f"F{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', '')};".encode())
    else:
        out.append(f"o{t.__module__}.{t.__qualname__}(".encode())
        key = getattr(v, "key", None)
        if isinstance(v, tuple):                    # a named tuple
            state = tuple(v)
        elif is_dataclass(v):
            state = tuple(getattr(v, f.name) for f in fields(v) if f.compare)
        elif t.__reduce__ is not object.__reduce__:
            try:                                    # rebuilt from these in any process
                state = v.__reduce__()[1:2]
            except Exception:                       # noqa: BLE001 - only balance depends on it
                state = ()
        elif callable(key):
            try:
                state = key()                       # effects: their identity is key()
            except Exception:                       # noqa: BLE001 - only balance depends on it
                state = ()
        elif t.__eq__ is object.__eq__:
            state = ()                              # equal only to itself: its type will do
        else:
            # attributes named _x are left out: caches such as a hash computed in-process
            # (leaving an attribute out only makes the encoding coarser, never unequal)
            slots = [s for k in t.__mro__ for s in getattr(k, "__slots__", ())
                     if not s.startswith("_")]
            d = getattr(v, "__dict__", None)
            if slots:
                state = tuple(getattr(v, s, None) for s in slots)
            elif d:
                state = tuple(sorted((k, x) for k, x in d.items() if not k.startswith("_")))
            else:
                state = ()
        _canon(state, out, d1, memo)
        out.append(b")")


def _bytes(v, depth: int = 0, memo: dict | None = None) -> bytes:
    out: list = []
    _canon(v, out, depth, {} if memo is None else memo)
    return b"".join(out)


def stable_fingerprint(v) -> int:
    """A 63-bit fingerprint of *v*, the same in every process (see the comment above)."""
    return int.from_bytes(hashlib.blake2b(_bytes(v), digest_size=8).digest(), "little") >> 1


class _ValueIds(dict):
    """World slot value -> this process's value id; ``vals[id]`` is the value (one object per
    distinct value, shared by every state), ``fps[id]`` its stable fingerprint."""

    __slots__ = ("vals", "fps")

    def __init__(self):
        super().__init__()
        self.vals: list = []
        self.fps: list = []

    def __missing__(self, v):
        i = self[v] = len(self.vals)
        self.vals.append(v)
        self.fps.append(stable_fingerprint(v))
        return i


class _LidFingerprints(dict):
    """local id -> stable fingerprint of the task's local state (its key in the table)."""

    __slots__ = ("table",)

    def __init__(self, table):
        super().__init__()
        self.table = table

    def __missing__(self, lid):
        t = self.table
        fp = self[lid] = stable_fingerprint((t.name[lid], t.key_of[lid]))
        return fp


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- shipping world values -------------------------------------------------------------------
#
# World values are immutable data, but some hold objects of the model's build: the KHO object a
# notifier block passes to its callback, functions re-bound into an era's namespace, modules.
# Those cannot be pickled by value (and must not be: the receiver has its own).  Every process
# builds the same model deterministically, so such an object is named by its path from the
# model's roots (task functions and arguments, the initial world) and the receiver takes the
# object at the same path in its own build.

_LEAVES = (type(None), bool, int, float, complex, str, bytes, range, type, types.ModuleType,
           types.BuiltinFunctionType, types.CodeType)


class BuildRefs:
    """Objects reachable from a model's roots, by path (breadth-first, first path wins)."""

    def __init__(self, model, limit: int = 200_000):
        from collections import deque
        self.by_id: dict[int, tuple] = {}
        self.by_path: dict[tuple, object] = {}
        self._keep: list = []
        queue = deque()
        for i, t in enumerate(model.tasks):
            queue.append((t.fn, ("t", i, "fn")))
            queue.append((t.args, ("t", i, "args")))
        queue.append((model.initial_world, ("w",)))
        while queue and len(self._keep) < limit:
            obj, path = queue.popleft()
            if isinstance(obj, _LEAVES) or id(obj) in self.by_id:
                continue
            self.by_id[id(obj)] = path
            self.by_path[path] = obj
            self._keep.append(obj)
            if isinstance(obj, (tuple, list)):
                for j, x in enumerate(obj):
                    queue.append((x, path + (j,)))
            elif isinstance(obj, dict):
                for j, x in enumerate(obj.values()):
                    queue.append((x, path + ("#", j)))
            elif isinstance(obj, (set, frozenset)):
                continue                        # iteration order is not a path
            elif isinstance(obj, types.FunctionType):
                for j, c in enumerate(obj.__closure__ or ()):
                    try:
                        queue.append((c.cell_contents, path + ("c", j)))
                    except ValueError:
                        pass
                if obj.__defaults__:
                    queue.append((obj.__defaults__, path + ("d",)))
            else:
                d = getattr(obj, "__dict__", None)
                if isinstance(d, dict):
                    queue.append((d, path + ("__dict__",)))
                for k in type(obj).__mro__:
                    for name in getattr(k, "__slots__", ()):
                        if hasattr(obj, name) and name != "__dict__":
                            queue.append((getattr(obj, name), path + ("s", name)))


_BY_VALUE = frozenset({tuple, list, dict, set, frozenset, int, float, str, bytes, bool,
                       type(None), complex, range})


def _module(name: str):
    import importlib
    return importlib.import_module(name)


class _Pickler(pickle.Pickler):
    def __init__(self, file, refs: BuildRefs):
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self._ids = refs.by_id

    def persistent_id(self, obj):
        # data (tuples, frozensets, named tuples, dataclasses, anything compared by value)
        # travels by value; only objects compared by identity (functions, the KHO object,
        # an era's namespace) by their path in the build
        t = type(obj)
        if t in _BY_VALUE or (t.__eq__ is not object.__eq__
                              and t is not types.SimpleNamespace
                              and not issubclass(t, types.SimpleNamespace)):
            return None
        return self._ids.get(id(obj))

    def reducer_override(self, obj):
        if isinstance(obj, types.ModuleType):
            return (_module, (obj.__name__,))
        if type(obj) is types.FunctionType and "<locals>" in obj.__qualname__:
            raise ValueError(f"a world value holds the function {obj.__qualname__} made while "
                             "the model ran: the partitioned search cannot ship it to another "
                             "process (check without --partitions)")
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, refs: BuildRefs):
        super().__init__(file)
        self._paths = refs.by_path

    def persistent_load(self, pid):
        try:
            return self._paths[pid]
        except KeyError:
            raise ValueError(f"no object at {pid!r} in this process's build of the model: the "
                             "partitions built different models") from None


def dumps(obj, refs: BuildRefs) -> bytes:
    import io
    buf = io.BytesIO()
    _Pickler(buf, refs).dump(obj)
    return buf.getvalue()


def loads(data: bytes, refs: BuildRefs):
    import io
    return _Unpickler(io.BytesIO(data), refs).load()


# -- one partition ---------------------------------------------------------------------------

class Partition:
    """Partition *index* of *count*: its visited set, its frontier, its part of the tree.

    Runs in a worker process or a Ray actor; every method takes and returns plain picklable
    values.  State numbers here are local (*sid*); the coordinator hands out the global ones
    (*gid*, the single-process BFS's state ids) after each level."""

    def __init__(self, spec: str, scenario: str, params: dict, index: int, count: int,
                 record_graph: bool = True, max_depth: int | None = None):
        from .. import registry
        from ..runtime.step import Stepper
        from .monitor import Monitor
        if not 0 < count <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be 1..{MAX_PARTITIONS}")
        self.index, self.count = index, count
        self.model = model = registry.build(spec, scenario, params)
        self.table = model.table
        self.stepper = Stepper(model)
        self.monitor = Monitor(model)
        self.sometimes = frozenset(p.name for p in self.monitor.sometimes)
        self.max_depth = max_depth
        self.record = record_graph
        self.ids: dict = {}
        self.gid = array("q")                 # local sid -> global id (-1 until ranked)
        self.parent = array("q")              # key while new, then the parent's global id
        self.via_tid = array("h")
        self.via_choices: dict[int, tuple] = {}
        self.level_start = 0                  # first local sid of the level being received
        self.new_states: list = []            # states of that level, by sid - level_start
        self.order: list[int] = []            # that level's sids in key order
        self.frontier: list = []              # (rank, state) of the level to expand
        self.frontier_sids: list = []
        self.transitions = 0
        self.truncated = False
        self.skip: set = set()                # properties violated (or reached) globally
        # edges, for termination: (source gid << IDX_BITS | index), target sid, task
        self.ecode = array("q")
        self.edst = array("l")
        self.etid = array("h")
        # portable local ids
        self.spec_ref = {spec: i for i, spec in enumerate(model.tasks)}
        self.sent: list[set] = [set() for _ in range(count)]
        self.recv: list[dict] = [{} for _ in range(count)]
        self.starts: dict = {}
        self.vid = _ValueIds()
        self.vsent: list[set] = [set() for _ in range(count)]
        self.vrecv: list[dict] = [{} for _ in range(count)]
        self.fpl = _LidFingerprints(self.table)
        self.outbox: list = [[] for _ in range(count)]
        self.local: list = []
        self._gid_index: dict | None = None
        self.refs = BuildRefs(model)
        self.rss0 = _rss_bytes()

    def pid(self) -> int:
        import os
        return os.getpid()

    # -- ownership -----------------------------------------------------------------------------
    def owner(self, state) -> int:
        if self.count == 1:
            return 0
        world, locs = state
        vids = tuple(map(self.vid.__getitem__, world))
        return hash(tuple(map(self.vid.fps.__getitem__, vids))
                    + tuple(map(self.fpl.__getitem__, locs))) % self.count

    # -- level 0 -------------------------------------------------------------------------------
    def seed(self):
        """Take the initial state if this partition owns it; then as :meth:`receive`."""
        init = self.stepper.initial()
        self.level_start = len(self.parent)
        self.new_states = []
        if self.owner(init) == self.index:
            self._new(init, 0, 0, ())
        return self._close_level()

    # -- round 1: expand the frontier, batch successors per owner ------------------------------
    def expand(self, depth: int, level_offset: int):
        """Expand this partition's frontier (level *depth*, whose global ids start at
        *level_offset*).  Returns ``(stats, payloads)``: per destination partition, the
        pickled batch for it (None for this partition: its own successors stay here)."""
        stepper = self.stepper
        expand = stepper.expand
        me, count = self.index, self.count
        outbox = self.outbox = [[] for _ in range(count)]
        local = self.local = []
        defs: list = [[] for _ in range(count)]
        vdefs: list = [[] for _ in range(count)]
        sent, vsent = self.sent, self.vsent
        vid = self.vid
        vidget, vals, fpget = vid.__getitem__, vid.vals, vid.fps.__getitem__
        fplget = self.fpl.__getitem__
        transitions = 0
        deadlock = None
        truncated = False
        cut = self.max_depth is not None and depth >= self.max_depth
        for rank, state in self.frontier:
            succ = expand(state)
            if not succ and deadlock is None and not stepper.all_done(state):
                deadlock = (rank, stepper.blocked(state))
            if cut:
                truncated = truncated or bool(succ)
                continue
            transitions += len(succ)
            base = rank << IDX_BITS
            for i, (tid, choices, nxt) in enumerate(succ):
                if count == 1:
                    local.append((base | i, nxt, tid, choices))
                    continue
                # the owner: a hash of the values' and task states' stable fingerprints
                world, locs = nxt
                vids = tuple(map(vidget, world))
                o = hash(tuple(map(fpget, vids)) + tuple(map(fplget, locs))) % count
                if o == me:
                    local.append((base | i, nxt, tid, choices))
                    continue
                # values and task states the receiver has not been told about yet, then the
                # state as value ids and local ids
                vs = vsent[o]
                if not vs.issuperset(vids):
                    for v in vids:
                        if v not in vs:
                            vs.add(v)
                            vdefs[o].append((v, vals[v]))
                so = sent[o]
                if not so.issuperset(locs):
                    for lid in locs:
                        if lid not in so:
                            so.add(lid)
                            defs[o].append(self._definition(lid))
                outbox[o].append((base | i, vids, locs, tid, choices))
        self.transitions += transitions
        self.truncated = self.truncated or truncated
        self.frontier = []
        payloads = []
        for o in range(count):
            if o == me:
                payloads.append(None)
            else:
                # values through the build-aware pickler, the (many, small) states plainly
                payloads.append(pickle.dumps(
                    (me, dumps((defs[o], vdefs[o]), self.refs),
                     pickle.dumps(outbox[o], pickle.HIGHEST_PROTOCOL)),
                    pickle.HIGHEST_PROTOCOL))
        self.outbox = None
        stats = {"transitions": transitions, "deadlock": deadlock, "truncated": truncated,
                 "sent": sum(len(p) for p in payloads if p)}
        return stats, payloads

    def expand_split(self, depth: int, level_offset: int):
        """:meth:`expand` as one tuple ``(stats, payload for 0, payload for 1, ...)`` (Ray
        stores each element as its own object, fetched by its owner only)."""
        stats, payloads = self.expand(depth, level_offset)
        return (stats, *payloads)

    def node(self) -> str:
        """The Ray node this partition runs on (its id), or the host name outside Ray."""
        try:
            import ray
            return ray.get_runtime_context().get_node_id()
        except Exception:  # noqa: BLE001 - not in a Ray worker
            import socket
            return socket.gethostname()

    def _definition(self, lid: int):
        t = self.table
        spec = t.spec_of[lid]
        ref = self.spec_ref.get(spec)
        return (lid, ("spec", spec) if ref is None else ref, tuple(t.history(lid)))

    def _define(self, sender: int, d) -> None:
        lid, ref, hist = d
        start = self.starts.get(ref)
        if start is None:
            spec = self.model.tasks[ref] if isinstance(ref, int) else ref[1]
            start = self.starts[ref] = self.table.start(spec)
        cur = start
        advance = self.table.advance
        for obs in hist:
            cur = advance(cur, obs)
        self.recv[sender][lid] = cur

    # -- round 2: deduplicate, keep the smallest key, check the new states ---------------------
    def receive(self, level_offset: int, *payloads):
        """Take the successors sent to this partition (level *depth*+1; the sources' global
        ids start at *level_offset*) and its own; return the sorted keys of its new states and
        its first violations and witnesses among them (by key)."""
        self.level_start = len(self.parent)
        self.new_states = []
        batches = [(None, None, self.local)]
        vid = self.vid
        vals = vid.vals
        for p in payloads:
            if p is not None:
                sender, blob, iblob = pickle.loads(p)
                defs, vdefs = loads(blob, self.refs)
                for d in defs:
                    self._define(sender, d)
                rv = self.vrecv[sender]
                for v, value in vdefs:
                    rv[v] = vals[vid[value]]        # this process's object for the value
                batches.append((self.recv[sender], rv, pickle.loads(iblob)))
        self.local = []
        ids, parent, via_tid, via_choices = self.ids, self.parent, self.via_tid, self.via_choices
        start = self.level_start
        record = self.record
        ecode, edst, etid = self.ecode, self.edst, self.etid
        for tr, rv, items in batches:
            if tr is None:
                it = items
            else:
                get, vget = tr.__getitem__, rv.__getitem__
                it = ((k, (tuple(map(vget, w)), tuple(map(get, l))), t, c)
                      for k, w, l, t, c in items)
            for key, st, tid, choices in it:
                sid = ids.get(st)
                if sid is None:
                    sid = self._new(st, key, tid, choices)
                elif sid >= start and key < parent[sid]:
                    parent[sid] = key
                    via_tid[sid] = tid
                    if choices:
                        via_choices[sid] = choices
                    else:
                        via_choices.pop(sid, None)
                if record:
                    ecode.append((level_offset + (key >> IDX_BITS)) << IDX_BITS | (key & IDX_MASK))
                    edst.append(sid)
                    etid.append(tid)
        return self._close_level()

    def _new(self, state, key, tid, choices) -> int:
        sid = len(self.parent)
        self.ids[state] = sid
        self.parent.append(key)
        self.via_tid.append(tid)
        if choices:
            self.via_choices[sid] = choices
        self.gid.append(-1)
        self.new_states.append(state)
        return sid

    def _close_level(self):
        start = self.level_start
        parent = self.parent
        order = sorted(range(start, len(parent)), key=parent.__getitem__)
        self.order = order
        monitor = self.monitor
        skip = set(self.skip)
        wskip = set(self.skip)
        violations: dict = {}
        witness: dict = {}
        states = self.new_states
        for sid in order:
            st = states[sid - start]
            for name in monitor.failing(st, skip):
                violations[name] = parent[sid]
                skip.add(name)
            if self.sometimes and not self.sometimes <= wskip:
                for name in monitor.reached(st, wskip):
                    witness[name] = parent[sid]
                    wskip.add(name)
        keys = array("q", [parent[s] for s in order])
        return {"keys": keys, "violations": violations, "witness": witness,
                "states": len(parent), "rss": _rss_bytes() - self.rss0}

    # -- between levels: global ids and the next frontier --------------------------------------
    def commit(self, ranks, level_offset: int, parent_offset: int, decided):
        """The global ranks of this partition's new states (in key order): their global ids
        are *level_offset* + rank, their parents' *parent_offset* + the key's rank; they form
        the next frontier.  *decided*: properties now violated or reached (skipped from now)."""
        self.skip = set(decided)
        start = self.level_start
        states = self.new_states
        parent, gid = self.parent, self.gid
        frontier = []
        for sid, rank in zip(self.order, ranks):
            gid[sid] = level_offset + rank
            parent[sid] = parent_offset + (parent[sid] >> IDX_BITS) if parent_offset >= 0 else -1
            frontier.append((rank, states[sid - start]))
        self.frontier = frontier
        self.new_states = []
        self.order = []
        return len(frontier)

    # -- after the search ---------------------------------------------------------------------
    def lookup(self, gids):
        """``{gid: (parent gid, task, choices)}`` for the states among *gids* owned here."""
        if self._gid_index is None:
            self._gid_index = {g: s for s, g in enumerate(self.gid) if g >= 0}
        out = {}
        for g in gids:
            s = self._gid_index.get(g)
            if s is not None:
                out[g] = (self.parent[s], self.via_tid[s], self.via_choices.get(s, ()))
        return out

    def edges(self):
        """This partition's recorded transitions as ``(codes, target gids, tasks)``."""
        gid = self.gid
        return self.ecode, array("q", [gid[s] for s in self.edst]), self.etid

    def drop_graph(self) -> None:
        self.record = False
        self.ecode, self.edst, self.etid = array("q"), array("l"), array("h")

    def memory(self) -> dict:
        return {"states": len(self.parent), "rss": _rss_bytes() - self.rss0}


# -- the coordinator ---------------------------------------------------------------------------

class _Depths:
    """depth[gid] from the level offsets (liveness reads search.depth)."""

    def __init__(self, offsets):
        self.offsets = offsets

    def __getitem__(self, gid):
        import bisect
        return bisect.bisect_right(self.offsets, gid) - 1

    def __len__(self):
        return self.offsets[-1]


class DistributedSearch:
    """A hash-partitioned BFS of *model* over *partitions* workers of *transport*
    ("local": processes on this machine; "ray": Ray actors, local or on *address*)."""

    engine = "bfs"
    symmetry = None
    por = None
    compact = False

    def __init__(self, model, partitions: int = 2, transport: str = "local",
                 address: str | None = None, bounds: Bounds | None = None,
                 progress: bool = False, graph_limit: int = DEFAULT_GRAPH_LIMIT,
                 on_level=None, stream=None):
        from ..runtime.step import Stepper
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise ValueError(f"--partitions must be 1..{MAX_PARTITIONS}")
        if transport not in ("local", "ray"):
            raise ValueError(f"unknown transport {transport!r} (local, ray)")
        self.model = model
        self.partitions = partitions
        self.transport_name = transport
        self.address = address
        self.bounds = bounds or Bounds()
        self.progress = progress
        self.stream = stream or sys.stderr
        self.graph_limit = graph_limit
        self.record_graph = graph_limit > 0
        self.stepper = Stepper(model)
        self.on_level = on_level          # called as on_level(self, depth) after each level
        self.offsets = [0]                # global id of each level's first state; last = count
        self.depth = _Depths(self.offsets)
        self.violations: dict[str, int] = {}
        self.witness: dict[str, int] = {}
        self.deadlocks: dict[int, list] = {}
        self.transitions = 0
        self.truncated = False
        self.balance: list[int] = [0] * partitions
        self.rss: list[int] = [0] * partitions
        self.transport = None
        self._tree: dict[int, tuple] = {0: (-1, 0, ())}
        self._stop_requested = False
        self.lost: str | None = None
        self.esrc = self.edst = self.etid = None

    @property
    def count(self) -> int:
        return self.offsets[-1]

    def _open(self):
        m = self.model
        job = (m.spec, m.scenario, dict(m.params), self.record_graph, self.bounds.max_depth)
        if self.transport_name == "local":
            from .dist_local import LocalTransport
            return LocalTransport(job, self.partitions)
        from .dist_ray import RayTransport
        return RayTransport(job, self.partitions, self.address)

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> CheckResult:
        start = time.perf_counter()
        stop = "exhausted"
        try:
            old = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:
            old = None
        try:
            self.transport = self._open()
            self._open_seconds = time.perf_counter() - start
            stop = self._levels(start)
        except KeyboardInterrupt:
            stop = "interrupted"
        except WorkerLost as exc:
            stop = "worker-lost"
            self.lost = str(exc)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        seconds = time.perf_counter() - start
        try:
            return self._result(stop, seconds)
        finally:
            if self.transport is not None:
                self.transport.close()
            if self._shown:
                self.stream.write("\n")
                self.stream.flush()

    _shown = False
    _open_seconds = 0.0

    def _on_sigint(self, signum, frame) -> None:
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True

    def _levels(self, start: float) -> str:
        tr = self.transport
        P = self.partitions
        infos = tr.call("seed", [()] * P)
        self._close(infos, -1)
        depth = 0
        b = self.bounds
        while True:
            n_level = self.offsets[-1] - self.offsets[-2]
            if n_level == 0:
                break
            if self._stop_requested:
                return "interrupted"
            now = time.perf_counter()
            self._tick(depth, n_level, now - start)
            if b.time_limit is not None and now - start >= b.time_limit:
                return "time-limit"
            if b.max_states is not None and self.count >= b.max_states:
                return "max-states"
            level_offset = self.offsets[-2]
            stats, infos = tr.exchange(depth, level_offset)
            for s in stats:
                self.transitions += s["transitions"]
                self.truncated = self.truncated or s["truncated"]
            dl = [s["deadlock"] for s in stats if s["deadlock"] is not None]
            if dl and "deadlock-free" not in self.violations:
                rank, waits = min(dl, key=lambda x: x[0])
                gid = level_offset + rank
                self.violations["deadlock-free"] = gid
                self.deadlocks[gid] = waits
            self._close(infos, level_offset)
            depth += 1
            if self.on_level is not None:
                self.on_level(self, depth)
            if self.record_graph and self.count > self.graph_limit:
                self.record_graph = False
                tr.call("drop_graph", [()] * P)
        self._tick(depth, 0, time.perf_counter() - start, final=True)
        return "max-depth" if self.truncated else "exhausted"

    def _close(self, infos, parent_offset: int) -> None:
        """Merge the partitions' sorted keys into global ranks, record first violations and
        witnesses, and commit the level (its states become the next frontier)."""
        P = self.partitions
        level_offset = self.offsets[-1]
        keys = [info["keys"] for info in infos]
        if P == 1:
            ranks = [range(len(keys[0]))]
        else:
            tagged = []
            for j, ks in enumerate(keys):
                tagged.extend([(k << PART_BITS) | j for k in ks])
            tagged.sort()
            ranks = [array("q") for _ in range(P)]
            appends = [r.append for r in ranks]
            mask = MAX_PARTITIONS - 1
            for pos, t in enumerate(tagged):
                appends[t & mask](pos)
        # key -> rank per partition, for the first violation / witness of each property
        for kind, table in (("violations", self.violations), ("witness", self.witness)):
            best: dict[str, tuple] = {}
            for j, info in enumerate(infos):
                for name, key in info[kind].items():
                    if name not in table and (name not in best or key < best[name][0]):
                        best[name] = (key, j)
            for name, (key, j) in best.items():
                import bisect
                i = bisect.bisect_left(keys[j], key)
                table[name] = level_offset + ranks[j][i]
        n = sum(len(k) for k in keys)
        self.offsets.append(level_offset + n)
        for j, info in enumerate(infos):
            self.balance[j] = info["states"]
            self.rss[j] = info["rss"]
        decided = sorted(set(self.violations) | set(self.witness))
        self.transport.call("commit", [(ranks[j], level_offset, parent_offset, decided)
                                       for j in range(P)])

    def _tick(self, depth: int, frontier: int, elapsed: float, final: bool = False) -> None:
        if not self.progress or (elapsed < 1.0 and not final) or (final and not self._shown):
            return
        now = time.perf_counter()
        tty = getattr(self.stream, "isatty", lambda: False)()
        if not final and now - getattr(self, "_last_tick", 0.0) < (1.0 if tty else 10.0):
            return
        self._last_tick = now
        total = max(1, sum(self.balance))
        bal = "/".join(f"{100 * b / total:.0f}" for b in self.balance)
        rate = self.count / elapsed if elapsed > 0 else 0.0
        line = (f"khomc: {self.count:,} distinct states, {rate:,.0f} states/s, depth {depth}, "
                f"frontier {frontier:,}, {self.partitions} partitions ({bal} %)")
        self.stream.write(("\r" + line + "\x1b[K") if tty else line + "\n")
        self.stream.flush()
        self._shown = tty

    # -- the discovery tree, fetched from the owners -------------------------------------------
    def _fetch(self, gids) -> None:
        """Fetch the tree entries of *gids* and all their ancestors (one round per level)."""
        want = {g for g in gids if g not in self._tree}
        while want:
            got: dict = {}
            for part in self.transport.call("lookup", [(sorted(want),)] * self.partitions):
                got.update(part)
            missing = want - set(got)
            if missing:
                raise WorkerLost(f"no partition holds state {min(missing)}")
            self._tree.update(got)
            want = {p for p, _, _ in got.values() if p >= 0 and p not in self._tree}

    def schedule(self, sid: int) -> list[tuple[int, tuple]]:
        self._fetch([sid])
        steps = []
        while sid > 0:
            parent, tid, choices = self._tree[sid]
            steps.append((tid, tuple(choices)))
            sid = parent
        steps.reverse()
        return steps

    def state_of(self, sid: int):
        state = self.stepper.initial()
        for tid, choices in self.schedule(sid):
            state, _ = self.stepper.execute(state, tid, choices)
        return state

    def key(self, state):
        return state

    def _gather_graph(self) -> None:
        """The recorded transitions of every partition, in the single-process search's order
        (by source id, then successor index)."""
        codes = []
        for ecode, edst, etid in self.transport.call("edges", [()] * self.partitions):
            codes.extend([(c << 48 | d) << 16 | t for c, d, t in zip(ecode, edst, etid)])
        codes.sort()
        mask48, mask16 = (1 << 48) - 1, (1 << 16) - 1
        self.esrc = array("l", [c >> (16 + 48 + IDX_BITS) for c in codes])
        self.edst = array("l", [(c >> 16) & mask48 for c in codes])
        self.etid = array("h", [c & mask16 for c in codes])

    # -- the result ----------------------------------------------------------------------------
    def _result(self, stop: str, seconds: float) -> CheckResult:
        from ..trace import build_trace
        from .coverage import unreached
        from .liveness import termination_check
        model = self.model
        exhausted = stop == "exhausted"
        res = CheckResult(model.spec, model.scenario, dict(model.params), "bfs", self.bounds,
                          distinct=self.count, transitions=self.transitions,
                          depth=self.depth[self.count - 1] if self.count else 0,
                          seconds=seconds, stop=stop)
        rss = sum(self.rss)
        res.bytes_per_state = rss / max(1, self.count) if rss > 0 else None
        res.unreached = unreached(model)
        total = max(1, sum(self.balance))
        where = ("processes on this machine" if self.transport_name == "local" else
                 f"Ray actors ({self.address or 'a local Ray'})")
        res.notes.append(
            f"distributed: {self.partitions} hash partitions ({where}), states per partition "
            + "/".join(f"{b:,}" for b in self.balance)
            + f" ({'/'.join(f'{100 * b / total:.0f}' for b in self.balance)} %)"
            + (f"; {self._open_seconds:.1f} s to start the workers" if self._open_seconds >= 0.5
               else ""))
        if self.lost:
            res.notes.append(f"a partition was lost ({self.lost}): the search ended with the "
                             f"{len(self.offsets) - 1} levels completed before; undecided "
                             "properties are UNKNOWN")
        usable = self.transport is not None and not self.transport.broken
        graph_ok = exhausted and self.record_graph and self.count <= self.graph_limit
        if graph_ok:
            try:
                self._gather_graph()
            except WorkerLost:
                graph_ok = False
        self.record_graph = graph_ok
        for p in model.properties:
            res.properties.append(self._property_result(p, exhausted, build_trace,
                                                        termination_check, usable))
        if not exhausted:
            res.notes.append(f"search stopped ({stop}) after {self.count:,} states: "
                             "undecided properties are UNKNOWN")
        return res

    def _traced(self, build, sid, p, verdict, message):
        """The trace to *sid*, or None when a lost partition held part of its path."""
        try:
            return build(self, sid, p, verdict, message)
        except (WorkerLost, OSError, EOFError):
            return None

    def _property_result(self, p, exhausted, build_trace, termination_check,
                         usable) -> PropertyResult:
        """As the single-process search words it (:func:`search.property_result`); a trace
        or message the partitions can no longer give leaves the property UNKNOWN."""
        from .search import property_result
        if p.kind == TERMINATION:
            pr = PropertyResult(p.name, p.kind, Verdict.UNKNOWN, doc=p.doc)
            if exhausted and not self.record_graph and self.count <= self.graph_limit:
                pr.message = "the state graph could not be gathered: termination not analysed"
                return pr
            return termination_check(self, p, pr, exhausted, build_trace)

        def build(search, sid, prop, verdict, message):
            return self._traced(build_trace, sid, prop, verdict, message) if usable else None

        def message(prop, sid):
            return self._violation_message(prop, sid) if usable else None
        return property_result(self, p, exhausted, build, termination_check, message)

    def _violation_message(self, p, sid: int) -> str | None:
        try:
            if p.kind == DEADLOCK:
                waits = "; ".join(f"{t} waits: {why}" for t, why in self.deadlocks[sid])
                return f"deadlock after {self.depth[sid]} steps: {waits}"
            if p.kind == ASSERTIONS:
                table = self.model.table
                for lid in self.state_of(sid)[1]:
                    if table.crashed[lid] is not None:
                        return f"task {table.name[lid]!r} raised {table.crashed[lid]}"
        except (WorkerLost, OSError, EOFError):
            return None
        if p.kind == FINAL:
            return f"fails in a final state reached after {self.depth[sid]} steps"
        return f"fails in a state reached after {self.depth[sid]} steps"


def check(model, partitions: int = 2, transport: str = "local", **kw) -> CheckResult:
    """Exhaustively check every property of *model* over *partitions* hash partitions."""
    return DistributedSearch(model, partitions, transport, **kw).run()
