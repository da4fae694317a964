"""z3 obligations of range splitting: a physical range becomes naturally aligned blocks and back.

Owns the split loop in bit-vector form and the proofs about it, per era:

* preserve side — v5 ``kho_preserve_phys`` (``order = ilog2(end - pfn)``,
  ``20250320015551.2157511-10-changyuanl@google.com``), K6.16 ``kho_preserve_phys``
  (``torvalds/linux:kernel/kexec_handover.c@00c010e130e5``) and 6.18+ ``kho_preserve_pages``
  (``kernel/liveupdate/kexec_handover.c@dd03dd60e8cd``, ``@019fc3687237``):
  ``order = min(count_trailing_zeros(pfn), ilog2(end - pfn))``, then ``pfn += 1 << order``;
  the order is not capped by MAX_PAGE_ORDER;
* restore side — what the next kernel reserves from the set bits: the khoser decode (v5..6.19,
  :mod:`khomc.smt.khoser`) or the radix walk and key decode (7.1, :mod:`khomc.smt.radix`), and,
  from 6.18 on, the blocks ``kho_restore_pages`` walks over ``[PHYS_PFN(phys), + nr_pages)``
  with the same formula, each checked by kho_restore_page.

What "for all" covers, obligation by obligation:

* Every obligation's range starts at PFN 1 or above.  The encoding's ``ctz64(0)`` is 64 (one-hot
  block sizes cannot express it), the kernel's count_trailing_zeros(0) is -1
  (include/linux/count_zeros.h): a range at PFN 0 gets order ``(unsigned int)-1`` and the
  kernel records PFN 0 alone, a bug the era models reproduce with the kernel's arithmetic
  (scenarios range-pfn0 and preserve-pages-pfn0).  From a start >= 1 the loop never reaches
  PFN 0 (it only rises, and ``end <= 2**52`` keeps it from wrapping), so ``ctz64`` is the
  kernel's on every state here.
* ``split.exact_cover`` is an inductive proof of the loop, so it has no length bound: every
  range ``start <= end <= 2**52`` (every range whose addresses fit in a 64-bit phys_addr_t, which
  includes everything below the 52-bit architectural limit).  Invariant ``start <= pfn <= end``;
  each iteration's block is non-empty, aligned to its order and inside ``[pfn, end)``; on exit
  ``pfn == end``.  Hence the blocks are consecutive, disjoint, cover the range exactly, and the
  loop terminates (``end - pfn`` strictly decreases).  Since the step lemma quantifies over every
  ``pfn`` in the range, not only the reachable ones, it is a superset of what the loop visits.
* ``split.restores`` is per block over the same states: the next kernel decodes each block's
  bit back to the same (pfn, order); from 6.18, ``PHYS_PFN(PFN_PHYS(start)) == start`` and the
  restore walk uses the same step, so by induction it visits the same blocks.
* ``split.block_count`` bounds the number of blocks by ``2 * fls(nr_pages)`` (O(log N)) with a
  ranking function over the same states, again with no length bound: orders rise strictly while
  alignment limits them, then fall strictly once the remaining length does.
* Refutations (v5's unaligned blocks, the findings) use the unrolled loop from the range's start,
  so their counterexamples are reachable runs, not just states that break an induction step.

The loop is encoded with one-hot block sizes (lowest set bit of pfn, highest set bit of the
remaining length) instead of shifting by a symbolic order; ``split.step_formula`` proves that
this equals ``1 << min(ctz(pfn), ilog2(end - pfn))`` for every pfn < end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import z3

from ..kho import encoding as py
from ..kho.encoding import MAX_PAGE_ORDER, PAGE_SHIFT, PRESERVE_BITS_512B, PRESERVE_BITS_PAGE
from . import khoser, radix
from .core import (FINDING, IN_DOMAIN, KNOWN_BUG, ObligationResult, bv, check_claim, ctz64,
                   fls64, highbit, ilog2_64, int32_shl_to_u64, lowbit, umin)

PHYS_PFN_LIMIT = 1 << (64 - PAGE_SHIFT)

Fn = Callable[[z3.BitVecRef, z3.BitVecRef], z3.BitVecRef]


def kernel_order(pfn: z3.BitVecRef, end: z3.BitVecRef) -> z3.BitVecRef:
    """6.16+, as written: min(count_trailing_zeros(pfn), ilog2(end - pfn))."""
    return umin(ctz64(pfn), ilog2_64(end - pfn))


def v5_order(pfn: z3.BitVecRef, end: z3.BitVecRef) -> z3.BitVecRef:
    """v5, as written: ilog2(end - pfn), with no alignment term."""
    return ilog2_64(end - pfn)


def kernel_size(pfn: z3.BitVecRef, end: z3.BitVecRef) -> z3.BitVecRef:
    """1 << kernel_order, one-hot: the smaller of pfn's lowest bit and the length's highest bit
    (pfn 0 has no lowest bit and is outside every obligation's domain: here the length would
    decide, in the kernel count_trailing_zeros(0) = -1 makes the order 0xffffffff)."""
    lb, hb = lowbit(pfn), highbit(end - pfn)
    return z3.If(pfn == 0, hb, z3.If(z3.ULE(lb, hb), lb, hb))


def v5_size(pfn: z3.BitVecRef, end: z3.BitVecRef) -> z3.BitVecRef:
    """1 << v5_order, one-hot."""
    return highbit(end - pfn)


# -- what the next kernel reserves for one block, per encoding ------------------------------------

def khoser_restores(preserve_bits: int):
    def restores(pfn, order):
        phys_start, bit = khoser.encode(pfn, order, preserve_bits)
        return khoser.decode(order, phys_start, bit) == pfn
    return restores


def radix_restores(pfn, order):
    phys = pfn << PAGE_SHIFT
    dphys, dorder = radix.decode_key(radix.walk_key(radix.encode_key(phys, order)))
    return z3.And(dphys == phys, dorder == order)


@dataclass(frozen=True)
class EraSplit:
    """How one era splits a range, encodes each block, and walks it again on restore."""

    eras: tuple[str, ...]
    order_fn: Fn                # the kernel's formula, as written
    size_fn: Fn                 # the same block size, one-hot (proved equal: step_formula)
    restores: Callable
    restore_walk: bool          # kho_restore_pages exists (6.18+)
    api: str
    preserve_bits: int | None   # None: the radix encoding


ERA_SPLITS = (
    EraSplit(("v5",), v5_order, v5_size, khoser_restores(PRESERVE_BITS_512B), False,
             "kho_preserve_phys", PRESERVE_BITS_512B),
    EraSplit(("6.16",), kernel_order, kernel_size, khoser_restores(PRESERVE_BITS_512B), False,
             "kho_preserve_phys", PRESERVE_BITS_512B),
    EraSplit(("6.18", "6.19"), kernel_order, kernel_size, khoser_restores(PRESERVE_BITS_PAGE),
             True, "kho_preserve_pages", PRESERVE_BITS_PAGE),
    EraSplit(("7.1",), kernel_order, kernel_size, radix_restores, True, "kho_preserve_pages",
             None),
)


def _aligned_split(es: EraSplit) -> bool:
    return es.order_fn is kernel_order


def _state_vars():
    """A loop state: the range's end and a pfn still inside it (1 <= start <= pfn < end <=
    2**52; a range at PFN 0 is the kernel bug the era models pin, see the module header)."""
    start, pfn, end = (z3.BitVec(n, 64) for n in ("start_pfn", "pfn", "end_pfn"))
    domain = z3.And(z3.ULE(bv(1), start), z3.ULE(start, pfn), z3.ULT(pfn, end),
                    z3.ULE(end, bv(PHYS_PFN_LIMIT)))
    return start, pfn, end, domain


STATE_TEXT = "every range 1 <= start <= end <= 2**52 and every pfn in it (any length)"


def _range_vars(k: int):
    start, nr = z3.BitVec("start_pfn", 64), z3.BitVec("nr_pages", 64)
    domain = z3.And(z3.ULE(bv(1), nr), z3.ULT(nr, bv(1 << k)), z3.ULE(bv(1), start),
                    z3.ULT(start, bv(PHYS_PFN_LIMIT)), z3.ULE(start + nr, bv(PHYS_PFN_LIMIT)))
    return start, nr, domain


def _range_text(k: int, steps: int | None = None) -> str:
    steps = 2 * k if steps is None else steps
    what = "first block" if steps == 1 else f"loop unrolled {steps}x from the start"
    return (f"every start pfn >= 1 and 1 <= nr_pages < 2**{k} with start+nr_pages <= 2**52; "
            f"{what}")


def unroll(start, end, steps: int, size_fn: Fn):
    """The split loop unrolled: (active, pfn, size, remaining) per iteration, and the final pfn."""
    out, pfn = [], start
    for _ in range(steps):
        active = z3.ULT(pfn, end)
        size = size_fn(pfn, end)
        out.append((active, pfn, size, end - pfn))
        pfn = z3.If(active, pfn + size, pfn)
    return out, pfn


def _describe(aligned_split: bool, bad: Callable[[int, int], str | None]):
    """Counterexample in domain terms: the range, its blocks, and the first block that fails."""
    def describe(v: dict) -> dict:
        start, nr = v["start_pfn"], v["nr_pages"]
        blocks = py.split_range(start, start + nr, aligned=aligned_split)
        out: dict = {"start_pfn": start, "nr_pages": nr, "phys": start << PAGE_SHIFT,
                     "blocks": len(blocks)}
        for pfn, order in blocks:
            why = bad(pfn, order)
            if why:
                out.update(block_pfn=pfn, block_order=order, why=why)
                break
        return out
    return describe


# -- obligations ------------------------------------------------------------------------------

def step_formula(es: EraSplit, *, seed: int = 0) -> ObligationResult:
    """The one-hot block size the other split obligations use equals ``1 << order`` with the
    order computed as the era's kernel code computes it."""
    start, pfn, end, domain = _state_vars()
    return check_claim(
        f"split.step_formula[{_tag(es)}]", es.eras, IN_DOMAIN, domain=domain,
        claim=bv(1) << es.order_fn(pfn, end) == es.size_fn(pfn, end),
        variables={"start_pfn": start, "pfn": pfn, "end_pfn": end},
        minimise=("end_pfn", "pfn"), domain_text=STATE_TEXT, source=_source(es), seed=seed)


