"""Blocking notifier chains: register, unregister, call_chain, NOTIFY_* and notifier_to_errno.

Follows kernel/notifier.c and include/linux/notifier.h (torvalds/linux v6.14):

* ``blocking_notifier_chain_register`` / ``_unregister`` take the head's rwsem for write and
  insert by priority (after every block of equal or higher priority) / remove; registering a
  block twice warns and returns -EEXIST, unregistering an unknown one returns -ENOENT.
* ``blocking_notifier_call_chain`` first looks at the head without a lock (an empty chain
  returns NOTIFY_DONE), then holds the rwsem for read while it calls every callback in order,
  stopping early when a callback's return has NOTIFY_STOP_MASK set (NOTIFY_BAD, NOTIFY_STOP).
  A callback that registers or unregisters on the same chain therefore sleeps on the write side
  of a rwsem its own task holds for read: a self-deadlock the checker reports.
* ``notifier_from_errno`` / ``notifier_to_errno`` encode an errno in a return value.

A block is a :class:`NotifierBlock` value: ``fn(*args, event, data)`` is an ``async def`` of model
code returning a NOTIFY_* value.  The chain slot holds a tuple of blocks in call order.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from ..runtime.effects import Update, load
from ..runtime.spec import Model
from .errno import EEXIST, ENOENT
from .locking import RwSemaphore, down_read, down_write, up_read, up_write

NOTIFY_DONE = 0x0000
NOTIFY_OK = 0x0001
NOTIFY_STOP_MASK = 0x8000
NOTIFY_BAD = NOTIFY_STOP_MASK | 0x0002
NOTIFY_STOP = NOTIFY_OK | NOTIFY_STOP_MASK


def notifier_from_errno(err: int) -> int:
    """Encode a negative errno in a notifier return value (NOTIFY_OK for 0).

    >>> notifier_to_errno(notifier_from_errno(-12))
    -12
    """
    return NOTIFY_STOP_MASK | (NOTIFY_OK - err) if err else NOTIFY_OK


def notifier_to_errno(ret: int) -> int:
    """The errno a notifier return value carries, 0 if none.

    >>> notifier_to_errno(NOTIFY_BAD)
    -1
    """
    ret &= ~NOTIFY_STOP_MASK
    return NOTIFY_OK - ret if ret > NOTIFY_OK else 0


class NotifierBlock(NamedTuple):
    """``struct notifier_block``: who, its callback with bound arguments, its priority."""

    name: str
    fn: Callable
    args: tuple = ()
    priority: int = 0

    def __repr__(self):
        return self.name


class BlockingNotifierHead:
    """``struct blocking_notifier_head``: a chain slot and its rwsem."""

    __slots__ = ("chain", "rwsem", "name")

    def __init__(self, model: Model, name: str):
        self.name = name
        self.chain = model.var(f"{name}.head", ())
        self.rwsem = RwSemaphore.new(model, f"{name}.rwsem")

    def __eq__(self, other):
        return isinstance(other, BlockingNotifierHead) and other.chain == self.chain

    def __hash__(self):
        return hash((BlockingNotifierHead, self.chain))

    def __repr__(self):
        return self.name


def _insert(chain, tid, nb):
    if nb in chain:
        return chain, -EEXIST
    i = 0
    while i < len(chain) and chain[i].priority >= nb.priority:
        i += 1
    return chain[:i] + (nb,) + chain[i:], 0


def _remove(chain, tid, nb):
    if nb not in chain:
        return chain, -ENOENT
    return tuple(b for b in chain if b != nb), 0


async def blocking_notifier_chain_register(nh: BlockingNotifierHead, nb: NotifierBlock) -> int:
    await down_write(nh.rwsem)
    ret = await Update(nh.chain, _insert, nb, text=f"notifier_chain_register({nh.name}, {nb.name})")
    await up_write(nh.rwsem)
    return ret


async def blocking_notifier_chain_unregister(nh: BlockingNotifierHead, nb: NotifierBlock) -> int:
    await down_write(nh.rwsem)
    ret = await Update(nh.chain, _remove, nb,
                       text=f"notifier_chain_unregister({nh.name}, {nb.name})")
    await up_write(nh.rwsem)
    return ret


async def blocking_notifier_call_chain(nh: BlockingNotifierHead, event: int,
                                       data: Any = None) -> int:
    if not await load(nh.chain):          # rcu_access_pointer(nh->head), no lock
        return NOTIFY_DONE
    await down_read(nh.rwsem)
    chain = await load(nh.chain)
    ret = NOTIFY_DONE
    i = 0
    while i < len(chain):
        nb = chain[i]
        ret = await nb.fn(*nb.args, event, data)
        if ret & NOTIFY_STOP_MASK:
            break
        i += 1
    await up_read(nh.rwsem)
    return ret
