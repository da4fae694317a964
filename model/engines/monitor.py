"""Property monitor: which of a model's state properties fail (or are reached) in one state.

Owns the evaluation of ``assertions``, ``always``, ``final`` and ``sometimes`` on a single
state, shared by every engine (exhaustive search, random and PCT runs, the hypothesis state
machine) so that they cannot disagree on what a violation is.
"""

from __future__ import annotations

import os

from ..runtime.spec import ALWAYS, FINAL, SOMETIMES, Model
from ..runtime.tasks import SpecError

try:        # the compiled property checks (model/engines/_bfsloop.c; optional)
    from ._bfsloop import run_delta as _run_delta_c
except ImportError:                                     # pragma: no cover - no compiler
    _run_delta_c = None


def _property_error(p, exc: BaseException) -> BaseException:
    """The error a property check raises when evaluating *p* raised *exc*: a SpecError
    naming the property (*exc* its cause), or *exc* itself if it is one already."""
    if isinstance(exc, SpecError) or not isinstance(exc, Exception):
        return exc
    err = SpecError(f"property {p.name!r} raised {type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err


class Monitor:
    def __init__(self, model: Model):
        self.model = model
        self.view = model.view()
        self.crashed = model.table.crashed
        self.crashed_ids = model.table.crashed_ids
        self.done_ids = model.table.done_ids
        props = model.properties
        self.always = [p for p in props if p.kind == ALWAYS]
        self.final = [p for p in props if p.kind == FINAL]
        self.sometimes = [p for p in props if p.kind == SOMETIMES]
        # per property, a memo of its value by the values it read (off under POR's hidden
        # slots, whose reads must raise)
        self._memos = {p.name: _PropertyMemo(p, self.view, self) for p in props
                       if p.fn is not None}
        self._always_memos = [(p, self._memos.get(p.name)) for p in self.always]
        self._sometimes_memos = [(p, self._memos.get(p.name)) for p in self.sometimes]
        self.version = 0        # bumped when a memo's read set grows or a memo is switched off
        self._gates_key = None
        self._gates = (0, 0, True)
        # the compiled _run_delta (the search sets it as it sets its own loop's)
        self.compiled = _run_delta_c is not None and not os.environ.get("KHOMC_PURE_PYTHON")

    def _eval(self, p) -> bool:
        try:
            return bool(p.fn(self.view))
        except Exception as exc:
            err = _property_error(p, exc)
            raise err from err.__cause__

    def _run(self, props, skip, want: bool) -> list[str]:
        """Names of *props* (not in *skip*) whose value is *want*; a property that raises is a
        SpecError naming it."""
        view = self.view
        out = []
        p = None
        memos = self._memos
        try:
            for p in props:
                if p.name in skip:
                    continue
                memo = memos.get(p.name)
                if memo is not None and memo.on:
                    value = memo.value(view)
                else:
                    value = bool(p.fn(view))
                if value is want:
                    out.append(p.name)
        except Exception as exc:
            err = _property_error(p, exc)
            raise err from err.__cause__
        return out

    def failing(self, state, skip=()) -> list[str]:
        """Names of the state properties that fail in *state* (those in *skip* are not run)."""
        view = self.view
        view.world, view.locs = state
        locs = state[1]
        out = []
        if self.crashed_ids and "assertions" not in skip and not self.crashed_ids.isdisjoint(locs):
            out.append("assertions")
        if self.always:
            out += self._run(self.always, skip, False)
        if self.final and self.done_ids.issuperset(locs):
            out += self._run(self.final, skip, False)
        return out

    # -- incremental checks (the fast breadth-first search) ----------------------------------
    #
    # A property's memo records which world slots and task locals its evaluations read (the
    # slots on every path of its decision tree).  A step that changes none of them cannot change
    # its value: evaluated on the successor, the property reads the same values in the same
    # order as on the state the step left (by induction over the reads), so it takes the same
    # value.  The search checks every state it adds, so a property not yet violated (not yet
    # witnessed) held (did not hold) in the step's source state, and then in its target too.

    def gates(self, skip, seen) -> tuple:
        """``(slot mask, task mask, everything)``: a step that writes none of the slots in the
        mask and is not taken by a task in the task mask (and does not finish a task) cannot
        change the verdict of any ``always`` property not in *skip* nor of any ``sometimes``
        property not in *seen*; *everything* when some such property must be evaluated on
        every state (no memo, memo off, or it reads the whole state)."""
        key = (self.version, len(skip), len(seen))
        if key == self._gates_key:
            return self._gates
        wmask = lmask = 0
        whole = False
        for props, done in ((self.always, skip), (self.sometimes, seen)):
            for p in props:
                if p.name in done:
                    continue
                memo = self._memos.get(p.name)
                if memo is None or not memo.on or memo.whole:
                    whole = True
                else:
                    wmask |= memo.wmask
                    lmask |= memo.lmask
        self._gates_key = key
        self._gates = (wmask, lmask, whole)
        return self._gates

    def _run_delta(self, props, skip, want: bool, mask: int, tid: int) -> list[str]:
        """Names of *props* (``(property, memo)``, not in *skip*) whose value is *want*, of
        those that read something a step of task *tid* writing the slots *mask* changed; the
        others inherit their value.  Compiled (``_bfsloop.run_delta``, the same statements)
        when the extension is built."""
        if self.compiled:
            view = self.view
            where = [None]
            try:
                return _run_delta_c(props, skip, want, mask, tid, view.world, view.locs,
                                    _ABSENT, self._fallback, where)
            except Exception as exc:
                err = _property_error(where[0], exc)
                raise err from err.__cause__
        return self._run_delta_py(props, skip, want, mask, tid)

    def compiled_checks(self, seen) -> tuple:
        """What the compiled loop needs to run :meth:`after_step` itself (``check_new`` in
        _bfsloop.c, the same statements; a state in which every task has finished, where
        the final properties are due, still comes here), *seen* the search's witnesses."""
        return (self.view, self._always_memos, self._sometimes_memos, self.crashed_ids,
                bool(self.final), _ABSENT, self._fallback, _property_error, seen,
                len(self.sometimes))

    def _fallback(self, p, memo) -> bool:
        """What the compiled :meth:`_run_delta` cannot answer from a memo: a memo's miss, or
        a property without a memo (or with its memo off)."""
        if memo is not None:
            return memo._miss(self.view)
        return bool(p.fn(self.view))

    def _run_delta_py(self, props, skip, want: bool, mask: int, tid: int) -> list[str]:
        view = self.view
        out = []
        p = None
        try:
            for p, memo in props:
                if p.name in skip:
                    continue
                if memo is not None and memo.on:
                    if not memo.whole and not (memo.wmask & mask) and not (memo.lmask >> tid) & 1:
                        continue          # reads nothing the step changed: inherited value
                    value = memo.value(view)
                else:
                    value = bool(p.fn(view))
                if value is want:
                    out.append(p.name)
        except Exception as exc:
            err = _property_error(p, exc)
            raise err from err.__cause__
        return out

    def after_step(self, state, mask: int, tid: int, skip, seen) -> tuple[list, list]:
        """(failing, reached) for *state*, reached from a checked state by a step of task
        *tid* that changed exactly the world slots in *mask* and that task's local (no task
        spawned): only what the step can have changed is evaluated (see :meth:`gates`)."""
        view = self.view
        view.world, view.locs = state
        locs = state[1]
        lid = locs[tid]
        fail = []
        if "assertions" not in skip and lid in self.crashed_ids:
            fail.append("assertions")
        if self.always:
            fail += self._run_delta(self._always_memos, skip, False, mask, tid)
        if self.final and lid in self.done_ids and self.done_ids.issuperset(locs):
            fail += self._run(self.final, skip, False)
        reach = []
        if len(seen) < len(self.sometimes):
            reach = self._run_delta(self._sometimes_memos, seen, True, mask, tid)
        return fail, reach

    def reached(self, state, skip=()) -> list[str]:
        """Names of the ``sometimes`` properties that hold in *state*."""
        view = self.view
        view.world, view.locs = state
        return self._run(self.sometimes, skip, True)


# -- property memo ---------------------------------------------------------------------------
#
# A property is a pure function of what it reads through the View (world slots, task status and
# results, which the task's local id determines).  Its evaluation is a decision tree: which
# value it reads next depends only on the values read so far.  The memo is that tree, grown
# from recorded evaluations: a node is the next read, its children the values seen; a leaf is
# the property's value.  A lookup costs one dict probe per read instead of running the property
# (the KHO properties decode FDTs and walk trackers).  A property whose tree keeps missing is
# switched back to plain evaluation.

_ABSENT = object()
_CHECK_AFTER = 4096       # evaluations before the hit rate is judged
_MIN_HIT_RATE = 0.5


class _PropertyMemo:
    __slots__ = ("prop", "view", "root", "on", "evals", "misses", "rec", "monitor", "wmask",
                 "lmask", "whole")

    def __init__(self, prop, view, monitor=None):
        self.prop = prop
        self.view = view
        self.monitor = monitor
        self.root = None
        self.on = True
        # what the recorded evaluations read: world slots and task indices as bit masks, or
        # the whole state (Monitor.gates)
        self.wmask = 0
        self.lmask = 0
        self.whole = False
        self.evals = 0
        self.misses = 0
        self.rec = _RecordingView(view)

    def switch_off(self) -> None:
        self.on = False
        self.root = None
        if self.monitor is not None:
            self.monitor.version += 1

    def value(self, view) -> bool:
        self.evals += 1
        world, locs = view.world, view.locs
        node = self.root
        while node is not None:
            if type(node) is bool:
                return node
            (kind, arg), children, last = node
            if kind == "s":
                v = world[arg]
            elif kind == "l":
                v = locs[arg] if arg < len(locs) else _ABSENT
            elif kind == "L":
                v = locs
            else:
                v = (world, locs)
            if v is last[0]:
                # the same object as last time (an unchanged slot is shared between a state
                # and its successors): no hash of a possibly large value
                node = last[1]
                continue
            node = children.get(v)
            if node is not None:
                last[0] = v
                last[1] = node
        return self._miss(view)

    def _miss(self, view) -> bool:
        self.misses += 1
        if view.hidden:               # POR hides slots: plain evaluation (it may raise)
            self.switch_off()
            return bool(self.prop.fn(view))
        rec = self.rec
        rec.log = []
        result = bool(self.prop.fn(rec))
        self._insert(rec.log, result)
        if self.evals >= _CHECK_AFTER and self.misses > (1 - _MIN_HIT_RATE) * self.evals:
            self.switch_off()
        return result

    def _insert(self, log, result) -> None:
        wmask, lmask, whole = self.wmask, self.lmask, self.whole
        for (kind, arg), _ in log:
            if kind == "s":
                wmask |= 1 << arg
            elif kind == "l":
                lmask |= 1 << arg
            else:
                whole = True
        if (wmask, lmask, whole) != (self.wmask, self.lmask, self.whole):
            self.wmask, self.lmask, self.whole = wmask, lmask, whole
            if self.monitor is not None:
                self.monitor.version += 1
        if not log:
            self.root = result
            return
        parent = None
        node = self.root
        for read, value in log:
            if node is None:
                node = (read, {}, [_ABSENT, None])
                if parent is None:
                    self.root = node
                else:
                    parent[1][parent[0]] = node
            elif type(node) is bool or node[0] != read:   # cannot happen for a pure property
                self.switch_off()
                return
            parent = (value, node[1])
            node = node[1].get(value)
        if node is None:
            parent[1][parent[0]] = result


class _RecordingView:
    """The View's interface over the same state, logging each read and the value read."""

    def __init__(self, view):
        object.__setattr__(self, "_view", view)
        object.__setattr__(self, "log", [])

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)

    def __getitem__(self, var):
        v = self._view[var]
        self.log.append((("s", var.slot), v))
        return v

    def _lid(self, task: str) -> int:
        view = self._view
        i = view._index.get(task)
        if i is None:
            return view._lid(task)            # raises the View's KeyError
        locs = view.locs
        self.log.append((("l", i), locs[i] if i < len(locs) else _ABSENT))
        return view._lid(task)

    def done(self, task: str) -> bool:
        return self._view._table.pending[self._lid(task)] is None

    def result(self, task: str):
        return self._view._table.result[self._lid(task)]

    @property
    def all_done(self) -> bool:
        view = self._view
        self.log.append((("L", None), view.locs))
        return view.all_done

    @property
    def world(self):
        view = self._view
        self.log.append((("S", None), (view.world, view.locs)))
        return view.world

    @property
    def locs(self):
        view = self._view
        self.log.append((("L", None), view.locs))
        return view.locs

    def __getattr__(self, name):        # anything else: the whole state was read
        view = self._view
        self.log.append((("S", None), (view.world, view.locs)))
        return getattr(view, name)