def exact_cover(es: EraSplit, *, seed: int = 0) -> ObligationResult:
    """The inductive step of the split loop: each block is non-empty, aligned to its order and
    inside what remains of the range (so the blocks tile [start, end) exactly and the loop ends)."""
    start, pfn, end, domain = _state_vars()
    size = es.size_fn(pfn, end)
    claim = z3.And(size != 0, pfn & (size - 1) == 0, z3.ULE(size, end - pfn))
    return check_claim(
        f"split.exact_cover[{_tag(es)}]", es.eras, IN_DOMAIN, domain=domain, claim=claim,
        variables={"start_pfn": start, "pfn": pfn, "end_pfn": end},
        minimise=("end_pfn", "pfn"), domain_text=STATE_TEXT + "; inductive, no length bound",
        source=_source(es), seed=seed)


def restores(es: EraSplit, *, seed: int = 0) -> ObligationResult:
    """The next kernel restores every block as the (pfn, order) the preserve side recorded; from
    6.18 kho_restore_pages starts from the same pfn (PHYS_PFN(PFN_PHYS(start)) == start) and takes
    the same steps, so its walk is the preserve side's block sequence."""
    start, pfn, end, domain = _state_vars()
    parts = [es.restores(pfn, es.order_fn(pfn, end))]
    if es.restore_walk:
        parts.append(z3.LShR(start << PAGE_SHIFT, PAGE_SHIFT) == start)
    encoding = f"PRESERVE_BITS={es.preserve_bits}" if es.preserve_bits else "radix key"
    return check_claim(
        f"split.restores[{_tag(es)}, {encoding}]", es.eras, IN_DOMAIN, domain=domain,
        claim=z3.And(parts), variables={"start_pfn": start, "pfn": pfn, "end_pfn": end},
        minimise=("end_pfn", "pfn"), domain_text=STATE_TEXT,
        source=_source(es), seed=seed)


