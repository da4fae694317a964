"""Era adapters: the small API surface the cross-era drivers call, one namespace per era.

A driver written once (test_kho, the notifier FDBox) calls ``era.preserve_folio``,
``era.add_subtree``, ``era.register_notifier`` and compares events with ``era.FINALIZE`` /
``era.ABORT``; each adapter maps those onto its era's functions:

* :class:`K616` and :class:`K618`: model.kho.k6_16 (torvalds/linux:kernel/kexec_handover.c
  @00c010e130e5, and its 6.18 variant): kho_preserve_folio, kho_add_subtree(ser, ...),
  register_kho_notifier, KEXEC_KHO_FINALIZE / KEXEC_KHO_ABORT.

Adapters are classes used as namespaces (hashable, so they can be task and notifier arguments).
"""

from __future__ import annotations

from ..kho import k6_16


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
