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

    def initial(self) -> tuple:
        return self.model.initial_state()

    def task_names(self, state) -> list[str]:
        return [self.names[lid] for lid in state[1]]

    # -- fast path ---------------------------------------------------------------------------
    def expand(self, state) -> list:
        """All successors of *state*: a list of ``(tid, choices, state2)``."""
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
        pending = self.table.pending
        return all(pending[lid] is None for lid in state[1])
