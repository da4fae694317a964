"""Counterexamples explained: what broke, in KHO's terms, and the steps that decide it.

Owns the part of a review a reviewer reads first.  For one violated property and its trace:

* :func:`explain` replays the trace's schedule on the spec (the same
  :class:`khomc.runtime.step.Stepper` the engines use) and returns an :class:`Explanation`;
* its ``text`` is one paragraph naming what broke: the page (PFN) that was lost or freed, the
  object and who allocated and freed it (the ``kasan`` slot, the ``memory`` slot's
  :class:`khomc.kernel.alloc.Obj` entries), the subtrees handed over against those promised (the
  ``ghost`` and ``handover`` slots), the next kernel's reserved set (the era's own ``boot``, found
  through the property function's closure), tasks' return codes.  The explainers read slots by
  name, so one explainer serves every era that names its slots alike;
* its ``deciding`` steps are the smallest set of steps whose reordering makes the property hold:
  every move of one step later (past the steps of other tasks after it) or earlier (before the
  steps of other tasks before it) is replayed on the spec and the property re-checked in every
  state of the modified run (for ``final`` properties the run must also end with every task
  finished; for deadlocks, end in a state that is not one); when no move of at most three
  deciding steps is found, holding one task back at one step until the others have run to their
  end (each time the first enabled step) is tried too.  Of the reorderings that avoid the
  violation, the one with the fewest deciding steps is reported: the moved step, the step it
  must get past (narrower moves were tried first and did not help) and the steps in between
  that touch a shared object the moved step touches (objects most steps touch, such as all of
  memory, do not count).  Each search has a time budget (2 s by default).  When no reordering
  helps, the violation does not hinge on one interleaving decision, and the text says so;
* :func:`field_diffs` turns one step's state change into diffs of named fields
  (``memory[pfn 0x11].live: True -> False``) instead of whole slot values.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any

from ..runtime.spec import ASSERTIONS, DEADLOCK, FINAL, TERMINATION
from ..runtime.step import StepError, Stepper
from ..runtime.tasks import SpecError

ERRNO = {1: "EPERM", 2: "ENOENT", 12: "ENOMEM", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST",
         22: "EINVAL", 28: "ENOSPC", 95: "EOPNOTSUPP", 34: "ERANGE", 75: "EOVERFLOW",
         7: "E2BIG", 5: "EIO", 19: "ENODEV", 11: "EAGAIN", 13: "EACCES"}


@dataclass
class Explanation:
    text: str                                   # one paragraph: what broke
    deciding: list = field(default_factory=list)  # 0-based indices of the deciding steps
    how: str = ""                               # the reordering that avoids it, or why none does
    setup: int = 0                              # leading steps a reader may skip (folded)
    reads: list = field(default_factory=list)   # world slots the property reads
    tried: int = 0                              # reorderings replayed


# -- formatting values ----------------------------------------------------------------------------

def cut(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def fmt(v: Any, names=None, width: int = 100) -> str:
    """A short, readable rendering of a slot value."""
    if v is None:
        return "None"
    cls = type(v).__name__
    if cls == "Obj":
        who = _task(names, v.alloc_tid)
        s = f"{v.kind} {v.size} B {'live' if v.live else 'FREED'} (allocated by {who} in " \
            f"{v.alloc_site}"
        if not v.live:
            s += f", freed by {_task(names, v.free_tid)} in {v.free_site}"
        return cut(s + ")", width)
    if cls == "KasanReport":
        return cut(f"KASAN {v.bug} at {v.addr:#x}: {v.access}", width)
    if isinstance(v, (bytes, bytearray)):
        return f"{len(v)} bytes" if len(v) > 16 else repr(bytes(v))
    if isinstance(v, int) and not isinstance(v, bool) and v < 0 and -v in ERRNO:
        return f"{v} (-{ERRNO[-v]})"
    return cut(repr(v), width)


def _task(names, tid) -> str:
    if tid is None:
        return "?"
    if names and 0 <= tid < len(names):
        return names[tid]
    return f"task #{tid}"


def _is_pages(path: str) -> bool:
    return path == "memory" or path.endswith(".pages") or path.endswith("pages")


def field_diffs(name: str, old: Any, new: Any, names=None, limit: int = 8) -> list[str]:
    """``path: old -> new`` lines for the named fields that differ between two slot values."""
    out: list[str] = []
    _diff(name, old, new, names, out, 0)
    if len(out) > limit:
        out = out[:limit] + [f"… and {len(out) - limit} more field(s) of {name}"]
    return out


def _diff(path, a, b, names, out, depth):
    if a == b:
        return
    if depth > 6:
        out.append(f"{path}: {fmt(a, names, 60)} -> {fmt(b, names, 60)}")
        return
    if (type(a) is type(b) and hasattr(a, "_fields")
            and type(a).__name__ not in ("Obj",) or
            (type(a) is type(b) and type(a).__name__ == "Obj" and a.kind == b.kind)):
        for f in a._fields:
            _diff(f"{path}.{f}", getattr(a, f), getattr(b, f), names, out, depth + 1)
        return
    if isinstance(a, tuple) and isinstance(b, tuple) and not hasattr(a, "_fields") \
            and not hasattr(b, "_fields"):
        if len(a) == len(b) and (len(a) > 3 or _is_pages(path)):
            for i, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    label = f"{path}[pfn {i:#x}]" if _is_pages(path) else f"{path}[{i}]"
                    _diff(label, x, y, names, out, depth + 1)
            return
        if len(a) != len(b) or len(a) > 3:
            try:
                added = [x for x in b if x not in a]
                removed = [x for x in a if x not in b]
            except TypeError:
                added, removed = [], []
            if added or removed:
                _added_removed(path, added, removed, names, out)
                return
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        _added_removed(path, sorted(b - a, key=repr), sorted(a - b, key=repr), names, out)
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=repr):
            if a.get(k) != b.get(k):
                _diff(f"{path}[{k!r}]", a.get(k), b.get(k), names, out, depth + 1)
        return
    if isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes, bytearray)):
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        out.append(f"{path}: {len(a)} -> {len(b)} bytes, first difference at offset {at}")
        return
    out.append(f"{path}: {fmt(a, names, 70)} -> {fmt(b, names, 70)}")


# -- replaying a schedule by task names -------------------------------------------------------------

def _added_removed(path, added, removed, names, out):
    for word, xs in (("removed", removed), ("added", added)):
        if xs:
            text = ", ".join(fmt(x, names, 60) for x in xs[:6])
            more = f" and {len(xs) - 6} more" if len(xs) > 6 else ""
            out.append(f"{path}: {word} {text}{more}")


class _Run:
    """Replays ``[(task name, choices)]`` schedules of one model, checking the property."""

    def __init__(self, model, trace):
        self.model = model
        self.trace = trace
        self.stepper = Stepper(model)
        self.view = model.view()
        self.kind = trace.kind
        self.prop = None
        if self.kind not in (ASSERTIONS, DEADLOCK, TERMINATION):
            self.prop = model.property(trace.property)

    def step(self, state, name, choices):
        names = self.stepper.task_names(state)
        if name not in names:
            raise StepError(f"no task {name!r}")
        nxt, record = self.stepper.execute(state, names.index(name), choices)
        return nxt, record

    def ok(self, state) -> bool:
        """The property holds in *state* (for final: vacuously while tasks still run)."""
        if self.kind == ASSERTIONS:
            crashed = self.model.table.crashed
            return all(crashed[lid] is None for lid in state[1])
        if self.kind == DEADLOCK:
            return True
        view = self.view
        view.world, view.locs = state
        if self.kind == FINAL and not view.all_done:
            return True
        try:
            return bool(self.prop.fn(view))
        except Exception:       # a property that cannot be evaluated does not hold
            return False

    def end_ok(self, state) -> bool:
        if self.kind == DEADLOCK:
            return self.stepper.all_done(state) or bool(self.stepper.expand(state))
        if self.kind == FINAL:
            return self.stepper.all_done(state) and self.ok(state)
        return self.ok(state)

    def holds_from(self, state, rest, finish_last: str | None = None) -> bool:
        """Run *rest* from *state*: True if every step applies and no state violates.

        With *finish_last*, then run the tasks to the end (the others first, that task last,
        each time the first enabled step) and require that no state violates either."""
        try:
            for name, choices in rest:
                state, _ = self.step(state, name, choices)
                if not self.ok(state):
                    return False
            if finish_last is not None:
                for _ in range(400):
                    if self.stepper.all_done(state):
                        break
                    succ = self.stepper.expand(state)
                    if not succ:
                        return False
                    names = self.stepper.task_names(state)
                    others = [x for x in succ if names[x[0]] != finish_last]
                    state = (others or succ)[0][2]
                    if not self.ok(state):
                        return False
                else:
                    return False
        except (StepError, SpecError, KeyError, ValueError, IndexError):
            return False
        return self.end_ok(state)


def replay_states(model, trace):
    """The states of *trace* replayed on *model*, by task name (None if it does not apply)."""
    run = _Run(model, trace)
    state = run.stepper.initial()
    states = [state]
    try:
        for s in trace.steps:
            state, _ = run.step(state, s.task, tuple(s.choices))
            states.append(state)
    except (StepError, SpecError):
        return None, run
    return states, run


def _objects(step) -> set:
    objs = set()
    for o in step.objects or ():
        objs.update(o)
    return objs | set(step.changes)


def deciding_steps(trace, states, run, budget: float = 2.0):
    """(deciding step indices, sentence, reorderings tried) - see the module docstring."""
    steps = trace.steps
    sched = [(s.task, tuple(s.choices)) for s in steps]
    n = len(sched)
    if trace.kind == TERMINATION or n < 2:
        return [], "", 0
    objs = [_objects(s) for s in steps]
    deadline = time.perf_counter() + budget
    best = None
    tried = 0
    for width in range(1, n):
        if best is not None and width > best[0][1] + 4:
            break
        for i in range(n - width):
            j = i + width
            if time.perf_counter() > deadline:
                break
            between = sched[i + 1:j + 1]
            # delay step i past steps i+1..j
            if sched[i][0] not in {t for t, _ in between}:
                tried += 1
                new = sched[i + 1:j + 1] + [sched[i]] + sched[j + 1:]
                if run.holds_from(states[i], new):
                    best = _better(best, i, list(range(i + 1, j + 1)), objs, width, "delay", j)
            before = sched[i:j]
            # advance step j before steps i..j-1
            if sched[j][0] not in {t for t, _ in before}:
                tried += 1
                new = [sched[j]] + sched[i:j] + sched[j + 1:]
                if run.holds_from(states[i], new):
                    best = _better(best, j, list(range(i, j)), objs, width, "advance", i)
        if time.perf_counter() > deadline:
            break
    if best is None or best[0][0] > 3:
        # delay one step until every other task has run to its end
        for i in range(n - 1, -1, -1):
            if time.perf_counter() > deadline:
                break
            name = sched[i][0]
            later = [k for k in range(i + 1, n) if sched[k][0] != name]
            if not later:
                continue
            tried += 1
            rest = [x for k, x in enumerate(sched[i:], start=i) if x[0] != name]
            if run.holds_from(states[i], rest, finish_last=name):
                best = _better(best, i, later, objs, n - i + 1, "finish", n - 1)
    if best is None:
        tail = {s.task for s in steps[max(0, n - 8):]}
        own = (f" The last {min(n, 8)} steps are all {next(iter(tail))}'s own calls."
               if len(tail) == 1 else "")
        return [], (f"No move of one step past the steps of other tasks avoids the violation "
                    f"({tried} reorderings replayed): it does not hinge on one interleaving "
                    f"decision of this trace.{own}"), tried
    (size, _w), moved, deciding, how, other = best
    s = steps[moved]
    others = [k for k in deciding if k != moved]
    where = ", ".join(f"{k + 1} ({steps[k].task}: {_first_label(steps[k])})" for k in others)
    if how == "delay":
        sentence = (f"Steps {', '.join(str(k + 1) for k in deciding)}. Running step "
                    f"{moved + 1} ({s.task}: {_first_label(s)}) after step {other + 1} instead "
                    f"of before {where} avoids the violation: the same {n} steps then run "
                    f"without a violating state.")
    elif how == "finish":
        sentence = (f"Steps {', '.join(str(k + 1) for k in deciding)}. Holding "
                    f"{s.task} back at step {moved + 1} ({_first_label(s)}) until the other "
                    f"tasks have run to their end avoids the violation (it then runs last, "
                    f"and no state on the way violates).")
    else:
        sentence = (f"Steps {', '.join(str(k + 1) for k in deciding)}. Running step "
                    f"{moved + 1} ({s.task}: {_first_label(s)}) before step {other + 1} instead "
                    f"of after {where} avoids the violation: the same {n} steps then run "
                    f"without a violating state.")
    return deciding, sentence, tried


def _better(best, moved, jumped, objs, width, how, other):
    """Keep the fixing move with the fewest deciding steps: the moved step, the step it must
    get past (smaller windows did not fix it) and the steps in between that touch an object
    it touches (objects most steps touch, such as all of memory, are not counted)."""
    common = {o for o in set().union(*objs) if sum(o in x for x in objs) * 2 > len(objs)}
    mine = objs[moved] - common
    conflict = [k for k in jumped if objs[k] & mine]
    edge = [other] if how in ("delay", "advance") else []
    deciding = sorted({moved, *conflict, *edge} if (conflict or edge) else {moved, *jumped})
    cand = ((len(deciding), width), moved, deciding, how, other)
    if best is None or cand[0] < best[0]:
        return cand
    return best


def _first_label(step) -> str:
    labels = [l for l, _o, _c in step.effects]
    if not labels:
        return "(no effect)"
    main = next((l for l in labels if not l.startswith("read ")), labels[0])
    return cut(main, 60)


# -- what broke --------------------------------------------------------------------------------------

class _Recorder:
    """A view that records the slots a property function reads."""

    def __init__(self, view, model):
        self._view = view
        self.read: list[str] = []
        self._names = {v.slot: v.name for v in model.vars}

    def __getitem__(self, var):
        name = self._names.get(var.slot, str(var))
        if name not in self.read:
            self.read.append(name)
        return self._view[var]

    def __getattr__(self, attr):
        return getattr(self._view, attr)


def slots_read(model, prop, state) -> list[str]:
    if prop is None or prop.fn is None:
        return []
    view = model.view()
    view.world, view.locs = state
    rec = _Recorder(view, model)
    try:
        prop.fn(rec)
    except Exception:
        pass
    return rec.read


def _next_kernel(fn, h):
    """The era's next kernel booted from handover *h*, found through the property's closure."""
    try:
        cv = inspect.getclosurevars(fn)
    except (TypeError, ValueError):
        return None
    nl, g = cv.nonlocals, getattr(fn, "__globals__", {})
    tries = []
    if callable(nl.get("boot")):
        tries.append(lambda: nl["boot"](h))
    if callable(g.get("next_kernel")):
        if "kho" in nl:
            tries.append(lambda: g["next_kernel"](nl["kho"], h))
        if "watch" in nl:
            tries.append(lambda: g["next_kernel"](h, nl["watch"]))
    if "kho" in nl and callable(getattr(nl["kho"], "boot", None)):
        tries.append(lambda: nl["kho"].boot(h))
    if callable(g.get("boot")):
        tries.append(lambda: g["boot"](h))
    for t in tries:
        try:
            r = t()
        except Exception:
            continue
        if isinstance(r, tuple) and r and hasattr(r[0], "revived") and not hasattr(r, "revived"):
            r = r[0]
        if hasattr(r, "revived") and hasattr(r, "reserved"):
            return r
    return None


def _pfns(pfns) -> str:
    pfns = sorted(pfns)
    shown = ", ".join(f"{p:#x}" for p in pfns[:6])
    return f"PFN {shown}" + (f" and {len(pfns) - 6} more" if len(pfns) > 6 else "") \
        if len(pfns) == 1 else f"PFNs {shown}" + (f" and {len(pfns) - 6} more"
                                                   if len(pfns) > 6 else "")


def _obj_at(pages, pfn):
    if not pages or not 0 <= pfn < len(pages):
        return None
    e = pages[pfn]
    if isinstance(e, int) and not isinstance(e, bool) and 0 <= e < len(pages):
        e = pages[e]                      # a tail page holds its head PFN
    return e if type(e).__name__ == "Obj" else None


def _freed(pages, pfns, names) -> list[str]:
    out = []
    for pfn in sorted(pfns):
        o = _obj_at(pages, pfn)
        if o is None:
            out.append(f"PFN {pfn:#x} is not allocated at kexec")
        elif not o.live:
            out.append(f"PFN {pfn:#x} ({o.kind}, allocated by {_task(names, o.alloc_tid)} in "
                       f"{o.alloc_site}) was freed by {_task(names, o.free_tid)} in "
                       f"{o.free_site} before kexec")
    return out


def _returns(model, state, names) -> list[str]:
    """Tasks that returned an error code."""
    table = model.table
    out = []
    for name, lid in zip(names, state[1]):
        if table.pending[lid] is None:
            r = table.result[lid]
            if isinstance(r, int) and not isinstance(r, bool) and r < 0:
                out.append(f"{name} returned {fmt(r)}")
            elif isinstance(r, tuple) and r and all(
                    isinstance(c, tuple) and c and isinstance(c[0], str) for c in r):
                asked = _asked(model, name, r)
                calls = ", ".join(
                    (f"{c[0]}({_arg(asked[i])})" if i in asked else
                     " ".join(str(x) for x in c[:-1])) + f" = {fmt(c[-1])}"
                    if len(c) > 1 else c[0] for i, c in enumerate(r[:10]))
                out.append(f"{name}'s calls returned {calls}")
    return out


def _arg(x) -> str:
    """An operator step's argument as the explanation prints it: functions by name (their
    repr carries a memory address that differs from run to run), tuples element by element.

    >>> _arg((len, ("x",)))
    "(len, ('x',))"
    """
    if type(x) is tuple:                   # not a named tuple (a slot prints its name)
        return "(" + ", ".join(map(_arg, x)) + ("," if len(x) == 1 else "") + ")"
    if callable(x) and hasattr(x, "__name__"):
        return x.__name__
    return repr(x)


def _asked(model, name, results):
    """{index in *results*: the argument the task was asked to call with}, from the task's own
    ``((call, arg), ...)`` argument (calls it reports without being asked, such as kho_init,
    get none)."""
    got = [c[0] for c in results]
    for t in model.tasks:
        if t.name != name:
            continue
        for a in t.args:
            if not (isinstance(a, tuple) and a and all(
                    isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in a)):
                continue
            names = [x[0] for x in a]
            k = min(len(names), len(got))
            if names[:k] == got[len(got) - k:] and k:
                off = len(got) - k
                return {off + i: a[i][1] for i in range(k)}
    return {}


def _errors_seen(trace) -> list[str]:
    """Effects that observed a negative errno (a call that failed), first occurrence each."""
    seen, out = set(), []
    for n, s in enumerate(trace.steps, start=1):
        for label, obs, _c in s.effects:
            try:
                v = int(obs)
            except ValueError:
                continue
            if v < 0 and -v in ERRNO and (label, v) not in seen:
                seen.add((label, v))
                out.append(f"{label} = -{ERRNO[-v]} in step {n} ({s.task})")
    return out[:4]


def what_broke(model, trace, states) -> str:
    last = states[-1]
    names = Stepper(model).task_names(last)
    world = model.describe_world(last[0])
    prop_name, kind = trace.property, trace.kind
    facts: list[str] = []
    if kind == DEADLOCK:
        waits = trace.waits or [list(w) for w in Stepper(model).blocked(last)]
        facts.append("every unfinished task sleeps: " + "; ".join(f"{t} waits: {w}"
                                                              for t, w in waits))
    elif kind == TERMINATION:
        loop = trace.steps[trace.loop_start or 0:]
        tasks = sorted({s.task for s in loop})
        facts.append(f"{', '.join(tasks)} can repeat steps {(trace.loop_start or 0) + 1}-"
                     f"{len(trace.steps)} forever ({'; '.join(sorted({_first_label(s) for s in loop}))})"
                     " without any task finishing")
    elif kind == ASSERTIONS:
        table = model.table
        for name, lid in zip(names, last[1]):
            if table.crashed[lid] is not None:
                facts.append(f"task {name} raised {table.crashed[lid]}")
    kasan = world.get("kasan")
    if kasan is not None:
        facts.append(f"KASAN: {kasan.bug} at {kasan.addr:#x} (PFN {kasan.addr >> 12:#x}): "
                     f"{kasan.access}"
                     + (f"; allocated by {kasan.allocated}" if kasan.allocated else "")
                     + (f"; freed by {kasan.freed}" if kasan.freed else ""))
    h = world.get("handover")
    prop = None
    try:
        prop = model.property(prop_name)
    except KeyError:
        pass
    if h is not None and hasattr(h, "ghost"):
        ghost = h.ghost
        promised = getattr(ghost, "promised", None)
        if promised is None and prop is not None and prop.fn is not None:
            derive = getattr(prop.fn, "__globals__", {}).get("_promised")
            try:
                promised = derive(h) if callable(derive) else None
            except Exception:
                promised = None
        pages = getattr(h, "pages", ())
        if promised is not None and prop_name in ("memory-safety", "no-preserved-page-lost"):
            facts += _freed(pages, promised, names)
        nk = _next_kernel(prop.fn, h) if prop is not None and prop.fn is not None else None
        if nk is not None and prop_name in ("no-preserved-page-lost", "memory-safety"):
            if not getattr(nk, "revived", True):
                facts.append(f"the next kernel refused the handover ({nk.reason or 'no reason'})"
                             + (f" while {_pfns(promised)} "
                                f"{'was' if len(promised) == 1 else 'were'} promised"
                                if promised else ""))
            elif promised is not None:
                lost = promised - nk.reserved
                extra = nk.reserved - promised - getattr(nk, "metadata", frozenset())
                if lost:
                    facts.append(f"{_pfns(lost)} preserved (preserve returned 0) but not "
                                 "reserved by the next kernel: handed to the buddy allocator")
                if extra:
                    facts.append(f"{_pfns(extra)} reserved by the next kernel though nobody "
                                 "preserved them")
                if prop_name == "memory-safety":
                    gone = _freed(pages, getattr(nk, "metadata", ()), names)
                    facts += [f"KHO metadata: {g}" for g in gone]
                if not lost and not extra and prop_name == "no-preserved-page-lost":
                    facts.append(f"the reserved set matches the {len(promised)} promised "
                                 "page(s); a driver's restore in the next kernel did not find "
                                 "its data")
        if prop_name == "conversion-race-free":
            facts += _conversion(h)
        if prop_name == "restore-at-most-once" and prop is not None:
            facts += _restored_twice(prop.fn, h)
    elif h is None and "handover" in world and prop_name not in ("deadlock-free",
                                                                  "terminates", "assertions"):
        if kasan is None:
            facts.append("no kexec happened yet")
    if not facts and prop is not None and prop.fn is not None:
        reads = slots_read(model, prop, last)
        vals = "; ".join(f"{r} = {fmt(world[r], names, 80)}" for r in reads if r in world)
        if vals:
            facts.append(f"in the last state {vals}")
    facts += _returns(model, last, names)
    facts += _errors_seen(trace)
    head = f"{prop_name} fails after {len(trace.steps)} steps"
    return head + (": " + "; ".join(facts) + "." if facts else ".")


def _conversion(h) -> list[str]:
    ghost = h.ghost
    out = []
    if hasattr(ghost, "subtrees"):
        try:
            from ..kho import rootfdt
            image = h.image
            fdt = getattr(image, "kho_fdt", None)
            out.append(f"the root FDT at kexec is at {fdt:#x}" if isinstance(fdt, int)
                       else "kexec handed over no root FDT")
            promised = {n for n, _ in ghost.subtrees}
            out.append("the subtrees whose kho_add_subtree returned 0 and were not removed: "
                       + (", ".join(sorted(promised)) or "none"))
            del rootfdt
        except Exception:
            pass
    if hasattr(ghost, "final"):
        final = ghost.final
        fdt = getattr(h.image, "kho_fdt", None)
        if final is None:
            out.append("no finalize was in effect at kexec (it was aborted or never ran) but "
                       + (f"the image points at an FDT at {fdt:#x}" if isinstance(fdt, int)
                          else "the image carries an FDT"))
        else:
            out.append("the FDT the image points at "
                       + (f"({fdt:#x}) " if isinstance(fdt, int) else "")
                       + "is not the one the finalize in effect produced")
    if hasattr(ghost, "frozen_tree"):
        if ghost.frozen_tree is None:
            out.append("kexec ran with no freeze of the state tree in effect")
        elif getattr(h, "tree", None) != ghost.frozen_tree:
            frozen, now = dict(ghost.frozen_tree), dict(h.tree)
            diff = [f"node {k}" for k in sorted(set(frozen) | set(now), key=repr)
                    if frozen.get(k) != now.get(k)]
            out.append("the state tree changed after the freeze (" + ", ".join(diff[:4]) + ")")
        else:
            out.append("the FDT in the kexec segment differs from the frozen tree's bytes")
    return out


def _restored_twice(fn, h) -> list[str]:
    try:
        cv = inspect.getclosurevars(fn)
        nk = fn.__globals__["next_kernel"](h, cv.nonlocals["watch"])
        restored = nk[3]
    except Exception:
        return []
    # an entry is a phys address, a (phys, order, ...) record, or a (function, pfn, order)
    # record in eras whose next kernel notes which restore call returned the page
    def _phys(p):
        if isinstance(p, tuple) and len(p) >= 2 and isinstance(p[0], str) \
                and isinstance(p[1], int):
            return p[1] << 12
        if isinstance(p, tuple) and p and isinstance(p[0], int):
            return p[0]
        return p
    phys = [_phys(p) for p in restored]
    dup = sorted({p for p in phys if isinstance(p, int) and phys.count(p) > 1})
    pages = ", ".join(f"{p:#x} (PFN {p >> 12:#x})" for p in dup)
    return [f"the folio at phys {pages} was restored twice by kho_restore_folio in the next "
            "kernel"] if dup else []


def explain(trace, model=None, budget: float = 2.0) -> Explanation | None:
    """The explanation of a violated property's trace, or None if the trace no longer replays."""
    if model is None:
        from .. import registry
        try:
            model = registry.build(trace.spec, trace.scenario, trace.params)
        except Exception:
            return None
    states, run = replay_states(model, trace)
    if states is None:
        return None
    text = what_broke(model, trace, states)
    deciding, how, tried = deciding_steps(trace, states, run, budget)
    prop = run.prop
    reads = slots_read(model, prop, states[-1]) if prop is not None else []
    setup = min(deciding) if deciding else max(0, len(trace.steps) - 8)
    return Explanation(text, deciding, how, setup, reads, tried)
