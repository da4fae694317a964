"""The hypothesis stateful engine: random schedules with shrinking to a minimal counterexample.

Owns ``--engine stateful``.  Any model becomes a ``RuleBasedStateMachine`` whose one rule takes
an enabled step - which task runs, and which outcome each ``choose`` inside that step takes,
drawn as an index into the state's successors - whose invariants are the ``assertions`` and
``always`` properties, and whose teardown runs the remaining tasks (first enabled successor each
time) to check deadlock freedom and the ``final`` properties.  A failure raises
:class:`PropertyFailure` with the schedule; hypothesis then shrinks the schedule (fewer steps,
smaller indices: lower task numbers first) and re-raises on the minimal one, which becomes an
ordinary trace.  The engine also reports the time to the first counterexample and the schedule's
length before and after shrinking.

Like every sampling engine it never proves a property: no violation means UNKNOWN.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, Phase, seed as hypothesis_seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, rule,
                                 run_state_machine_as_test)

from ..runtime.spec import SOMETIMES, TERMINATION, Model
from ..runtime.step import Stepper
from ..trace import make_trace
from .monitor import Monitor
from .result import Bounds, CheckResult, PropertyResult, Verdict
from .shrink import shrink

TEARDOWN_LIMIT = 10_000


class PropertyFailure(AssertionError):
    """A property failed on a sampled schedule."""

    def __init__(self, name: str, message: str, schedule: list):
        super().__init__(f"{name}: {message} (after {len(schedule)} steps)")
        self.name = name
        self.message = message
        self.schedule = list(schedule)


class _Stats:
    def __init__(self):
        self.start = time.perf_counter()
        self.first_seconds: float | None = None
        self.first_length: int | None = None
        self.examples = 0
        self.steps = 0
        self.seen: set = set()
        self.witness: dict[str, list] = {}


def machine_for(model: Model, stats: _Stats, only: str | None = None):
    """A RuleBasedStateMachine class exploring *model* (optionally watching one property)."""
    stepper = Stepper(model)
    monitor = Monitor(model)

    def fail(name: str, message: str, schedule: list):
        if stats.first_seconds is None:
            stats.first_seconds = time.perf_counter() - stats.start
            stats.first_length = len(schedule)
        raise PropertyFailure(name, message, schedule)

    class KHOMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.state = stepper.initial()
            self.schedule: list = []
            stats.examples += 1

        @initialize()
        def start(self):
            stats.seen.add(self.state)

        def _succ(self):
            return stepper.expand(self.state)

        @rule(data=st.data())
        def step(self, data):
            succ = self._succ()
            if not succ:   # every task finished (or a deadlock, which teardown reports)
                return
            tid, choices, nxt = succ[data.draw(st.integers(0, len(succ) - 1), label="step")]
            self._take(tid, choices, nxt)

        def _take(self, tid, choices, nxt):
            self.schedule.append((tid, choices))
            self.state = nxt
            stats.steps += 1
            stats.seen.add(nxt)

        @invariant()
        def state_properties(self):
            for name in monitor.reached(self.state, stats.witness):
                stats.witness[name] = list(self.schedule)
            for name in monitor.failing(self.state):
                if only is None or name == only:
                    fail(name, _message(model, name, self.state), self.schedule)

        def teardown(self):
            turn = 0   # round robin over tasks, so every task gets to finish
            for _ in range(TEARDOWN_LIMIT):
                succ = self._succ()
                if not succ:
                    break
                pick = min(succ, key=lambda s: (s[0] - turn) % len(self.state[1]))
                turn = pick[0] + 1
                self._take(*pick)
                self.state_properties()
            else:
                return
            if not stepper.all_done(self.state) and only in (None, "deadlock-free"):
                waits = "; ".join(f"{t} waits: {w}" for t, w in stepper.blocked(self.state))
                fail("deadlock-free", f"deadlock: {waits}", self.schedule)

    KHOMachine.__name__ = f"{model.spec}_{model.scenario}".replace("-", "_")
    return KHOMachine


def _message(model: Model, name: str, state) -> str:
    table = model.table
    if name == "assertions":
        for lid in state[1]:
            if table.crashed[lid] is not None:
                return f"task {table.name[lid]!r} raised {table.crashed[lid]}"
    return "fails"


class Stateful:
    """Hypothesis-driven exploration of a model: ``Stateful(model, examples=200).run()``."""

    def __init__(self, model: Model, examples: int = 200, steps: int = 50, seed: int | None = 0,
                 derandomize: bool = False, bounds: Bounds | None = None, shrink: bool = True):
        self.model = model
        self.examples = examples
        self.steps = steps
        self.seed = seed
        self.derandomize = derandomize
        self.bounds = bounds or Bounds()
        self.shrink = shrink

    def _settings(self) -> settings:
        phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
        if self.shrink:
            phases.append(Phase.shrink)
        return settings(max_examples=self.examples, stateful_step_count=self.steps,
                        deadline=None, database=None, derandomize=self.derandomize,
                        suppress_health_check=list(HealthCheck), phases=phases,
                        print_blob=False, report_multiple_bugs=False)

    def run(self) -> CheckResult:
        stats = _Stats()
        machine = machine_for(self.model, stats)
        if self.seed is not None and not self.derandomize:
            machine = hypothesis_seed(self.seed)(machine)
        failure: PropertyFailure | None = None
        stop = "sampled"
        try:
            run_state_machine_as_test(machine, settings=self._settings())
        except PropertyFailure as exc:
            failure = exc
            stop = "first"
        except Flaky as exc:  # pragma: no cover - would mean a nondeterministic spec
            raise RuntimeError(f"hypothesis reports a flaky schedule: {exc}") from exc
        except KeyboardInterrupt:
            stop = "interrupted"
        seconds = time.perf_counter() - stats.start
        return self._result(stats, failure, stop, seconds)

    def _bounds(self) -> dict:
        return {**self.bounds.as_dict(), "examples": self.examples, "steps": self.steps,
                "seed": None if self.derandomize else self.seed,
                "derandomize": self.derandomize}

    def _result(self, stats: _Stats, failure, stop: str, seconds: float) -> CheckResult:
        m = self.model
        res = CheckResult(m.spec, m.scenario, dict(m.params), "stateful", self.bounds,
                          distinct=len(stats.seen), transitions=stats.steps,
                          depth=self.steps,
                          seconds=seconds, stop=stop)
        res.notes.append(f"{stats.examples} hypothesis example(s) of up to {self.steps} steps"
                         f" ({'derandomized' if self.derandomize else f'seed {self.seed}'}):"
                         " sampling never proves a property")
        self.final_schedule = None
        if failure is not None:
            self.hypothesis_length = len(failure.schedule)
            self.final_schedule = (shrink(m, failure.schedule, failure.name) if self.shrink
                                   else failure.schedule)
            res.notes.append(f"first counterexample after {stats.first_seconds:.3f} s, "
                             f"{stats.first_length} steps; hypothesis shrank it to "
                             f"{len(failure.schedule)} steps, task-level shrinking to "
                             f"{len(self.final_schedule)}")
        self.first_seconds = stats.first_seconds
        self.first_length = stats.first_length
        for p in m.properties:
            pr = PropertyResult(p.name, p.kind, Verdict.UNKNOWN, doc=p.doc)
            if failure is not None and p.name == failure.name:
                pr.verdict = Verdict.VIOLATED
                pr.message = failure.message
                pr.trace = make_trace(m, self.final_schedule, p, "VIOLATED", failure.message,
                                      "stateful", self._bounds())
            elif p.kind == TERMINATION:
                pr.message = "not analysed by sampling engines (use bfs or dfs)"
            elif p.kind == SOMETIMES and p.name in stats.witness:
                pr.verdict = Verdict.HOLDS
                pr.message = f"reached after {len(stats.witness[p.name])} steps"
                pr.trace = make_trace(m, stats.witness[p.name], p, "HOLDS", pr.message,
                                      "stateful", self._bounds())
            elif p.kind == SOMETIMES:
                pr.message = f"not reached in {stats.examples} examples"
            else:
                pr.message = (f"no violation in {stats.examples} examples"
                              if failure is None else "not checked after the first failure")
            res.properties.append(pr)
        return res
