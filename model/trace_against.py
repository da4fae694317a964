"""Replaying a counterexample's schedule against another design (era): GONE, STILL or CANNOT APPLY.

Owns ``khomc replay TRACE --against ERA``.  A trace records one era's schedule; another era runs
other code (a check moved into a callee, an extra lock, an extra ``kho_init`` task, tasks
numbered differently), so its labels never match the trace's text exactly.  The schedule is
therefore mapped by two things that survive such changes:

* the task's **role**: its name without a trailing number (``fdbox1`` -> ``fdbox``); a trace
  task whose role the target lacks maps to a target task of no trace role that runs the same
  function (a renamed task);
* the **kernel function** a step runs in: the innermost function of the await chain that is not
  a model helper (helpers are the single-underscore functions: ``_run_atomic``,
  ``_lock_and_read``...), read from the suspended coroutine of the task.  For the trace's own
  steps it is obtained by replaying the trace on its own era; when that replay diverges (the era
  changed since the trace was saved) it falls back to the label's function part
  (``kmalloc(16) in xa_load_or_alloc(orders)`` -> ``xa_load_or_alloc``).

The mapping rule, at trace step *i* (task *n* of role *r*, function *f*, operation *op*: the
label with numbers and addresses masked).  A trace task is bound to one target task of its role
at its first mapped step (the same name first, else the first of the role that fits) and stays
bound.  For each candidate target task, the first of these that applies decides (the best
candidate wins):

1. **same**: its next step is in *f* and does *op*;
2. **moved**: its next step does *op* in a caller or callee of *f* (one call chain is a prefix of
   the other): the era moved the access (e.g. the ``finalized`` check from
   ``kho_preserve_folio`` into ``__kho_preserve_order``, 469661d0d3a5);
3. **filled, then same**: at most ``FILL_LIMIT`` steps of its own inside *f* or its callees
   lead to *op* there: those run first (``target-only``), then the step;
4. **skipped**: its next step is exactly one of the trace task's next ``SKIP_WINDOW`` steps (or
   it has finished): the era has no counterpart for step *i*, which is dropped and noted;
5. **function**: its next step is in *f* or a callee of *f* but does something else: taken as
   the counterpart (the era's code of *f* differs);
6. **filled**: at most ``FILL_LIMIT`` steps of its own reach *f* (or *op* moved): they are the
   only way forward for the task, so they run just before the mapped step, each with its first
   outcome (allocations succeed, ``choose`` takes its first option);
7. **replaced**: its next step is inside the same kernel call as the trace's but under another
   function (the two call chains part below a common function): the era replaced the trace's
   helper (7.1's ``kho_radix_add_page`` where 6.19 had ``__kho_preserve_order``, both under
   ``kho_preserve_folio``), so that step is the counterpart;
8. **skipped**: on the way of rule 6 it reaches one of the trace task's later steps exactly, or
   it is back in a caller of *f* and never calls *f* again: step *i* has no counterpart;
9. otherwise the schedule CANNOT APPLY at step *i*, with the target's side in its own terms.

At most a quarter of the trace's steps (``SKIP_DIVISOR``) may be skipped; past that the designs
differ too much for the schedule to mean anything and it CANNOT APPLY at the step that crossed
the limit.
A mapped step whose task is blocked in the target lets the target's *unmapped* tasks (roles the
trace does not have, such as the LUO eras' ``kho_init``) run one step at a time, at most
``EXTRA_LIMIT`` steps in all, until it is enabled; if it stays blocked the schedule CANNOT APPLY
("task operator in k6.19 is blocked: mutex_lock(kho_out.lock) held by debugfs").  At a branching
step the target outcome is the one whose observations match the trace's (same value, else same
success or failure), else the trace's choice index.

The result: **STILL** when the recorded violation reproduces on the mapped run (an ``always``
property or an assertion fails in some state of it; a deadlock, lasso or final-state violation
at its end), **GONE** when every step applied and it does not (for this schedule: a proof needs
``khomc check``), **CANNOT APPLY** at step *k* with the reason.  Scenario, parameters and property
are checked first (step 0): a parameter the target scenario lacks is dropped only when the trace
left it at its default.  No kernel version: this is machinery over the eras' own code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import registry
from .runtime.effects import Spawn
from .runtime.spec import ASSERTIONS, DEADLOCK, FINAL, SOMETIMES, TERMINATION, Model
from .runtime.step import StepError, Stepper
from .trace import Step, Trace, _make_step

GONE, STILL, CANNOT = "GONE", "STILL", "CANNOT APPLY"
FILL_LIMIT = 24      # target-only steps of one task before one mapped step
SKIP_WINDOW = 12     # how far ahead (steps of the same trace task) a skip may look
EXTRA_LIMIT = 64     # steps of unmapped target tasks, in all, to unblock mapped ones
SKIP_DIVISOR = 4     # at most a quarter of the trace's steps may have no counterpart


# -- sites: where a step runs -------------------------------------------------------------------

@dataclass(frozen=True)
class Site:
    """Where a step runs: the kernel call chain (helpers dropped) and the masked operation."""

    stack: tuple          # outermost first; the task's entry function is stack[0]
    label: str
    full: bool = True     # False: read from a label (the task and the label's function)

    @property
    def func(self) -> str:
        return self.stack[-1] if self.stack else "?"

    @property
    def op(self) -> str:
        return mask(self.label)

    def where(self) -> str:
        return self.label if f" in {self.func}" in self.label else f"{self.label} in {self.func}"


_NUM = re.compile(r"0x[0-9a-fA-F]+|\d+")


def mask(label: str) -> str:
    """The operation of a label with numbers and addresses masked.

    >>> mask("kmalloc(512) in xa_load_or_alloc(phys_bits@0xa000)")
    'kmalloc(#) in xa_load_or_alloc(phys_bits@#)'
    """
    return _NUM.sub("#", label)


def role(task: str) -> str:
    """A task's role: its name without a trailing number.

    >>> role("fdbox1"), role("operator"), role("kho_init")
    ('fdbox', 'operator', 'kho_init')
    """
    return task.rstrip("0123456789") or task


def _helper(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def chain(names) -> tuple:
    """The kernel call chain of an await chain's function names: helpers dropped, repeats
    (a method and the function it wraps, both named kernel_kexec) collapsed."""
    out: list = []
    for n in names:
        if _helper(n) or n.startswith("<"):
            continue
        if not out or out[-1] != n:
            out.append(n)
    return tuple(out)


def pending_site(stepper: Stepper, state, tid: int) -> Site | None:
    """The site of the step task *tid* would take next, None when it has finished."""
    table = stepper.table
    lid = state[1][tid]
    eff = table.pending[lid]
    if eff is None:
        return None
    names = frame_names(table, lid)
    return Site(chain(names) or (table.spec_of[lid].fn.__name__,), eff.label())


def frame_names(table, lid: int) -> list[str]:
    """The function names of the await chain of the suspended task *lid*, outermost first.

    Read from the task's interned key (khomc.runtime.tasks: one (code, offset, locals...) part
    per frame); should that layout change, from a live coroutine in that local state."""
    key = table.key_of[lid]
    parts = key[4] if isinstance(key, tuple) and len(key) == 5 else None
    if isinstance(parts, tuple) and parts and all(
            isinstance(p, tuple) and hasattr(p[0], "co_name") for p in parts):
        return [p[0].co_name for p in parts]
    return live_frame_names(table, lid)


def live_frame_names(table, lid: int) -> list[str]:
    """The same, by walking a live coroutine's ``cr_await`` chain (re-created if needed)."""
    live = table.live.get(lid) or table._replay(lid)
    names, obj = [], live.coro
    while hasattr(obj, "cr_frame") and obj.cr_frame is not None:
        names.append(obj.cr_frame.f_code.co_name)
        obj = obj.cr_await
    return names


