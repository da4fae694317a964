"""Bit operations on bitmaps in allocated memory: atomic set_bit/clear_bit, non-atomic __set_bit.

Follows include/asm-generic/bitops/atomic.h and non-atomic.h (torvalds/linux v6.14) and
Documentation/atomic_bitops.txt: ``set_bit``/``clear_bit`` are atomic read-modify-writes of the
``unsigned long`` holding the bit (one step); ``__set_bit``/``__clear_bit`` are a plain load of
that word and a plain store of the modified word (two steps, so two of them on the same word
can lose one update).  Bit *nr* lives in word ``nr // BITS_PER_LONG``, little-endian, as on x86
and arm64.  Every access is KASAN-checked against the object holding the bitmap.

Also the integer arithmetic the KHO range walks compute with: ``count_trailing_zeros`` (-1 for
0, as the kernel defines it), the C ``unsigned int`` / ``unsigned long`` conversions and the
shifts by an ``unsigned int`` order.  Architecture: x86-64 (LP64), where a shift count is
masked to 5 bits for a 32-bit operand and to 6 bits for a 64-bit one; arm64 masks the same way
for these operands (citations at :func:`c_uint`'s section).  A shift by a count at least the
operand's width is undefined in C; the model computes what that compiled code does.
"""

from __future__ import annotations

from ..runtime.effects import Op
from .alloc import Heap, _heap_read, heap_modify

BITS_PER_LONG = 64
_WORD = BITS_PER_LONG // 8


def ilog2(n: int) -> int:
    """include/linux/log2.h ``ilog2()`` of a runtime value: ``fls64(n) - 1``, so -1 for 0.

    >>> ilog2(3), ilog2(4), ilog2(0)
    (1, 2, -1)
    """
    return n.bit_length() - 1


COUNT_TRAILING_ZEROS_0 = -1


def count_trailing_zeros(n: int) -> int:
    """include/linux/count_zeros.h (torvalds/linux@18c48899653f): trailing zero bits of an
    unsigned long; for 0, ``COUNT_TRAILING_ZEROS_0``, which is -1 on 64-bit (the ``int`` it
    returns: ``(x != 0) ? __ffs(x) : COUNT_TRAILING_ZEROS_0``).

    The KHO callers store ``min(count_trailing_zeros(pfn), ilog2(end_pfn - pfn))`` - two
    ``int``s, so -1 for PFN 0 - into an ``unsigned int``: :func:`c_uint` gives 0xffffffff, and
    their shifts by it are :func:`shl_int` / :func:`shl_ulong` / :func:`shr_ulong`.

    >>> count_trailing_zeros(12), count_trailing_zeros(0)
    (2, -1)
    >>> hex(c_uint(min(count_trailing_zeros(0), ilog2(3))))
    '0xffffffff'
    """
    return (n & -n).bit_length() - 1 if n else COUNT_TRAILING_ZEROS_0


# -- C integer conversions and shifts, as compiled for x86-64 -----------------------------------
#
# Architecture: x86-64 (LP64: int 32 bits, long 64).  C leaves a shift by a count >= the width
# of the promoted left operand undefined (C11 6.5.7p3); these functions are what the compiled
# code does on x86-64, whose SHL/SHR/SAR (and BMI2 SHLX/SHRX) take the count modulo 32 for a
# 32-bit operand and modulo 64 for a 64-bit one (Intel 64 and IA-32 SDM vol. 2B, SAL/SAR/SHL/SHR: "The count is masked to
# 5 bits (or 6 bits if in 64-bit mode and REX.W is used)"; its Operation: countMASK 3FH with
# REX.W, else 1FH).  arm64's LSLV/LSRV
# (LSL/LSR by register) take the count modulo the register width too (developer.arm.com/docs/100069/0603/a64-general-instructions/lslv, the alias LSL
# (register): "The remainder obtained by dividing the second source register by the data size
# defines the number of bits by which the first source register is left-shifted"; LSRV alike), so for the
# ``int`` and ``unsigned long`` operands here arm64 computes the same values.  The model assumes
# the compiler emits the shift as written (no optimisation exploiting the undefined behaviour).

def c_uint(x: int) -> int:
    """Conversion of an integer to C ``unsigned int`` (32 bits): modulo 2**32.

    >>> hex(c_uint(-1)), c_uint(52 - 0xffffffff), c_uint(0xffffffff + 12)
    ('0xffffffff', 53, 11)
    """
    return x & 0xFFFFFFFF


