"""Every z3 obligation comes out as pinned, and every counterexample is real in plain Python.

In-domain obligations must be PROVED; out-of-domain ones, the acknowledged v5 bug and the pinned
findings must be REFUTED with exactly the counterexample pinned here, and each counterexample is
re-checked against khomc.kho.encoding (so a z3 result the Python reference does not reproduce
fails the suite).  Mutated encodings must be REFUTED, so the proofs are shown able to fail.
"""

import pytest
import z3

from khomc.kho import encoding as py
from khomc.smt import IN_DOMAIN, Status, khoser, plan, prove, radix, split
from khomc.smt.core import KNOWN_BUG, OUT_OF_DOMAIN, bv

U64 = py.U64


_RUN: list = []


@pytest.fixture(scope="module")
def results():
    _RUN[:] = list(prove())
    return {r.name: r for r in _RUN}


def test_every_in_domain_obligation_is_proved(results):
    in_domain = [r for r in results.values() if r.kind == IN_DOMAIN]
    assert len(in_domain) >= 20
    bad = {r.name: (str(r.status), r.counterexample_text(), r.reason)
           for r in in_domain if r.status is not Status.PROVED}
    assert not bad


def test_every_obligation_is_as_expected_and_cites_a_source(results):
    assert all(r.as_expected for r in results.values())
    assert all(r.source and r.domain and r.seed == 0 for r in results.values())
    assert {e for r in results.values() for e in r.eras} == {"v5", "6.16", "6.18", "6.19", "7.1"}


def test_names_are_unique(results):
    assert len(_RUN) == len(results) == len(plan())


# -- each refutation, pinned and re-checked in plain Python ---------------------------------------

def cex(results, name):
    r = results[name]
    assert r.status is Status.REFUTED, (name, r.status)
    return dict(r.counterexample)


def test_int_size_overflows_from_order_19(results):
    c = cex(results, "khoser.reserve_size[order<=51]")
    assert c == {"order": 19, "block_bytes": 1 << 31, "sz_reserved": 0xFFFFFFFF80000000}
    assert py.int32_shl_to_u64(19 + py.PAGE_SHIFT) != 1 << (19 + py.PAGE_SHIFT)
    assert all(py.int32_shl_to_u64(o + py.PAGE_SHIFT) == 1 << (o + py.PAGE_SHIFT)
               for o in range(19))


def test_khoser_pfn_beyond_phys_addr_wraps(results):
    c = cex(results, "khoser.roundtrip[pfn beyond 2**52]")
    assert (c["pfn"], c["order"], c["decoded_pfn"]) == (1 << 52, 0, 0)
    ps, bit = py.khoser_encode(c["pfn"], 0, py.PRESERVE_BITS_PAGE)
    assert py.khoser_decode(0, ps, bit) == (0, 0)


def test_khoser_unaligned_pfn_rounds_down(results):
    c = cex(results, "khoser.roundtrip[unaligned pfn]")
    assert (c["pfn"], c["order"], c["decoded_pfn"]) == (1, 1, 0)
    assert py.khoser_decode(1, *py.khoser_encode(1, 1, py.PRESERVE_BITS_PAGE)) == (0, 1)


def test_radix_pfn_beyond_phys_addr_collides(results):
    c = cex(results, "radix.injective[pfn beyond 2**52]")
    assert (c["pfn1"], c["order1"], c["pfn2"], c["order2"]) == (0, 0, 1 << 52, 0)
    assert py.radix_encode_key(0, 0) == py.radix_encode_key(((1 << 52) << 12) & U64, 0)


def test_radix_unaligned_pfn_loses_its_low_bits(results):
    c = cex(results, "radix.roundtrip[unaligned pfn]")
    assert (c["pfn"], c["order"], c["decoded_phys"], c["decoded_order"]) == (1, 1, 0, 1)
    assert py.radix_decode_key(py.radix_encode_key(0x1000, 1)) == (0, 1)


