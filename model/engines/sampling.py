"""Sampling engines: seeded random walks and PCT (probabilistic concurrency testing).

Owns ``--engine random`` and ``--engine pct``.  Each run starts from the initial state and takes
up to ``steps`` steps; every state is checked by the shared :class:`Monitor`, a state without
successors where some task has not finished is a deadlock.  Runs are reproducible: run *i* of
seed *s* uses ``random.Random(f"{s}:{i}")``, and every counterexample becomes an ordinary trace.

PCT follows Burckhardt, Kothari, Musuvathi and Nagarakatte, "A Randomized Scheduler with
Probabilistic Guarantees of Finding Bugs" (ASPLOS 2010): tasks get distinct random priorities
``>= d``; ``d - 1`` change points are drawn among the first ``steps`` steps; the highest-priority
enabled task always runs, and when the i-th change point is reached the running task drops to
priority ``d - i`` - below every task not yet lowered and every task lowered before it (as
Coyote's prioritization strategy moves the task to the lowest priority).  A bug of depth ``d`` is found with probability at least ``1/(n k^(d-1))`` per run
(n tasks, k steps).  Branching effects (``choose``) take a uniformly random outcome.

Sampling never proves anything: a property that was not violated is UNKNOWN, with the number
of runs and states that were sampled.
"""

from __future__ import annotations

import random
import time

from ..runtime.spec import SOMETIMES, TERMINATION, Model
from ..runtime.step import Stepper
from ..trace import make_trace
from .monitor import Monitor
from .result import Bounds, CheckResult, PropertyResult, Verdict
from .shrink import shrink


class _Run:
    """One sampled run: its schedule and the first failure it met."""

    def __init__(self):
        self.schedule: list = []
        self.failed: list[str] = []
        self.deadlock: list | None = None


