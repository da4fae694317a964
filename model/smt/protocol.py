"""z3 inductive proofs of each era's page-accounting protocol (issue 5, item 3, third bullet).

Owns the abstract page-accounting protocol of every era - preserve, unpreserve, finalize, abort,
kexec over uninterpreted sorts ``Page``, ``Bitmap`` and ``Task`` (so a proof covers any number
of pages, tracker bitmaps and concurrent tasks) - its plain-Python twin (:func:`py_step`, the
reference the hypothesis agreement tests compare the z3 relation with), and the obligation
``protocol.I1[ERA]``: invariant I1 at kexec (kho-semantics.md §6: every page whose preserve
returned 0 and was not unpreserved is reserved by the next kernel), proved inductive with z3,
or refuted by a counterexample to induction that bounded model checking shows reachable and
that the era's Python spec reproduces.

**State** (one z3 constant per field per time step; arrays give frame conditions for free):

* ``pres: Page -> Bool`` - ghost: a preserve returned 0 and no unpreserve since;
* ``trk: Page -> Bool`` - the page's bit is set in the tracker;
* ``ex: Bitmap -> Bool`` - the bitmap exists in the tracker (``xa_load_or_alloc`` installed it);
* ``lnk: Bitmap -> Bool`` - the bitmap is linked from the published chunk list.  In v5..6.19
  the chunks hold pointers to the *live* bitmaps (``KHOSER_STORE_PTR(elm->bitmap, bits)`` in
  ``kho_mem_serialize``), so a bit set later in a linked bitmap is handed over, and a bit in a
  bitmap created after the walk is not;
* ``bm: Page -> Bitmap`` - which bitmap holds a page's bit (a fixed uninterpreted function);
* ``pub`` (a chunk list is published), ``fin`` (finalized / frozen), ``mid`` (the era's
  finalize is half done: v5 frozen but not yet serialized; 6.16/6.18 serialized but
  ``finalized`` not yet set; 6.19 the reboot path's finalize done, machine_kexec pending),
  ``done`` (machine_kexec happened: every action is disabled after it);
* ``pc: Task -> {idle, checked, allocd}`` and ``pend: Task -> Page`` - a preserve is three
  steps: the era's check (v5 ``down_read`` + ``if (kho_out.fdt)``; 6.16 the unlocked
  ``if (kho_out.finalized)``, 6.18 the same inside ``__kho_preserve_order``; none in 6.19/7.1),
  ``xa_load_or_alloc`` of the bitmap, and ``set_bit``.

A page is handed over when ``pub and lnk(bm(p)) and trk(p)`` (v5..6.19) or ``trk(p)`` (7.1:
the radix tree itself is the handover, its root is in the FDT from kho_init on).

**Actions per era** (all require ``not done``):

* v5 (``20250320015551.2157511-8/-10/-11-changyuanl@google.com``; kho-semantics.md §2.3, §3.4):
  ``check`` needs ``not fin`` (under down_read); ``unpreserve`` needs ``not fin``; ``finalize``
  is the freeze under down_write, so it waits for every task to be idle (a preserver holds
  down_read from its check to its set_bit); ``serialize`` is kho_mem_serialize after the
  freeze; ``abort`` is kho_unfreeze (down_write: all idle; frees the chunk list, keeps the
  tracker); ``kexec`` needs ``fin`` and the serialize done (kernel_kexec auto-finalizes with
  the same two steps when not frozen).
* 6.16 / 6.18 (``torvalds/linux:kernel/kexec_handover.c@00c010e130e5``, §2.4, §2.5, §3.1):
  ``check`` needs ``not fin`` read with no lock; ``finalize`` is kho_mem_serialize under
  kho_out.lock (``not fin``); ``flag`` is ``kho_out.finalized = true`` afterwards; ``abort``
  (debugfs 0) frees every bitmap - the tracker is emptied, client promises stay; ``kexec``
  after a finalize returned 0 (the selftest's order; 6.18's kexec_file_load needs it).  6.16
  has no unpreserve in its API.
* 6.19 (``torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd``, §2.6, §3.2):
  no check, ``unpreserve`` unguarded; ``finalize`` (debugfs) re-serializes and re-publishes
  at any time; ``kfinalize`` is liveupdate_reboot's kho_finalize in kernel_kexec, ``kexec``
  (machine_kexec) follows it.
* 7.1 (``torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237``, §2.7, §3.3):
  no check, no finalize; ``kexec`` at any time.

**Inductive strengthening.**  I1 alone (``done -> every pres page is handed over``) is not
inductive; each era's candidate invariant adds: ``pres -> trk and ex(bm)``; an ``allocd`` task's
bitmap exists; ``done`` implies the era's finalize is complete; a complete finalize has linked
every existing bitmap and published the list; and "no task is between its check and its
set_bit while frozen/finalizing" - which is true in v5 (down_read vs down_write) and is exactly
what fails in 6.16/6.18 (unlocked check) and 6.19 (no check at all).

**Refutation** (the issue's rule: a z3 result the spec does not reproduce is an encoding
error): when induction fails, the counterexample to induction (CTI: the conjunct broken and
the action breaking it) is kept; bounded model checking from Init (up to :data:`MAX_DEPTH`
actions) then searches for a reachable I1 violation.  Each shortest abstract path found (up to
:data:`MAX_PATHS` distinct action sequences) is matched against the Python spec's shortest
counterexample of ``no-preserved-page-lost`` on the era's scenario (:data:`SCENARIOS`), after
that trace has been replayed on the spec with :func:`khomc.trace.replay`: the abstract actions
must occur in the trace's effect labels (:data:`LABELS`) in the same order, by the same tasks.
REFUTED only then; otherwise UNKNOWN with reason "encoding error: z3 trace not reproduced by
the Python spec".

Abstractions, stated: the tracker walk of kho_mem_serialize is one instant (its start); the real
RCU walk may also link a bitmap created during the walk, which only makes it less lossy (a z3
path depending on the difference would fail the replay).  Allocation failures, the root FDT
page KHO preserves for itself, subtrees and the next kernel's restore are outside this protocol
(the Python specs check them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, NamedTuple

import z3

from .core import DEFAULT_SEED, DEFAULT_TIMEOUT_MS, FINDING, IN_DOMAIN, ObligationResult, Status

ERAS = ("v5", "6.16", "6.18", "6.19", "7.1")
KINDS_BY_ERA = {"v5": IN_DOMAIN, "6.16": FINDING, "6.18": FINDING, "6.19": FINDING,
                "7.1": IN_DOMAIN}
SOURCES = {
    "v5": "20250320015551.2157511-8/-10/-11-changyuanl@google.com (v5 patches 07, 09, 10)",
    "6.16": "torvalds/linux:kernel/kexec_handover.c@00c010e130e5",
    "6.18": "torvalds/linux:kernel/kexec_handover.c@00c010e130e5 + 469661d0d3a5, f322a97aeb2a",
    "6.19": "torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd, "
            "kernel/liveupdate/luo_core.c@cab056f2aae7",
    "7.1": "torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237",
}
#: v5 mutants of the protocol (the tests show the proof can fail).
MUTANTS = {"preserve-skips-freeze-check": "preserve and unpreserve ignore the frozen flag "
                                          "(khomc.kho.v5.kexec_handover's mutant of the same name)"}
MAX_DEPTH = 9
MAX_PATHS = 24
DOMAIN = ("any number of pages, tracker bitmaps and tasks (uninterpreted sorts), every "
          "interleaving of the era's abstract preserve/unpreserve/finalize/abort/kexec actions")

# -- sorts, actions ---------------------------------------------------------------------------------

Page = z3.DeclareSort("Page")
Bitmap = z3.DeclareSort("Bitmap")
Task = z3.DeclareSort("Task")
PC, (IDLE, CHECKED, ALLOCD) = z3.EnumSort("PC", ["idle", "checked", "allocd"])
PC_NAMES = ("idle", "checked", "allocd")
PC_VALUES = (IDLE, CHECKED, ALLOCD)
ACTS = ("check", "alloc", "set", "unpreserve", "finalize", "serialize", "flag", "abort",
        "kfinalize", "kexec")
Act, ACT_VALUES = z3.EnumSort("Act", list(ACTS))
ACT = dict(zip(ACTS, ACT_VALUES))
bm = z3.Function("bm", Page, Bitmap)

#: The actions each era has (the others are never enabled).
ERA_ACTS = {
    "v5": ("check", "alloc", "set", "unpreserve", "finalize", "serialize", "abort", "kexec"),
    "6.16": ("check", "alloc", "set", "finalize", "flag", "abort", "kexec"),
    "6.18": ("check", "alloc", "set", "finalize", "flag", "abort", "kexec"),
    "6.19": ("check", "alloc", "set", "unpreserve", "finalize", "kfinalize", "kexec"),
    "7.1": ("check", "alloc", "set", "unpreserve", "kexec"),
}
FIELDS = ("pres", "trk", "ex", "lnk", "pub", "fin", "mid", "done", "pc", "pend")


def _check_era(era: str, mutants: Iterable[str] = ()) -> frozenset:
    if era not in ERAS:
        raise ValueError(f"unknown era {era!r}; the protocol covers {', '.join(ERAS)}")
    mutants = frozenset(mutants)
    if mutants - set(MUTANTS) or (mutants and era != "v5"):
        raise ValueError(f"unknown mutants {sorted(mutants)} for era {era}; known (v5): "
                         f"{', '.join(MUTANTS)}")
    return mutants


@dataclass(frozen=True)
class S:
    """One symbolic state (z3 constants named ``field@tag``)."""

    pres: z3.ArrayRef
    trk: z3.ArrayRef
    ex: z3.ArrayRef
    lnk: z3.ArrayRef
    pub: z3.BoolRef
    fin: z3.BoolRef
    mid: z3.BoolRef
    done: z3.BoolRef
    pc: z3.ArrayRef
    pend: z3.ArrayRef

    @classmethod
    def fresh(cls, tag: str) -> "S":
        B = z3.BoolSort()
        return cls(pres=z3.Array(f"pres@{tag}", Page, B), trk=z3.Array(f"trk@{tag}", Page, B),
                   ex=z3.Array(f"ex@{tag}", Bitmap, B), lnk=z3.Array(f"lnk@{tag}", Bitmap, B),
                   pub=z3.Bool(f"pub@{tag}"), fin=z3.Bool(f"fin@{tag}"),
                   mid=z3.Bool(f"mid@{tag}"), done=z3.Bool(f"done@{tag}"),
                   pc=z3.Array(f"pc@{tag}", Task, PC), pend=z3.Array(f"pend@{tag}", Task, Page))


def _all_idle(s: S) -> z3.BoolRef:
    x = z3.Const("t!idle", Task)
    return z3.ForAll([x], s.pc[x] == IDLE)


def _closed(s: S) -> z3.BoolRef:
    b = z3.Const("b!closed", Bitmap)
    return z3.ForAll([b], z3.Implies(s.ex[b], s.lnk[b]))


def _none(sort) -> z3.ArrayRef:
    return z3.K(sort, z3.BoolVal(False))


def handed(era: str, s: S, p: z3.ExprRef) -> z3.BoolRef:
    """Does the next kernel reserve page *p* if machine_kexec happens in state *s*?"""
    if era == "7.1":
        return s.trk[p]
    return z3.And(s.pub, s.lnk[bm(p)], s.trk[p])


def _actions(era: str, s: S, t: z3.ExprRef, p: z3.ExprRef, mutants: frozenset
             ) -> dict[str, tuple[z3.BoolRef, dict]]:
    """action -> (guard, {field: new value}) of *era*; unnamed fields are unchanged."""
    nd = z3.Not(s.done)
    frozen_check = "preserve-skips-freeze-check" not in mutants
    q = s.pend[t]
    common = {
        "alloc": (z3.And(nd, s.pc[t] == CHECKED),
                  {"ex": z3.Store(s.ex, bm(q), True), "pc": z3.Store(s.pc, t, ALLOCD)}),
        "set": (z3.And(nd, s.pc[t] == ALLOCD),
                {"trk": z3.Store(s.trk, q, True), "pres": z3.Store(s.pres, q, True),
                 "pc": z3.Store(s.pc, t, IDLE)}),
    }
    start = {"pc": z3.Store(s.pc, t, CHECKED), "pend": z3.Store(s.pend, t, p)}
    clear = {"trk": z3.Store(s.trk, p, False), "pres": z3.Store(s.pres, p, False)}
    serialize = {"lnk": s.ex, "pub": z3.BoolVal(True)}
    if era == "v5":
        unfrozen = z3.Not(s.fin) if frozen_check else z3.BoolVal(True)
        acts = {
            "check": (z3.And(nd, s.pc[t] == IDLE, unfrozen), start),
            "unpreserve": (z3.And(nd, unfrozen), clear),
            "finalize": (z3.And(nd, z3.Not(s.fin), z3.Not(s.mid), _all_idle(s)),
                         {"fin": z3.BoolVal(True), "mid": z3.BoolVal(True)}),
            "serialize": (z3.And(nd, s.mid), {**serialize, "mid": z3.BoolVal(False)}),
            "abort": (z3.And(nd, s.fin, z3.Not(s.mid), _all_idle(s)),
                      {"fin": z3.BoolVal(False), "pub": z3.BoolVal(False),
                       "lnk": _none(Bitmap)}),
            "kexec": (z3.And(nd, s.fin, z3.Not(s.mid)), {"done": z3.BoolVal(True)}),
        }
    elif era in ("6.16", "6.18"):
        acts = {
            "check": (z3.And(nd, s.pc[t] == IDLE, z3.Not(s.fin)), start),
            "finalize": (z3.And(nd, z3.Not(s.fin), z3.Not(s.mid)),
                         {**serialize, "mid": z3.BoolVal(True)}),
            "flag": (z3.And(nd, s.mid), {"fin": z3.BoolVal(True), "mid": z3.BoolVal(False)}),
            "abort": (z3.And(nd, s.fin, z3.Not(s.mid)),
                      {"trk": _none(Page), "ex": _none(Bitmap), "lnk": _none(Bitmap),
                       "pub": z3.BoolVal(False), "fin": z3.BoolVal(False)}),
            "kexec": (z3.And(nd, s.fin, z3.Not(s.mid)), {"done": z3.BoolVal(True)}),
        }
    elif era == "6.19":
        acts = {
            "check": (z3.And(nd, s.pc[t] == IDLE), start),
            "unpreserve": (nd, clear),
            "finalize": (nd, {**serialize, "fin": z3.BoolVal(True)}),
            "kfinalize": (z3.And(nd, z3.Not(s.mid)),
                          {**serialize, "fin": z3.BoolVal(True), "mid": z3.BoolVal(True)}),
            "kexec": (z3.And(nd, s.mid), {"done": z3.BoolVal(True)}),
        }
    else:  # 7.1
        acts = {
            "check": (z3.And(nd, s.pc[t] == IDLE), start),
            "unpreserve": (nd, clear),
            "kexec": (nd, {"done": z3.BoolVal(True)}),
        }
    acts.update(common)
    assert set(acts) == set(ERA_ACTS[era])
    return acts


def transition(era: str, s: S, s2: S, a: z3.ExprRef, t: z3.ExprRef, p: z3.ExprRef,
               mutants: Iterable[str] = ()) -> z3.BoolRef:
    """The step relation: action *a* (of sort Act) with task *t* and page *p* takes s to s2."""
    mutants = _check_era(era, mutants)
    disjuncts = []
    for name, (guard, upd) in _actions(era, s, t, p, mutants).items():
        eqs = [getattr(s2, f) == upd.get(f, getattr(s, f)) for f in FIELDS]
        disjuncts.append(z3.And(a == ACT[name], guard, *eqs))
    return z3.Or(*disjuncts)


def init(era: str, s: S) -> z3.BoolRef:
    return z3.And(s.pres == _none(Page), s.trk == _none(Page), s.ex == _none(Bitmap),
                  s.lnk == _none(Bitmap), z3.Not(s.pub), z3.Not(s.fin), z3.Not(s.mid),
                  z3.Not(s.done), s.pc == z3.K(Task, IDLE))


def i1(era: str, s: S) -> z3.BoolRef:
    """I1 at kexec: once machine_kexec happened, every preserved page is handed over."""
    p = z3.Const("p!i1", Page)
    return z3.Implies(s.done, z3.ForAll([p], z3.Implies(s.pres[p], handed(era, s, p))))


def invariant(era: str, s: S) -> list[tuple[str, z3.BoolRef]]:
    """The candidate inductive invariant of *era*: (name, conjunct), I1 first."""
    p, t = z3.Const("p!inv", Page), z3.Const("t!inv", Task)
    conj = [("I1: after kexec every preserved page is handed over", i1(era, s))]
    if era == "7.1":
        conj.append(("a preserved page is tracked",
                     z3.ForAll([p], z3.Implies(s.pres[p], s.trk[p]))))
        return conj
    conj += [("a preserved page is tracked and its bitmap exists",
              z3.ForAll([p], z3.Implies(s.pres[p], z3.And(s.trk[p], s.ex[bm(p)])))),
             ("a task past xa_load_or_alloc has its bitmap",
              z3.ForAll([t], z3.Implies(s.pc[t] == ALLOCD, s.ex[bm(s.pend[t])])))]
    if era == "v5":
        complete = z3.And(s.fin, z3.Not(s.mid))
        conj += [("kexec only after a complete finalize", z3.Implies(s.done, complete)),
                 ("a complete finalize linked every bitmap",
                  z3.Implies(complete, z3.And(s.pub, _closed(s)))),
                 ("no task is between check and set_bit while frozen",
                  z3.Implies(s.fin, _all_idle(s)))]
    elif era in ("6.16", "6.18"):
        complete = z3.And(s.fin, z3.Not(s.mid))
        conj += [("kexec only after a complete finalize", z3.Implies(s.done, complete)),
                 ("a serialized tracker is linked whole",
                  z3.Implies(z3.Or(s.fin, s.mid), z3.And(s.pub, _closed(s)))),
                 ("no task is between check and set_bit once serialized",
                  z3.Implies(z3.Or(s.fin, s.mid), _all_idle(s)))]
    else:  # 6.19
        conj += [("kexec only after the reboot path's finalize", z3.Implies(s.done, s.mid)),
                 ("the reboot path's finalize linked every bitmap",
                  z3.Implies(s.mid, z3.And(s.pub, _closed(s)))),
                 ("no task is between its preserve's start and set_bit after it",
                  z3.Implies(s.mid, _all_idle(s)))]
    return conj


# -- the plain-Python twin -----------------------------------------------------------------------

class PState(NamedTuple):
    """A concrete state over pages 0..n-1, bitmaps 0..k-1, tasks 0..m-1 (pc: 0 idle, 1 checked,
    2 allocd).  ``bm`` is not state: pass it to :func:`py_step`."""

    pres: frozenset
    trk: frozenset
    ex: frozenset
    lnk: frozenset
    pub: bool
    fin: bool
    mid: bool
    done: bool
    pc: tuple
    pend: tuple


def py_init(tasks: int, pend: tuple | None = None) -> PState:
    e = frozenset()
    return PState(e, e, e, e, False, False, False, False, (0,) * tasks,
                  tuple(pend) if pend is not None else (0,) * tasks)


def py_step(era: str, s: PState, act: str, t: int, p: int, bmap: tuple,
            mutants: Iterable[str] = ()) -> PState | None:
    """The successor of *s* under *act* (task *t*, page *p*), or None if it is not enabled."""
    mutants = _check_era(era, mutants)
    if act not in ERA_ACTS[era] or s.done:
        return None
    idle = all(x == 0 for x in s.pc)
    complete = s.fin and not s.mid

    def setpc(v, page=None):
        pc = s.pc[:t] + (v,) + s.pc[t + 1:]
        pend = s.pend if page is None else s.pend[:t] + (page,) + s.pend[t + 1:]
        return s._replace(pc=pc, pend=pend)

    if act == "alloc":
        return setpc(2)._replace(ex=s.ex | {bmap[s.pend[t]]}) if s.pc[t] == 1 else None
    if act == "set":
        q = s.pend[t]
        return setpc(0)._replace(trk=s.trk | {q}, pres=s.pres | {q}) if s.pc[t] == 2 else None
    if act == "check":
        guarded = era in ("6.16", "6.18") or (
            era == "v5" and "preserve-skips-freeze-check" not in mutants)
        if s.pc[t] != 0 or (guarded and s.fin):
            return None
        return setpc(1, p)
    if act == "unpreserve":
        if era == "v5" and "preserve-skips-freeze-check" not in mutants and s.fin:
            return None
        return s._replace(trk=s.trk - {p}, pres=s.pres - {p})
    linked = dict(lnk=s.ex, pub=True)
    if era == "v5":
        if act == "finalize":
            return s._replace(fin=True, mid=True) if not s.fin and not s.mid and idle else None
        if act == "serialize":
            return s._replace(mid=False, **linked) if s.mid else None
        if act == "abort":
            return (s._replace(fin=False, pub=False, lnk=frozenset())
                    if complete and idle else None)
        return s._replace(done=True) if complete else None                      # kexec
    if era in ("6.16", "6.18"):
        if act == "finalize":
            return s._replace(mid=True, **linked) if not s.fin and not s.mid else None
        if act == "flag":
            return s._replace(fin=True, mid=False) if s.mid else None
        if act == "abort":
            e = frozenset()
            return s._replace(trk=e, ex=e, lnk=e, pub=False, fin=False) if complete else None
        return s._replace(done=True) if complete else None                      # kexec
    if era == "6.19":
        if act == "finalize":
            return s._replace(fin=True, **linked)
        if act == "kfinalize":
            return s._replace(fin=True, mid=True, **linked) if not s.mid else None
        return s._replace(done=True) if s.mid else None                         # kexec
    return s._replace(done=True)                                                # 7.1 kexec


def py_handed(era: str, s: PState, p: int, bmap: tuple) -> bool:
    if era == "7.1":
        return p in s.trk
    return s.pub and bmap[p] in s.lnk and p in s.trk


def py_i1(era: str, s: PState, bmap: tuple) -> bool:
    return not s.done or all(py_handed(era, s, p, bmap) for p in s.pres)


# -- solving ---------------------------------------------------------------------------------

def make_solver(seed: int = DEFAULT_SEED, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> z3.Solver:
    """A general solver (UF, arrays, quantifiers) with fixed seeds, as core.make_solver."""
    z3.set_param("smt.random_seed", seed)
    z3.set_param("sat.random_seed", seed)
    s = z3.Solver()
    s.set("random_seed", seed)
    s.set("timeout", timeout_ms)
    return s


class Event(NamedTuple):
    """One abstract action of a z3 path: its name, task and page (indices into the model's
    universes, None where the action takes none) and, for alloc, whether the bitmap was new."""

    act: str
    task: int | None = None
    page: int | None = None
    new: bool | None = None

    def text(self) -> str:
        args = [f"T{self.task}"] if self.task is not None else []
        args += [f"P{self.page}"] if self.page is not None else []
        name = self.act + ("-new-bitmap" if self.new else "-existing-bitmap"
                           if self.new is False else "")
        return f"{name}({', '.join(args)})" if args else name


TASK_ACTS = {"check", "alloc", "set"}
PAGE_ACTS = {"check", "unpreserve"}


def _index(m: z3.ModelRef, sort, value) -> int:
    universe = m.get_universe(sort) or []
    v = m.eval(value, model_completion=True)
    for i, u in enumerate(universe):
        if z3.eq(u, v):
            return i
    return 0


def _path(m: z3.ModelRef, states: list[S], steps: list) -> list[Event]:
    events = []
    for i, (a, t, p) in enumerate(steps):
        name = str(m.eval(a, model_completion=True))
        task = _index(m, Task, t) if name in TASK_ACTS else None
        page = None
        new = None
        s = states[i]
        if name == "check" or name == "unpreserve":
            page = _index(m, Page, p)
        if name in ("alloc", "set"):
            page = _index(m, Page, s.pend[t])
        if name == "alloc":
            new = not z3.is_true(m.eval(s.ex[bm(s.pend[t])], model_completion=True))
        events.append(Event(name, task, page, new))
    tasks, pages = {}, {}
    return [e._replace(task=None if e.task is None else tasks.setdefault(e.task, len(tasks)),
                       page=None if e.page is None else pages.setdefault(e.page, len(pages)))
            for e in events]


@dataclass
class Cti:
    conjunct: str
    action: str
    seconds: float


@dataclass
class Induction:
    """The outcome of the induction check: PROVED, the CTIs (one per conjunct some action
    breaks), or unknown with z3's reason."""

    status: Status
    seconds: float
    ctis: list = field(default_factory=list)
    reason: str = ""


