"""Effects: the only way model code touches shared state.

Owns the awaitable primitives of the runtime.  An effect is a small immutable value; awaiting it
suspends the task (a scheduling point) and resumes it with the effect's *observation*.  The engine
applies an effect as a pure function of the world::

    effect.step(world, tid) -> (new_world, observation)     or None when the effect is disabled

A disabled effect (a held lock, an empty guard) blocks its task in that world.  A *branching*
effect (``choose``, ``select``, an allocation that may fail) offers several outcomes through
``effect.outcomes(world, tid)``; every engine explores each one and traces record which was taken.

The world is a plain tuple: one slot per shared object, allocated when a scenario is built
(:mod:`khomc.runtime.spec`).  Effects name slots through handles (:class:`Var`), so model code reads
``await load(kho_out.finalized)`` rather than indexing tuples.

Effects are values: they compare equal when they would do the same thing, which is how a replayed
task is checked against its recorded run.  Model code never imports an engine; it imports this
module and :mod:`khomc.kernel`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

World = tuple


class Var(tuple):
    """A handle on one slot of the world: the pair ``(slot, name)``, with both as attributes.

    A tuple subclass so that hashing and comparing one (Vars sit inside world values: notifier
    blocks, locks, xarrays) runs in C, with no Python-level ``__hash__`` call per state.  A Var
    therefore equals the plain tuple ``(slot, name)``; model code never stores such a tuple.
    """

    def __new__(cls, slot: int, name: str):
        self = tuple.__new__(cls, (slot, name))
        self.slot = slot
        self.name = name
        return self

    def __getnewargs__(self):
        return (self.slot, self.name)

    def __repr__(self) -> str:
        return self.name


def set_slot(world: World, slot: int, value: Any) -> World:
    """The world with one slot replaced (the one allocation per write)."""
    return world[:slot] + (value,) + world[slot + 1:]


class Effect:
    """Base of all effects.  Subclasses set ``_fields`` (their identity) and implement ``step``."""

    __slots__ = ()
    branching = False
    acquires = False      # True for lock acquisitions (lockdep's lock-order graph uses them)
    read_only = False     # True when the effect never changes the world (a plain read)
    _fields: tuple[str, ...] = ()

    def __await__(self):
        return (yield self)

    def key(self) -> tuple:
        return (type(self),) + tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.key() == self.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return self.label()

    # -- engine interface -------------------------------------------------------------------
    def step(self, world: World, tid: int):
        raise NotImplementedError

    def outcomes(self, world: World, tid: int) -> list:
        """All (new_world, observation) outcomes; only branching effects override this."""
        r = self.step(world, tid)
        return [] if r is None else [r]

    def label(self) -> str:
        return type(self).__name__.lower()

    def blocked_reason(self, world: World, names: Callable[[int], str]) -> str:
        """Why this effect is disabled in *world* (used in deadlock reports)."""
        return f"{self.label()} is not enabled"

    def slots(self) -> tuple[int, ...] | None:
        """World slots the effect may touch, or None for 'any' (used for independence)."""
        return None


class Load(Effect):
    """Read one shared variable: ``READ_ONCE(x)``."""

    __slots__ = ("var",)
    read_only = True
    _fields = ("var",)

    def __init__(self, var: Var):
        self.var = var

    def step(self, world, tid):
        return world, world[self.var.slot]

    def label(self):
        return f"read {self.var.name}"

    def slots(self):
        return (self.var.slot,)


class Store(Effect):
    """Write one shared variable: ``WRITE_ONCE(x, v)``."""

    __slots__ = ("var", "value")
    _fields = ("var", "value")

    def __init__(self, var: Var, value: Any):
        self.var = var
        self.value = value

    def step(self, world, tid):
        slot = self.var.slot
        return world[:slot] + (self.value,) + world[slot + 1:], None

    def label(self):
        return f"write {self.var.name} := {self.value!r}"

    def slots(self):
        return (self.var.slot,)


class Update(Effect):
    """Atomic read-modify-write of one slot through a pure function.

    ``fn(old, tid, *args)`` returns ``(new, observation)``, or None when the update is not enabled
    (it blocks).  ``fn`` must be a module-level pure function: it is part of the effect's identity.
    """

    __slots__ = ("var", "fn", "args", "text")
    _fields = ("var", "fn", "args")

    def __init__(self, var: Var, fn: Callable, *args: Any, text: str | None = None):
        self.var = var
        self.fn = fn
        self.args = args
        self.text = text

    def step(self, world, tid):
        slot = self.var.slot
        r = self.fn(world[slot], tid, *self.args)
        if r is None:
            return None
        return world[:slot] + (r[0],) + world[slot + 1:], r[1]

    def label(self):
        if self.text:
            return self.text
        args = ", ".join(repr(a) for a in self.args)
        return f"{self.fn.__name__}({self.var.name}{', ' if args else ''}{args})"

    def slots(self):
        return (self.var.slot,)


class Op(Effect):
    """Atomic function of several slots.

    ``fn(values, tid, *args)`` gets the tuple of the named slots' values and returns
    ``(new_values, observation)`` (a tuple of the same length) or None when disabled.
    """

    __slots__ = ("vars", "fn", "args", "text")
    _fields = ("vars", "fn", "args")

    def __init__(self, vars: Iterable[Var], fn: Callable, *args: Any, text: str | None = None):
        self.vars = tuple(vars)
        self.fn = fn
        self.args = args
        self.text = text

    def step(self, world, tid):
        r = self.fn(tuple(world[v.slot] for v in self.vars), tid, *self.args)
        if r is None:
            return None
        new_values, obs = r
        w = list(world)
        for v, value in zip(self.vars, new_values):
            w[v.slot] = value
        return tuple(w), obs

    def label(self):
        if self.text:
            return self.text
        return f"{self.fn.__name__}({', '.join(v.name for v in self.vars)})"

    def slots(self):
        return tuple(v.slot for v in self.vars)


class Choose(Effect):
    """Explicit nondeterminism: the observation is one of *options*, each explored."""

    __slots__ = ("options", "what")
    read_only = True
    _fields = ("options", "what")
    branching = True

    def __init__(self, options: Iterable[Any], what: str = "choice"):
        self.options = tuple(options)
        self.what = what
        if not self.options:
            raise ValueError(f"choose({what!r}) needs at least one option")

    def step(self, world, tid):
        return world, self.options[0]

    def outcomes(self, world, tid):
        return [(world, o) for o in self.options]

    def label(self):
        return f"choose {self.what}"

    def slots(self):
        return ()


class Select(Effect):
    """Promela's ``if``/``do``: take any one enabled alternative; observe (index, its observation).

    Blocks only when no alternative is enabled.
    """

    __slots__ = ("alternatives",)
    _fields = ("alternatives",)
    branching = True

    def __init__(self, alternatives: Iterable[Effect]):
        self.alternatives = tuple(alternatives)

    def step(self, world, tid):
        for i, alt in enumerate(self.alternatives):
            r = alt.step(world, tid)
            if r is not None:
                return r[0], (i, r[1])
        return None

    def outcomes(self, world, tid):
        out = []
        for i, alt in enumerate(self.alternatives):
            for w, obs in alt.outcomes(world, tid):
                out.append((w, (i, obs)))
        return out

    def label(self):
        return "select " + " | ".join(a.label() for a in self.alternatives)

    def blocked_reason(self, world, names):
        return "no alternative enabled: " + "; ".join(
            a.blocked_reason(world, names) for a in self.alternatives)

    def slots(self):
        out: list[int] = []
        for a in self.alternatives:
            s = a.slots()
            if s is None:
                return None
            out.extend(s)
        return tuple(out)


class Spawn(Effect):
    """Start a new task (a kthread, a work item); observe its task index."""

    __slots__ = ("name", "fn", "args")
    _fields = ("name", "fn", "args")

    def __init__(self, name: str, fn: Callable, args: tuple):
        self.name = name
        self.fn = fn
        self.args = args

    def step(self, world, tid):  # the engine handles Spawn itself
        raise AssertionError("Spawn is applied by the task table, not as a world function")

    def label(self):
        return f"spawn {self.name}"

    def slots(self):
        return ()


class Marker:
    """Not an effect: a note to the task driver (enter or leave an atomic section)."""

    __slots__ = ("delta",)

    def __init__(self, delta: int):
        self.delta = delta

    def __await__(self):
        return (yield self)


ENTER_ATOMIC = Marker(+1)
LEAVE_ATOMIC = Marker(-1)


class atomic:
    """Group effects into one indivisible step, where the kernel is atomic (a spinlock region).

    As a context manager::

        async with atomic():
            v = await load(x)
            await store(x, v + 1)

    or as a decorator on an ``async def``.  The engine runs the task from its first effect in the
    section to the end of the section without letting another task in.  The first effect may
    block (the section waits for it, like Promela's ``atomic { guard -> ... }``); any later
    effect that would block is a spec error ("sleeping in atomic context").
    """

    def __init__(self, fn: Callable | None = None):
        self.fn = fn
        if fn is not None:
            self.__name__ = getattr(fn, "__name__", "atomic")
            self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
            self.__doc__ = fn.__doc__

    async def __aenter__(self):
        await ENTER_ATOMIC

    async def __aexit__(self, exc_type, exc, tb):
        if exc_type is None or not issubclass(exc_type, GeneratorExit):
            await LEAVE_ATOMIC  # a discarded task clone is closed silently
        return False

    def __call__(self, *args, **kwargs):
        if self.fn is None:
            raise TypeError("atomic() without a function is a context manager: `async with atomic():`")
        return _run_atomic(self.fn, args, kwargs)


async def _run_atomic(fn, args, kwargs):
    await ENTER_ATOMIC
    result = await fn(*args, **kwargs)
    await LEAVE_ATOMIC
    return result


# -- the helpers model code calls ---------------------------------------------------------------

def load(var: Var) -> Load:
    return Load(var)


def store(var: Var, value: Any) -> Store:
    return Store(var, value)


def update(var: Var, fn: Callable, *args: Any, text: str | None = None) -> Update:
    return Update(var, fn, *args, text=text)


def op(vars: Iterable[Var], fn: Callable, *args: Any, text: str | None = None) -> Op:
    return Op(vars, fn, *args, text=text)


def choose(options: Iterable[Any], what: str = "choice") -> Choose:
    return Choose(options, what)


def select(*alternatives: Effect) -> Select:
    return Select(alternatives)


def spawn(name: str, fn: Callable, *args: Any) -> Spawn:
    return Spawn(name, fn, args)
