"""z3 obligations of the khoser chunk encoding (v5, 6.16, 6.18, 6.19): the preserved-memory map.

Owns the bit-vector form of how a preserved (pfn, order) becomes a chunk element and a bit, and
back, and the proofs about it:

* the tracker's bitmap index ``(pfn >> order) / PRESERVE_BITS`` and bit
  ``(pfn >> order) % PRESERVE_BITS`` (``__kho_preserve_order``);
* the serialized ``phys_start = (idx * PRESERVE_BITS) << (order + PAGE_SHIFT)``
  (``kho_mem_serialize``), in 64-bit unsigned arithmetic;
* the next kernel's ``phys = phys_start + (bit << (order + PAGE_SHIFT))`` and
  ``int sz = 1 << (order + PAGE_SHIFT)`` (``deserialize_bitmap``).

Follows ``torvalds/linux:kernel/kexec_handover.c@00c010e130e5`` (K6.16) and
``torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd`` (K6.19, same arithmetic);
``PRESERVE_BITS`` is ``512 * 8`` in v5 (``20250320015551.2157511-10-changyuanl@google.com``) and
6.16, ``PAGE_SIZE * 8`` from ``a2fff99f92da`` (6.18) on.  The plain-Python twin of every function
here is in :mod:`khomc.kho.encoding`; the hypothesis tests check that they agree.
"""

from __future__ import annotations

from typing import Callable

import z3

from ..kho.encoding import (MAX_PAGE_ORDER, PAGE_SHIFT, PRESERVE_BITS_512B, PRESERVE_BITS_PAGE,
                            int32_shl_to_u64 as py_int32_shl)
from .core import (IN_DOMAIN, OUT_OF_DOMAIN, ObligationResult, aligned, bv, check_claim,
                   int32_shl_to_u64)

SOURCE = ("torvalds/linux:kernel/kexec_handover.c@00c010e130e5, "
          "kernel/liveupdate/kexec_handover.c@dd03dd60e8cd")

#: PRESERVE_BITS of each era that uses the chunk encoding.
ERAS_BY_PRESERVE_BITS = {
    PRESERVE_BITS_512B: ("v5", "6.16"),
    PRESERVE_BITS_PAGE: ("6.18", "6.19"),
}

ENCODABLE_PFN = 1 << (64 - PAGE_SHIFT)   # pfn << PAGE_SHIFT fits in a 64-bit phys_addr_t

Encoder = Callable[[z3.BitVecRef, z3.BitVecRef, int], tuple[z3.BitVecRef, z3.BitVecRef]]


def encode(pfn: z3.BitVecRef, order: z3.BitVecRef, preserve_bits: int):
    """(phys_start, bit) for a preserved (pfn, order), as the tracker and serializer compute it."""
    high = z3.LShR(pfn, order)
    idx = z3.UDiv(high, bv(preserve_bits))
    bit = z3.URem(high, bv(preserve_bits))
    phys_start = (idx * bv(preserve_bits)) << (order + PAGE_SHIFT)
    return phys_start, bit


def decode(order: z3.BitVecRef, phys_start: z3.BitVecRef, bit: z3.BitVecRef) -> z3.BitVecRef:
    """The pfn the next kernel reserves for a set bit of a chunk element of that order."""
    phys = phys_start + (bit << (order + PAGE_SHIFT))
    return z3.LShR(phys, PAGE_SHIFT)


def _vars():
    return z3.BitVec("pfn", 64), z3.BitVec("order", 64)


def _domain_text(pfn_limit: str, orders: str, alignment: str = "pfn aligned to 2**order") -> str:
    return f"all 64-bit pfn {pfn_limit}, orders {orders}, {alignment}"


def _describe(preserve_bits: int, enc: Encoder):
    def describe(v: dict) -> dict:
        pfn, order = v["pfn"], v["order"]
        ps, bit = (z3.simplify(e).as_long() for e in enc(bv(pfn), bv(order), preserve_bits))
        back = z3.simplify(decode(bv(order), bv(ps), bv(bit))).as_long()
        return {"pfn": pfn, "order": order, "phys": (pfn << PAGE_SHIFT) & ((1 << 64) - 1),
                "phys_start": ps, "bit": bit, "decoded_pfn": back}
    return describe


def roundtrip(preserve_bits: int, *, enc: Encoder = encode, max_order: int = MAX_PAGE_ORDER,
              pfn_limit: int | None = ENCODABLE_PFN, require_aligned: bool = True,
              kind: str = IN_DOMAIN, name: str | None = None, seed: int = 0) -> ObligationResult:
    """decode(encode(pfn, order)) == pfn, bit < PRESERVE_BITS, phys_start aligned to its span.

    The span of one bitmap is ``PRESERVE_BITS << (order + PAGE_SHIFT)`` bytes; the next kernel
    relies on phys_start being a multiple of it only through the decode, but a misaligned
    phys_start would mean two bitmaps overlap.  Widening *pfn_limit* (None: any 64-bit pfn) or
    dropping *require_aligned* gives the out-of-domain refutations.
    """
    pfn, order = _vars()
    phys_start, bit = enc(pfn, order, preserve_bits)
    span_mask = (bv(preserve_bits) << (order + PAGE_SHIFT)) - 1
    claim = z3.And(decode(order, phys_start, bit) == pfn,
                   z3.ULT(bit, bv(preserve_bits)),
                   phys_start & span_mask == 0)
    dom = [z3.ULE(order, bv(max_order))]
    if pfn_limit is not None:
        dom.append(z3.ULT(pfn, bv(pfn_limit)))
    if require_aligned:
        dom.append(aligned(pfn, order))
    limit_text = f"< 2**{pfn_limit.bit_length() - 1}" if pfn_limit else "(no limit)"
    return check_claim(
        name or f"khoser.roundtrip[PRESERVE_BITS={preserve_bits}]",
        ERAS_BY_PRESERVE_BITS.get(preserve_bits, ("mutant",)), kind,
        domain=z3.And(dom), claim=claim, variables={"order": order, "pfn": pfn},
        minimise=("order", "pfn"), describe=_describe(preserve_bits, enc),
        domain_text=_domain_text(limit_text, f"0..{max_order}",
                                 "pfn aligned to 2**order" if require_aligned
                                 else "pfn not required to be aligned"),
        source=SOURCE, seed=seed)