def check_induction(era: str, seed: int = DEFAULT_SEED, timeout_ms: int = DEFAULT_TIMEOUT_MS,
                    mutants: Iterable[str] = ()) -> Induction:
    """Init -> Inv, and Inv and Step -> Inv' for each conjunct of Inv (every broken one is
    reported, with an action that breaks it)."""
    mutants = _check_era(era, mutants)
    t0 = time.perf_counter()
    s, s2 = S.fresh("0"), S.fresh("1")
    a, t, p = z3.Const("a", Act), z3.Const("t", Task), z3.Const("p", Page)
    inv, inv2 = invariant(era, s), invariant(era, s2)
    slv = make_solver(seed, timeout_ms)
    slv.add(init(era, s))
    slv.add(z3.Not(z3.And(*[c for _, c in inv])))
    r = slv.check()
    if r != z3.unsat:
        return Induction(Status.UNKNOWN, time.perf_counter() - t0,
                         reason=f"Init does not imply the invariant (z3: {r})")
    ctis = []
    for (name, _), (_, c2) in zip(inv, inv2):
        slv = make_solver(seed, timeout_ms)
        slv.add(*[c for _, c in inv])
        slv.add(transition(era, s, s2, a, t, p, mutants))
        slv.add(z3.Not(c2))
        r = slv.check()
        if r == z3.unknown:
            return Induction(Status.UNKNOWN, time.perf_counter() - t0,
                             reason=f"z3 on conjunct {name!r}: {slv.reason_unknown()}")
        if r == z3.sat:
            act = str(slv.model().eval(a, model_completion=True))
            ctis.append(Cti(name, act, time.perf_counter() - t0))
    if ctis:
        return Induction(Status.REFUTED, time.perf_counter() - t0, ctis=ctis)
    return Induction(Status.PROVED, time.perf_counter() - t0)