_IN_FUNC = re.compile(r"\bin ([A-Za-z_][A-Za-z0-9_]*)")


def label_site(task: str, label: str) -> Site:
    """A site from a label alone (the trace's era no longer replays it): its function part."""
    m = _IN_FUNC.search(label)
    return Site((task, m.group(1)) if m else (task,), label, False)


def trace_sites(trace: Trace) -> tuple[list[Site], str]:
    """The site of every step of *trace*, from a replay on its own era when that works.

    Returns (sites, note); the note says from which step on labels had to be used."""
    sites: list[Site] = []
    note = ""
    try:
        model = registry.build(trace.spec, trace.scenario, trace.params)
        stepper = Stepper(model)
        state = stepper.initial()
        for step in trace.steps:
            names = stepper.task_names(state)
            if step.task not in names:
                raise StepError(f"no task {step.task!r}")
            tid = names.index(step.task)
            site = pending_site(stepper, state, tid)
            if site is None or (step.effects and site.label != step.effects[0][0]):
                raise StepError("a different effect")
            sites.append(site)
            state, _ = stepper.execute(state, tid, step.choices)
    except (registry.UnknownName, StepError, Exception) as exc:  # noqa: BLE001 - any failure
        if len(sites) < len(trace.steps):
            note = (f"the trace no longer replays on {trace.spec} from step {len(sites) + 1} "
                    f"({type(exc).__name__}); its functions are read from its labels from there")
    for step in trace.steps[len(sites):]:
        sites.append(label_site(step.task, step.effects[0][0] if step.effects else "?"))
    return sites, note


