"""Tasks: coroutines cloned by replaying their own observations, memoized as local states.

Owns the task table, the piece that turns ``async def`` model code into an explicit-state
transition system without re-running any global prefix.

A task is a coroutine started from a :class:`TaskSpec` (name, function, arguments).  Everything a
task does depends only on the observations its effects returned (the determinism contract), so
its *local state* after a history of observations is identified by a key computed from the
suspended coroutine:

* for each frame of the await chain, ``(code, f_lasti, live f_locals)`` - like a Promela
  process's (pc, locals), with locals that are dead at that point left out, in the code's own
  order (never ``f_locals``' insertion order) - plus the pending effect (its arguments may come
  from locals that are dead once it was built);
* every value by value, never by identity: a closure or lambda the task created is keyed by
  its qualified name, code, defaults and the values in its cells (it is a new object on every
  replay); bound methods, partials and effects likewise;
* values the frame holds on its stack below the awaited object (a ``for`` loop's iterator, a
  comprehension's accumulator, half an expression) are read from the suspended coroutine and
  keyed by value too: an iterator over a tuple, list, range, dict or string by its sequence and
  position, so a ``for`` loop inside a ``while`` closes into a cycle;
* where a value cannot be described (a generator on the stack, an unknown await point) the
  frame carries its observations since it was entered, and a frame with such a local the whole
  task history: both always sound, and the same on every replay.

Keys are interned as small integers ("local ids").  The table memoizes, per local id, the
pending effect and, per (local id, observation), the next local id.  A transition is therefore
computed once: later the engine only looks it up.  To compute a new one the table needs a live
coroutine in that local state; it keeps the one that first reached it, and otherwise re-creates
the coroutine and feeds it the recorded observations of that one task (never the global prefix),
checking on the way that it asks for exactly the effects it asked for before.

This refines ARCHITECTURE.md's fingerprint (world, task histories): two histories that leave a
task in the same (code position, locals) are the same state, so loops close into cycles (needed
for termination checking and for state counts comparable with SPIN and TLC).
"""

from __future__ import annotations

import functools
import gc
import types
from dataclasses import dataclass
from typing import Any, Callable

from .effects import Effect, Marker, Spawn, atomic
from .frames import hidden_depth, key_names


class SpecError(Exception):
    """The model code broke the runtime's contract (not a KHO bug): the message says how."""


class NondeterministicSpec(SpecError):
    """A replayed task asked for a different effect than when it first ran."""


@dataclass(frozen=True)
class TaskSpec:
    """How to start a task: its name, its ``async def`` and the arguments (hashable values)."""

    name: str
    fn: Callable
    args: tuple = ()

    def start(self):
        coro = self.fn(*self.args)
        if not hasattr(coro, "send"):
            raise SpecError(f"task {self.name!r}: {getattr(self.fn, '__name__', self.fn)!r} "
                            "is not an async def (calling it returned no coroutine)")
        return coro


class _Live:
    """A running coroutine positioned at some local state, with what is needed to key it."""

    __slots__ = ("coro", "hist", "entries", "depth", "fresh")

    def __init__(self, coro):
        self.coro = coro
        self.hist: list = []
        self.entries: dict[int, tuple[Any, int]] = {}
        self.depth = 0
        self.fresh = False  # an atomic section was (re-)entered since the last effect


DONE = None  # pending effect of a finished task


