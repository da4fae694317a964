"""Era adapters: the small API surface the cross-era drivers call, one namespace per era.

A driver written once (test_kho, the notifier FDBox) calls ``era.preserve_folio``,
``era.add_subtree``, ``era.register_notifier`` and compares events with ``era.FINALIZE`` /
``era.ABORT``; each adapter maps those onto its era's functions:

* :class:`K616` and :class:`K618`: khomc.kho.k6_16.kexec_handover (torvalds/linux:kernel/kexec_handover.c
  @00c010e130e5, and its 6.18 variant): kho_preserve_folio, kho_add_subtree(ser, ...),
  register_kho_notifier, KEXEC_KHO_FINALIZE / KEXEC_KHO_ABORT.
* :class:`V4`: khomc.kho.v4.kexec_handover (20250206132754.2596694-1-rppt@kernel.org): the DUMP callback's
  ``mem`` properties in the shared FDT, KEXEC_KHO_DUMP / KEXEC_KHO_ABORT.

Adapters are classes used as namespaces (hashable, so they can be task and notifier arguments).
"""

from __future__ import annotations

from khomc.kho.k6_16 import kexec_handover as k6_16
from khomc.kho.v4 import kexec_handover as v4
from khomc.kho.v4.kexec_handover import kho_mem
from ..runtime.effects import Update, load


class K616:
    FINALIZE = k6_16.KEXEC_KHO_FINALIZE
    ABORT = k6_16.KEXEC_KHO_ABORT

    @staticmethod
    async def preserve_folio(kho, phys: int, order: int) -> int:
        return await k6_16.kho_preserve_folio(kho, phys, order)

    @staticmethod
    async def add_subtree(kho, ser, name: str, phys: int) -> int:
        return await k6_16.kho_add_subtree(kho, ser, name, phys)

    @staticmethod
    async def register_notifier(kho, nb) -> int:
        return await k6_16.register_kho_notifier(kho, nb)


class K618(K616):
    """Same calls; the 6.18 differences live in the machine (``K616(era="6.18")``)."""


def _note_mem(mem, tid, phys, order):
    return mem | {(phys, order)}, 0


class V4:
    """KHO v4 (20250206132754.2596694-1-rppt@kernel.org) has no preservation API: a user
    describes its memory with ``mem`` properties of the node its KEXEC_KHO_DUMP callback writes
    into the shared FDT (the ``data`` the chain passes).  ``preserve_folio`` therefore only
    notes the folio in the adapter's list (``kho.adapter_mem``, one per scenario: the adapter
    serves a single driver), and ``add_subtree(ser, name, phys)`` writes
    ``name { fdt = <phys>; mem = <every noted folio>; }`` into the FDT *ser*."""

    FINALIZE = v4.KEXEC_KHO_DUMP
    ABORT = v4.KEXEC_KHO_ABORT

    @staticmethod
    async def preserve_folio(kho, phys: int, order: int) -> int:
        return await Update(kho.adapter_mem, _note_mem, phys, order,
                            text=f"v4 adapter: note folio {phys:#x} order {order}")

    @staticmethod
    async def add_subtree(kho, ser, name: str, phys: int) -> int:
        noted = sorted(await load(kho.adapter_mem))
        mem = b"".join(kho_mem(p, v4.PAGE_SIZE << o) for p, o in noted)
        props = (("fdt", phys.to_bytes(8, "little")), ("mem", mem))
        err = await kho.kernel.kho_fdt_add_node(kho, ser, name, props, "v4 adapter: add_subtree")
        return -12 if err else 0

    @staticmethod
    async def register_notifier(kho, nb) -> int:
        return await kho.kernel.register_kho_notifier(kho, nb)