def bmc(era: str, max_depth: int = MAX_DEPTH, max_paths: int = MAX_PATHS,
        seed: int = DEFAULT_SEED, timeout_ms: int = DEFAULT_TIMEOUT_MS,
        mutants: Iterable[str] = ()) -> tuple[list[list[Event]], str]:
    """The distinct action sequences of the shortest paths from Init to an I1 violation (at most
    *max_paths*), and '' - or ([], reason) when none is found within *max_depth* actions."""
    mutants = _check_era(era, mutants)
    slv = make_solver(seed, timeout_ms)
    states = [S.fresh("s0")]
    slv.add(init(era, states[0]))
    steps = []
    for k in range(1, max_depth + 1):
        a, t, p = z3.Const(f"a{k}", Act), z3.Const(f"t{k}", Task), z3.Const(f"p{k}", Page)
        states.append(S.fresh(f"s{k}"))
        slv.add(transition(era, states[-2], states[-1], a, t, p, mutants))
        steps.append((a, t, p))
        slv.push()
        slv.add(z3.Not(i1(era, states[-1])))
        r = slv.check()
        if r == z3.unknown:
            reason = f"bounded model checking at depth {k}: z3 {slv.reason_unknown()}"
            slv.pop()
            return [], reason
        if r == z3.sat:
            paths = []
            while r == z3.sat and len(paths) < max_paths:
                m = slv.model()
                paths.append(_path(m, states, steps))
                slv.add(z3.Or(*[a_ != m.eval(a_, model_completion=True) for a_, _, _ in steps]))
                r = slv.check()
            slv.pop()
            return paths, ""
        slv.pop()
    return [], f"no I1 violation reachable within {max_depth} actions"


