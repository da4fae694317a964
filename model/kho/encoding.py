"""KHO's preserved-memory encodings as plain integer functions: the reference the z3 proofs check.

Owns the bit-level arithmetic only (no state, no effects): how each era turns a (pfn, order)
into what it hands over, how the next kernel turns that back into a (pfn, order), and how a
physical range is split into naturally aligned blocks.  All values are unsigned 64-bit, as
``unsigned long`` / ``phys_addr_t`` are on x86_64 and arm64; :data:`U64` masks every result that
the kernel computes in 64 bits, so wraparound is modelled, not hidden.

Follows (cited, not copied):

* khoser chunk encoding — v5 ``20250320015551.2157511-10-changyuanl@google.com``;
  K6.16 ``torvalds/linux:kernel/kexec_handover.c@00c010e130e5`` (``__kho_preserve_order``,
  ``kho_mem_serialize``, ``deserialize_bitmap``); K6.19
  ``torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd``.  ``PRESERVE_BITS`` is
  ``512 * 8`` up to 6.17 and ``PAGE_SIZE * 8`` from ``a2fff99f92da`` (6.18) on.
* 7.1 radix key — ``torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237``
  (``kho_radix_encode_key``, ``kho_radix_decode_key``, ``kho_radix_get_table_index``,
  ``kho_radix_get_bitmap_index``, ``__kho_radix_walk_tree``) and the constants in
  ``include/linux/kho/abi/kexec_handover.h@3f2ad90060f6`` (``enum kho_radix_consts``).
* range splitting — K6.16 ``kho_preserve_phys`` and 6.18+ ``kho_preserve_pages`` /
  ``kho_restore_pages`` / ``__kho_unpreserve``: ``order = min(ctz(pfn), ilog2(end - pfn))``, not
  capped by ``MAX_PAGE_ORDER``; v5 used ``ilog2(end - pfn)`` alone, which Changyuan Lyu called a
  bug in ``20250411040207.1785245-1-changyuanl@google.com`` (fixed in v6).
* KNOWN DIVERGENCE: :func:`ctz` gives 64 for 0, NOT the kernel's value: include/linux/
  count_zeros.h@18c48899653f returns ``COUNT_TRAILING_ZEROS_0`` = -1 on 64-bit, so a range
  starting at PFN 0 gets order ``(unsigned int)-1`` in the kernel and only PFN 0 is recorded
  (the era models follow the kernel: khomc.kernel.bitops, scenarios range-pfn0 /
  preserve-pages-pfn0).  :func:`split_order` / :func:`split_range` at ``start == 0`` are
  therefore a corrected kernel's; the z3 obligations built on them (khomc.smt.split) take
  ranges from PFN 1 only, where the loop never reaches PFN 0 and they agree with the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SHIFT = 12                 # x86_64 and arm64 with 4 KiB pages
MAX_PAGE_ORDER = 10             # include/linux/mmzone.h without CONFIG_ARCH_FORCE_MAX_ORDER
BITS_PER_LONG = 64
U64 = (1 << 64) - 1
MAX_PHYSMEM_BITS = 52           # the largest physical address width of x86_64 (5-level) / arm64

PRESERVE_BITS_512B = 512 * 8                    # v5 .. 6.17
PRESERVE_BITS_PAGE = (1 << PAGE_SHIFT) * 8      # 6.18+ (a2fff99f92da)


# -- bit helpers with the kernel's conventions ---------------------------------------------------

def ctz(x: int) -> int:
    """count_trailing_zeros of an unsigned long; 64 for 0 (the kernel returns -1: see the
    module's KNOWN DIVERGENCE).

    >>> ctz(8), ctz(0)
    (3, 64)
    """
    x &= U64
    return (x & -x).bit_length() - 1 if x else BITS_PER_LONG


def fls64(x: int) -> int:
    """Position (1-based) of the most significant set bit; 0 for 0.

    >>> fls64(1), fls64(0), fls64(1 << 63)
    (1, 0, 64)
    """
    return (x & U64).bit_length()


def ilog2(x: int) -> int:
    """Floor log2 of a positive integer.

    >>> ilog2(1), ilog2(3), ilog2(4)
    (0, 1, 2)
    """
    if x <= 0:
        raise ValueError(f"ilog2 of {x}: the kernel's ilog2 is undefined for 0")
    return x.bit_length() - 1


def int32_shl_to_u64(shift: int) -> int:
    """``1 << shift`` evaluated as a C ``int`` and then widened to a 64-bit unsigned value.

    This is what ``int sz = 1 << (order + PAGE_SHIFT)`` (deserialize_bitmap, 6.16..6.19) and
    ``u64 sz = 1 << (order + PAGE_SHIFT)`` (kho_preserved_memory_reserve, 7.1) hand to
    memblock_reserve.  A shift of 31 yields INT_MIN, sign-extended; shifts of 32 or more are
    undefined in C and are modelled as 0 (what z3's bvshl gives).

    >>> hex(int32_shl_to_u64(12)), hex(int32_shl_to_u64(31))
    ('0x1000', '0xffffffff80000000')
    """
    v = (1 << shift) & 0xFFFFFFFF if shift < 32 else 0
    return (v | ~0xFFFFFFFF) & U64 if v & 0x80000000 else v


# -- khoser chunk encoding (v5, 6.16, 6.18, 6.19) ------------------------------------------------

def khoser_encode(pfn: int, order: int, preserve_bits: int) -> tuple[int, int]:
    """(phys_start, bit) of the chunk element and bit that record a preserved (pfn, order).

    The tracker indexes bitmaps by ``(pfn >> order) / PRESERVE_BITS`` and sets bit
    ``(pfn >> order) % PRESERVE_BITS``; serialization stores the bitmap's phys_start as
    ``(idx * PRESERVE_BITS) << (order + PAGE_SHIFT)`` in 64 bits.

    >>> khoser_encode(0x12345, 0, 4096)
    (301989888, 837)
    """
    high = (pfn & U64) >> order
    idx, bit = divmod(high, preserve_bits)
    phys_start = ((idx * preserve_bits) << (order + PAGE_SHIFT)) & U64
    return phys_start, bit


def khoser_decode(order: int, phys_start: int, bit: int) -> tuple[int, int]:
    """(pfn, order) the next kernel reserves for a set bit: phys_start + (bit << (order+PAGE_SHIFT)).

    >>> khoser_decode(0, 301989888, 837)
    (74565, 0)
    """
    phys = (phys_start + ((bit << (order + PAGE_SHIFT)) & U64)) & U64
    return phys >> PAGE_SHIFT, order


# -- 7.1 radix key ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RadixGeometry:
    """The constants of enum kho_radix_consts for one PAGE_SHIFT.

    ``depth_plus_one`` selects the later header's depth formula, which adds 1 to the key width
    (``KHO_ORDER_0_LOG2 - KHO_BITMAP_SIZE_LOG2 + 1``); the ABI header read for 7.1 has no ``+1``.
    """

    page_shift: int = PAGE_SHIFT
    depth_plus_one: bool = False

    @property
    def order0_log2(self) -> int:
        return 64 - self.page_shift

    @property
    def table_log2(self) -> int:            # ilog2(PAGE_SIZE / sizeof(phys_addr_t))
        return self.page_shift - 3

    @property
    def bitmap_log2(self) -> int:           # PAGE_SHIFT + ilog2(BITS_PER_BYTE)
        return self.page_shift + 3

    @property
    def depth(self) -> int:                 # KHO_TREE_MAX_DEPTH
        width = self.order0_log2 - self.bitmap_log2 + (1 if self.depth_plus_one else 0)
        return -(-width // self.table_log2) + 1

    def table_shift(self, level: int) -> int:
        return (level - 1) * self.table_log2 + self.bitmap_log2


RADIX_4K = RadixGeometry()


def radix_encode_key(phys: int, order: int, g: RadixGeometry = RADIX_4K) -> int:
    """The radix key: an order bit at ``order0_log2 - order`` above ``phys >> (PAGE_SHIFT+order)``.

    >>> hex(radix_encode_key(0x1000, 0))
    '0x10000000000001'
    """
    return ((1 << (g.order0_log2 - order)) | ((phys & U64) >> (g.page_shift + order))) & U64


def radix_decode_key(key: int, g: RadixGeometry = RADIX_4K) -> tuple[int, int]:
    """(phys, order) from a key: the order from fls64, the address by shifting the order bit out.

    >>> radix_decode_key(radix_encode_key(0x200000, 9))
    (2097152, 9)
    """
    order = (g.order0_log2 - fls64(key) + 1) & 0xFFFFFFFF
    phys = (key << (g.page_shift + order)) & U64 if g.page_shift + order < 64 else 0
    return phys, order


def radix_table_index(key: int, level: int, g: RadixGeometry = RADIX_4K) -> int:
    """Index into the level-*level* table (levels depth-1 .. 1)."""
    return (key >> g.table_shift(level)) % (1 << g.table_log2)


def radix_bitmap_index(key: int, g: RadixGeometry = RADIX_4K) -> int:
    """Bit index in the level-0 leaf bitmap."""
    return key % (1 << g.bitmap_log2)


def radix_walk_key(key: int, g: RadixGeometry = RADIX_4K) -> int:
    """The key the next kernel's tree walk rebuilds from the path: table indices and leaf bit.

    >>> k = radix_encode_key(0x1234000, 3)
    >>> radix_walk_key(k) == k
    True
    """
    out = radix_bitmap_index(key, g)
    for level in range(g.depth - 1, 0, -1):
        out |= radix_table_index(key, level, g) << g.table_shift(level)
    return out


# -- range splitting ----------------------------------------------------------------------------

def split_order(pfn: int, end: int, aligned: bool = True) -> int:
    """The order of the next block: min(ctz(pfn), ilog2(end - pfn)); v5 (aligned=False): ilog2 only.

    >>> split_order(4, 100), split_order(1, 3, aligned=False)
    (2, 1)
    """
    top = ilog2(end - pfn)
    return min(ctz(pfn), top) if aligned else top


def split_range(start: int, end: int, aligned: bool = True) -> list[tuple[int, int]]:
    """The (pfn, order) blocks kho_preserve_pages / kho_preserve_phys preserve for [start, end).

    >>> split_range(3, 12)
    [(3, 0), (4, 2), (8, 2)]
    >>> split_range(1, 3, aligned=False)
    [(1, 1)]
    """
    blocks, pfn = [], start
    while pfn < end:
        order = split_order(pfn, end, aligned)
        blocks.append((pfn, order))
        pfn = (pfn + (1 << order)) & U64
    return blocks


def max_split_blocks(nr_pages_bits: int) -> int:
    """An upper bound on the blocks of a range of fewer than 2**nr_pages_bits pages.

    Orders rise strictly while alignment limits them and then fall strictly while the remaining
    length does, each below nr_pages_bits: at most two blocks per order.
    """
    return 2 * nr_pages_bits
