"""z3 obligations of the 7.1 radix-tree key: the stateless preserved-memory map.

Owns the bit-vector form of the key and of the tree path, and the proofs about them:

* ``key = (1 << (KHO_ORDER_0_LOG2 - order)) | (phys >> (PAGE_SHIFT + order))``
  (``kho_radix_encode_key``, with ``phys = PFN_PHYS(pfn)`` as in ``kho_radix_add_page``);
* ``order = KHO_ORDER_0_LOG2 - fls64(key) + 1`` and ``phys = key << (PAGE_SHIFT + order)``
  (``kho_radix_decode_key``);
* the table index of each level, ``(key >> ((level - 1) * KHO_TABLE_SIZE_LOG2 +
  KHO_BITMAP_SIZE_LOG2)) % (1 << KHO_TABLE_SIZE_LOG2)`` for levels ``KHO_TREE_MAX_DEPTH - 1 .. 1``,
  and the leaf bit ``key % (1 << KHO_BITMAP_SIZE_LOG2)`` (``kho_radix_get_table_index``,
  ``kho_radix_get_bitmap_index``); the next kernel's walk rebuilds the key by OR-ing each level's
  index back at its shift and the leaf bit (``__kho_radix_walk_tree``, ``kho_radix_walk_leaf``).

Follows ``torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237`` and the constants of
``enum kho_radix_consts`` in ``include/linux/kho/abi/kexec_handover.h@3f2ad90060f6``
(``KHO_ORDER_0_LOG2 = 64 - PAGE_SHIFT``, ``KHO_TABLE_SIZE_LOG2 = ilog2(PAGE_SIZE / 8)``,
``KHO_BITMAP_SIZE_LOG2 = PAGE_SHIFT + 3``, ``KHO_TREE_MAX_DEPTH = DIV_ROUND_UP(KHO_ORDER_0_LOG2 -
KHO_BITMAP_SIZE_LOG2, KHO_TABLE_SIZE_LOG2) + 1``, i.e. 6 with 4 KiB pages).  A later version of the
header (moved to ``include/linux/kho/abi/radix_tree.h``) adds 1 to the key width in the depth
formula; :class:`khomc.kho.encoding.RadixGeometry` models both.  The plain-Python twin is in
:mod:`khomc.kho.encoding`.
"""

from __future__ import annotations

from typing import Callable

import z3

from ..kho.encoding import PAGE_SHIFT, RADIX_4K, RadixGeometry
from .core import (IN_DOMAIN, OUT_OF_DOMAIN, ObligationResult, aligned, bv, check_claim, fls64)

ERAS = ("7.1",)
SOURCE = ("torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237, "
          "include/linux/kho/abi/kexec_handover.h@3f2ad90060f6")

RADIX_16K = RadixGeometry(page_shift=14)
RADIX_16K_PLUS_ONE = RadixGeometry(page_shift=14, depth_plus_one=True)
RADIX_64K = RadixGeometry(page_shift=16)


def encode_key(phys: z3.BitVecRef, order: z3.BitVecRef, g: RadixGeometry = RADIX_4K):
    high = bv(1) << (bv(g.order0_log2) - order)
    low = z3.LShR(phys, order + g.page_shift)
    return high | low


def decode_key(key: z3.BitVecRef, g: RadixGeometry = RADIX_4K):
    """(phys, order); the order is an unsigned int in the kernel, so it is truncated to 32 bits."""
    order = z3.ZeroExt(32, z3.Extract(31, 0, bv(g.order0_log2) - fls64(key) + 1))
    return key << (order + g.page_shift), order


def table_index(key: z3.BitVecRef, level: int, g: RadixGeometry = RADIX_4K):
    return z3.LShR(key, g.table_shift(level)) & bv((1 << g.table_log2) - 1)


def bitmap_index(key: z3.BitVecRef, g: RadixGeometry = RADIX_4K):
    return key & bv((1 << g.bitmap_log2) - 1)


def walk_key(key: z3.BitVecRef, g: RadixGeometry = RADIX_4K):
    """The key the tree walk rebuilds from the path the key was stored under."""
    out = bitmap_index(key, g)
    for level in range(g.depth - 1, 0, -1):
        out = out | (table_index(key, level, g) << g.table_shift(level))
    return out


def _geometry_text(g: RadixGeometry) -> str:
    plus = " with the +1 depth formula" if g.depth_plus_one else ""
    return f"PAGE_SHIFT={g.page_shift}{plus}"


def _domain(pfn, order, g: RadixGeometry, max_order: int, pfn_limit: int | None,
            require_aligned: bool = True):
    dom = [z3.ULE(order, bv(max_order))]
    if pfn_limit is not None:
        dom.append(z3.ULT(pfn, bv(pfn_limit)))
    if require_aligned:
        dom.append(aligned(pfn, order))
    return z3.And(dom)


def _describe(g: RadixGeometry):
    def describe(v: dict) -> dict:
        pfn, order = v["pfn"], v["order"]
        phys = (pfn << g.page_shift) & ((1 << 64) - 1)
        key = z3.simplify(encode_key(bv(phys), bv(order), g)).as_long()
        walked = z3.simplify(walk_key(bv(key), g)).as_long()
        dphys, dorder = (z3.simplify(e).as_long() for e in decode_key(bv(walked), g))
        return {"pfn": pfn, "order": order, "phys": phys, "key": key, "walked_key": walked,
                "decoded_phys": dphys, "decoded_order": dorder}
    return describe