def injective(preserve_bits: int, *, enc: Encoder = encode, max_order: int = MAX_PAGE_ORDER,
              seed: int = 0) -> ObligationResult:
    """Distinct in-domain (pfn, order) pairs never share (order, phys_start, bit)."""
    p1, o1, p2, o2 = (z3.BitVec(n, 64) for n in ("pfn1", "order1", "pfn2", "order2"))
    s1, b1 = enc(p1, o1, preserve_bits)
    s2, b2 = enc(p2, o2, preserve_bits)
    dom = z3.And(*(z3.And(z3.ULE(o, bv(max_order)), z3.ULT(p, bv(ENCODABLE_PFN)), aligned(p, o))
                   for p, o in ((p1, o1), (p2, o2))))
    same = z3.And(o1 == o2, s1 == s2, b1 == b2)
    claim = z3.Implies(same, z3.And(p1 == p2, o1 == o2))
    return check_claim(
        f"khoser.injective[PRESERVE_BITS={preserve_bits}]",
        ERAS_BY_PRESERVE_BITS.get(preserve_bits, ("mutant",)), IN_DOMAIN,
        domain=dom, claim=claim,
        variables={"order1": o1, "pfn1": p1, "order2": o2, "pfn2": p2},
        minimise=("order1", "pfn1", "order2", "pfn2"),
        domain_text=_domain_text(f"< 2**{64 - PAGE_SHIFT}", f"0..{max_order}") + ", both pairs",
        source=SOURCE, seed=seed)


def reserve_size(*, max_order: int, kind: str, eras: tuple[str, ...],
                 seed: int = 0) -> ObligationResult:
    """The size the next kernel hands memblock_reserve, ``int sz = 1 << (order + PAGE_SHIFT)``
    widened to phys_addr_t, equals the block's 2**(order + PAGE_SHIFT) bytes.

    Up to MAX_PAGE_ORDER it does; kho_preserve_phys / kho_preserve_pages do not cap the order of
    a block, and from order 19 the 32-bit int overflows.  7.1's kho_preserved_memory_reserve
    (kernel/liveupdate/kexec_handover.c@019fc3687237) assigns the same int-typed shift to a u64,
    so the obligation covers it too.
    """
    order = z3.BitVec("order", 64)
    claim = int32_shl_to_u64(order + PAGE_SHIFT) == bv(1) << (order + PAGE_SHIFT)

    def describe(v: dict) -> dict:
        o = v["order"]
        return {"order": o, "block_bytes": 1 << (o + PAGE_SHIFT),
                "sz_reserved": py_int32_shl(o + PAGE_SHIFT)}
    return check_claim(
        f"khoser.reserve_size[order<={max_order}]", eras, kind,
        domain=z3.ULE(order, bv(max_order)), claim=claim, variables={"order": order},
        minimise=("order",), describe=describe,
        domain_text=f"orders 0..{max_order}", seed=seed,
        source=SOURCE + ", kernel/liveupdate/kexec_handover.c@019fc3687237")


def plan() -> list[tuple[tuple[str, ...], Callable[[int], ObligationResult]]]:
    """Every khoser obligation as (eras, run(seed)), in the order ``khomc prove`` prints them."""
    small, page = ERAS_BY_PRESERVE_BITS[PRESERVE_BITS_512B], ERAS_BY_PRESERVE_BITS[PRESERVE_BITS_PAGE]
    size_eras = small + page + ("7.1",)
    return [
        (small, lambda seed: roundtrip(PRESERVE_BITS_512B, seed=seed)),
        (small, lambda seed: injective(PRESERVE_BITS_512B, seed=seed)),
        (page, lambda seed: roundtrip(PRESERVE_BITS_PAGE, seed=seed)),
        (page, lambda seed: injective(PRESERVE_BITS_PAGE, seed=seed)),
        (size_eras, lambda seed: reserve_size(max_order=MAX_PAGE_ORDER, kind=IN_DOMAIN,
                                              eras=size_eras, seed=seed)),
        (size_eras, lambda seed: reserve_size(max_order=63 - PAGE_SHIFT, kind=OUT_OF_DOMAIN,
                                              eras=size_eras, seed=seed)),
        (page, lambda seed: roundtrip(PRESERVE_BITS_PAGE, pfn_limit=None, kind=OUT_OF_DOMAIN,
                                      seed=seed, name="khoser.roundtrip[pfn beyond 2**52]")),
        (page, lambda seed: roundtrip(PRESERVE_BITS_PAGE, require_aligned=False,
                                      kind=OUT_OF_DOMAIN, seed=seed,
                                      name="khoser.roundtrip[unaligned pfn]")),
    ]