def test_radix_16k_pages_header_depth_drops_the_order_0_bit(results):
    c = cex(results, "radix.walk[PAGE_SHIFT=14, KHO_TREE_MAX_DEPTH=4]")
    assert (c["pfn"], c["order"], c["walked_key"], c["decoded_order"]) == (0, 0, 0, 51)
    g = radix.RADIX_16K
    key = py.radix_encode_key(0, 0, g)
    assert key == 1 << 50 and g.depth == 4 and py.radix_walk_key(key, g) == 0
    assert radix.RADIX_16K_PLUS_ONE.depth == 5
    assert py.radix_walk_key(key, radix.RADIX_16K_PLUS_ONE) == key
    assert py.RADIX_4K.depth == 6


def test_v5_split_is_the_bug_acknowledged_on_the_list(results):
    name = "split.exact_cover[kho_preserve_phys v5, unrolled]"
    c = cex(results, name)
    assert results[name].kind == KNOWN_BUG
    # the example in 20250411040207.1785245-1-changyuanl@google.com: pfn 1, end_pfn 3
    assert (c["start_pfn"], c["nr_pages"], c["block_pfn"], c["block_order"]) == (1, 2, 1, 1)
    assert py.split_range(1, 3, aligned=False) == [(1, 1)]
    assert py.khoser_decode(1, *py.khoser_encode(1, 1, py.PRESERVE_BITS_512B)) == (0, 1)
    assert py.split_range(1, 3) == [(1, 0), (2, 0)]


def test_a_2gib_block_gets_a_negative_reserve_size(results):
    c = cex(results, "split.reserve_size[int sz]")
    # from PFN 1 on (a range at PFN 0 is the count_trailing_zeros(0) bug, khomc.smt.split)
    assert (c["start_pfn"], c["nr_pages"], c["block_pfn"], c["block_order"]) == \
        (1 << 19, 1 << 19, 1 << 19, 19)
    assert py.split_range(1 << 19, 2 << 19) == [(1 << 19, 19)]


def test_kho_preserve_pages_can_record_an_order_restore_refuses(results):
    c = cex(results, "split.restore_order_cap[kho_restore_pages]")
    assert (c["start_pfn"], c["nr_pages"], c["block_pfn"], c["block_order"]) == \
        (2048, 2048, 2048, 11)
    assert max(o for _, o in py.split_range(2048, 4096)) > py.MAX_PAGE_ORDER
    assert max(o for _, o in py.split_range(2048, 4095)) <= py.MAX_PAGE_ORDER


def test_out_of_domain_kinds(results):
    kinds = {r.kind for r in results.values() if r.status is Status.REFUTED}
    assert OUT_OF_DOMAIN in kinds and KNOWN_BUG in kinds


def test_counterexamples_are_deterministic(results):
    again = {r.name: r.counterexample for _, run in plan("7.1")
             if (r := run(0)).status is Status.REFUTED}
    assert again and all(results[name].counterexample == c for name, c in again.items())


# -- mutants: the proofs can fail -----------------------------------------------------------------

def _khoser_off_by_one_shift(pfn, order, pb):
    high = z3.LShR(pfn, order)
    idx, bit = z3.UDiv(high, bv(pb)), z3.URem(high, bv(pb))
    return (idx * bv(pb)) << (order + py.PAGE_SHIFT - 1), bit


def test_mutant_khoser_shift_is_refuted():
    r = khoser.roundtrip(py.PRESERVE_BITS_PAGE, enc=_khoser_off_by_one_shift)
    assert r.status is Status.REFUTED
    c = r.counterexample
    assert c["decoded_pfn"] != c["pfn"]


def test_mutant_split_without_alignment_term_is_refuted():
    es = split.ERA_SPLITS[2]
    mutant = split.EraSplit(es.eras, split.v5_order, split.v5_size, es.restores, es.restore_walk,
                            es.api, es.preserve_bits)
    assert split.exact_cover(mutant).status is Status.REFUTED
    assert split.step_formula(mutant).status is Status.PROVED   # the formula itself is consistent


def test_mutant_radix_order_bit_off_by_one_is_refuted(monkeypatch):
    real = radix.encode_key

    def shifted(phys, order, g=py.RADIX_4K):
        return real(phys, order + 1, g)
    monkeypatch.setattr(radix, "encode_key", shifted)
    assert radix.roundtrip().status is Status.REFUTED