# -- the Python spec's side ---------------------------------------------------------------------

#: (spec, scenario, params) whose no-preserved-page-lost counterexample each era's z3 path must
#: be found in.
SCENARIOS = {
    "v5": ("v5", "autofinalize", {}),
    "6.16": ("k6.16", "preserve-race", {}),
    "6.18": ("k6.18", "preserve-race", {}),
    "6.19": ("k6.19", "test-kho-race", {}),
    "7.1": ("k7.1", "test-kho-race", {}),
}
PROPERTY = "no-preserved-page-lost"
CLIENT, OPERATOR = "client", "operator"
NOT_CLIENTS = {"operator", "kho_init"}

_v5_labels = {"check": (CLIENT, "down_read(kho_out.tree_lock)"),
              "unpreserve": (CLIENT, "clear_bit("),
              "finalize": (OPERATOR, "[freeze]"),
              "serialize": (OPERATOR, "xa_for_each(kho_mem_track.orders)"),
              "abort": (OPERATOR, "kho_out.fdt = NULL")}
_k616_labels = {"check": (CLIENT, "read kho_out.finalized"),
                "finalize": (OPERATOR, "xa_for_each(kho_out.ser.track.orders)"),
                "flag": (OPERATOR, "kho_out.finalized = True"),
                "abort": (OPERATOR, "write kho_out.ser.track.orders := ()")}
