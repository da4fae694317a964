"""``struct xarray``: xa_load, xa_store, xa_cmpxchg, and a walk for callers with no writers.

Follows lib/xarray.c and include/linux/xarray.h (torvalds/linux v6.14): xa_store and xa_cmpxchg
take the array's internal spinlock (xa_lock), so each is one atomic step; xa_load walks the tree
under RCU and sees either the old or the new entry, so it is one step too.  xa_cmpxchg returns the
entry that was there (the new one was stored iff that equals *old*).  Storing NULL erases.

Simplification: the kernel's xa_store/xa_cmpxchg may fail with -ENOMEM when allocating an
internal node (returned as an xa_err entry); the model never fails there.  KHO v5 handles that
error the same way as a failed kzalloc of its own element, which the allocator's failure branch
already covers.

An xarray lives either in its own world slot (a global such as ``kho_mem_track.orders``) or
inside an allocated object (``struct kho_mem_phys.phys_bits``), in which case every access is
also a KASAN-checked access to that object.  Its value is a tuple of ``(index, entry)`` pairs
sorted by index, with no NULL entries; a zeroed object (``b""``) is an empty xarray (xa_init of
zeroed memory).
"""

from __future__ import annotations

from ..runtime.effects import Effect, Update, Var
from .alloc import Heap, HeapOp, _heap_read, heap_modify


class XArray:
    """Handle on one xarray: ``XArray.at_var(var)`` or ``XArray.in_object(heap, addr, name)``."""

    __slots__ = ("var", "heap", "addr", "name")

    def __init__(self, var: Var | None, heap: Heap | None, addr: int, name: str):
        self.var = var
        self.heap = heap
        self.addr = addr
        self.name = name

    @classmethod
    def at_var(cls, var: Var) -> "XArray":
        return cls(var, None, 0, var.name)

    @classmethod
    def in_object(cls, heap: Heap, addr: int, name: str) -> "XArray":
        return cls(None, heap, addr, f"{name}@{addr:#x}")

    def _key(self):
        return (self.var, self.heap, self.addr)

    def __eq__(self, other):
        return isinstance(other, XArray) and other._key() == self._key()

    def __hash__(self):
        return hash((XArray,) + self._key())

    def __repr__(self):
        return self.name


def entries(value) -> tuple:
    """The (index, entry) pairs of an xarray value (a zeroed object is empty)."""
    return value if isinstance(value, tuple) else ()


def _get(value, index):
    for i, e in entries(value):
        if i == index:
            return e
    return None


def _put(value, index, entry):
    rest = tuple(p for p in entries(value) if p[0] != index)
    if entry is not None:
        rest = tuple(sorted(rest + ((index, entry),)))
    return rest


def _load(value, index):
    return value, _get(value, index)


def _store(value, index, entry):
    return _put(value, index, entry), _get(value, index)


def _cmpxchg(value, index, old, new):
    cur = _get(value, index)
    if cur == old:
        return _put(value, index, new), cur
    return value, cur


def _snapshot(value):
    return value, entries(value)


def _on_var(value, tid, fn, args):
    return fn(value, *args)


def _effect(xa: XArray, fn, args, text: str) -> Effect:
    if xa.var is not None:
        return Update(xa.var, _on_var, fn, args, text=text)
    if fn is _load or fn is _snapshot:
        # a read of the object at addr: a HeapOp, so it names the pages it reads (locations)
        return HeapOp(xa.heap, _read_in_object, xa.addr, False, fn, args, text=text)
    return heap_modify(xa.heap, xa.addr, text, fn, *args)


def _read_in_object(values, tid, heap, addr, fn, args):
    new_values, data = _heap_read(values, tid, heap, addr, fn.__name__.lstrip("_"))
    return new_values, fn(data, *args)[1]


def xa_load(xa: XArray, index: int) -> Effect:
    return _effect(xa, _load, (index,), f"xa_load({xa.name}, {index})")


def xa_store(xa: XArray, index: int, entry) -> Effect:
    return _effect(xa, _store, (index, entry), f"xa_store({xa.name}, {index}, {entry!r})")


def xa_cmpxchg(xa: XArray, index: int, old, new) -> Effect:
    return _effect(xa, _cmpxchg, (index, old, new),
                   f"xa_cmpxchg({xa.name}, {index}, {old!r}, {new!r})")


def xa_entries(xa: XArray) -> Effect:
    """All entries at once: ``xa_for_each`` for a caller that guarantees no concurrent writer
    (KHO v5 walks the tracker only after the freeze, when every writer gets -EBUSY)."""
    return _effect(xa, _snapshot, (), f"xa_for_each({xa.name})")
