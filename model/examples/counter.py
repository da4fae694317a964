"""Example spec: a shared counter, racy and locked, plus a deadlock and a livelock.

The engines' smallest test bed.  ``racy`` is the lost-update race every concurrency course shows
(two tasks read-then-write a counter without a lock: VIOLATED); ``locked`` is its twin under a
kernel mutex (HOLDS); ``abba`` takes two mutexes in opposite orders (a deadlock, reported with who
holds and who waits); ``abba-serial`` does the same one task after the other (no deadlock, a
lock-order cycle); ``spin`` waits for a flag nobody sets (a task that never terminates,
reported with a lasso).
"""

from __future__ import annotations

from ..kernel.locking import Mutex, mutex_lock, mutex_unlock
from ..runtime import Model, Scenario, load, store, update
from ..runtime.spec import Param


async def incrementer(count):
    v = await load(count)
    await store(count, v + 1)


async def locked_incrementer(count, lock):
    await mutex_lock(lock)
    v = await load(count)
    await store(count, v + 1)
    await mutex_unlock(lock)


def _counter(scenario: str, N: int, locked: bool) -> Model:
    m = Model("counter", scenario, {"N": N})
    count = m.var("count", 0)
    lock = Mutex.new(m, "lock")
    for i in range(N):
        if locked:
            m.task(f"inc{i}", locked_incrementer, count, lock)
        else:
            m.task(f"inc{i}", incrementer, count)
    if not locked:  # (the mutex's owner names a task, so the locked twin is not symmetric)
        m.symmetric([(f"inc{i}", ()) for i in range(N)])
    m.final("no-lost-update", lambda s: s[count] == N,
            doc="Every increment that returned is counted: a failure is a lost update, two "
                "tasks read the same value and both wrote value+1.")
    m.sometimes("all-incremented", lambda s: s[count] == N,
                doc="Vacuity guard: the run where every increment lands exists.")
    return m


def racy(N: int = 2) -> Model:
    return _counter("racy", N, locked=False)


def locked(N: int = 2) -> Model:
    return _counter("locked", N, locked=True)


async def lock_two(first, second):
    await mutex_lock(first)
    await mutex_lock(second)
    await mutex_unlock(second)
    await mutex_unlock(first)


def abba() -> Model:
    m = Model("counter", "abba")
    a = Mutex.new(m, "A")
    b = Mutex.new(m, "B")
    m.task("cpu0", lock_two, a, b)
    m.task("cpu1", lock_two, b, a)
    return m


def _wait_set(flag, tid):
    return (flag, None) if flag else None


async def lock_two_then_signal(first, second, done):
    await lock_two(first, second)
    await store(done, True)


async def wait_then_lock_two(first, second, done):
    await update(done, _wait_set, text="wait for cpu0")
    await lock_two(first, second)


def abba_serial() -> Model:
    m = Model("counter", "abba-serial")
    a = Mutex.new(m, "A")
    b = Mutex.new(m, "B")
    done = m.var("cpu0_done", False)
    m.task("cpu0", lock_two_then_signal, a, b, done)
    m.task("cpu1", wait_then_lock_two, b, a, done)
    return m


async def prepare_then_increment(buf, count, K):
    i = 0
    while i < K:                      # fill a private buffer, one store per page
        await store(buf, i + 1)
        i += 1
    v = await load(count)
    await store(count, v + 1)


def private_work(N: int = 2, K: int = 3) -> Model:
    m = Model("counter", "private-work", {"N": N, "K": K})
    count = m.var("count", 0)
    for i in range(N):
        buf = m.var(f"buf{i}", 0, private_to=f"inc{i}")
        m.task(f"inc{i}", prepare_then_increment, buf, count, K)
    m.final("no-lost-update", lambda s: s[count] == N,
            doc="The racy increment after the private work still loses an update.")
    m.sometimes("all-incremented", lambda s: s[count] == N)
    return m


async def waiter(flag):
    while not await load(flag):
        pass


async def never_sets(flag):
    await store(flag, False)


def spin() -> Model:
    m = Model("counter", "spin")
    flag = m.var("flag", False)
    m.task("waiter", waiter, flag)
    m.task("other", never_sets, flag)
    return m


SCENARIOS = [
    Scenario("racy", racy, {"N": 2}, "N tasks read-then-write a counter without a lock.",
             ranges={"N": Param(int, 1, 8)}),
    Scenario("locked", locked, {"N": 2}, "The same under a mutex.",
             ranges={"N": Param(int, 1, 8)}),
    Scenario("abba", abba, {}, "Two tasks take mutexes A and B in opposite orders."),
    Scenario("spin", spin, {}, "A task spins on a flag that is never set."),
    Scenario("private-work", private_work, {"N": 2, "K": 3},
             "Each task fills a private buffer, then increments racily: what partial-order "
             "reduction saves.", ranges={"N": Param(int, 1, 6), "K": Param(int, 1, 16)}),
    Scenario("abba-serial", abba_serial, {},
             "A then B, later B then A, never at the same time: no run deadlocks, but the "
             "lock order has a cycle (what lockdep reports)."),
]