_k619_labels = {"check": (CLIENT, "xa_load(kho_mem_track.orders"),
                "unpreserve": (CLIENT, "clear_bit("),
                "finalize": (OPERATOR, "xa_for_each(kho_mem_track.orders)"),
                "kfinalize": (OPERATOR, "xa_for_each(kho_mem_track.orders)")}
_k71_labels = {"check": (CLIENT, "mutex_lock("), "unpreserve": (CLIENT, "clear_bit(")}
_tracker = {"alloc-new": (CLIENT, "xa_cmpxchg(phys_bits"),
            "alloc-existing": (CLIENT, "xa_load(phys_bits"),
            "set": (CLIENT, "set_bit("), "kexec": (OPERATOR, "machine_kexec()")}
#: era -> abstract action -> (whose step, substring of the effect label).
LABELS = {"v5": {**_tracker, **_v5_labels}, "6.16": {**_tracker, **_k616_labels},
          "6.18": {**_tracker, **_k616_labels}, "6.19": {**_tracker, **_k619_labels},
          "7.1": {**_tracker, **_k71_labels, "alloc-new": (CLIENT, "kho_radix_add_page"),
                  "alloc-existing": (CLIENT, "kho_radix_add_page")}}


def _label_key(e: Event) -> str:
    if e.act == "alloc":
        return "alloc-new" if e.new else "alloc-existing"
    return e.act


