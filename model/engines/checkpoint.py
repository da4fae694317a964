"""Checkpoints of a breadth-first search: write one periodically, resume after Ctrl-C or a crash.

Owns the checkpoint file.  It holds the search's discovery tree (each state's parent and the step
``(task, choices)`` that first reached it), its depth, the frontier (as state ids), the recorded
graph, the property bookkeeping (state ids of first violations and witnesses, deadlock waits) and
the numbers so far.  It holds no states, no fingerprints and no Python objects: on resume every
state is rebuilt by re-executing its discovery step from its parent (one step per state, parents
always come first), and the visited table (states or ``--compact`` fingerprints) is recomputed in
the resuming process.  So nothing in the file depends on the interpreter's hash seed
(``PYTHONHASHSEED``) or on the local ids the task table handed out: a checkpoint written by one
process resumes in any other.  To tell a changed model from the one checkpointed, the file also
records a hash-seed independent digest (:func:`stable_digest`) of a sample of states (world values
and each task's pending effect); a resume that rebuilds different states is refused.

Format (version 2): one header line ``khomc-checkpoint 2 sha256=<hex> <length>`` then ``length``
bytes of zlib-compressed JSON.  The SHA-256 of those bytes is checked before anything is
decompressed, the JSON refuses NaN/Infinity, and the decoded value is validated field by field
(types, lengths, every parent before its child, ids in range) before the search sees it.  JSON
decoding builds only dicts, lists, strings and numbers, so a crafted file cannot run code (the
version 1 format was a pickle).  Integer arrays travel as base64 of little-endian 64-bit words.

Written atomically: to ``FILE.<pid>.tmp``, flushed to disk, then renamed over FILE, so a crash or
SIGKILL while writing leaves the previous checkpoint intact (at most one interval of work is
lost); :func:`clean_stale` removes temporaries left by processes that no longer run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import sys
import zlib
from array import array
from collections import deque
from dataclasses import fields, is_dataclass
from pathlib import Path

from .. import __version__

FORMAT = "khomc-checkpoint"
VERSION = 2
MAX_BYTES = 1 << 32              # largest decompressed payload read back (4 GiB)
SAMPLE = 64                      # states sampled into the digest


class CheckpointError(Exception):
    """A checkpoint that cannot be resumed; one line saying why."""


# -- hash-seed independent fingerprints -----------------------------------------------------------

def _encode(obj, out: list, depth: int = 0) -> None:
    """Append a canonical byte encoding of *obj* to *out* (independent of PYTHONHASHSEED:
    sets and dicts are encoded in the order of their elements' encodings)."""
    if depth > 200:
        raise CheckpointError("a state nests deeper than 200 levels: cannot fingerprint it")
    t = type(obj)
    if obj is None or t is bool or t is int or t is float or t is complex:
        out.append(f"{t.__name__}:{obj!r};".encode())
    elif t is str:
        b = obj.encode("utf-8", "surrogatepass")
        out.append(b"s%d:" % len(b) + b)
    elif t is bytes:
        out.append(b"b%d:" % len(obj) + obj)
    elif isinstance(obj, (tuple, list)):
        out.append(f"{t.__qualname__}[{len(obj)}:".encode())
        for x in obj:
            _encode(x, out, depth + 1)
        out.append(b"]")
    elif isinstance(obj, (frozenset, set)):
        parts = sorted(_bytes(x, depth + 1) for x in obj)
        out.append(f"{t.__qualname__}{{{len(parts)}:".encode())
        out.extend(parts)
        out.append(b"}")
    elif isinstance(obj, dict):
        parts = sorted(_bytes(k, depth + 1) + _bytes(v, depth + 1) for k, v in obj.items())
        out.append(f"dict{{{len(parts)}:".encode())
        out.extend(parts)
        out.append(b"}")
    else:
        out.append(f"{t.__module__}.{t.__qualname__}(".encode())
        if is_dataclass(obj):
            state = [getattr(obj, f.name) for f in fields(obj)]
        elif hasattr(obj, "__dict__") and vars(obj):
            state = sorted(vars(obj).items())
        else:
            slots = [s for k in t.__mro__ for s in getattr(k, "__slots__", ())]
            if slots:
                state = [getattr(obj, s, None) for s in slots]
            elif callable(obj):
                state = [getattr(obj, "__module__", ""), getattr(obj, "__qualname__", "")]
            else:
                state = [str(obj)]
        _encode(state, out, depth + 1)
        out.append(b")")


def _bytes(obj, depth: int = 0) -> bytes:
    out: list = []
    _encode(obj, out, depth)
    return b"".join(out)


def stable_fingerprint(obj) -> int:
    """A 64-bit fingerprint of *obj* that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(_bytes(obj), digest_size=8).digest(), "little")


def _state_view(search, state) -> tuple:
    """What the digest covers of a state: the world and, per task, its name and pending
    effect (local ids are numbered per process, so they are left out)."""
    world, locs = state
    table = search.model.table
    tasks = tuple((table.name[lid], None if table.pending[lid] is None
                   else table.pending[lid].label()) for lid in locs)
    return (world, tasks)


def _sample_ids(search) -> list[int]:
    n = search.count
    ids = sorted({(i * (n - 1)) // max(1, SAMPLE - 1) for i in range(min(n, SAMPLE))})
    return ids


def stable_digest(search, sids, state_of) -> str:
    """SHA-256 over the :func:`_state_view` of states *sids*; ``state_of(sid)`` gives each."""
    h = hashlib.sha256()
    for sid in sids:
        st = state_of(sid)
        h.update(struct.pack("<q", sid))
        h.update(_bytes(_state_view(search, st)))
    return h.hexdigest()


# -- writing ---------------------------------------------------------------------------------

def _ints(a) -> dict:
    arr = array("q", a)
    if sys.byteorder == "big":
        arr.byteswap()
    return {"n": len(arr), "q": base64.b64encode(arr.tobytes()).decode("ascii")}


def _payload(search) -> dict:
    model = search.model
    frontier = [int(e[0]) for e in search.frontier]
    sample = _sample_ids(search)
    if search.compact:
        queued = {e[0]: e[1] for e in search.frontier}
        state_of = lambda sid: queued[sid] if sid in queued else search.state_of(sid)  # noqa
    else:
        state_of = search.states.__getitem__
    return {
        "tool": __version__, "spec": model.spec, "scenario": model.scenario,
        "params": dict(model.params), "engine": search.engine, "compact": bool(search.compact),
        "symmetry": search.symmetry is not None, "graph_limit": int(search.graph_limit),
        "parent": _ints(search.parent), "via_tid": _ints(search.via_tid),
        "via_choices": [[int(sid), [int(c) for c in ch]]
                        for sid, ch in sorted(search.via_choices.items())],
        "depth": _ints(search.depth), "record_graph": bool(search.record_graph),
        "esrc": _ints(search.esrc), "edst": _ints(search.edst), "etid": _ints(search.etid),
        "transitions": int(search.transitions),
        "violations": {k: int(v) for k, v in search.violations.items()},
        "witness": {k: int(v) for k, v in search.witness.items()},
        "deadlocks": [[int(sid), [[str(t), str(w)] for t, w in waits]]
                      for sid, waits in sorted(search.deadlocks.items())],
        "truncated": bool(search.truncated), "frontier": _ints(frontier),
        "elapsed": float(search.elapsed),
        "sample": sample,
        "digest": stable_digest(search, sample, state_of),
    }


def save(search, path: str | Path) -> Path:
    path = Path(path)
    body = zlib.compress(json.dumps(_payload(search), separators=(",", ":"),
                                    allow_nan=False).encode(), 6)
    head = f"{FORMAT} {VERSION} sha256={hashlib.sha256(body).hexdigest()} {len(body)}\n"
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(head.encode("ascii"))
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise CheckpointError(f"{path}: cannot write the checkpoint "
                              f"({exc.strerror or exc})") from None
    return path


def clean_stale(path: str | Path) -> list[Path]:
    """Remove ``FILE.<pid>.tmp`` files of *path* left by processes that no longer run (a
    SIGKILL while writing); return what was removed."""
    path = Path(path)
    removed = []
    try:
        candidates = list(path.parent.glob(f"{path.name}.*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        pid = tmp.name[len(path.name) + 1:-len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def finish(path: str | Path) -> bool:
    """A search that finished needs no checkpoint: remove it (and stale temporaries)."""
    clean_stale(path)
    try:
        Path(path).unlink()
        return True
    except FileNotFoundError:
        return False


# -- reading ---------------------------------------------------------------------------------

def _bad(path, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: corrupt checkpoint ({why})")


def _no_constant(name):
    raise ValueError(f"{name} is not allowed")


def load(path: str | Path) -> dict:
    """Read and validate a checkpoint; the dict :func:`restore` takes."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.readline(200)
            body = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    parts = head.decode("ascii", "replace").split()
    if len(parts) < 1 or parts[0] != FORMAT:
        if head.startswith(b"\x80"):
            raise CheckpointError(f"{path}: a pickled checkpoint (khomc before version 2 of "
                                  "the format); pickles are not loaded, start the search again")
        raise CheckpointError(f"{path}: not a khomc checkpoint (corrupt or truncated)")
    if len(parts) != 4 or not parts[2].startswith("sha256=") or not parts[3].isdigit():
        raise _bad(path, "truncated or malformed header")
    if parts[1] != str(VERSION):
        raise CheckpointError(f"{path}: checkpoint version {parts[1]!r} is not supported "
                              f"(this khomc reads version {VERSION})")
    if len(body) != int(parts[3]):
        raise _bad(path, f"truncated: {len(body):,} of {int(parts[3]):,} bytes")
    if hashlib.sha256(body).hexdigest() != parts[2][len("sha256="):]:
        raise _bad(path, "checksum mismatch")
    try:
        d = zlib.decompressobj()
        raw = d.decompress(body, MAX_BYTES)
        if d.unconsumed_tail:
            raise _bad(path, "payload too large")
        data = json.loads(raw, parse_constant=_no_constant)
    except CheckpointError:
        raise
    except (zlib.error, ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise _bad(path, f"{type(exc).__name__}") from None
    try:
        return _validate(data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _bad(path, f"{type(exc).__name__}: {str(exc)[:80]}") from None


def _array(obj) -> array:
    if not isinstance(obj, dict) or set(obj) != {"n", "q"}:
        raise TypeError("an integer array must be {n, q}")
    n, q = obj["n"], obj["q"]
    if type(n) is not int or not isinstance(q, str) or n < 0:
        raise TypeError("bad integer array")
    raw = base64.b64decode(q.encode("ascii"), validate=True)
    if len(raw) != 8 * n:
        raise ValueError("integer array length mismatch")
    arr = array("q")
    arr.frombytes(raw)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr


def _int(v, lo=0, hi=None) -> int:
    if type(v) is not int or v < lo or (hi is not None and v > hi):
        raise ValueError(f"integer out of range: {str(v)[:20]}")
    return v


def _str(v) -> str:
    if not isinstance(v, str) or len(v) > 10_000:
        raise TypeError("expected a short string")
    return v


def _validate(d) -> dict:
    if not isinstance(d, dict):
        raise TypeError("payload is not an object")
    out = {"spec": _str(d["spec"]), "scenario": _str(d["scenario"])}
    if not isinstance(d["params"], dict):
        raise TypeError("params is not an object")
    out["params"] = {_str(k): v for k, v in d["params"].items()}
    for k, v in out["params"].items():
        if not isinstance(v, (int, str, bool)):
            raise TypeError(f"parameter {k} is not an int, bool or string")
    if d["engine"] != "bfs":
        raise ValueError("only bfs searches are checkpointed")
    out["engine"] = "bfs"
    for k in ("compact", "symmetry", "record_graph", "truncated"):
        if type(d[k]) is not bool:
            raise TypeError(f"{k} is not a boolean")
        out[k] = d[k]
    out["graph_limit"] = _int(d["graph_limit"])
    parent, via_tid, depth = _array(d["parent"]), _array(d["via_tid"]), _array(d["depth"])
    n = len(parent)
    if n < 1 or len(via_tid) != n or len(depth) != n:
        raise ValueError("parent, via_tid and depth differ in length")
    if parent[0] != -1 or depth[0] != 0:
        raise ValueError("state 0 is not the initial state")
    for sid in range(1, n):
        p = parent[sid]
        if not 0 <= p < sid or depth[sid] != depth[p] + 1 or not 0 <= via_tid[sid] < 1 << 15:
            raise ValueError(f"state {sid}: bad parent, depth or task")
    out["parent"] = parent
    out["via_tid"] = array("h", via_tid)
    out["depth"] = array("l", depth)
    choices = {}
    for item in d["via_choices"]:
        sid, ch = item
        _int(sid, 1, n - 1)
        if not isinstance(ch, list) or len(ch) > 10_000:
            raise TypeError("choices must be a list")
        choices[sid] = tuple(_int(c, 0, 1 << 31) for c in ch)
    out["via_choices"] = choices
    esrc, edst, etid = _array(d["esrc"]), _array(d["edst"]), _array(d["etid"])
    if not len(esrc) == len(edst) == len(etid):
        raise ValueError("graph edge arrays differ in length")
    for a in (esrc, edst):
        if len(a) and (min(a) < 0 or max(a) >= n):
            raise ValueError("graph edge to a state that does not exist")
    if len(etid) and (min(etid) < 0 or max(etid) >= 1 << 15):
        raise ValueError("graph edge task out of range")
    out["esrc"], out["edst"], out["etid"] = array("l", esrc), array("l", edst), array("h", etid)
    out["transitions"] = _int(d["transitions"])
    for k in ("violations", "witness"):
        if not isinstance(d[k], dict):
            raise TypeError(f"{k} is not an object")
        out[k] = {_str(name): _int(sid, 0, n - 1) for name, sid in d[k].items()}
    deadlocks = {}
    for sid, waits in d["deadlocks"]:
        deadlocks[_int(sid, 0, n - 1)] = [(_str(t), _str(w)) for t, w in waits]
    out["deadlocks"] = deadlocks
    frontier = _array(d["frontier"])
    if len(frontier) and (min(frontier) < 0 or max(frontier) >= n):
        raise ValueError("frontier names a state that does not exist")
    out["frontier"] = list(frontier)
    elapsed = d["elapsed"]
    if type(elapsed) not in (int, float) or not 0 <= elapsed < 1e9:
        raise ValueError("elapsed out of range")
    out["elapsed"] = float(elapsed)
    if not isinstance(d["sample"], list) or len(d["sample"]) > SAMPLE:
        raise TypeError("sample is not a short list")
    out["sample"] = [_int(s, 0, n - 1) for s in d["sample"]]
    out["digest"] = _str(d["digest"])
    return out


# -- resuming --------------------------------------------------------------------------------

def restore(search, data: dict) -> None:
    """Fill a fresh Search (built from the checkpoint's spec, scenario and params) with the
    checkpointed search, rebuilding states and the visited table by re-executing each state's
    discovery step from its parent."""
    from ..runtime.step import StepError
    from ..runtime.tasks import SpecError
    for f in ("parent", "via_tid", "via_choices", "depth", "record_graph", "esrc", "edst",
              "etid", "transitions", "violations", "witness", "deadlocks", "truncated",
              "elapsed"):
        setattr(search, f, data[f])
    stepper, key = search.stepper, search.key
    parent, via_tid, choices = search.parent, search.via_tid, search.via_choices
    n = len(parent)
    init = stepper.initial()
    keep = set(data["frontier"]) | set(data["sample"])
    kept: dict = {}
    cache: dict = {0: init}
    ids: dict = {key(init): 0}
    states: list | None = None if search.compact else [init]
    low = 0
    if 0 in keep:
        kept[0] = init
    try:
        for sid in range(1, n):
            p = parent[sid]
            while low < p:                       # BFS: parents never decrease; drop the past
                cache.pop(low, None)
                low += 1
            if states is not None:
                st = states[p]
            else:
                st = cache.get(p)
                if st is None:                   # not in BFS order: re-execute from the start
                    st = kept[p] if p in kept else search.state_of(p)
            nxt, _ = stepper.execute(st, via_tid[sid], choices.get(sid, ()))
            k = key(nxt)
            if k in ids and not search.compact:
                raise CheckpointError("the checkpoint does not match this spec: two of its "
                                      "states rebuild to the same state (was the model code "
                                      "changed?)")
            ids.setdefault(k, sid)
            if states is not None:
                states.append(nxt)
            else:
                cache[sid] = nxt
            if sid in keep:
                kept[sid] = nxt
    except (StepError, SpecError) as exc:
        raise CheckpointError(f"the checkpoint does not match this spec: state {sid} does "
                              f"not rebuild ({str(exc)[:100]}); was the model code "
                              "changed?") from None
    search.ids = ids
    if states is not None:
        search.states = states
        if search.fast:             # the fast BFS keeps each state as its key
            from .search import KeyedStates
            search.states = KeyedStates(stepper)
            search.states.keys = [stepper.vkey(st) for st in states]
    search.frontier = deque((sid, states[sid] if states is not None else kept[sid])
                            for sid in data["frontier"])
    got = stable_digest(search, data["sample"],
                        states.__getitem__ if states is not None else kept.__getitem__)
    if got != data["digest"]:
        raise CheckpointError("the checkpoint does not match this spec: its states rebuild "
                              "differently (was the model code changed?)")
    search._resumed = True