# -- the result -----------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of the mapping: a trace step and the target step(s) it became."""

    step: int             # 1-based trace step; 0 for a step only the target has
    task: str             # the trace's task ('' for target-only steps)
    target: str           # the target's task ('' when skipped)
    how: str              # same|moved|function|replaced|skipped|target-only|unblock|trailing
    source: str           # the trace's label and function
    got: str              # the target's label and function
    note: str = ""
    func: str = ""        # the target step's kernel function

    def as_json(self) -> dict:
        return {"step": self.step, "task": self.task, "target_task": self.target,
                "how": self.how, "trace": self.source, "target": self.got,
                **({"note": self.note} if self.note else {})}


@dataclass
class AgainstResult:
    outcome: str                      # GONE | STILL | CANNOT APPLY
    step: int | None                  # CANNOT APPLY: where; STILL: the trace step it fails at
    reason: str
    spec: str
    against: str
    scenario: str
    property: str
    rows: list = field(default_factory=list)
    states: list = field(default_factory=list)      # the target run's states
    steps: list = field(default_factory=list)       # the target run's steps (trace.Step)
    model: Model | None = None
    notes: list = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {STILL: 1, GONE: 0, CANNOT: 3}[self.outcome]

    def counts(self) -> dict:
        out: dict = {}
        for r in self.rows:
            out[r.how] = out.get(r.how, 0) + 1
        return out

    def line(self) -> str:
        where = f"{self.spec} -> {self.against}, scenario {self.scenario}, {self.property}"
        if self.outcome == CANNOT:
            return f"CANNOT APPLY at step {self.step}: {self.reason} ({where})"
        c = self.counts()
        how = ", ".join(f"{v} {k}" for k, v in c.items())
        return f"{self.outcome}: {self.reason} ({where}; steps: {how})"

    def as_json(self) -> dict:
        return {"outcome": self.outcome, "step": self.step, "reason": self.reason,
                "spec": self.spec, "against": self.against, "scenario": self.scenario,
                "property": self.property, "counts": self.counts(), "notes": self.notes,
                "mapping": [r.as_json() for r in self.rows]}

    def render(self, width: int = 46) -> str:
        def cut(t):
            return t if len(t) <= width else t[: width - 1] + "…"
        head = f"  {'#':>3}  {'task':<12} {self.spec:<{width}}  {'how':<11} {self.against}"
        lines = [f"replay against {self.against}: scenario {self.scenario}, property "
                 f"{self.property!r}", head, "  " + "-" * (len(head) - 2)]
        for r in self.rows:
            num = f"{r.step:3d}" if r.step else "  +"
            task = r.task if r.task == r.target or not r.target or not r.task \
                else f"{r.task}>{r.target}"
            task = task or r.target
            lines.append(f"  {num}  {cut(task):<12} {cut(r.source):<{width}}  {r.how:<11} "
                         f"{cut(r.got)}".rstrip())
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines) + "\n"


# -- the mapped run -------------------------------------------------------------------------------

class _Cannot(Exception):
    def __init__(self, step: int, reason: str):
        super().__init__(reason)
        self.step, self.reason = step, reason


class _Still(Exception):
    def __init__(self, step: int, reason: str):
        super().__init__(reason)
        self.step, self.reason = step, reason