def block_count(es: EraSplit, *, seed: int = 0) -> ObligationResult:
    """A range of nr_pages pages is split into at most 2 * fls(nr_pages) blocks: O(log N).

    Proved with a ranking function, so for every range (no unrolling): with
    ``K = fls(end - start)``, ``r = ilog2(end - pfn) < K`` and the step "rising" when
    ``ctz(pfn) < r``, the rank ``2K - 1 - ctz(pfn)`` (rising) or ``r`` (falling) is at most
    ``2K - 1`` and strictly drops at every iteration that is followed by another.
    """
    start, pfn, end, domain = _state_vars()
    k = fls64(end - start)

    def rank(p):
        r = ilog2_64(end - p)
        return z3.If(z3.ULT(ctz64(p), r), 2 * k - 1 - ctz64(p), r)
    nxt = pfn + es.size_fn(pfn, end)
    claim = z3.And(z3.ULE(rank(pfn), 2 * k - 1),
                   z3.Implies(z3.ULT(nxt, end), z3.ULT(rank(nxt), rank(pfn))))
    return check_claim(
        f"split.block_count[{_tag(es)}]", es.eras, IN_DOMAIN, domain=domain, claim=claim,
        variables={"start_pfn": start, "pfn": pfn, "end_pfn": end},
        minimise=("end_pfn", "pfn"), domain_text=STATE_TEXT + "; bound 2*fls(nr_pages) blocks",
        source=_source(es), seed=seed)