class Sampler:
    """Random or PCT runs of a model.  ``Sampler(model, 'pct', seed=1).run()``."""

    def __init__(self, model: Model, engine: str = "random", seed: int = 0, runs: int = 1000,
                 steps: int = 200, depth: int = 3, bounds: Bounds | None = None,
                 stop_at_first: bool = True, shrink: bool = True):
        if engine not in ("random", "pct"):
            raise ValueError(f"unknown sampling engine {engine!r} (random, pct)")
        self.model = model
        self.engine = engine
        self.seed = seed
        self.runs = runs
        self.steps = steps
        self.depth = depth
        self.bounds = bounds or Bounds()
        self.stop_at_first = stop_at_first
        self.shrink = shrink
        self.stepper = Stepper(model)
        self.monitor = Monitor(model)
        self.seen: set = set()
        self.transitions = 0
        self.max_depth = 0
        self.violations: dict[str, tuple[list, str]] = {}   # name -> (schedule, message)
        self.witness: dict[str, list] = {}
        self.first_seconds: float | None = None
        self.runs_done = 0

    # -- one run -----------------------------------------------------------------------------
    def _pick(self, rng: random.Random, succ: list, prio: dict, step: int, changes: dict):
        if self.engine == "random":
            return rng.choice(succ)
        enabled = {tid for tid, _, _ in succ}
        for tid in enabled:
            if tid not in prio:                       # a task spawned during the run
                prio[tid] = self.depth + rng.random() * 1000
        best = max(enabled, key=lambda t: prio[t])
        if step in changes:                           # a priority change point
            prio[best] = changes[step]
            best = max(enabled, key=lambda t: prio[t])
        return rng.choice([s for s in succ if s[0] == best])

    def _one(self, index: int) -> _Run:
        rng = random.Random(f"{self.seed}:{index}")
        state = self.stepper.initial()
        ntasks = len(state[1])
        prio = dict(zip(range(ntasks), rng.sample(range(self.depth, self.depth + ntasks),
                                                  ntasks)))
        points = rng.sample(range(1, self.steps + 1), min(self.depth - 1, self.steps))
        changes = {k: self.depth - (i + 1) for i, k in enumerate(sorted(points))}
        run = _Run()
        self._observe(state, run)
        for step in range(1, self.steps + 1):
            succ = self.stepper.expand(state)
            if not succ:
                if not self.stepper.all_done(state):
                    run.deadlock = self.stepper.blocked(state)
                break
            tid, choices, state = self._pick(rng, succ, prio, step, changes)
            self.transitions += 1
            run.schedule.append((tid, choices))
            self.max_depth = max(self.max_depth, step)
            self._observe(state, run)
            if run.failed and self.stop_at_first:
                break
        return run

    def _observe(self, state, run: _Run) -> None:
        self.seen.add(state)
        for name in self.monitor.failing(state, self.violations):
            if name not in run.failed:
                run.failed.append(name)
                self.violations[name] = (list(run.schedule), "")
        for name in self.monitor.reached(state, self.witness):
            self.witness[name] = list(run.schedule)

    # -- all runs ----------------------------------------------------------------------------
    def run(self) -> CheckResult:
        start = time.perf_counter()
        stop = "sampled"
        try:
            for i in range(self.runs):
                r = self._one(i)
                self.runs_done += 1
                if r.deadlock is not None and "deadlock-free" not in self.violations:
                    waits = "; ".join(f"{t} waits: {w}" for t, w in r.deadlock)
                    self.violations["deadlock-free"] = (list(r.schedule), f"deadlock: {waits}")
                if self.violations and self.first_seconds is None:
                    self.first_seconds = time.perf_counter() - start
                if self.violations and self.stop_at_first:
                    stop = "first"
                    break
                b = self.bounds
                if b.time_limit is not None and time.perf_counter() - start >= b.time_limit:
                    stop = "time-limit"
                    break
                if b.max_states is not None and len(self.seen) >= b.max_states:
                    stop = "max-states"
                    break
        except KeyboardInterrupt:
            stop = "interrupted"
        return self._result(stop, time.perf_counter() - start)

    def _bounds(self) -> dict:
        return {**self.bounds.as_dict(), "runs": self.runs, "steps": self.steps,
                "seed": self.seed, **({"pct_depth": self.depth} if self.engine == "pct" else {})}

    def _result(self, stop: str, seconds: float) -> CheckResult:
        m = self.model
        res = CheckResult(m.spec, m.scenario, dict(m.params), self.engine, self.bounds,
                          distinct=len(self.seen), transitions=self.transitions,
                          depth=self.max_depth, seconds=seconds, stop=stop)
        res.notes.append(f"{self.runs_done} sampled run(s) of up to {self.steps} steps, seed "
                         f"{self.seed}" + (f", PCT depth {self.depth}" if self.engine == "pct"
                                           else "") + ": sampling never proves a property")
        if self.first_seconds is not None:
            res.notes.append(f"first counterexample after {self.first_seconds:.3f} s")
        for p in m.properties:
            res.properties.append(self._property(p))
        return res

    def _property(self, p) -> PropertyResult:
        pr = PropertyResult(p.name, p.kind, Verdict.UNKNOWN, doc=p.doc)
        if p.kind == SOMETIMES:
            if p.name in self.witness:
                pr.verdict = Verdict.HOLDS
                pr.message = f"reached after {len(self.witness[p.name])} steps"
                pr.trace = self._trace(p, self.witness[p.name], "HOLDS", pr.message)
            else:
                pr.message = f"not reached in {self.runs_done} sampled runs"
            return pr
        if p.kind == TERMINATION:
            pr.message = "not analysed by sampling engines (use bfs or dfs)"
            return pr
        if p.name in self.violations:
            schedule, message = self.violations[p.name]
            if self.shrink:
                schedule = shrink(self.model, schedule, p.name, self.stepper)
            pr.verdict = Verdict.VIOLATED
            pr.message = message or self._message(p, schedule)
            pr.trace = self._trace(p, schedule, "VIOLATED", pr.message)
        else:
            pr.message = f"no violation in {self.runs_done} sampled runs ({len(self.seen):,} states)"
        return pr

    def _message(self, p, schedule) -> str:
        if p.kind == "assertions":
            state = self._replay_state(schedule)
            table = self.model.table
            for lid in state[1]:
                if table.crashed[lid] is not None:
                    return f"task {table.name[lid]!r} raised {table.crashed[lid]}"
        return f"fails in a state reached after {len(schedule)} steps"

    def _replay_state(self, schedule):
        state = self.stepper.initial()
        for tid, choices in schedule:
            state, _ = self.stepper.execute(state, tid, choices)
        return state

    def _trace(self, p, schedule, verdict, message):
        return make_trace(self.model, schedule, p, verdict, message, self.engine, self._bounds(),
                          stepper=self.stepper)