class _Run:
    """The target era's run being built: its state, states, steps and the task bindings."""

    def __init__(self, trace: Trace, model: Model, era: str, sites: list[Site]):
        self.trace, self.model, self.era, self.sites = trace, model, era, sites
        self.stepper = Stepper(model)
        self.state = self.stepper.initial()
        self.states = [self.state]
        self.steps: list[Step] = []
        self.rows: list[Row] = []
        self.bound: dict[str, str] = {}          # trace task -> target task
        self.roles = {role(s.task) for s in trace.steps} | {role(t) for t in trace.tasks}
        self.extra_used = 0
        self.skipped = 0
        self.prop = model.property(trace.property)
        self.view = model.view()
        self.i = 0                               # the trace step being mapped
        self.marks: dict[int, int] = {}          # trace step -> index of the state it starts in

    # -- target state ---------------------------------------------------------------------------
    def names(self, state=None) -> list[str]:
        return self.stepper.task_names(self.state if state is None else state)

    def tid(self, name: str, state=None) -> int:
        return self.names(state).index(name)

    def site(self, name: str, state=None) -> Site | None:
        state = self.state if state is None else state
        return pending_site(self.stepper, state, self.tid(name, state))

    def blocked_reason(self, name: str, state=None) -> str | None:
        """Why target task *name* cannot move in *state* (None when it can)."""
        state = self.state if state is None else state
        tid = self.tid(name, state)
        eff = self.stepper.table.pending[state[1][tid]]
        if eff is None:
            return "it has finished"
        if type(eff) is Spawn or eff.outcomes(state[0], tid):
            return None
        return eff.blocked_reason(state[0], lambda t: self.names(state)[t])

    def take(self, name: str, choices: tuple, how: str, source: str, note: str = "",
             task: str = "") -> None:
        """Run one target step and check the property on the state it reaches."""
        tid = self.tid(name)
        before = self.names()
        site = self.site(name)
        try:
            nxt, record = self.stepper.execute(self.state, tid, choices)
        except StepError as exc:
            raise _Cannot(self.i, f"task {name} in {self.era}: {exc}") from None
        self.steps.append(_make_step(self.model, self.stepper, self.state, nxt, tid, choices,
                                     record, before))
        self.rows.append(Row(self.i if how not in ("target-only", "unblock", "trailing") else 0,
                             task, name, how, source, site.where() if site else "?", note,
                             site.func if site else ""))
        self.state = nxt
        self.states.append(nxt)
        self.check_safety()

    def check_safety(self) -> None:
        kind = self.prop.kind
        if kind == ASSERTIONS:
            table = self.model.table
            for lid in self.state[1]:
                if table.crashed[lid] is not None:
                    raise _Still(self.i, f"task {table.name[lid]!r} raised {table.crashed[lid]}")
        elif kind in ("always",) and self.trace.verdict == "VIOLATED":
            self.view.world, self.view.locs = self.state
            if not self.prop.fn(self.view):
                raise _Still(self.i, f"property {self.prop.name!r} fails in {self.era} after "
                                     f"{len(self.steps)} target steps")

    # -- looking ahead on one task -------------------------------------------------------------
    def movable_extra(self, state) -> str | None:
        """The first unmapped target task (a role the trace does not have) that can move."""
        for n in self.names(state):
            if self.unmapped(n) and self.site(n, state) is not None \
                    and self.blocked_reason(n, state) is None:
                return n
        return None

    def unmapped(self, name: str) -> bool:
        """A target task no trace task corresponds to (its role is not in the trace and no
        trace task was bound to it)."""
        return role(name) not in self.roles and name not in self.bound.values()

    def entry(self, name: str) -> str:
        """The function a target task runs (its TaskSpec's)."""
        return self.stepper.table.spec_of[self.state[1][self.tid(name)]].fn.__name__

    def upcoming(self) -> list[Site]:
        """Sites of the current trace task's next SKIP_WINDOW steps, other than the current
        step's function."""
        task = self.trace.steps[self.i - 1].task
        want = self.sites[self.i - 1]
        out, k = [], 0
        for j in range(self.i, len(self.trace.steps)):
            if self.trace.steps[j].task == task:
                k += 1
                if self.sites[j].func != want.func:
                    out.append(self.sites[j])
                if k >= SKIP_WINDOW:
                    break
        return out

    def ahead(self, name: str, stop, allowed, later: list[Site]):
        """Run target task *name* forward alone (first outcomes; unmapped tasks run when it is
        blocked) until ``stop(site)`` holds for its next step.

        Returns ('reach', path, '') with path the (task, choices) to run first; ('skip', [],
        why) when the task reaches a later trace step's site first; or (None, [], why)."""
        state = self.state
        path: list = []
        own, extra = 0, self.extra_used
        while True:
            site = self.site(name, state)
            if site is None:
                return None, [], "it finishes without getting there"
            if stop(site):
                return "reach", path, ""
            if any(same_step(site, u) for u in later):
                return "skip", [], (f"{name} in {self.era} reaches {site.where()} (a later step "
                                    "of the trace) first")
            if not allowed(site):
                return None, [], f"it would first run {site.where()}"
            why = self.blocked_reason(name, state)
            if why is not None:
                mover = self.movable_extra(state)
                if mover is None or extra >= EXTRA_LIMIT:
                    return None, [], f"it is blocked at {site.where()}: {why}"
                extra += 1
            else:
                if own >= FILL_LIMIT:
                    return None, [], f"not within {FILL_LIMIT} of its own steps"
                mover, own = name, own + 1
            tid = self.tid(mover, state)
            succ = [(ch, s) for t, ch, s in self.stepper.expand(state) if t == tid]
            if not succ:
                return None, [], f"{mover} cannot move"
            path.append((mover, succ[0][0]))
            state = succ[0][1]

    # -- mapping one trace step -------------------------------------------------------------------
    def candidates(self, task: str) -> list[str]:
        if task in self.bound:
            return [self.bound[task]]
        taken = set(self.bound.values())
        r = role(task)
        names = [n for n in self.names() if n not in taken and role(n) == r
                 and self.site(n) is not None]
        if not names:      # renamed: an unmapped task that runs the same function
            fn = next((self.sites[j].stack[0] for j, st in enumerate(self.trace.steps)
                       if st.task == task and self.sites[j].full), None)
            names = [n for n in self.names() if fn and self.unmapped(n)
                     and self.site(n) is not None and self.entry(n) == fn]
        names.sort(key=lambda n: n != task)
        return names

    def decide(self, name: str, want: Site):
        """(rank, how, path, note) for target task *name* (lower rank is better), or
        (None, reason): the rules of the module docstring, in order."""
        site = self.site(name)
        if site is None:
            return (7, "skipped", [], f"{name} in {self.era} has finished")
        how = classify(site, want)
        if how == "same":
            return (0, how, [], "")
        if how == "moved":
            return (1, how, [], "")
        later = self.upcoming()
        kind, path, _ = self.ahead(name, lambda s: classify(s, want) in ("same", "moved"),
                                   lambda s: classify(s, want) is not None, later)
        if kind == "reach":
            return (2, "filled", path, "")
        if any(same_step(site, u) for u in later):
            return (3, "skipped", [], f"{name} in {self.era} is already at {site.where()}, a "
                                      "later step of the trace")
        if how == "function":
            return (4, how, [], "")
        kind, path, why = self.ahead(name, lambda s: classify(s, want) is not None,
                                     lambda s: True, later)
        if kind == "reach":
            return (5, "filled", path, "")
        if _sibling(site.stack, want.stack):
            k = next(j for j, (x, y) in enumerate(zip(site.stack, want.stack)) if x != y)
            return (6, "replaced", [], f"{self.era} calls {site.stack[k]} where the trace "
                                       f"called {want.stack[k]}")
        if kind == "skip":
            return (7, "skipped", [], why)
        if _callee(want.stack, site.stack):
            return (7, "skipped", [], f"{name} in {self.era} is back in {site.func} and does not "
                                      f"call {want.stack[len(site.stack)]} again ({why})")
        return (None, f"task {name} in {self.era} is at {site.where()} where the trace has "
                      f"{want.where()} ({why})")

    def map_step(self, i: int) -> None:
        self.i = i
        self.marks[i] = len(self.states) - 1
        step = self.trace.steps[i - 1]
        want = self.sites[i - 1]
        source = want.where()
        cands = self.candidates(step.task)
        if not cands:
            have = ", ".join(self.names())
            raise _Cannot(i, f"{self.era} has no free task in role {role(step.task)!r} for "
                             f"{step.task} (its tasks: {have})")
        best, reasons = None, []
        for name in cands:      # the best rank wins; among equals, one that can move now
            d = self.decide(name, want)
            if d[0] is None:
                reasons.append(d[1])
                continue
            key = (d[0], self.site(name) is not None and self.blocked_reason(name) is not None)
            if best is None or key < best[0]:
                best = (key, name, d)
        if best is None:
            raise _Cannot(i, reasons[0])
        _, name, (_, how, path, note) = best
        if how == "skipped":
            self.rows.append(Row(i, step.task, "", "skipped", source, "", note))
            self.skipped += 1
            limit = len(self.trace.steps) // SKIP_DIVISOR
            if self.skipped > limit:
                gone = [r.step for r in self.rows if r.how == "skipped"]
                funcs = list(dict.fromkeys(self.sites[k - 1].func for k in gone))
                raise _Cannot(i, f"{self.skipped} of the trace's {len(self.trace.steps)} steps "
                                 f"have no counterpart in {self.era} (at most {limit} may be "
                                 f"dropped): steps {_ranges(gone)}, in {', '.join(funcs)}; the "
                                 "designs differ too much for this schedule")
            return
        self.bound.setdefault(step.task, name)
        for mover, ch in path:
            if mover == name:
                self.take(mover, ch, "target-only", "", f"before trace step {i}")
            else:
                self.extra_used += 1
                self.take(mover, ch, "unblock", "", f"lets {name} move")
        self.unblock(name)
        site = self.site(name)
        how = classify(site, want) or ("replaced" if _sibling(site.stack, want.stack)
                                       else "function")
        if how == "moved" and not note:
            note = f"{site.op} is in {site.func} in {self.era}, in {want.func} in {self.trace.spec}"
        elif how == "function" and not note:
            note = f"{self.era} runs {site.label} here"
        self.take(name, self.choose(name, step), how, source, note, step.task)

    def unblock(self, name: str) -> None:
        """Run unmapped target tasks until *name* can move (at most EXTRA_LIMIT steps)."""
        while True:
            why = self.blocked_reason(name)
            if why is None:
                return
            extra = self.movable_extra(self.state)
            if extra is None or self.extra_used >= EXTRA_LIMIT:
                raise _Cannot(self.i, f"task {name} in {self.era} is blocked at "
                                      f"{self.site(name).where()}: {why}")
            self.extra_used += 1
            self.take(extra, (), "unblock", "", f"lets {name} move")

    def choose(self, name: str, step: Step) -> tuple:
        """The target outcome closest to what the trace observed at its branching effects."""
        tid = self.tid(name)
        options = sorted({ch for t, ch, _ in self.stepper.expand(self.state) if t == tid})
        if len(options) <= 1:
            return options[0] if options else ()
        want = [(mask(lbl), obs) for lbl, obs, c in step.effects if c is not None]

        def score(ch):
            try:
                _, record = self.stepper.execute(self.state, tid, ch)
            except StepError:
                return (-1,)
            got = [(mask(r.label), repr(r.obs)) for r in record if r.choice is not None]
            s = 0
            for (gl, go), (wl, wo) in zip(got, want):
                s += 4 if go == wo else (2 if _falsy(go) == _falsy(wo) else 0)
                s += 1 if gl == wl else 0
            return (s, ch == tuple(step.choices))
        return max(options, key=lambda ch: (score(ch), [-c for c in ch]))

    # -- the end --------------------------------------------------------------------------------
    def finish(self) -> tuple[str, str]:
        kind = self.prop.kind
        if kind in (FINAL, DEADLOCK):
            self.trailing(final=kind == FINAL)
        last = self.state
        self.view.world, self.view.locs = last
        want_violation = self.trace.verdict == "VIOLATED"
        if kind == TERMINATION:
            if self.trace.loop_start is None:
                raise _Cannot(0, "a termination trace without a loop")
            k = self.loop_index()
            ok = k is not None and self.states[k] == last
            return (STILL, "the loop returns to the state it started from: the run can repeat "
                           "forever") if ok else \
                (GONE, f"the mapped loop does not return to its starting state in {self.era}")
        if kind == DEADLOCK:
            if not self.stepper.expand(last) and not self.stepper.all_done(last):
                return STILL, "deadlock: " + "; ".join(f"{t} waits: {w}"
                                                       for t, w in self.stepper.blocked(last))
            return GONE, f"the last state is not a deadlock in {self.era}"
        if kind == ASSERTIONS:
            return GONE, f"no task raised in {len(self.steps)} steps of {self.era}"
        if kind == FINAL and not self.view.all_done:
            left = [n for n in self.names() if self.site(n) is not None]
            raise _Cannot(len(self.trace.steps),
                          f"the run does not end in a final state in {self.era}: "
                          + ", ".join(f"{n} is at {self.site(n).where()}" for n in left))
        holds = bool(self.prop.fn(self.view))
        if kind == SOMETIMES:
            reached = any(self._holds_at(s) for s in self.states)
            return (STILL, "the state is reached") if reached == (not want_violation) else \
                (GONE, "the state is not reached" if not reached else "the state is reached")
        if want_violation:
            if not holds:
                return STILL, f"property {self.prop.name!r} fails in the last state"
            return GONE, (f"every step applies and {self.prop.name!r} holds in all "
                          f"{len(self.states)} states of the {self.era} run (this schedule "
                          f"only: `{self.check_command()}` decides the era)")
        return (STILL if holds else GONE), f"property {self.prop.name!r} " \
            f"{'holds' if holds else 'fails'} in the last state"

    def check_command(self) -> str:
        """The ``khomc check`` of the target era with the parameters that differ from its
        scenario's defaults."""
        defaults = registry.scenario(self.era, self.trace.scenario).params
        ds = "".join(f" -D {k}={v}" for k, v in self.model.params.items()
                     if str(defaults.get(k)) != str(v))
        return f"khomc check {self.era} {self.trace.scenario}{ds}"

    def _holds_at(self, state) -> bool:
        self.view.world, self.view.locs = state
        return bool(self.prop.fn(self.view))

    def loop_index(self) -> int | None:
        """The target state index where the trace's loop starts (a lasso's first loop step)."""
        return self.marks.get(self.trace.loop_start + 1)

    def trailing(self, final: bool) -> None:
        """Let unmapped tasks (and, for a final-state property, every task) run to the end."""
        for _ in range(EXTRA_LIMIT + FILL_LIMIT * max(1, len(self.names()))):
            movable = [n for n in self.names() if self.site(n) is not None
                       and self.blocked_reason(n) is None
                       and (final or self.unmapped(n))]
            if not movable:
                return
            self.take(movable[0], (), "trailing", "", "after the trace's last step")


