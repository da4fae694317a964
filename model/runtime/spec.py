"""Models: a scenario's shared objects, tasks and properties, built once and handed to engines.

Owns :class:`Model` (the builder a scenario function fills in), :class:`Property` and the
:class:`View` that property functions read the world through, and :class:`Scenario` (a named,
parameterised model builder with its documented bounds).

Property kinds (the engines check all of them in one search):

* ``always``    - holds in every reachable state;
* ``final``     - holds in every state where every task has finished;
* ``sometimes`` - holds in at least one reachable state (a vacuity guard: if it is unreachable
  the check proved nothing about the states that matter);
* built in: ``assertions`` (no task raised - an ``assert`` or BUG() in model code),
  ``deadlock-free`` (some task can move whenever some task has not finished) and ``terminates``
  (no fair cycle in which a task never finishes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .effects import Var
from .tasks import TaskSpec, TaskTable

ALWAYS, FINAL, SOMETIMES = "always", "final", "sometimes"
ASSERTIONS, DEADLOCK, TERMINATION = "assertions", "deadlock", "termination"


@dataclass(frozen=True)
class Property:
    """A named promise.  ``fn(view) -> bool``; ``doc`` says what a failure means."""

    name: str
    kind: str
    fn: Callable[["View"], bool] | None = None
    doc: str = ""


BUILTIN = (
    Property("assertions", ASSERTIONS, None,
             "No task raised: every assert / BUG_ON in the model code held."),
    Property("deadlock-free", DEADLOCK, None,
             "Whenever some task has not finished, some task can take a step."),
    Property("terminates", TERMINATION, None,
             "No fair infinite run: every cycle of the state graph lets some task that is "
             "enabled throughout starve, so under weak fairness every task finishes."),
)


class View:
    """What a property sees of one state: ``view[var]``, task status and results."""

    __slots__ = ("world", "locs", "_table", "_index", "hidden")

    def __init__(self, table: TaskTable, index: dict[str, int]):
        self._table = table
        self._index = index
        self.world: tuple = ()
        self.locs: tuple = ()
        self.hidden: frozenset = frozenset()   # slots properties may not read (under POR)

    def __getitem__(self, var: Var) -> Any:
        if var.slot in self.hidden:
            from .tasks import SpecError
            raise SpecError(f"a property reads {var.name!r}, which is private to a task: "
                            "partial-order reduction needs properties that do not see it")
        return self.world[var.slot]

    def _lid(self, task: str) -> int:
        try:
            return self.locs[self._index[task]]
        except (KeyError, IndexError):
            raise KeyError(f"no task named {task!r} in this state") from None

    def done(self, task: str) -> bool:
        return self._table.pending[self._lid(task)] is None

    def result(self, task: str) -> Any:
        return self._table.result[self._lid(task)]

    @property
    def all_done(self) -> bool:
        return self._table.done_ids.issuperset(self.locs)


class Model:
    """A scenario instance: its initial world, its tasks and its properties.

    Scenario functions build one::

        m = Model("counter", "racy", params={"N": 2})
        count = m.var("count", 0)
        for i in range(2):
            m.task(f"inc{i}", incrementer, count)
        m.final("no lost update", lambda s: s[count] == 2, doc="...")
    """

    def __init__(self, spec: str, scenario: str, params: dict | None = None, doc: str = ""):
        self.spec = spec
        self.scenario = scenario
        self.params = dict(params or {})
        self.doc = doc
        self.vars: list[Var] = []
        self._initial: list[Any] = []
        self.tasks: list[TaskSpec] = []
        self.properties: list[Property] = list(BUILTIN)
        self.table = TaskTable()
        self.symmetry: list[tuple[str, tuple[Var, ...]]] = []
        self.private: dict[int, str] = {}      # slot -> the only task that may touch it

    # -- building ----------------------------------------------------------------------------
    def var(self, name: str, initial: Any, private_to: str | None = None) -> Var:
        """A shared variable (one world slot); *initial* must be an immutable value.

        ``private_to`` names the only task that touches it (partial-order reduction may then
        treat that task's steps on it as independent of everything; properties may not read it).
        """
        try:
            hash(initial)
        except TypeError:
            raise TypeError(f"shared variable {name!r}: initial value {initial!r} is unhashable; "
                            "the world holds immutable values only") from None
        v = Var(len(self._initial), name)
        self._initial.append(initial)
        self.vars.append(v)
        if private_to is not None:
            self.private[v.slot] = private_to
        return v

    def task(self, name: str, fn: Callable, *args: Any) -> None:
        if any(t.name == name for t in self.tasks):
            raise ValueError(f"two tasks named {name!r}")
        self.tasks.append(TaskSpec(name, fn, tuple(args)))

    def _prop(self, kind: str, name: str, fn, doc: str) -> None:
        if any(p.name == name for p in self.properties):
            raise ValueError(f"two properties named {name!r}")
        self.properties.append(Property(name, kind, fn, doc or (fn.__doc__ or "")))

    def symmetric(self, units) -> None:
        """Declare interchangeable units ``[(task name, (its own vars...)), ...]``.

        Engines may then identify states that differ by a permutation of the units (safety
        properties only; see khomc.engines.symmetry).  Properties must not single out a unit.
        """
        self.symmetry = [(task, tuple(vars_)) for task, vars_ in units]

    def always(self, name: str, fn: Callable[[View], bool], doc: str = "") -> None:
        self._prop(ALWAYS, name, fn, doc)

    def final(self, name: str, fn: Callable[[View], bool], doc: str = "") -> None:
        self._prop(FINAL, name, fn, doc)

    def sometimes(self, name: str, fn: Callable[[View], bool], doc: str = "") -> None:
        self._prop(SOMETIMES, name, fn, doc)

    # -- what engines use --------------------------------------------------------------------
    @property
    def initial_world(self) -> tuple:
        return tuple(self._initial)

    def initial_state(self) -> tuple:
        locs = tuple(self.table.start(t) for t in self.tasks)
        return (self.initial_world, locs)

    def view(self) -> View:
        return View(self.table, {t.name: i for i, t in enumerate(self.tasks)})

    def property(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(f"no property {name!r}; this model has: "
                       + ", ".join(p.name for p in self.properties))

    def describe_world(self, world: tuple) -> dict[str, Any]:
        return {v.name: world[v.slot] for v in self.vars}


@dataclass(frozen=True)
class Scenario:
    """A named model builder with default parameters (its bounds) and what it shows."""

    name: str
    build: Callable[..., Model]
    params: dict = field(default_factory=dict)
    doc: str = ""
    default: bool = True

    def instantiate(self, overrides: dict | None = None) -> Model:
        params = dict(self.params)
        for k, v in (overrides or {}).items():
            if k not in params:
                known = ", ".join(sorted(params)) or "none"
                raise KeyError(f"scenario {self.name!r} has no parameter {k!r} (it has: {known})")
            params[k] = type(params[k])(v) if not isinstance(params[k], bool) else _bool(v)
        model = self.build(**params)
        model.params = params
        return model


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {v!r}")
