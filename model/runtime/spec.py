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

import re
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
        # slot -> its parts as partial-order-reduction locations (the heap's pages); an effect
        # naming the whole slot touches every part (khomc.engines.por)
        self.split: dict[int, frozenset] = {}
        # slot -> relabel(value, {old tid: new tid}) for slots holding task ids (a mutex owner),
        # so symmetry reduction can permute them with the tasks (khomc.engines.symmetry)
        self.task_ids: dict[int, Callable] = {}

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


class ParamError(ValueError):
    """A scenario parameter outside its declared type or range; the message is one line."""


# The default rule for a parameter a scenario does not declare: an int must be at least 1 (0 when
# its default is 0, as for fail_allocs) and at most DEFAULT_INT_CAP or four times its default,
# whichever is larger; booleans and strings are taken as they are (a string's meaning is checked
# by the builder, e.g. mutant names).  It refuses nonsense (0 pages, negative sizes) and bounds
# that would only hang the search, without a declaration per scenario.
DEFAULT_INT_CAP = 16


@dataclass(frozen=True)
class Param:
    """A scenario parameter's type and range: ``Param(int, 1, 8)`` takes the integers 1..8.

    ``kind`` is int, bool or str; ``lo``/``hi`` bound an int (inclusive); ``choices`` lists the
    values a str may take (None: any).  :meth:`parse` accepts the value itself (from a trace or a
    checkpoint) or its text (from ``-D NAME=VALUE``) and raises ParamError otherwise.
    """

    kind: type
    lo: int | None = None
    hi: int | None = None
    choices: tuple | None = None

    def __post_init__(self):
        if self.kind not in (int, bool, str):
            raise TypeError(f"Param kind must be int, bool or str, not {self.kind!r}")
        if self.kind is int and (self.lo is None or self.hi is None or self.lo > self.hi):
            raise TypeError(f"Param(int) needs lo <= hi, got {self.lo!r}..{self.hi!r}")

    def describe(self) -> str:
        if self.kind is int:
            return f"an integer in {self.lo}..{self.hi}"
        if self.kind is bool:
            return "a boolean (true/false, 1/0, yes/no, on/off)"
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return "a string"

    def parse(self, value: Any) -> Any:
        if self.kind is bool:
            return _bool(value)
        if self.kind is int:
            if isinstance(value, bool):
                raise ValueError(f"not an integer: {value!r}")
            if isinstance(value, int):
                v = value
            elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,12}", value.strip()):
                v = int(value.strip())
            else:
                raise ValueError(f"not an integer: {_short(value)}")
            if not self.lo <= v <= self.hi:
                raise ValueError(f"{v} is out of range")
            return v
        if not isinstance(value, str):
            raise ValueError(f"not a string: {_short(value)}")
        if len(value) > 1000 or any(not c.isprintable() for c in value):
            raise ValueError("not a short printable string")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not allowed")
        return value

    @classmethod
    def default_for(cls, default: Any) -> "Param":
        """The rule for an undeclared parameter, from its default value's type."""
        if isinstance(default, bool):
            return cls(bool)
        if isinstance(default, int):
            return cls(int, min(1, default), max(DEFAULT_INT_CAP, 4 * default))
        if isinstance(default, str):
            return cls(str)
        raise TypeError(f"no default rule for a parameter of type {type(default).__name__}; "
                        "declare it with Param")


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 40 else r[:37] + "..."


@dataclass(frozen=True)
class Scenario:
    """A named model builder with default parameters (its bounds) and what it shows.

    ``ranges`` declares a parameter's type and range (``{"N": Param(int, 1, 8)}``); a parameter
    left out gets :meth:`Param.default_for` its default.  Every default must lie in its range.
    """

    name: str
    build: Callable[..., Model]
    params: dict = field(default_factory=dict)
    doc: str = ""
    default: bool = True
    ranges: dict = field(default_factory=dict)
    # the review checks it up to the model's declared symmetry (``terminates`` is decided
    # only when the graph of orbits has no cycle): for a scenario of interchangeable clients
    # whose plain search is too long for the review; ``khomc check`` runs the plain search
    # unless asked
    symmetry: bool = False

    def __post_init__(self):
        extra = set(self.ranges) - set(self.params)
        if extra:
            raise TypeError(f"scenario {self.name!r}: ranges for unknown parameters "
                            f"{sorted(extra)}")
        for k, v in self.params.items():
            try:
                self.param(k).parse(v)
            except ValueError as exc:
                raise TypeError(f"scenario {self.name!r}: default {k}={v!r} is outside its "
                                f"declared range ({exc})") from None

    def param(self, name: str) -> Param:
        """The declared (or default-rule) type and range of parameter *name*."""
        got = self.ranges.get(name)
        return got if got is not None else Param.default_for(self.params[name])

    def check_params(self, overrides: dict | None = None) -> dict:
        """The full parameter dict with *overrides* parsed and range-checked.

        Raises KeyError for an unknown name and ParamError for a bad value (one line each)."""
        params = dict(self.params)
        for k, v in (overrides or {}).items():
            if not isinstance(k, str) or k not in params:
                known = ", ".join(sorted(params)) or "none"
                raise KeyError(f"scenario {self.name!r} has no parameter {_short(k)} "
                               f"(it has: {known})")
            spec = self.param(k)
            try:
                params[k] = spec.parse(v)
            except ValueError as exc:
                why = "" if "out of range" in str(exc) else f" ({exc})"
                raise ParamError(f"scenario {self.name!r}: parameter {k} must be "
                                 f"{spec.describe()}, got {_short(v)}{why}") from None
        return params

    def instantiate(self, overrides: dict | None = None) -> Model:
        params = self.check_params(overrides)
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
    raise ValueError(f"not a boolean: {_short(v)}")