def unrolled_cover(es: EraSplit, k: int, *, kind: str, seed: int = 0) -> ObligationResult:
    """Exact cover and restore along actual runs from the range's start (used to refute: its
    counterexamples are reachable)."""
    start, nr, domain = _range_vars(k)
    steps, final = unroll(start, start + nr, 2 * k, es.size_fn)
    parts = [z3.Implies(active, z3.And(pfn & (size - 1) == 0, z3.ULE(size, rem),
                                       es.restores(pfn, ctz64(size))))
             for active, pfn, size, rem in steps]
    parts.append(final == start + nr)
    pb = es.preserve_bits or PRESERVE_BITS_PAGE

    def bad(pfn, order):
        back = py.khoser_decode(order, *py.khoser_encode(pfn, order, pb))[0]
        if back != pfn or pfn % (1 << order):
            return (f"block not aligned to its order: the next kernel reserves pfn {back}.."
                    f"{back + (1 << order) - 1} instead of {pfn}..{pfn + (1 << order) - 1}")
        return None
    return check_claim(
        f"split.exact_cover[{_tag(es)}, unrolled]", es.eras, kind, domain=domain,
        claim=z3.And(parts), variables={"start_pfn": start, "nr_pages": nr},
        minimise=("start_pfn", "nr_pages"), describe=_describe(_aligned_split(es), bad),
        domain_text=_range_text(k), source=_source(es), seed=seed)