class TaskTable:
    """Interned task-local states and their memoized transitions.

    Invariant: for every local id ``l``, ``pending[l]`` is the effect the task waits on (None when
    it has finished), ``chained[l]`` says whether that effect continues the atomic section of
    the effect before it (so the engine must run it in the same step), and
    ``origin[l]`` is either a TaskSpec (a start state) or ``(parent id, observation)``.
    """

    def __init__(self, memo: bool = True):
        self.memo = memo   # False: no memoized transitions, replay on every step (a baseline)
        self.pending: list[Effect | None] = []
        self.chained: list[bool] = []
        self.name: list[str] = []
        self.result: list[Any] = []          # return value, or the exception text if it crashed
        self.crashed: list[str | None] = []  # None, or "ExceptionType: message (file:line)"
        self.done_ids: set[int] = set()      # local ids of finished tasks (crashed included)
        self.crashed_ids: set[int] = set()   # local ids of crashed tasks
        self.origin: list[Any] = []
        self.spec_of: list[TaskSpec] = []
        self.key_of: list[Any] = []
        self.keys: dict[Any, int] = {}
        self.trans: dict[tuple[int, Any], int] = {}
        self.live: dict[int, _Live] = {}
        self.replays = 0

    # -- public ------------------------------------------------------------------------------
    def start(self, spec: TaskSpec) -> int:
        """The local id of *spec*'s task before its first effect."""
        live = _Live(spec.start())
        eff = self._drive(spec, live, None, first=True)
        return self._intern(spec, live, eff, spec)

    def advance(self, lid: int, obs: Any) -> int:
        """The local id reached when the task in *lid* observes *obs*."""
        k = (lid, obs)
        try:
            nxt = self.trans.get(k)
        except TypeError:
            raise SpecError(f"task {self.name[lid]!r}: effect {self.pending[lid]!r} returned an "
                            f"unhashable observation {obs!r}") from None
        if nxt is not None:
            return nxt
        spec = self.spec_of[lid]
        live = self.live.pop(lid, None)
        if live is None:
            live = self._replay(lid)
        live.hist.append(obs)
        eff = self._drive(spec, live, obs)
        nxt = self._intern(spec, live, eff, (lid, obs))
        if self.memo:
            self.trans[k] = nxt
        return nxt

    def history(self, lid: int) -> list:
        """The observations that led the task to *lid* (one representative history)."""
        obs = []
        while True:
            o = self.origin[lid]
            if isinstance(o, TaskSpec):
                break
            lid, ob = o
            obs.append(ob)
        obs.reverse()
        return obs

    def done(self, lid: int) -> bool:
        return self.pending[lid] is None

    # -- running coroutines ------------------------------------------------------------------
    def _drive(self, spec: TaskSpec, live: _Live, value: Any, first: bool = False):
        """Resume the coroutine until it waits on an effect; return it (None when finished)."""
        coro = live.coro
        live.fresh = False
        try:
            item = coro.send(None if first else value)
            while isinstance(item, Marker):
                if live.depth == 0 and item.delta > 0:
                    live.fresh = True
                live.depth += item.delta
                if live.depth < 0:
                    raise SpecError(f"task {spec.name!r}: left an atomic section it never entered")
                item = coro.send(None)
        except StopIteration as stop:
            live.coro = ("done", stop.value)
            return DONE
        except SpecError:
            raise
        except Exception as exc:  # model code raised: a BUG() in the model, recorded as a crash
            live.coro = ("crashed", _describe_exception(exc))
            return DONE
        if isinstance(item, Spawn):
            return item
        if not isinstance(item, Effect):
            raise SpecError(f"task {spec.name!r} awaited {item!r}, which is not a khomc effect; "
                            "model code may only await effects and other model coroutines")
        return item

    def _replay(self, lid: int) -> _Live:
        """Re-create the task of *lid* by feeding its own recorded observations."""
        self.replays += 1
        path = []
        cur = lid
        while True:
            o = self.origin[cur]
            path.append(cur)
            if isinstance(o, TaskSpec):
                break
            cur = o[0]
        path.reverse()
        spec = self.spec_of[lid]
        live = _Live(spec.start())
        eff = self._drive(spec, live, None, first=True)
        self._check_replay(spec, 0, path[0], eff)
        for step, node in enumerate(path[1:], start=1):
            obs = self.origin[node][1]
            live.hist.append(obs)
            eff = self._drive(spec, live, obs)
            self._check_replay(spec, step, node, eff)
        self._note_frames(live)
        if self._key(spec, live, eff) != self.key_of[lid]:
            raise NondeterministicSpec(
                f"nondeterministic spec: task {spec.name!r} replayed {len(path) - 1} observations "
                f"and reached a different local state (same effects, different locals); model "
                "code must depend only on what its effects observe")
        return live

    def _check_replay(self, spec: TaskSpec, step: int, node: int, eff) -> None:
        want = self.pending[node]
        if eff != want and _norm_effect(eff) != _norm_effect(want):
            def show(e):
                return "finish" if e is None else repr(e)
            raise NondeterministicSpec(
                f"nondeterministic spec: task {spec.name!r} at its step {step} asked for "
                f"{show(eff)} on replay but {show(want)} when it first ran; model code must "
                "depend only on what its effects observe (no random, time, I/O or globals)")

    # -- keys --------------------------------------------------------------------------------
    def _intern(self, spec: TaskSpec, live: _Live, eff, origin) -> int:
        self._note_frames(live)
        key = self._key(spec, live, eff)
        lid = self.keys.get(key)
        if lid is not None:
            return lid
        lid = len(self.pending)
        self.keys[key] = lid
        self.key_of.append(key)
        self.pending.append(eff)
        self.chained.append(live.depth > 0 and not live.fresh)
        self.name.append(spec.name)
        self.origin.append(origin)
        self.spec_of.append(spec)
        if eff is None:
            kind, value = live.coro
            self.result.append(value)
            self.crashed.append(value if kind == "crashed" else None)
            self.done_ids.add(lid)
            if kind == "crashed":
                self.crashed_ids.add(lid)
        else:
            self.result.append(None)
            self.crashed.append(None)
            if self.memo:
                self.live[lid] = live
        return lid

    def _note_frames(self, live: _Live) -> None:
        """Record when each frame of the await chain was entered (in observations)."""
        n = len(live.hist)
        entries = {}
        obj = live.coro
        while hasattr(obj, "cr_frame") and obj.cr_frame is not None:
            fr = obj.cr_frame
            old = live.entries.get(id(fr))
            entries[id(fr)] = old if old is not None and old[0] is fr else (fr, n)
            obj = obj.cr_await
        live.entries = entries

    def _key(self, spec: TaskSpec, live: _Live, eff) -> Any:
        if eff is None:
            kind, value = live.coro
            key = (spec.name, kind, value)
            _check_hashable(key, spec, "its return value", value)
            return key
        parts = []
        obj = live.coro
        while hasattr(obj, "cr_frame") and obj.cr_frame is not None:
            fr = obj.cr_frame
            code = fr.f_code
            lasti = fr.f_lasti
            fl = fr.f_locals
            try:
                local = tuple((n, _norm(fl[n], 0)) for n in key_names(code, lasti) if n in fl)
            except _Opaque:
                # a local the key cannot describe by value: the task's whole history
                # determines it (the determinism contract), so key the frame by that
                parts.append((code, lasti, "history", tuple(live.hist)))
                obj = obj.cr_await
                continue
            hidden = hidden_depth(code, lasti)
            if hidden == 0:
                parts.append((code, lasti, local))
            else:
                try:
                    if hidden is None or hidden < 0:
                        raise _Opaque
                    stack = _stack_values(obj, hidden)
                    hash(stack)
                    parts.append((code, lasti, local, stack))
                except (_Opaque, TypeError):
                    since = live.entries[id(fr)][1]
                    parts.append((code, lasti, local, "since", tuple(live.hist[since:])))
            obj = obj.cr_await
        key = (spec.name, live.depth, live.fresh, _norm_effect(eff), tuple(parts))
        try:
            hash(key)
        except TypeError:
            _explain_unhashable(spec, live)
        return key


