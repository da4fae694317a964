"""Counterexample traces: a versioned JSON value, its replay and its text rendering.

Owns the trace format.  A trace records where it came from (tool version, spec, scenario,
parameters, bounds, engine), what it shows (property, kind, verdict, message) and its steps.  Each
step names the task, the choices taken at branching effects, every effect's label and
observation, and the shared variables it changed.  A termination trace is a lasso: the steps from
``loop_start`` on return to the state they started from.

Replay re-executes the schedule on the spec and checks every step against the record; the first
step that does not apply (a task blocked or finished, a different effect, a different
observation) is named with the reason.  Traces render as numbered text with one column per task,
the lockdep "CPU0 | CPU1" layout kernel developers already read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .runtime.spec import ASSERTIONS, DEADLOCK, FINAL, SOMETIMES, TERMINATION, Model
from .runtime.step import StepError, Stepper

FORMAT = "khomc-trace"
VERSION = 1
MAX_TRACE_BYTES = 32 << 20     # a trace file larger than this is refused unread
MAX_DEPTH = 16                 # JSON nesting a trace needs: 5; anything deeper is refused
MAX_STEPS = 1_000_000


class TraceError(Exception):
    """A trace file that cannot be used: the message is one line saying which and why."""


@dataclass
class Step:
    task: str
    tid: int
    choices: tuple = ()
    effects: list = field(default_factory=list)   # [(label, obs repr, choice)]
    changes: dict = field(default_factory=dict)   # var -> (old repr, new repr)
    spawned: list = field(default_factory=list)    # names of tasks this step started
    objects: list = field(default_factory=list)    # per effect: the shared variables it touches
    writes: list = field(default_factory=list)     # per effect: may it change them

    def as_json(self) -> dict:
        objs = self.objects or [[] for _ in self.effects]
        writes = self.writes or [False for _ in self.effects]
        return {"task": self.task, "tid": self.tid, "choices": list(self.choices),
                "effects": [{"label": l, "obs": o, **({"choice": c} if c is not None else {}),
                             **({"objects": list(ob)} if ob else {}),
                             **({"writes": True} if w else {})}
                            for (l, o, c), ob, w in zip(self.effects, objs, writes)],
                "changes": {k: [a, b] for k, (a, b) in self.changes.items()},
                **({"spawned": self.spawned} if self.spawned else {})}

    @classmethod
    def from_json(cls, d: dict) -> "Step":
        return cls(task=d["task"], tid=int(d["tid"]), choices=tuple(int(c) for c in d["choices"]),
                   effects=[(e["label"], e["obs"], e.get("choice")) for e in d["effects"]],
                   changes={k: (v[0], v[1]) for k, v in d["changes"].items()},
                   spawned=list(d.get("spawned", [])),
                   objects=[list(e.get("objects", [])) for e in d["effects"]],
                   writes=[bool(e.get("writes", False)) for e in d["effects"]])


@dataclass
class Trace:
    spec: str
    scenario: str
    params: dict
    property: str
    kind: str
    verdict: str
    message: str
    steps: list[Step]
    engine: str = ""
    bounds: dict = field(default_factory=dict)
    loop_start: int | None = None
    tool: str = f"khomc {__version__}"
    initial: dict = field(default_factory=dict)   # var -> repr of its initial value
    tasks: list = field(default_factory=list)      # task names at the start
    waits: list = field(default_factory=list)      # deadlocks: [task, what it sleeps on]

    # -- (de)serialisation --------------------------------------------------------------------
    def as_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "tool": self.tool, "spec": self.spec,
                "scenario": self.scenario, "params": self.params, "engine": self.engine,
                "bounds": self.bounds, "property": self.property, "kind": self.kind,
                "verdict": self.verdict, "message": self.message, "tasks": self.tasks,
                "initial": self.initial, "loop_start": self.loop_start,
                **({"waits": self.waits} if self.waits else {}),
                "steps": [s.as_json() for s in self.steps]}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=1) + "\n")
        return path

    @classmethod
    def from_json(cls, d: Any, where: str = "trace") -> "Trace":
        try:
            validate_trace(d)
        except TraceError as exc:
            raise TraceError(f"{where}: {exc}") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise TraceError(f"{where}: not a khomc trace (no \"format\": \"{FORMAT}\")")
        if d.get("version") != VERSION:
            raise TraceError(f"{where}: trace format version {d.get('version')!r} is not "
                             f"supported (this khomc reads version {VERSION})")
        try:
            return cls(spec=d["spec"], scenario=d["scenario"], params=dict(d["params"]),
                       property=d["property"], kind=d["kind"], verdict=d["verdict"],
                       message=d.get("message", ""),
                       steps=[Step.from_json(s) for s in d["steps"]],
                       engine=d.get("engine", ""), bounds=d.get("bounds") or {},
                       loop_start=d.get("loop_start"), tool=d.get("tool", ""),
                       initial=d.get("initial") or {}, tasks=list(d.get("tasks") or []),
                       waits=[list(w) for w in d.get("waits") or []])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise TraceError(f"{where}: malformed trace ({type(exc).__name__}: {exc})") from None

    @classmethod
    def load(cls, path: str | Path) -> "Trace":
        """Read, parse and validate (:func:`validate_trace`) a trace file; TraceError with one
        line for anything that is not a well-formed trace of this format version."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_TRACE_BYTES + 1)
        except OSError as exc:
            raise TraceError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if len(raw) > MAX_TRACE_BYTES:
            raise TraceError(f"{path}: larger than {MAX_TRACE_BYTES >> 20} MiB: not a trace "
                             "khomc wrote")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TraceError(f"{path}: not a UTF-8 text file (corrupt, binary or another "
                             "encoding)") from None
        try:
            d = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: corrupt or truncated JSON ({exc.msg} at line {exc.lineno})") \
                from None
        except RecursionError:
            raise TraceError(f"{path}: JSON nested too deeply") from None
        except ValueError as exc:                # NaN/Infinity, 1e999, ints of > 4300 digits
            raise TraceError(f"{path}: corrupt JSON ({str(exc)[:80]})") from None
        return cls.from_json(d, str(path))

    # -- rendering ----------------------------------------------------------------------------
    def render(self, width: int = 36) -> str:
        return render(self, width)