def reserve_size(k: int = 32, *, seed: int = 0) -> ObligationResult:
    """Every block's size as the next kernel reserves it (``1 << (order + PAGE_SHIFT)`` computed
    as an int) equals the block: REFUTED once a range holds a 2 GiB aligned block.

    Checked on the first block of each range, which every run reaches, so a refutation is a real
    run (a refutation of "the first block" is one of "every block")."""
    start, nr, domain = _range_vars(k)
    steps, _ = unroll(start, start + nr, 1, kernel_size)
    claim = z3.And([z3.Implies(active, int32_shl_to_u64(ctz64(size) + PAGE_SHIFT)
                               == size << PAGE_SHIFT) for active, _, size, _ in steps])

    def bad(pfn, order):
        sz = py.int32_shl_to_u64(order + PAGE_SHIFT)
        if sz != 1 << (order + PAGE_SHIFT):
            return (f"memblock_reserve gets size {sz:#x} for a block of "
                    f"{1 << (order + PAGE_SHIFT):#x} bytes")
        return None
    return check_claim(
        "split.reserve_size[int sz]", ("6.16", "6.18", "6.19", "7.1"), FINDING, domain=domain,
        claim=claim, variables={"start_pfn": start, "nr_pages": nr},
        minimise=("start_pfn", "nr_pages"), describe=_describe(True, bad),
        domain_text=_range_text(k, 1),
        source="deserialize_bitmap in kernel/liveupdate/kexec_handover.c@dd03dd60e8cd; "
               "kho_preserved_memory_reserve @019fc3687237", seed=seed)


def restore_order_cap(k: int = 32, *, seed: int = 0) -> ObligationResult:
    """Every block kho_preserve_pages records has an order kho_restore_page accepts
    (<= MAX_PAGE_ORDER): REFUTED by any range holding a 2**11-page aligned block.

    Checked on the first block of each range (always reached), as :func:`reserve_size`."""
    start, nr, domain = _range_vars(k)
    steps, _ = unroll(start, start + nr, 1, kernel_size)
    claim = z3.And([z3.Implies(active, z3.ULE(size, bv(1 << MAX_PAGE_ORDER)))
                    for active, _, size, _ in steps])

    def bad(pfn, order):
        if order > MAX_PAGE_ORDER:
            return (f"kho_restore_page refuses order {order} > MAX_PAGE_ORDER "
                    f"({MAX_PAGE_ORDER}), so kho_restore_pages returns NULL")
        return None
    return check_claim(
        "split.restore_order_cap[kho_restore_pages]", ("6.18", "6.19", "7.1"), FINDING,
        domain=domain, claim=claim, variables={"start_pfn": start, "nr_pages": nr},
        minimise=("start_pfn", "nr_pages"), describe=_describe(True, bad),
        domain_text=_range_text(k, 1),
        source="kho_preserve_pages / kho_restore_pages / kho_restore_page in "
               "kernel/liveupdate/kexec_handover.c@dd03dd60e8cd and @019fc3687237", seed=seed)


def _tag(es: EraSplit) -> str:
    return f"{es.api} {'/'.join(es.eras)}"


def _source(es: EraSplit) -> str:
    if es.eras == ("v5",):
        return ("20250320015551.2157511-10-changyuanl@google.com; bug acknowledged in "
                "20250411040207.1785245-1-changyuanl@google.com")
    if es.eras == ("6.16",):
        return "torvalds/linux:kernel/kexec_handover.c@00c010e130e5"
    if es.eras == ("7.1",):
        return "torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237"
    return "torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd"


def plan() -> list[tuple[tuple[str, ...], Callable[[int], ObligationResult]]]:
    """Every range-splitting obligation as (eras, run(seed)), in the order ``khomc prove``
    prints them."""
    out: list = []
    for es in ERA_SPLITS:
        out.append((es.eras, lambda seed, es=es: step_formula(es, seed=seed)))
        if _aligned_split(es):
            out += [(es.eras, lambda seed, es=es: exact_cover(es, seed=seed)),
                    (es.eras, lambda seed, es=es: restores(es, seed=seed)),
                    (es.eras, lambda seed, es=es: block_count(es, seed=seed))]
        else:
            out.append((es.eras, lambda seed, es=es: unrolled_cover(es, 4, kind=KNOWN_BUG,
                                                                   seed=seed)))
    out.append((("6.16", "6.18", "6.19", "7.1"), lambda seed: reserve_size(seed=seed)))
    out.append((("6.18", "6.19", "7.1"), lambda seed: restore_order_cap(seed=seed)))
    return out