@dataclass
class PyCounterexample:
    """The Python spec's counterexample of PROPERTY on an era's scenario, replayed."""

    spec: str
    scenario: str
    verdict: str
    events: list = field(default_factory=list)      # [(1-based step, task, label)]
    steps: int = 0
    replayed: bool = False
    replay_message: str = ""


@lru_cache(maxsize=None)
def python_counterexample(spec: str, scenario: str, params: tuple = ()) -> PyCounterexample:
    """Run the exhaustive search on (spec, scenario) and replay its counterexample trace."""
    from ..engines.search import check
    from ..registry import build
    from ..trace import replay
    res = check(build(spec, scenario, dict(params)))
    pr = res.property(PROPERTY)
    out = PyCounterexample(spec, scenario, str(pr.verdict))
    if pr.trace is None:
        return out
    out.steps = len(pr.trace.steps)
    out.events = [(i + 1, st.task, label) for i, st in enumerate(pr.trace.steps)
                  for label, _, _ in st.effects]
    rr = replay(pr.trace, build(spec, scenario, dict(params)))
    out.replayed, out.replay_message = rr.ok, rr.message
    return out


def match(era: str, path: list[Event], events: list) -> list[tuple] | None:
    """The trace events the abstract *path* maps to, in order, with each abstract task bound to
    one Python task throughout (distinct tasks to distinct tasks), or None."""
    labels = LABELS[era]

    def ok(e: Event, ev, binding) -> dict | None:
        role, text = labels[_label_key(e)]
        _, task, label = ev
        if text not in label:
            return None
        if role == OPERATOR:
            return binding if task == "operator" else None
        if task in NOT_CLIENTS:
            return None
        if e.task is None:
            return binding
        bound = binding.get(e.task)
        if bound is None:
            if task in binding.values():
                return None
            return {**binding, e.task: task}
        return binding if bound == task else None

    check_text = labels["check"][1]

    def restarted(task: str, since: int, k: int) -> bool:
        """Did *task* begin another preserve between its matched step *since* and *k*?"""
        return any(events[x][1] == task and check_text in events[x][2]
                   for x in range(since + 1, k))

    def go(i: int, j: int, binding: dict, last: dict) -> list | None:
        if i == len(path):
            return []
        e = path[i]
        if _label_key(e) not in labels:
            return None
        for k in range(j, len(events)):
            b = ok(e, events[k], binding)
            if b is None:
                continue
            if e.task is not None and e.act in ("alloc", "set") and (
                    e.task not in last or restarted(b[e.task], last[e.task], k)):
                continue
            rest = go(i + 1, k + 1, b, {**last, e.task: k} if e.task is not None else last)
            if rest is not None:
                return [events[k]] + rest
        return None

    return go(0, 0, {}, {})