# -- validation ----------------------------------------------------------------------------------

def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a trace may hold")


def _finite_float(text: str) -> float:
    v = float(text)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is out of range")
    return v


_KINDS = (ASSERTIONS, DEADLOCK, TERMINATION, "always", FINAL, SOMETIMES)
_INT_MAX = 1 << 31


def _depth(obj) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > deepest:
            deepest = d
            if deepest > MAX_DEPTH:
                return deepest
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest


def validate_trace(obj: Any) -> None:
    """Check a parsed trace against the format's schema; TraceError (one line) if it is not.

    Every field's type and range is checked (the steps' task numbers and choices are small
    non-negative integers, labels and reprs are strings, parameters are ints, strings or
    booleans, numbers are finite), nesting is bounded, and the spec, scenario and parameters
    must name a scenario this khomc has, with the parameters in their declared ranges.  What
    the model itself must agree with (its tasks, initial values, property) is
    :func:`check_matches`."""
    def need(cond, why):
        if not cond:
            raise TraceError(f"malformed trace ({why})")

    def text(v, what, limit=1 << 20):
        need(isinstance(v, str) and len(v) <= limit, f"{what} must be a string")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            need(False, f"{what} holds a lone surrogate")
        return v

    def small(v, what, hi=_INT_MAX):
        need(type(v) is int and 0 <= v < hi, f"{what} must be an integer in 0..{hi - 1}")
        return v

    if not isinstance(obj, dict):
        raise TraceError("not a khomc trace (not a JSON object)")
    if obj.get("format") != FORMAT:
        raise TraceError(f"not a khomc trace (no \"format\": \"{FORMAT}\")")
    if obj.get("version") != VERSION or type(obj.get("version")) is not int:
        raise TraceError(f"trace format version {repr(obj.get('version'))[:20]} is not "
                         f"supported (this khomc reads version {VERSION})")
    need(_depth(obj) <= MAX_DEPTH, f"nested deeper than {MAX_DEPTH} levels")
    for key in ("spec", "scenario", "property", "kind", "verdict", "params", "steps"):
        need(key in obj, f"no {key!r}")
    for key in ("spec", "scenario", "property"):
        text(obj[key], key, 200)
    for key in ("message", "tool", "engine"):
        if key in obj:
            text(obj[key], key)
    need(obj["kind"] in _KINDS, f"unknown property kind {str(obj['kind'])[:40]!r}")
    need(obj["verdict"] in ("VIOLATED", "HOLDS"), "verdict must be VIOLATED or HOLDS")
    need((obj["verdict"] == "HOLDS") == (obj["kind"] == SOMETIMES),
         f"a {obj['kind']} trace records a violation, a sometimes trace a witness (HOLDS)")
    params = obj["params"]
    need(isinstance(params, dict), "params must be an object")
    for k, v in params.items():
        text(k, "a parameter name", 200)
        if isinstance(v, str):
            text(v, f"parameter {k!r}", 1000)
        need(type(v) in (int, str, bool), f"parameter {k[:40]!r} must be an int, string or "
             "boolean")
    bounds = obj.get("bounds") or {}
    need(isinstance(bounds, dict), "bounds must be an object")
    for k, v in bounds.items():
        need(v is None or (type(v) in (int, float) and v >= 0), f"bound {k[:40]!r} must be a "
             "non-negative number or null")
    steps = obj["steps"]
    need(isinstance(steps, list) and len(steps) <= MAX_STEPS, "steps must be a list")
    for i, st in enumerate(steps, start=1):
        where = f"step {i}"
        need(isinstance(st, dict), f"{where} is not an object")
        for key in ("task", "tid", "choices", "effects", "changes"):
            need(key in st, f"{where} has no {key!r}")
        text(st["task"], f"{where}: task", 200)
        small(st["tid"], f"{where}: tid", 1 << 15)
        need(isinstance(st["choices"], list), f"{where}: choices must be a list")
        for c in st["choices"]:
            small(c, f"{where}: a choice")
        need(isinstance(st["effects"], list), f"{where}: effects must be a list")
        for e in st["effects"]:
            need(isinstance(e, dict) and "label" in e and "obs" in e,
                 f"{where}: an effect needs a label and an observation")
            text(e["label"], f"{where}: an effect label")
            text(e["obs"], f"{where}: an observation")
            if "choice" in e and e["choice"] is not None:
                small(e["choice"], f"{where}: an effect's choice")
            if "objects" in e:
                need(isinstance(e["objects"], list), f"{where}: objects must be a list")
                for o in e["objects"]:
                    text(o, f"{where}: an object name", 200)
            if "writes" in e:
                need(type(e["writes"]) is bool, f"{where}: writes must be a boolean")
        need(isinstance(st["changes"], dict), f"{where}: changes must be an object")
        for v in st["changes"].values():
            need(isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v),
                 f"{where}: a change must be [old repr, new repr]")
        if "spawned" in st:
            need(isinstance(st["spawned"], list), f"{where}: spawned must be a list")
            for name in st["spawned"]:
                text(name, f"{where}: a spawned task", 200)
    tasks = obj.get("tasks") or []
    need(isinstance(tasks, list), "tasks must be a list")
    for name in tasks:
        text(name, "a task name", 200)
    initial = obj.get("initial") or {}
    need(isinstance(initial, dict) and all(isinstance(v, str) for v in initial.values()),
         "initial must map variables to reprs")
    loop = obj.get("loop_start")
    if loop is not None:
        need(type(loop) is int and 0 <= loop < max(1, len(steps)),
             "loop_start must be a step index")
    need((loop is not None) == (obj["kind"] == TERMINATION) or not steps,
         "a termination trace has a loop_start and only it does")
    waits = obj.get("waits") or []
    need(isinstance(waits, list) and all(isinstance(w, list) and len(w) == 2 and
                                         all(isinstance(x, str) for x in w) for w in waits),
         "waits must be [task, reason] pairs")
    from . import registry
    try:
        registry.check_params(obj["spec"], obj["scenario"], params)
    except registry.UnknownName as exc:
        raise TraceError(f"mismatched trace: {exc.args[0]}") from None


