"""The scenarios' counting slots: a module or client arriving, an operator waiting for all.

No kernel version: the scenarios' own bookkeeping (an init script counting loaded modules).
Both are :class:`khomc.runtime.effects.Update` functions: ``count_up`` adds one in one step;
``wait_for`` blocks (returns None) until the slot holds *want*.
"""

from __future__ import annotations


def count_up(n, tid):
    return n + 1, None


def wait_for(n, tid, want):
    return None if n != want else (n, None)