def classify(site: Site, want: Site) -> str | None:
    """How a target site corresponds to the trace's: 'same' (function and operation),
    'moved' (the operation, one call chain a prefix of the other), 'function' (the same
    function, or one call chain a prefix of the other below the task's entry), or None."""
    if site.func == want.func and site.op == want.op:
        return "same"
    if site.op == want.op and _related(site.stack, want.stack, 1):
        return "moved"
    if site.func == want.func or _callee(site.stack, want.stack):
        return "function"
    return None


def same_step(site: Site, other: Site) -> bool:
    """Both do the same operation in the same function along the same call chain (only the
    function when one of them was read from a label)."""
    if site.func != other.func or site.op != other.op:
        return False
    return site.stack == other.stack or not (site.full and other.full)


def _callee(a: tuple, b: tuple) -> bool:
    """Chain *a* runs inside a call of *b*'s function (b is a proper prefix of a, below the
    task's entry function)."""
    return len(b) >= 2 and len(a) > len(b) and a[:len(b)] == b


def _sibling(a: tuple, b: tuple) -> bool:
    """Chains *a* and *b* part inside one kernel call (their common part is at least the task's
    entry and one function) and neither is a prefix of the other: the era calls another
    function there than the trace did (7.1's kho_radix_add_page where 6.19 had
    __kho_preserve_order, both under kho_preserve_folio)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n >= 2 and n < len(a) and n < len(b)


def _related(a: tuple, b: tuple, least: int) -> bool:
    """The shorter call chain is a prefix of the longer, and at least *least* long."""
    n = min(len(a), len(b))
    return n >= least and a[:n] == b[:n]


def _moves(run: "_Run") -> list[str]:
    """One note per kind of code change the mapping went through: an operation moved to
    another function, or a helper replaced (with the trace steps where it happened)."""
    groups: dict = {}
    for r in run.rows:
        if r.how not in ("moved", "replaced") or not r.step:
            continue
        want = run.sites[r.step - 1]
        key = (r.how, want.op if r.how == "moved" else "", want.func, r.func)
        groups.setdefault(key, []).append(r.step)
    out = []
    for (how, op, src, dst), steps in groups.items():
        if how == "moved":
            out.append(f"{op} moved from {src} ({run.trace.spec}) to {dst} ({run.era}): "
                       f"step(s) {_ranges(steps)}")
        else:
            out.append(f"{run.era} runs {dst} where {run.trace.spec} ran {src}: step(s) "
                       f"{_ranges(steps)}")
    return out


def _ranges(nums: list[int]) -> str:
    """``[5, 6, 7, 9]`` -> ``'5-7, 9'``."""
    out: list[list[int]] = []
    for n in nums:
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in out)


def _falsy(obs: str) -> bool:
    return obs in ("0", "None", "False", "()", "''", "b''", "frozenset()")


# -- the entry point ------------------------------------------------------------------------------

def target_params(trace: Trace, era: str) -> tuple[dict | None, str]:
    """The parameters of the trace's scenario in *era*: (params, '') or (None, why not)."""
    sc = registry.scenario(era, trace.scenario)
    try:
        defaults = registry.scenario(trace.spec, trace.scenario).params
    except registry.UnknownName:
        defaults = {}
    out = {}
    for k, v in trace.params.items():
        if k in sc.params:
            out[k] = v
        elif k in defaults and str(defaults[k]) == str(v):
            continue      # left at the trace era's default: the target has no such knob
        else:
            known = ", ".join(sorted(sc.params)) or "none"
            return None, (f"{era} {trace.scenario} has no parameter {k!r} (the trace sets "
                          f"{k}={v!r}; it has: {known})")
    return out, ""