# -- keys by value --------------------------------------------------------------------------
#
# A task's key must not depend on object identity (a closure created by the task is a new
# object on every replay) nor on dict order, so locals and hidden stack values are mapped to
# values first.  Functions are keyed by what determines their behaviour: qualified name, code,
# defaults and the values their closure cells hold.  Objects with value equality (the types
# model code uses: numbers, strings, bytes, tuples, frozensets, frozen dataclasses, effects,
# locks) are kept as they are.

class _Opaque(Exception):
    """A value the key cannot describe by value."""


_SIMPLE = frozenset({int, str, bool, type(None), bytes, float, range, type})
_MAX_NEST = 24


def _norm(v, depth: int):
    t = type(v)
    if t in _SIMPLE:
        return v
    if depth > _MAX_NEST:
        raise _Opaque
    if isinstance(v, tuple):
        out = tuple(_norm(x, depth + 1) for x in v)
        if all(a is b for a, b in zip(out, v)):
            return v
        return ("tuple", t, out)
    if t is frozenset:
        out = frozenset(_norm(x, depth + 1) for x in v)
        return v if out == v else ("frozenset", out)
    if t is types.FunctionType:
        return _norm_function(v, depth)
    if t is types.MethodType:
        return ("method", _norm(v.__self__, depth + 1), _norm(v.__func__, depth + 1))
    if t is functools.partial:
        return ("partial", _norm(v.func, depth + 1), _norm(v.args, depth + 1),
                tuple((k, _norm(x, depth + 1)) for k, x in sorted(v.keywords.items())))
    if isinstance(v, Effect):
        return _norm_effect(v, depth)
    if t is atomic:
        return ("atomic", _norm(v.fn, depth + 1))
    return v