# -- the obligation -----------------------------------------------------------------------------

def obligation(era: str, seed: int = DEFAULT_SEED, mutants: Iterable[str] = (),
               kind: str | None = None, timeout_ms: int = DEFAULT_TIMEOUT_MS,
               scenario: tuple | None = None) -> ObligationResult:
    """``protocol.I1[ERA]``: PROVED (inductive), REFUTED (a reachable CTI whose z3 path the
    Python spec reproduces) or UNKNOWN (with the reason)."""
    mutants = _check_era(era, mutants)
    name = f"protocol.I1[{era}]" + (f"[mutant {','.join(sorted(mutants))}]" if mutants else "")
    common = dict(name=name, eras=(era,), kind=kind or KINDS_BY_ERA[era], seed=seed,
                  domain=DOMAIN, source=SOURCES[era] + "; kho-semantics.md §6 I1")
    t0 = time.perf_counter()
    ind = check_induction(era, seed, timeout_ms, mutants)
    if ind.status is Status.PROVED:
        return ObligationResult(status=Status.PROVED, seconds=time.perf_counter() - t0, **common)
    if ind.status is Status.UNKNOWN:
        return ObligationResult(status=Status.UNKNOWN, seconds=time.perf_counter() - t0,
                                reason=ind.reason, **common)
    cti = "; ".join(f"{c.action} breaks {c.conjunct!r}" for c in ind.ctis)
    paths, why = bmc(era, seed=seed, timeout_ms=timeout_ms, mutants=mutants)
    if not paths:
        return ObligationResult(status=Status.UNKNOWN, seconds=time.perf_counter() - t0,
                                reason=f"counterexample to induction ({cti}) not shown "
                                       f"reachable: {why}", **common)
    spec, scen, params = scenario or SCENARIOS[era]
    if mutants:
        params = {**params, "mutants": ",".join(sorted(mutants))}
    py = python_counterexample(spec, scen, tuple(sorted(params.items())))
    shortest = " ".join(e.text() for e in paths[0])
    if py.verdict != "VIOLATED" or not py.replayed:
        return ObligationResult(
            status=Status.UNKNOWN, seconds=time.perf_counter() - t0,
            reason=f"encoding error: z3 trace not reproduced by the Python spec "
                   f"({spec}/{scen}: {PROPERTY} {py.verdict}"
                   f"{'' if py.replayed or py.verdict != 'VIOLATED' else ', replay failed: ' + py.replay_message}"
                   f"; z3 path: {shortest}; CTI: {cti})", **common)
    for path in paths:
        hit = match(era, path, py.events)
        if hit is not None:
            lost = next((e.page for e in reversed(path) if e.act == "set"), None)
            cex = {"cti": cti,
                   "path": " ; ".join(e.text() for e in path),
                   "lost_page": f"P{lost}" if lost is not None else "?",
                   "python": f"{spec}/{scen}{dict(params) or ''}: {PROPERTY} VIOLATED, "
                             f"{py.steps} steps, replayed",
                   "python_steps": "; ".join(f"#{i} {task}: {label}" for i, task, label in hit)}
            return ObligationResult(status=Status.REFUTED, seconds=time.perf_counter() - t0,
                                    counterexample=cex, **common)
    return ObligationResult(
        status=Status.UNKNOWN, seconds=time.perf_counter() - t0,
        reason=f"encoding error: z3 trace not reproduced by the Python spec (none of the "
               f"{len(paths)} shortest z3 paths, e.g. {shortest}, occurs in order in the "
               f"{spec}/{scen} counterexample; CTI: {cti})", **common)


def plan() -> list[tuple[tuple[str, ...], Callable[[int], ObligationResult]]]:
    """One obligation per era, in ERAS order."""
    return [((era,), (lambda seed, era=era: obligation(era, seed))) for era in ERAS]