def check_matches(trace: "Trace", model: Model) -> None:
    """A trace names its scenario's tasks, initial values and property: refuse (TraceError) a
    trace that disagrees with the model it would replay on (so an edited file cannot replay to
    a verdict it never had)."""
    stepper = Stepper(model)
    init = stepper.initial()
    names = stepper.task_names(init)
    if trace.tasks and list(trace.tasks) != names:
        raise TraceError(f"mismatched trace: its tasks {trace.tasks} are not the scenario's "
                         f"{names}")
    initial = {k: repr(v) for k, v in model.describe_world(init[0]).items()}
    if trace.initial and trace.initial != initial:
        diff = sorted(k for k in set(initial) | set(trace.initial)
                      if initial.get(k) != trace.initial.get(k))
        raise TraceError(f"mismatched trace: initial values differ from the scenario's "
                         f"({', '.join(diff[:3])})")
    try:
        prop = model.property(trace.property)
    except KeyError:
        raise TraceError(f"mismatched trace: the scenario has no property "
                         f"{trace.property[:60]!r}") from None
    if prop.kind != trace.kind:
        raise TraceError(f"mismatched trace: property {prop.name!r} is a {prop.kind} property, "
                         f"the trace says {trace.kind}")


# -- building a trace from a search ---------------------------------------------------------------

