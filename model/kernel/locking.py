"""Sleeping locks: ``struct mutex`` with mutex_lock / mutex_trylock / mutex_unlock.

Follows the semantics of kernel/locking/mutex.c (torvalds/linux, any version since 2.6.16):
a mutex has one owner; mutex_lock sleeps until it can take it; mutex_trylock returns 1 when it
took it and 0 otherwise without sleeping; mutex_unlock must be called by the owner (with
CONFIG_DEBUG_MUTEXES a foreign unlock is a warning - here it is a BUG, so the checker reports it).
The world slot of a mutex holds its owner's task index, or None when it is free.
"""

from __future__ import annotations

from ..runtime.effects import Update, Var
from ..runtime.spec import Model


class Mutex:
    """A mutex living in one world slot (its owner)."""

    __slots__ = ("var",)

    def __init__(self, var: Var):
        self.var = var

    @classmethod
    def new(cls, model: Model, name: str) -> "Mutex":
        return cls(model.var(name, None))

    @property
    def name(self) -> str:
        return self.var.name

    def __repr__(self) -> str:
        return self.var.name

    def __eq__(self, other):
        return isinstance(other, Mutex) and other.var == self.var

    def __hash__(self):
        return hash((Mutex, self.var))


def _lock(owner, tid):
    return None if owner is not None else (tid, None)


def _trylock(owner, tid):
    return (owner, 0) if owner is not None else (tid, 1)


def _unlock(owner, tid):
    return (None, owner == tid)


class _MutexLock(Update):
    __slots__ = ()

    def blocked_reason(self, world, names):
        owner = world[self.var.slot]
        return f"mutex_lock({self.var.name}) sleeps: held by {names(owner)}"


def mutex_lock(m: Mutex) -> Update:
    return _MutexLock(m.var, _lock, text=f"mutex_lock({m.var.name})")


def mutex_trylock(m: Mutex) -> Update:
    return Update(m.var, _trylock, text=f"mutex_trylock({m.var.name})")


async def mutex_unlock(m: Mutex) -> None:
    was_owner = await Update(m.var, _unlock, text=f"mutex_unlock({m.var.name})")
    if not was_owner:
        raise AssertionError(f"mutex_unlock({m.var.name}) by a task that does not hold it")
