"""Sleeping locks: ``struct mutex``, ``struct rw_semaphore`` and the kexec lock.

Follows the semantics of kernel/locking/mutex.c (torvalds/linux, any version since 2.6.16):
a mutex has one owner; mutex_lock sleeps until it can take it; mutex_trylock returns 1 when it
took it and 0 otherwise without sleeping; mutex_unlock must be called by the owner (with
CONFIG_DEBUG_MUTEXES a foreign unlock is a warning - here it is a BUG, so the checker reports it).
The world slot of a mutex holds its owner's task index, or None when it is free.

Every lock made with ``new`` registers its slot as holding task ids (``Model.task_ids``) with a
pure relabelling function, so symmetry reduction can permute interchangeable tasks together with
the locks they hold (khomc.engines.symmetry).  No lock operation lets a task observe another
task's id (they observe None, 0/1 or True/False), which that permutation relies on.
"""

from __future__ import annotations

from ..runtime.effects import Update, Var
from ..runtime.spec import Model


class _Lock:
    """A lock living in one world slot; subclasses say what a free lock holds."""

    __slots__ = ("var", "_hash")
    FREE = None

    def __init__(self, var: Var):
        self.var = var
        self._hash = hash((type(self), var))   # locks sit in world values: hashed per state

    def __reduce__(self):   # rebuilt, not copied: the cached hash is only valid in-process
        return (type(self), (self.var,))

    @classmethod
    def new(cls, model: Model, name: str):
        var = model.var(name, cls.FREE)
        model.task_ids[var.slot] = cls.relabel
        return cls(var)

    @staticmethod
    def relabel(owner, perm: dict):
        """The slot's value with task ids renamed by *perm* (a mutex: its owner)."""
        return perm.get(owner, owner)

    @property
    def name(self) -> str:
        return self.var.name

    def __repr__(self) -> str:
        return self.var.name

    def __eq__(self, other):
        return type(other) is type(self) and other.var == self.var

    def __hash__(self):
        return self._hash


class Mutex(_Lock):
    """A mutex living in one world slot (its owner's task index, None when free)."""

    __slots__ = ()


def _lock(owner, tid):
    return None if owner is not None else (tid, None)


def _trylock(owner, tid):
    return (owner, 0) if owner is not None else (tid, 1)


def _unlock(owner, tid):
    return (None, owner == tid)


class _MutexLock(Update):
    __slots__ = ()
    acquires = True

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


# -- rw_semaphore ---------------------------------------------------------------------------------
#
# Follows kernel/locking/rwsem.c (torvalds/linux, v6.14, the base of the KHO v5 series): any number
# of readers or one writer; down_read sleeps while a writer holds the semaphore, down_write sleeps
# while anyone holds it; up_read/up_write release.  One simplification, stated so a reviewer can
# weigh it: the kernel's rwsem queues a new reader behind a *waiting* writer (no reader can jump a
# queued writer once the handoff bit is set), so a recursive down_read can deadlock; this model
# lets a reader in whenever no writer *holds* the lock.  No modelled path takes one rwsem for read
# twice, so the two agree on every scenario here.
# The world slot holds ``(writer tid or None, frozenset of reader tids)``.
# Invariant: writer is None or readers is empty.

RWSEM_FREE = (None, frozenset())


class RwSemaphore(_Lock):
    """A ``struct rw_semaphore`` living in one world slot."""

    __slots__ = ()
    FREE = RWSEM_FREE

    @staticmethod
    def relabel(state, perm: dict):
        writer, readers = state
        return (perm.get(writer, writer), frozenset(perm.get(t, t) for t in readers))


def _down_read(state, tid):
    writer, readers = state
    if writer is not None:
        return None
    return (writer, readers | {tid}), None


def _down_write(state, tid):
    writer, readers = state
    if writer is not None or readers:
        return None
    return (tid, readers), None


def _up_read(state, tid):
    writer, readers = state
    if tid not in readers:
        return state, False
    return (writer, readers - {tid}), True


def _up_write(state, tid):
    writer, readers = state
    if writer != tid:
        return state, False
    return (None, readers), True


def _holders(state, names) -> str:
    writer, readers = state
    if writer is not None:
        return f"held for write by {names(writer)}"
    return "held for read by " + ", ".join(sorted(names(t) for t in readers))


class _RwsemAcquire(Update):
    __slots__ = ()
    acquires = True

    def blocked_reason(self, world, names):
        return f"{self.text} sleeps: {_holders(world[self.var.slot], names)}"


def down_read(sem: RwSemaphore) -> Update:
    return _RwsemAcquire(sem.var, _down_read, text=f"down_read({sem.name})")


def down_write(sem: RwSemaphore) -> Update:
    return _RwsemAcquire(sem.var, _down_write, text=f"down_write({sem.name})")


async def up_read(sem: RwSemaphore) -> None:
    if not await Update(sem.var, _up_read, text=f"up_read({sem.name})"):
        raise AssertionError(f"up_read({sem.name}) by a task that does not hold it for read")


async def up_write(sem: RwSemaphore) -> None:
    if not await Update(sem.var, _up_write, text=f"up_write({sem.name})"):
        raise AssertionError(f"up_write({sem.name}) by a task that does not hold it for write")


# -- the kexec lock -------------------------------------------------------------------------------
#
# Since v6.0 ("panic, kexec: make __crash_kexec() NMI safe", kernel/kexec_internal.h) the kexec
# mutex is an atomic_t, ``__kexec_lock``, and every taker uses kexec_trylock(), an
# atomic_cmpxchg_acquire(0 -> 1): nobody sleeps on it, a busy lock makes the caller return -EBUSY.
# kexec_unlock() is atomic_set_release(0).  The slot holds the holder's tid (the kernel keeps
# only 1, the tid makes traces readable), or None when free.

class KexecLock(Mutex):
    """``__kexec_lock``: trylock-only."""

    @classmethod
    def new(cls, model: Model, name: str = "kexec_lock") -> "KexecLock":
        var = model.var(name, None)
        model.task_ids[var.slot] = cls.relabel
        return cls(var)


def kexec_trylock(lock: KexecLock) -> Update:
    """Observe True when the lock was taken, False when it was busy."""
    return Update(lock.var, _kexec_trylock, text="kexec_trylock()")


def _kexec_trylock(owner, tid):
    return (owner, False) if owner is not None else (tid, True)


async def kexec_unlock(lock: KexecLock) -> None:
    if not await Update(lock.var, _unlock, text="kexec_unlock()"):
        raise AssertionError("kexec_unlock() by a task that did not take the kexec lock")
