"""Era adapters: the small API surface the cross-era drivers call, one namespace per era.

A driver written once (the notifier-era test_kho of khomc.drivers.test_kho_notifier) calls
``era.preserve_folio``, ``era.add_subtree``, ``era.register_notifier`` and compares events with
``era.FINALIZE`` / ``era.ABORT``; the adapter maps those onto its era's functions.  (The 6.16
line needs none: its drivers take the linked era, a khomc.kho.ledger.Kernel, and call the
kernel's functions by their names; its lib/test_kho.c is khomc.kho.k6_16.test_kho.)

* :class:`V4`: khomc.kho.v4.kexec_handover (20250206132754.2596694-1-rppt@kernel.org): the DUMP callback's
  ``mem`` properties in the shared FDT, KEXEC_KHO_DUMP / KEXEC_KHO_ABORT.

Adapters are classes used as namespaces (hashable, so they can be task and notifier arguments).
"""

from __future__ import annotations

from khomc.kho.v4 import kexec_handover as v4
from khomc.kho.v4.kexec_handover import kho_mem
from ..runtime.effects import Update, load


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