def roundtrip(g: RadixGeometry = RADIX_4K, *, max_order: int | None = None,
              pfn_limit: int | None = -1, require_aligned: bool = True, kind: str = IN_DOMAIN,
              name: str | None = None, seed: int = 0) -> ObligationResult:
    """decode(encode(PFN_PHYS(pfn), order)) == (PFN_PHYS(pfn), order).

    The default domain is every order a range split can produce (0 .. 63 - PAGE_SHIFT, a superset
    of 0 .. MAX_PAGE_ORDER) and every pfn whose address fits in 64 bits, aligned to its order.
    """
    max_order = 63 - g.page_shift if max_order is None else max_order
    pfn_limit = 1 << (64 - g.page_shift) if pfn_limit == -1 else pfn_limit
    pfn, order = z3.BitVec("pfn", 64), z3.BitVec("order", 64)
    phys = pfn << g.page_shift
    dphys, dorder = decode_key(encode_key(phys, order, g), g)
    limit = f"< 2**{pfn_limit.bit_length() - 1}" if pfn_limit else "(no limit)"
    return check_claim(
        name or f"radix.roundtrip[{_geometry_text(g)}]", ERAS, kind,
        domain=_domain(pfn, order, g, max_order, pfn_limit, require_aligned),
        claim=z3.And(dphys == phys, dorder == order),
        variables={"order": order, "pfn": pfn}, minimise=("order", "pfn"),
        describe=_describe(g),
        domain_text=f"all pfn {limit}, orders 0..{max_order}, "
                    + ("pfn aligned to 2**order" if require_aligned else "any alignment"),
        source=SOURCE, seed=seed)


def injective(g: RadixGeometry = RADIX_4K, *, pfn_limit: int | None = -1, kind: str = IN_DOMAIN,
              name: str | None = None, seed: int = 0) -> ObligationResult:
    """Distinct (pfn, order) pairs never share a key (keys are what the tree indexes by)."""
    max_order = 63 - g.page_shift
    pfn_limit = 1 << (64 - g.page_shift) if pfn_limit == -1 else pfn_limit
    p1, o1, p2, o2 = (z3.BitVec(n, 64) for n in ("pfn1", "order1", "pfn2", "order2"))
    k1 = encode_key(p1 << g.page_shift, o1, g)
    k2 = encode_key(p2 << g.page_shift, o2, g)
    dom = z3.And(_domain(p1, o1, g, max_order, pfn_limit), _domain(p2, o2, g, max_order, pfn_limit))
    limit = f"< 2**{pfn_limit.bit_length() - 1}" if pfn_limit else "(no limit)"

    def describe(v: dict) -> dict:
        out = dict(v)
        out["key"] = z3.simplify(encode_key(bv((v["pfn1"] << g.page_shift) & ((1 << 64) - 1)),
                                            bv(v["order1"]), g)).as_long()
        return out
    return check_claim(
        name or f"radix.injective[{_geometry_text(g)}]", ERAS, kind, domain=dom,
        claim=z3.Implies(k1 == k2, z3.And(p1 == p2, o1 == o2)),
        variables={"order1": o1, "pfn1": p1, "order2": o2, "pfn2": p2},
        minimise=("order1", "pfn1", "order2", "pfn2"), describe=describe,
        domain_text=f"all pfn {limit}, orders 0..{max_order}, aligned, both pairs",
        source=SOURCE, seed=seed)


def walk(g: RadixGeometry = RADIX_4K, *, kind: str = IN_DOMAIN,
         seed: int = 0) -> ObligationResult:
    """The per-level table indices and the leaf bit rebuild the key, and it decodes to the page.

    This is what makes the next kernel's walk (which never sees the key, only the path) reserve
    exactly the preserved (phys, order).
    """
    max_order = 63 - g.page_shift
    pfn, order = z3.BitVec("pfn", 64), z3.BitVec("order", 64)
    phys = pfn << g.page_shift
    key = encode_key(phys, order, g)
    rebuilt = walk_key(key, g)
    dphys, dorder = decode_key(rebuilt, g)
    return check_claim(
        f"radix.walk[{_geometry_text(g)}, KHO_TREE_MAX_DEPTH={g.depth}]", ERAS, kind,
        domain=_domain(pfn, order, g, max_order, 1 << (64 - g.page_shift)),
        claim=z3.And(rebuilt == key, dphys == phys, dorder == order),
        variables={"order": order, "pfn": pfn}, minimise=("order", "pfn"),
        describe=_describe(g),
        domain_text=f"all pfn < 2**{64 - g.page_shift}, orders 0..{max_order}, aligned",
        source=SOURCE, seed=seed)


def plan() -> list[tuple[tuple[str, ...], Callable[[int], ObligationResult]]]:
    """Every radix-key obligation as (eras, run(seed)), in the order ``khomc prove`` prints them."""
    return [
        (ERAS, lambda seed: roundtrip(seed=seed)),
        (ERAS, lambda seed: injective(seed=seed)),
        (ERAS, lambda seed: walk(seed=seed)),
        (ERAS, lambda seed: walk(RADIX_64K, seed=seed)),
        (ERAS, lambda seed: walk(RADIX_16K_PLUS_ONE, seed=seed)),
        (ERAS, lambda seed: walk(RADIX_16K, kind=OUT_OF_DOMAIN, seed=seed)),
        (ERAS, lambda seed: injective(pfn_limit=None, kind=OUT_OF_DOMAIN, seed=seed,
                                      name=f"radix.injective[pfn beyond 2**{64 - PAGE_SHIFT}]")),
        (ERAS, lambda seed: roundtrip(require_aligned=False, kind=OUT_OF_DOMAIN, seed=seed,
                                      name="radix.roundtrip[unaligned pfn]")),
    ]