def run_schedule(model: Model, schedule, stepper: Stepper | None = None):
    """Execute ``[(tid, choices)]`` from the initial state: (steps, states)."""
    stepper = stepper or Stepper(model)
    state = stepper.initial()
    states = [state]
    steps = []
    for tid, choices in schedule:
        names = stepper.task_names(state)
        nxt, record = stepper.execute(state, tid, choices)
        steps.append(_make_step(model, stepper, state, nxt, tid, choices, record, names))
        state = nxt
        states.append(state)
    return steps, states


def _make_step(model, stepper, state, nxt, tid, choices, record, names) -> Step:
    old, new = model.describe_world(state[0]), model.describe_world(nxt[0])
    changes = {k: (repr(old[k]), repr(new[k])) for k in old if old[k] != new[k]}
    spawned = stepper.task_names(nxt)[len(state[1]):]
    return Step(task=names[tid], tid=tid, choices=tuple(choices),
                effects=[(r.label, repr(r.obs), r.choice) for r in record],
                changes=changes, spawned=spawned, objects=[list(r.objects) for r in record],
                writes=[r.writes for r in record])


def make_trace(model: Model, schedule, prop, verdict: str, message: str, engine: str,
               bounds: dict, loop=None, stepper: Stepper | None = None) -> Trace:
    """The trace of *schedule* ``[(tid, choices)]`` (then around *loop*, for a lasso)."""
    stepper = stepper or Stepper(model)
    schedule = list(schedule)
    loop_start = None
    if loop:
        loop_start = len(schedule)
        schedule = schedule + list(loop)
    steps, states = run_schedule(model, schedule, stepper)
    return Trace(spec=model.spec, scenario=model.scenario, params=dict(model.params),
                 property=prop.name, kind=prop.kind, verdict=verdict, message=message,
                 steps=steps, engine=engine, bounds=dict(bounds), loop_start=loop_start,
                 initial={k: repr(v) for k, v in model.describe_world(states[0][0]).items()},
                 tasks=stepper.task_names(states[0]))


def build_trace(search, sid: int, prop, verdict: str, message: str, loop=None) -> Trace:
    """The trace from the initial state to state *sid* of an exhaustive search."""
    t = make_trace(search.model, search.schedule(sid), prop, verdict, message, search.engine,
                   search.bounds.as_dict(), loop, search.stepper)
    if prop.kind == DEADLOCK and sid in search.deadlocks:
        t.waits = [[task, why] for task, why in search.deadlocks[sid]]
    return t


# -- replay ------------------------------------------------------------------------------------

@dataclass
class ReplayResult:
    steps_ok: int
    divergence: tuple[int, str] | None   # (1-based step, why) of the first step that differs
    reproduced: bool                     # the recorded verdict holds at the end
    message: str
    states: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.divergence is None and self.reproduced


def replay(trace: Trace, model: Model) -> ReplayResult:
    """Re-execute *trace* on *model*, checking every step and then the recorded verdict."""
    stepper = Stepper(model)
    state = stepper.initial()
    states = [state]
    for i, step in enumerate(trace.steps, start=1):
        names = stepper.task_names(state)
        why = _step_mismatch(model, stepper, state, step, names)
        if isinstance(why, str):
            return ReplayResult(i - 1, (i, why), False, f"step {i} diverges: {why}", states)
        state = why
        states.append(state)
    reproduced, msg = _verdict_reproduced(trace, model, stepper, states)
    return ReplayResult(len(trace.steps), None, reproduced, msg, states)


