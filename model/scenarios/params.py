"""The declared types and ranges of the KHO scenarios' parameters (``-D NAME=VALUE``).

Every spec module ends its SCENARIOS list with :func:`declare`, which gives each scenario the
range of every parameter it has from the table below.  A value outside its range is refused with
one line and exit 2 before any model is built (khomc.runtime.spec.Param).  Why each range:

* ``pages`` - each task's private pool of physical pages (khomc.kernel.alloc.Heap).  Below the
  scenario's default some allocation of the scenario's own work can run out and the check would
  explore -ENOMEM paths the scenario is not about (allocation failures are injected on purpose
  with ``fail_allocs``); above it the extra pages are never used, so verdicts and state counts do
  not change.  Range: the default .. 64.
* ``fail_allocs`` - how many allocations the search may fail: 0 .. 4 (each one multiplies the
  branching of every allocation site).
* ``reuse`` - how many allocations may be served from a freed block (khomc.kernel.alloc.Heap's
  bounded reuse; 0 = KASAN's quarantine, nothing reused): 0 .. 2 (each reuse multiplies the
  branching of every allocation by the freed blocks that fit).
* ``fdt_max`` / ``dt_max`` / ``new_max`` - the debugfs FDT size limit in bytes.  The kernel takes
  any value (a too-small one makes fdt_create fail with -EINVAL, which the model reproduces);
  negative or zero sizes are not values the file can hold, and sizes beyond 64 KiB only exhaust
  the page pool: 1 .. 65536.
* ``nr_folios`` (test_kho's folios), ``npages`` (pages preserved at once), ``boxes``/``fds``
  (FDBox instances and fds each), ``fdboxes`` (FDBox tasks next to a notifier test; 0 leaves the
  notifier alone): small counts whose state spaces already grow exponentially.
* ``clients`` - interchangeable clients of a three-client scenario: 1 .. 4.
* ``slots`` - entries of a v5-anchor page: 1 .. 510 (510 is what one 4 KiB anchor holds).
* ``chunk`` - entries of a 6.18 ``struct kho_vmalloc_chunk`` (``ARRAY_SIZE(chunk->phys)``,
  511 in the kernel): 1 .. 511; below 511 a small area fills a chunk (khomc.kho.k6_18.vmalloc).
* ``mutants`` (names checked by the era's builder), ``luo``, ``finalize``, ``debug``
  (CONFIG_KEXEC_HANDOVER_DEBUG), ``race``, ``close`` (the LUO agent of luo-session-race):
  strings and booleans.
"""

from __future__ import annotations

from khomc.runtime.spec import Param, Scenario

RANGES = {
    "pages": lambda default: Param(int, default, 64),
    "fail_allocs": lambda default: Param(int, 0, 4),
    "reuse": lambda default: Param(int, 0, 2),
    "fdt_max": lambda default: Param(int, 1, 65536),
    "dt_max": lambda default: Param(int, 1, 65536),
    "new_max": lambda default: Param(int, 1, 65536),
    "nr_folios": lambda default: Param(int, 1, 4),
    "npages": lambda default: Param(int, 1, 8),
    "boxes": lambda default: Param(int, 1, 8),
    "fds": lambda default: Param(int, 1, 8),
    "fdboxes": lambda default: Param(int, 0, 4),
    "slots": lambda default: Param(int, 1, 510),
    "chunk": lambda default: Param(int, 1, 511),
    "clients": lambda default: Param(int, 1, 4),
    "mutants": lambda default: Param(str),
    "luo": lambda default: Param(bool),
    "finalize": lambda default: Param(bool),
    "debug": lambda default: Param(bool),
    "race": lambda default: Param(bool),
    "close": lambda default: Param(bool),
}


def ranges_for(params: dict) -> dict:
    """The declared range of each parameter in *params* (by name, from :data:`RANGES`)."""
    missing = sorted(set(params) - set(RANGES))
    if missing:
        raise TypeError(f"no declared range for KHO scenario parameters {missing}: add them to "
                        "khomc.scenarios.params.RANGES")
    return {k: RANGES[k](v) for k, v in params.items()}


def declare(scenarios: list[Scenario]) -> list[Scenario]:
    """*scenarios* with every parameter's declared type and range."""
    return [Scenario(sc.name, sc.build, dict(sc.params), sc.doc, sc.default,
                     {**ranges_for(sc.params), **sc.ranges}, sc.symmetry) for sc in scenarios]
