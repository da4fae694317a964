"""The z3 encodings compute what the plain-Python reference computes (hypothesis, random inputs).

Each z3 function is evaluated on concrete values (substitution and simplification) and compared
with its twin in khomc.kho.encoding: the khoser encode/decode, the radix key, table indices,
bitmap index, walk and decode, the split step (kernel formula and one-hot form) and whole splits,
and the int-typed reserve size.  A disagreement is an encoding error in one of the two.
"""

import z3
from hypothesis import given, settings, strategies as st

from khomc.kho import encoding as py
from khomc.smt import khoser, radix, split
from khomc.smt.core import bv, ctz64, fls64, int32_shl_to_u64

U64 = py.U64
PFN, ORDER, END = z3.BitVec("pfn", 64), z3.BitVec("order", 64), z3.BitVec("end", 64)
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


def ev(expr, **values) -> int:
    subs = [(z3.BitVec(k, 64), bv(v & U64)) for k, v in values.items()]
    return z3.simplify(z3.substitute(expr, *subs)).as_long()


@st.composite
def aligned_pfn_order(draw, max_order=py.MAX_PAGE_ORDER, pfn_bits=52):
    order = draw(st.integers(0, max_order))
    pfn = draw(st.integers(0, (1 << pfn_bits) - 1)) >> order << order
    return pfn, order


any_u64 = st.integers(0, U64)


@SETTINGS
@given(any_u64)
def test_bit_helpers(x):
    assert ev(fls64(PFN), pfn=x) == py.fls64(x)
    assert ev(ctz64(PFN), pfn=x) == py.ctz(x)


@SETTINGS
@given(st.integers(0, 63))
def test_int_sized_shift(shift):
    assert ev(int32_shl_to_u64(ORDER), order=shift) == py.int32_shl_to_u64(shift)


@SETTINGS
@given(st.integers(0, (1 << 56) - 1), st.integers(0, 20),
       st.sampled_from([py.PRESERVE_BITS_512B, py.PRESERVE_BITS_PAGE]))
def test_khoser_encode_decode_agree(pfn, order, pb):
    ps, bit = khoser.encode(PFN, ORDER, pb)
    want_ps, want_bit = py.khoser_encode(pfn, order, pb)
    assert (ev(ps, pfn=pfn, order=order), ev(bit, pfn=pfn, order=order)) == (want_ps, want_bit)
    back = ev(khoser.decode(bv(order), bv(want_ps), bv(want_bit)))
    assert back == py.khoser_decode(order, want_ps, want_bit)[0]


@SETTINGS
@given(aligned_pfn_order(), st.sampled_from([py.PRESERVE_BITS_512B, py.PRESERVE_BITS_PAGE]))
def test_khoser_python_roundtrip_in_domain(po, pb):
    pfn, order = po
    assert py.khoser_decode(order, *py.khoser_encode(pfn, order, pb)) == (pfn, order)


GEOMETRIES = st.sampled_from([py.RADIX_4K, radix.RADIX_16K, radix.RADIX_16K_PLUS_ONE,
                              radix.RADIX_64K])


@SETTINGS
@given(GEOMETRIES, st.integers(0, (1 << 52) - 1), st.integers(0, 40))
def test_radix_key_path_and_decode_agree(g, pfn, order):
    phys = (pfn << g.page_shift) & U64
    key = py.radix_encode_key(phys, order, g)
    assert ev(radix.encode_key(PFN << g.page_shift, ORDER, g), pfn=pfn, order=order) == key
    for level in range(g.depth - 1, 0, -1):
        assert ev(radix.table_index(bv(key), level, g)) == py.radix_table_index(key, level, g)
    assert ev(radix.bitmap_index(bv(key), g)) == py.radix_bitmap_index(key, g)
    walked = py.radix_walk_key(key, g)
    assert ev(radix.walk_key(bv(key), g)) == walked
    dphys, dorder = radix.decode_key(bv(walked), g)
    assert (ev(dphys), ev(dorder)) == py.radix_decode_key(walked, g)


@SETTINGS
@given(aligned_pfn_order(max_order=51))
def test_radix_python_roundtrip_in_domain(po):
    pfn, order = po
    key = py.radix_encode_key(pfn << py.PAGE_SHIFT, order)
    assert py.radix_walk_key(key) == key
    assert py.radix_decode_key(key) == (pfn << py.PAGE_SHIFT, order)


@SETTINGS
@given(st.integers(0, (1 << 52) - 2), st.integers(1, 1 << 40))
def test_split_step_agrees(pfn, length):
    end = pfn + length
    for aligned, order_fn, size_fn in ((True, split.kernel_order, split.kernel_size),
                                       (False, split.v5_order, split.v5_size)):
        want = py.split_order(pfn, end, aligned)
        assert ev(order_fn(PFN, END), pfn=pfn, end=end) == want
        assert ev(size_fn(PFN, END), pfn=pfn, end=end) == 1 << want


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 1 << 40), st.integers(1, 300), st.booleans())
def test_whole_split_agrees_with_the_unrolled_loop(start, nr, aligned):
    size_fn = split.kernel_size if aligned else split.v5_size
    blocks = py.split_range(start, start + nr, aligned)
    steps, final = split.unroll(bv(start), bv(start + nr), len(blocks) + 1, size_fn)
    got = [(ev(pfn), ev(size)) for active, pfn, size, _ in steps if z3.is_true(z3.simplify(active))]
    assert got == [(p, 1 << o) for p, o in blocks]
    assert ev(final) == start + nr
    # the python split tiles the range exactly (aligned) and stays within 2*fls(nr) blocks
    assert sum(1 << o for _, o in blocks) == nr
    if aligned:
        assert all(p % (1 << o) == 0 for p, o in blocks)
        assert len(blocks) <= 2 * py.fls64(nr)
