"""Schedule shrinking by task identity: delete steps while the property still fails.

Owns the last pass every sampling engine applies to its counterexample.  Hypothesis shrinks the
*choice sequence* of its state machine, where a step is an index into the current state's
successors; removing an early step changes what later indices mean, so it can stop short of the
shortest schedule.  This pass works on steps as (task, choices) instead: it tries to drop a
task's steps (all of them, or its last k), then each run of one to four consecutive steps (an
add-then-remove cycle of a driver is three), replays the rest by task name, and keeps the
shorter schedule when every step still applies and the same property still fails.  The result
is 1-minimal: no single step can be removed.  It is not always the shortest counterexample:
that may need the steps in another order, which only a breadth-first search finds.
"""

from __future__ import annotations

from ..runtime.step import StepError, Stepper
from .monitor import Monitor


def _fails(stepper: Stepper, monitor: Monitor, schedule, name: str, names) -> bool:
    """Replay *schedule* (steps named by task); True if *name* fails at some state on it."""
    state = stepper.initial()
    if name in monitor.failing(state):
        return True
    for (task, choices) in schedule:
        current = stepper.task_names(state)
        if task not in current:
            return False
        try:
            state, _ = stepper.execute(state, current.index(task), choices)
        except StepError:
            return False
        if name in monitor.failing(state):
            return True
    if name == "deadlock-free":
        return not stepper.expand(state) and not stepper.all_done(state)
    return False


def _shortest_prefix(stepper, monitor, schedule, name):
    for n in range(len(schedule) + 1):
        if _fails(stepper, monitor, schedule[:n], name, None):
            return schedule[:n]
    return schedule


def shrink(model, schedule: list, name: str, stepper: Stepper | None = None) -> list:
    """A 1-minimal sub-schedule of ``[(tid, choices)]`` on which property *name* still fails."""
    stepper = stepper or Stepper(model)
    monitor = Monitor(model)
    # name the steps by task, so deleting one does not re-target the others
    state = stepper.initial()
    named = []
    for tid, choices in schedule:
        named.append((stepper.task_names(state)[tid], choices))
        state, _ = stepper.execute(state, tid, choices)
    if not _fails(stepper, monitor, named, name, None):
        return list(schedule)
    named = _shortest_prefix(stepper, monitor, named, name)
    improved = True
    while improved:
        improved = False
        for candidate in _task_cuts(named):
            if len(candidate) < len(named) and _fails(stepper, monitor, candidate, name, None):
                named = _shortest_prefix(stepper, monitor, candidate, name)
                improved = True
                break
        if improved:
            continue
        for width in (1, 2, 3, 4):
            i = 0
            while i + width <= len(named):
                candidate = named[:i] + named[i + width:]
                if _fails(stepper, monitor, candidate, name, None):
                    named = _shortest_prefix(stepper, monitor, candidate, name)
                    improved = True
                else:
                    i += 1
    return _to_tids(stepper, named)


def _task_cuts(named):
    """Candidates that drop one task's steps: all of them, or its last k (its tail)."""
    tasks = list(dict.fromkeys(task for task, _ in named))
    for task in tasks:
        positions = [i for i, (t, _) in enumerate(named) if t == task]
        for k in range(len(positions), 0, -1):
            cut = set(positions[-k:])
            yield [step for i, step in enumerate(named) if i not in cut]


def _to_tids(stepper: Stepper, named) -> list:
    state = stepper.initial()
    out = []
    for task, choices in named:
        tid = stepper.task_names(state).index(task)
        out.append((tid, choices))
        state, _ = stepper.execute(state, tid, choices)
    return out
