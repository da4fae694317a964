"""Example spec: the SPIN-comparable KHO toy model (checker-anchors.md, appendix ``kho.pml``).

N drivers each add or remove up to K items while the state is not frozen; once it is frozen a
driver's notifier step observes the freeze (``notified++``) and the driver stops.  A finalizer
atomically freezes and snapshots the total, re-sums the items one read at a time, asserts the sum
equals the snapshot, and kexecs.  In the BUG variant a driver's check-then-add is split into two
steps (a TOCTOU on ``frozen``), so an add can land after the freeze and the assertion fails.

Granularity: one khomc step per Promela *statement group* of the appendix - a guarded alternative
of the driver's ``do`` (atomic for add/remove, the bare guard then the increment in the BUG
variant), ``notified++``, the finalizer's atomic freeze, each read of the re-sum, and the kexec
store.  State counts are pinned in properties/engine and cross-checked against an independent
hand-written tuple BFS of the same semantics.
"""

from __future__ import annotations

from ..runtime import Model, Scenario, load, op, select, store, update
from ..runtime.spec import Param


def _can_add(values, tid, K):
    frozen, item = values
    return None if frozen or item >= K else ((frozen, item + 1), None)


def _check_add(values, tid, K):
    frozen, item = values
    return None if frozen or item >= K else (values, None)


def _can_remove(values, tid):
    frozen, item = values
    return None if frozen or item <= 0 else ((frozen, item - 1), None)


def _is_frozen(values, tid):
    return (values, None) if values[0] else None


def _increment(value, tid):
    return value + 1, None


def _freeze_and_snapshot(values, tid):
    items = values[2:]
    total = sum(items)
    return (True, total) + items, total


def _accumulate(values, tid, t):
    return values, t + values[0]


async def driver(frozen, item, notified, K, bug):
    add = op((frozen, item), _check_add if bug else _can_add, K,
             text=f"{'check' if bug else 'atomic'} !frozen && {item.name} < {K}"
                  + ("" if bug else f" -> {item.name}++"))
    remove = op((frozen, item), _can_remove, text=f"atomic !frozen && {item.name} > 0 -> "
                                                  f"{item.name}--")
    notice = op((frozen,), _is_frozen, text="frozen ->")
    while True:
        choice, _ = await select(add, remove, notice)
        if choice == 0 and bug:
            await update(item, _increment, text=f"{item.name}++")
        elif choice == 2:
            await update(notified, _increment, text="notified++")
            return


async def finalizer(frozen, frozen_total, kexeced, items):
    snapshot = await op((frozen, frozen_total) + items, _freeze_and_snapshot,
                        text="atomic { frozen = true; frozen_total = total }")
    t = 0
    j = 0
    while j < len(items):
        t = await op((items[j],), _accumulate, t, text=f"t += {items[j].name}")
        j += 1
    assert t == snapshot, f"re-summed total {t} != frozen total {snapshot}"
    await store(kexeced, True)


def build(N: int = 3, K: int = 3, BUG: bool = False) -> Model:
    m = Model("spinkho", "bug" if BUG else "ok", {"N": N, "K": K, "BUG": BUG})
    frozen = m.var("frozen", False)
    kexeced = m.var("kexeced", False)
    frozen_total = m.var("frozen_total", 0)
    notified = m.var("notified", 0)
    items = tuple(m.var(f"items[{i}]", 0) for i in range(N))
    for i in range(N):
        m.task(f"driver{i}", driver, frozen, items[i], notified, K, BUG)
    m.task("finalizer", finalizer, frozen, frozen_total, kexeced, items)
    m.final("all-notified", lambda s: s[notified] == N,
            doc="Every driver's notifier observed the freeze before the drivers finished.")
    m.sometimes("kexec-reached", lambda s: s[kexeced],
                doc="Vacuity guard: some run reaches kexec.")
    return m


def ok(N: int = 3, K: int = 3) -> Model:
    return build(N, K, False)


def bug(N: int = 3, K: int = 3) -> Model:
    return build(N, K, True)


SCENARIOS = [
    Scenario("ok", ok, {"N": 3, "K": 3}, "Atomic check-then-add: the re-sum equals the snapshot.",
             ranges={"N": Param(int, 1, 6), "K": Param(int, 1, 8)}),
    Scenario("bug", bug, {"N": 3, "K": 3},
             "Split check-then-add (TOCTOU on frozen): an add lands after the freeze.",
             ranges={"N": Param(int, 1, 6), "K": Param(int, 1, 8)}),
]
