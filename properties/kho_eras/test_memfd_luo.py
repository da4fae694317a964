"""memfd preservation through LUO (mm/memfd_luo.c@02e117b8ca58): the ``memfd-luo`` scenario
with the LUO-era promises, pinned.

On every LUO era it runs as the kernel does it (model/kho/k6_19/memfd_luo.py as a luo_file
handler: a userspace agent's PRESERVE_FD calls .preserve, liveupdate_reboot's
luo_session_serialize calls .freeze; the next kernel reads the LUO subtree's session array); 7.1
and mainline-2026-04 link the same handler with their deltas (the module-load stand-in of
model/drivers/memfd_luo.py is no longer used by any era).

No VIOLATED verdict at the default bounds: the memfd is preserved before userspace loads and
reboots, 6.19's liveupdate_reboot finalizes after it, and 7.1 hands its radix tree over live;
memfd_luo_retrieve restores both folios at their index with their contents.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build

H = Verdict.HOLDS

BUILTIN = {"assertions": H, "deadlock-free": H, "terminates": H}
PROMISES = {"conversion-race-free": H, "no-preserved-page-lost": H, "memory-safety": H}

PINNED = {
    "k6.19": (186, {**BUILTIN, **PROMISES, "kexec-reached": H, "finalize-succeeded": H,
                    "next-kernel-revived": H, "luo-preserved-restorable": H,
                    "luo-nothing-unpreserved-handed-over": H, "luo-file-restored": H}),
    "k7.1": (175, {**BUILTIN, **PROMISES, "kexec-reached": H, "next-kernel-revived": H,
                   "luo-preserved-restorable": H, "luo-nothing-unpreserved-handed-over": H,
                   "luo-file-restored": H}),
    "mainline-2026-04": (178, {**BUILTIN, **PROMISES, "kexec-reached": H,
                               "next-kernel-revived": H, "luo-preserved-restorable": H,
                               "luo-nothing-unpreserved-handed-over": H,
                               "luo-file-restored": H}),
}


@pytest.mark.parametrize("spec", sorted(PINNED))
def test_memfd_luo_verdicts_and_state_count(spec):
    distinct, expected = PINNED[spec]
    r = check(build(spec, "memfd-luo"))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


def test_memfd_record_round_trips():
    from khomc.drivers.memfd_luo import record
    from khomc.kho.fdt import prop, unflatten
    tree = unflatten(record(0, 8192, ((3, 0), (4, 1)))).tree
    assert int.from_bytes(prop(tree, "nr_folios"), "little") == 2