CONFIRM_MAX_STATES = 200_000


def _confirm(res: AgainstResult, era: str, trace: Trace, params: dict) -> None:
    """A GONE schedule is checked against the era itself: the mapping may have run the target's
    extra steps in an order that closes the window, so the era's own exhaustive search of the
    scenario decides.  VIOLATED there turns the answer into STILL (the flaw is not fixed, only
    this mapped interleaving misses it); HOLDS confirms GONE; a search cut by the budget leaves
    GONE for this schedule only, and says so."""
    from .engines.result import Bounds, Verdict
    from .engines.search import Search
    r = Search(registry.build(era, trace.scenario, params), "bfs",
               Bounds(max_states=CONFIRM_MAX_STATES), progress=False).run()
    v = r.property(trace.property).verdict
    if v is Verdict.VIOLATED:
        res.outcome = STILL
        res.reason = (f"the mapped schedule passes in {era}, but {era}'s own exhaustive check of "
                      f"{trace.scenario} finds {trace.property!r} VIOLATED "
                      f"({r.distinct:,} states): the mapped run took another interleaving; "
                      f"the flaw is not fixed ({res.reason})")
    elif v is Verdict.HOLDS and r.exhaustive:
        res.reason += f"; confirmed: {trace.property!r} HOLDS in all {r.distinct:,} states of {era}"
    else:
        res.reason += (f"; not confirmed: {era}'s own check stopped after {r.distinct:,} states "
                       f"(budget {CONFIRM_MAX_STATES:,})")