def _step_mismatch(model, stepper, state, step: Step, names):
    """The next state if *step* replays exactly, else the reason (a string).

    Steps name their task; the task's number is only a hint (another era may start an extra
    task, numbering the others differently)."""
    tid = step.tid
    if tid >= len(names) or names[tid] != step.task:
        if step.task not in names:
            return f"no task {step.task!r} in this state (tasks: {', '.join(names)})"
        tid = names.index(step.task)
    try:
        nxt, record = stepper.execute(state, tid, step.choices)
    except StepError as exc:
        return str(exc)
    got = _make_step(model, stepper, state, nxt, tid, step.choices, record, names)
    for k, (want, have) in enumerate(zip(step.effects, got.effects)):
        if want[0] != have[0]:
            return f"{step.task} ran {have[0]!r} where the trace has {want[0]!r}"
        if want[1] != have[1]:
            return (f"{step.task}: {have[0]!r} observed {have[1]} where the trace has "
                    f"{want[1]}")
    if len(step.effects) != len(got.effects):
        return (f"{step.task} ran {len(got.effects)} effect(s) in this step where the trace "
                f"has {len(step.effects)}")
    if got.changes != step.changes:
        return f"state changes differ: replay {got.changes}, trace {step.changes}"
    return nxt


def _verdict_reproduced(trace: Trace, model: Model, stepper: Stepper, states) -> tuple[bool, str]:
    last = states[-1]
    view = model.view()
    view.world, view.locs = last
    kind = trace.kind
    try:
        prop = model.property(trace.property)
    except KeyError as exc:
        return False, str(exc.args[0])
    if kind == TERMINATION:
        if trace.loop_start is None:
            return False, "termination trace without a loop"
        ok = states[trace.loop_start] == last
        return ok, ("the loop returns to the state it started from: the run can repeat forever"
                    if ok else "the loop does not return to its starting state")
    if kind == DEADLOCK:
        ok = not stepper.expand(last) and not stepper.all_done(last)
        return ok, ("deadlock reproduced: " + "; ".join(f"{t} waits: {w}"
                                                      for t, w in stepper.blocked(last))
                    if ok else "the last state is not a deadlock")
    if kind == ASSERTIONS:
        crashed = [(model.table.name[l], model.table.crashed[l]) for l in last[1]
                   if model.table.crashed[l] is not None]
        ok = bool(crashed)
        return ok, (f"task {crashed[0][0]!r} raised {crashed[0][1]}" if ok
                    else "no task raised")
    holds = bool(prop.fn(view))
    if kind == SOMETIMES:
        return holds, "the state is reached" if holds else "the state is not reached"
    if kind == FINAL and not view.all_done:
        return False, "the last state is not final (some task has not finished)"
    want_violation = trace.verdict == "VIOLATED"
    ok = (not holds) if want_violation else holds
    return ok, (f"property {prop.name!r} {'fails' if not holds else 'holds'} in the last state")


# -- rendering ---------------------------------------------------------------------------------

def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render(trace: Trace, width: int = 36) -> str:
    """Numbered steps, one column per task, state changes under each step."""
    tasks = list(trace.tasks)
    for s in trace.steps:
        for name in [s.task] + s.spawned:
            if name not in tasks:
                tasks.append(name)
    col = {name: i for i, name in enumerate(tasks)}
    lines = [f"khomc trace: {trace.spec}/{trace.scenario} "
             f"{' '.join(f'{k}={v}' for k, v in trace.params.items())}".rstrip(),
             f"property {trace.property!r} ({trace.kind}): {trace.verdict}",
             f"  {trace.message}",
             f"  engine {trace.engine or '?'}, {len(trace.steps)} steps, {trace.tool}", ""]
    head = "  #  " + " | ".join(_cut(t, width).ljust(width) for t in tasks)
    lines += [head.rstrip(), "  " + "-" * (len(head) - 2)]
    for i, s in enumerate(trace.steps, start=1):
        if trace.loop_start is not None and i - 1 == trace.loop_start:
            lines.append("  --- loop: the steps below repeat forever ---")
        for j, (label, obs, _choice) in enumerate(s.effects):
            text = label if obs == "None" else f"{label} → {obs}"
            cells = [""] * len(tasks)
            cells[col[s.task]] = _cut(text, width)
            num = f"{i:3d}" if j == 0 else "   "
            lines.append((f"{num}  " + " | ".join(c.ljust(width) for c in cells)).rstrip())
        for k, (a, b) in s.changes.items():
            lines.append(f"       {k}: {a} → {b}")
        for name in s.spawned:
            lines.append(f"       started task {name}")
    return "\n".join(lines) + "\n"