def _norm_function(fn, depth: int):
    if fn.__closure__ is None and fn.__defaults__ is None and fn.__kwdefaults__ is None \
            and "<locals>" not in fn.__qualname__:
        return fn                   # a module-level function: the same object on every replay
    cells = []
    for c in fn.__closure__ or ():
        try:
            cells.append(_norm(c.cell_contents, depth + 1))
        except ValueError:          # an empty cell
            cells.append(_EMPTY_CELL)
    kw = tuple(sorted((fn.__kwdefaults__ or {}).items()))
    return ("function", fn.__module__, fn.__qualname__, fn.__code__,
            _norm(fn.__defaults__, depth + 1), _norm(kw, depth + 1), tuple(cells))


_EMPTY_CELL = ("empty cell",)


def _norm_effect(eff, depth: int = 0):
    """An effect's key part: itself, unless one of its fields is a closure (then by value)."""
    if eff is None:
        return None
    k = eff.key()
    nk = _norm(k, depth + 1)
    return eff if nk is k else ("effect", nk)


_ITERATORS = frozenset(type(it) for it in (
    iter(()), iter([]), iter(range(1)), iter(range(1 << 70)), reversed([]), reversed(range(1)),
    iter({}), iter({}.values()), iter({}.items()), iter(frozenset()), iter(""), iter(b""),
    enumerate(()), zip(), map(len, ()), filter(None, ())))


def _norm_stack(v, depth: int = 0):
    """A value held on a suspended frame's stack, by value: a ``for`` loop's iterator by its
    sequence and position, a comprehension's accumulator by its items."""
    if depth > _MAX_NEST:
        raise _Opaque
    t = type(v)
    if t in _ITERATORS:
        red = v.__reduce__()
        return ("iterator", t, _norm_stack(red[1], depth + 1),
                _norm_stack(red[2], depth + 1) if len(red) > 2 else None)
    if t is list:
        return ("list", tuple(_norm_stack(x, depth + 1) for x in v))
    if t is set:
        return ("set", frozenset(_norm_stack(x, depth + 1) for x in v))
    if t is dict:   # a dict comprehension: insertion order is part of its value
        return ("dict", tuple((k, _norm_stack(x, depth + 1)) for k, x in v.items()))
    if t is tuple:
        return tuple(_norm_stack(x, depth + 1) for x in v)
    if t in (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType,
             types.FrameType):
        raise _Opaque               # its own state is not a value
    return _norm(v, depth)


def _stack_values(coro, n: int) -> tuple:
    """The *n* values a suspended coroutine's frame holds below the awaited object.

    ``gc.get_referents`` of a coroutine lists its frame's locals and then its value stack, the
    awaited object (``cr_await``) on top; NULL slots are skipped, so a shorter stack only pulls
    in one more local or frame field, which makes the key more specific, never less."""
    refs = gc.get_referents(coro)
    aw = coro.cr_await
    i = len(refs) - 1
    while i >= 0 and refs[i] is not aw:
        i -= 1
    if i < n:
        raise _Opaque
    return tuple(_norm_stack(x) for x in refs[i - n:i])


def _check_hashable(key, spec, what, value):
    try:
        hash(key)
    except TypeError:
        raise SpecError(f"task {spec.name!r}: {what} {value!r} is unhashable; task results and "
                        "local state must be immutable values (tuple, frozenset, frozen "
                        "dataclass)") from None


def _explain_unhashable(spec: TaskSpec, live: _Live):
    obj = live.coro
    while hasattr(obj, "cr_frame") and obj.cr_frame is not None:
        fr = obj.cr_frame
        for name, value in fr.f_locals.items():
            try:
                hash(value)
            except TypeError:
                raise SpecError(
                    f"task {spec.name!r}: local variable {name!r} in {fr.f_code.co_name}() "
                    f"(line {fr.f_lineno}) holds an unhashable {type(value).__name__}; task-local "
                    "state must be immutable values (tuple, frozenset, frozen dataclass)") from None
        obj = obj.cr_await
    raise SpecError(f"task {spec.name!r}: its local state is unhashable")


def _describe_exception(exc: BaseException) -> str:
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        where = f" ({tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} in " \
                f"{tb.tb_frame.f_code.co_name})"
        tb = tb.tb_next
    msg = str(exc)
    return f"{type(exc).__name__}{': ' + msg if msg else ''}{where}"