def replay_against(trace: Trace, era: str) -> AgainstResult:
    """Map *trace*'s schedule onto *era* (see the module docstring): GONE, STILL or CANNOT.

    Raises registry.UnknownName for an unknown era (bad input, not an answer)."""
    registry.spec_module(era)
    res = AgainstResult(CANNOT, 0, "", trace.spec, era, trace.scenario, trace.property)
    try:
        registry.scenario(era, trace.scenario)
    except registry.UnknownName:
        have = ", ".join(s.name for s in registry.scenarios(era))
        res.reason = f"{era} has no scenario {trace.scenario!r} (it has: {have})"
        return res
    params, why = target_params(trace, era)
    if params is None:
        res.reason = why
        return res
    try:
        model = registry.build(era, trace.scenario, params)
    except registry.UnknownName as exc:
        res.reason = f"{era} {trace.scenario} cannot take the trace's parameters: {exc}"
        return res
    try:
        model.property(trace.property)
    except KeyError:
        have = ", ".join(p.name for p in model.properties)
        res.reason = f"{era} {trace.scenario} has no property {trace.property!r} (it has: {have})"
        return res
    sites, note = trace_sites(trace)
    run = _Run(trace, model, era, sites)
    res.model = model
    if note:
        res.notes.append(note)
    try:
        for i in range(1, len(trace.steps) + 1):
            run.map_step(i)
        res.outcome, res.reason = run.finish()
        res.step = None
        if res.outcome == GONE:
            _confirm(res, era, trace, params)
    except _Cannot as c:
        res.outcome, res.step, res.reason = CANNOT, c.step, c.reason
    except _Still as s:
        res.outcome, res.step, res.reason = STILL, s.step, \
            f"{s.reason} (at trace step {s.step} of {len(trace.steps)})"
    res.rows, res.states, res.steps = run.rows, run.states, run.steps
    res.notes += _moves(run)
    if run.extra_used:
        res.notes.append(f"{run.extra_used} step(s) of tasks the trace does not have ran to "
                         "unblock mapped ones")
    return res