def c_ulong(x: int) -> int:
    """Conversion of an integer to C ``unsigned long`` (64 bits on LP64): modulo 2**64; an
    ``int`` added to an ``unsigned long`` is sign-extended first, which this is.

    >>> hex(c_ulong(0 + -0x80000000))
    '0xffffffff80000000'
    """
    return x & 0xFFFFFFFFFFFFFFFF


def c_int(x: int) -> int:
    """The 32-bit two's-complement ``int`` holding the low 32 bits of *x*.

    >>> c_int(0x80000000), c_int(5)
    (-2147483648, 5)
    """
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def shl_int(x: int, count: int) -> int:
    """C ``x << count`` with *x* an ``int`` (e.g. the literal ``1``), as x86-64 computes it:
    SHL r32 by ``count & 31``, the 32-bit result read as an ``int`` (``1 << 31`` is INT_MIN).

    >>> shl_int(1, 3), shl_int(1, 0xffffffff), shl_int(1, 32)
    (8, -2147483648, 1)
    """
    return c_int(x << (count & 31))


def shl_ulong(x: int, count: int) -> int:
    """C ``x << count`` with *x* an ``unsigned long``: SHL r64 by ``count & 63``.

    >>> shl_ulong(1 << 53, 11), shl_ulong(3, 64 + 2)
    (0, 12)
    """
    return c_ulong(c_ulong(x) << (count & 63))


def shr_ulong(x: int, count: int) -> int:
    """C ``x >> count`` with *x* an ``unsigned long``: SHR r64 by ``count & 63``.

    >>> shr_ulong(0, 0xffffffff), shr_ulong(1 << 63, 0xffffffff)
    (0, 1)
    """
    return c_ulong(x) >> (count & 63)


def _word(data, nr: int) -> int:
    data = data if isinstance(data, bytes) else b""
    off = (nr // BITS_PER_LONG) * _WORD
    return int.from_bytes(data[off:off + _WORD].ljust(_WORD, b"\0"), "little")


def _with_word(data, nr: int, word: int) -> bytes:
    data = data if isinstance(data, bytes) else b""
    off = (nr // BITS_PER_LONG) * _WORD
    if len(data) < off + _WORD:
        data = data + bytes(off + _WORD - len(data))
    return data[:off] + word.to_bytes(_WORD, "little") + data[off + _WORD:]


def test_bit_in(data, nr: int) -> bool:
    """Whether bit *nr* is set in a bitmap's bytes.

    >>> test_bit_in(bytes([0, 2]), 9)
    True
    """
    return bool(_word(data, nr) >> (nr % BITS_PER_LONG) & 1)


def _set(data, nr):
    return _with_word(data, nr, _word(data, nr) | 1 << (nr % BITS_PER_LONG)), None


def _clear(data, nr):
    return _with_word(data, nr, _word(data, nr) & ~(1 << (nr % BITS_PER_LONG))), None


def _store_word(data, nr, word):
    return _with_word(data, nr, word), None


def set_bit(heap: Heap, addr: int, nr: int, site: str) -> Op:
    return heap_modify(heap, addr, f"set_bit({nr}) in {site}", _set, nr)


def clear_bit(heap: Heap, addr: int, nr: int, site: str) -> Op:
    return heap_modify(heap, addr, f"clear_bit({nr}) in {site}", _clear, nr)


def _read_word(values, tid, heap, addr, nr, site):
    new_values, data = _heap_read(values, tid, heap, addr, site)
    return new_values, _word(data, nr)


def test_bit(heap: Heap, addr: int, nr: int, site: str) -> Op:
    return Op(heap.vars, _read_bit, heap, addr, nr, site, text=f"test_bit({nr}) in {site}")


def _read_bit(values, tid, heap, addr, nr, site):
    new_values, word = _read_word(values, tid, heap, addr, nr, site)
    return new_values, bool(word >> (nr % BITS_PER_LONG) & 1)


async def __set_bit(heap: Heap, addr: int, nr: int, site: str) -> None:
    word = await Op(heap.vars, _read_word, heap, addr, nr, site,
                    text=f"__set_bit({nr}) load in {site}")
    await heap_modify(heap, addr, f"__set_bit({nr}) store in {site}", _store_word, nr,
                      word | 1 << (nr % BITS_PER_LONG))


async def __clear_bit(heap: Heap, addr: int, nr: int, site: str) -> None:
    word = await Op(heap.vars, _read_word, heap, addr, nr, site,
                    text=f"__clear_bit({nr}) load in {site}")
    await heap_modify(heap, addr, f"__clear_bit({nr}) store in {site}", _store_word, nr,
                      word & ~(1 << (nr % BITS_PER_LONG)))
