"""memfd preservation through LUO (mm/memfd_luo.c@02e117b8ca58): the ``memfd-luo`` scenario
with the LUO-era promises, pinned.

On every LUO era it runs as the kernel does it (model/kho/k6_19/memfd_luo.py as a luo_file
handler: a userspace agent's PRESERVE_FD calls .preserve - the folios and the vmalloc'd folios_ser
array through kho_preserve_vmalloc -, liveupdate_reboot's luo_session_serialize calls .freeze; the
next kernel's LUO retrieves the session and the file, memfd_luo_retrieve restores folios_ser with
kho_restore_vmalloc and every folio, FINISH or close gives a file never retrieved back through
memfd_luo_finish); 7.1 and mainline-2026-04 link the same handler with their deltas (the
module-load stand-in model/drivers/memfd_luo.py is gone).

No VIOLATED verdict at the default bounds: the memfd is preserved before userspace loads and
reboots, 6.19's liveupdate_reboot finalizes after it, and 7.1 hands its radix tree over live.
The mutants show the next-kernel promises able to fail on their own: memfd-index-unset (every
folio recorded at index 0) breaks luo-restore-returns-preserved only - the same pages come back,
at the wrong offsets; memfd-nr-folios-unset (ser->nr_folios left 0) breaks it, the older
luo-preserved-restorable and luo-finish-reclaims-unretrieved (an empty file; finish gives no folio
back).  With fail_allocs=1 deadlock-free fails (a failed kho_init leaves the waiters blocked), and
on 6.19 no-preserved-page-lost (a failed luo_fdt_setup disables LUO, the reboot never finalizes),
as in test_luo_session.py.

``chunk=1`` (a build whose ``struct kho_vmalloc_chunk`` holds one entry) makes the one-page
folios_ser fill its chunk, so kho_preserve_vmalloc allocates the next inside its loop; with
fail_allocs=1 that allocation may fail.  6.19 and 7.1 return -ENOMEM there and unwind, so the
LUO promises keep holding (only the fail_allocs=1 findings above remain); the mutant
vmalloc-chunk-err-unset puts back 6.18's ``goto err_free`` with ``err`` still 0
(kernel/kexec_handover.c@a4a508df2aa3, pinned as the kernel bug it is in 6.18's
vmalloc-chunk-full, test_k6_16_k6_18.py): PRESERVE_FD succeeds for a memfd whose folios_ser
was unpreserved and freed, and luo-preserved-restorable, luo-restore-returns-preserved and
luo-finish-reclaims-unretrieved fail.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build

H = Verdict.HOLDS

BUILTIN = {"assertions": H, "deadlock-free": H, "terminates": H}
PROMISES = {"conversion-race-free": H, "no-preserved-page-lost": H, "memory-safety": H,
            "handed-over-metadata-live": H}

V = Verdict.VIOLATED
LUO = {"luo-preserved-restorable": H, "luo-nothing-unpreserved-handed-over": H,
       "luo-file-restored": H, "luo-restore-returns-preserved": H,
       "luo-finish-reclaims-unretrieved": H}
K619 = {**BUILTIN, **PROMISES, **LUO, "kexec-reached": H, "finalize-succeeded": H,
        "next-kernel-revived": H}
LATER = {k: v for k, v in K619.items() if k != "finalize-succeeded"}

PINNED = {"k6.19": (219, K619), "k7.1": (208, LATER), "mainline-2026-04": (211, LATER)}

VARIANTS = [
    # (spec, parameters, distinct states, verdicts)
    ("k6.19", {"mutants": "memfd-index-unset"}, 219, {**K619, "luo-restore-returns-preserved": V}),
    ("k6.19", {"mutants": "memfd-nr-folios-unset"}, 219,
     {**K619, "luo-restore-returns-preserved": V, "luo-preserved-restorable": V,
      "luo-finish-reclaims-unretrieved": V}),
    ("k7.1", {"mutants": "memfd-index-unset"}, 208, {**LATER, "luo-restore-returns-preserved": V}),
    ("k6.19", {"fail_allocs": 1}, 773, {**K619, "deadlock-free": V, "no-preserved-page-lost": V}),
    ("k7.1", {"fail_allocs": 1}, 713, {**LATER, "deadlock-free": V}),
    ("mainline-2026-04", {"fail_allocs": 1}, 728, {**LATER, "deadlock-free": V}),
    ("k6.19", {"chunk": 1, "fail_allocs": 1}, 921,
     {**K619, "deadlock-free": V, "no-preserved-page-lost": V}),
    ("k6.19", {"chunk": 1, "fail_allocs": 1, "mutants": "vmalloc-chunk-err-unset"}, 884,
     {**K619, "deadlock-free": V, "no-preserved-page-lost": V, "luo-preserved-restorable": V,
      "luo-restore-returns-preserved": V, "luo-finish-reclaims-unretrieved": V}),
    ("k7.1", {"chunk": 1, "fail_allocs": 1}, 851, {**LATER, "deadlock-free": V}),
]


@pytest.mark.parametrize("spec", sorted(PINNED))
def test_memfd_luo_verdicts_and_state_count(spec):
    distinct, expected = PINNED[spec]
    r = check(build(spec, "memfd-luo"))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


@pytest.mark.parametrize("spec,params,distinct,expected", VARIANTS,
                         ids=[f"{v[0]}-{'-'.join(f'{k}={x}' for k, x in v[1].items())}"
                              for v in VARIANTS])
def test_memfd_luo_variant(spec, params, distinct, expected):
    r = check(build(spec, "memfd-luo", params))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


def test_memfd_record_round_trips():
    """struct memfd_luo_ser (packed: pos, size, nr_folios, struct kho_vmalloc) and
    memfd_luo_folio_ser (pfn:52, flags:12, index) as memfd_luo_preserve writes them."""
    from khomc.kho.k6_19 import ERA
    k = ERA.namespace()
    raw = k.memfd_luo_ser(7, 8192, 2, (0x3000, 1, 1, 0))
    assert len(raw) == k.SIZEOF_MEMFD_LUO_SER == 40
    assert k.memfd_luo_ser_unpack(raw) == (7, 8192, 2, (0x3000, 1, 1, 0))
    assert k.memfd_luo_folio_unser(k.memfd_luo_folio_ser(0x2a, 3, 5)) == (0x2a, 3, 5)


def test_kho_vmalloc_restores_what_was_preserved():
    """kho_restore_vmalloc walks a chunk (hdr.next, phys[]) and gives the pages back in order;
    a count that does not match total_pages, or a page without the KHO magic, is NULL."""
    from khomc.kernel.alloc import Obj
    from khomc.kho.k6_19 import ERA
    from khomc.kho.v5.kexec_handover_in import NextKernel
    k = ERA.namespace()
    chunk = (0).to_bytes(8, "little") + (0x2000).to_bytes(8, "little") + \
        (0x3000).to_bytes(8, "little")
    mk = lambda data: Obj("page", 1, 4096, True, 0, "t", None, None, data)   # noqa: E731
    pages = (None, mk(chunk), mk(b"a"), mk(b"b"))
    nk = NextKernel(True, "", None, frozenset({1, 2, 3}), frozenset(), ((1, 0), (2, 0), (3, 0)))
    assert k.kho_restore_vmalloc(nk, pages, (0x1000, 2, 1, 0), set()) == (0x2000, 0x3000)
    assert k.kho_restore_vmalloc(nk, pages, (0x1000, 3, 1, 0), set()) is None
    assert k.kho_restore_vmalloc(nk, pages, (0x1000, 1, 1, 0), set()) is None
    nk2 = nk._replace(order=((1, 0), (2, 0)))
    assert k.kho_restore_vmalloc(nk2, pages, (0x1000, 2, 1, 0), set()) is None
