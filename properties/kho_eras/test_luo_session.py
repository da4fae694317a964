"""LUO sessions, files and memfd through luo_file (model/kho/k6_19/luo_session.py, luo_file.py,
memfd_luo.py; 7.1 and mainline-2026-04 link the same files with their deltas), scenario
``luo-session-race`` of model/scenarios/luo.py on the three LUO eras, pinned.

VIOLATED pins, explained in the scenario's docstring: with the userspace agent racing the
reboot (race=True), luo-preserved-restorable (a PRESERVE_FD that returned 0 after serialize
walked the sessions is not handed over) and luo-nothing-unpreserved-handed-over (a session closed
after - or while - serialize walked it is still handed over) fail: kernel races of
luo_session.c as written for 6.19 and unchanged through mainline-2026-04 (PRESERVE_FD and release
take only session->mutex; "liveupdate: block session mutations during reboot", posted in May 2026
after every era here, closes them with luo_session_serialize_rwsem).  7.1 and mainline-2026-04
keep both races: the radix tree makes no difference to what LUO's session array records.  With close=False only the first can fail.  In the
sequential use (race=False) both hold, which shows neither is violated by construction.

With one allocation failure (fail_allocs=1, race=False): deadlock-free fails when kho_init's own
allocation fails (every task waits for kho_init forever - the shared kho_wait_ready of the 6.19
model, as in the era's other scenarios at fail_allocs=1); no-preserved-page-lost fails when
luo_fdt_setup's allocation fails: luo_late_startup clears luo_global.enabled, so
liveupdate_reboot returns 0 without kho_finalize and kexec hands over no memory map although
kho_init preserved its root FDT page - 6.19's design (the reboot finalizes KHO only through
LUO; only a debugfs finalize would), not a misuse by the agent (which finds no LUO and stops).
On 7.1 and mainline-2026-04 only the deadlock remains: the radix tree is live from kho_init on,
so a disabled LUO no longer leaves the preserved pages unreserved.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build

H, V = Verdict.HOLDS, Verdict.VIOLATED

BASE = {"assertions": H, "deadlock-free": H, "terminates": H, "conversion-race-free": H,
        "no-preserved-page-lost": H, "memory-safety": H, "kexec-reached": H,
        "finalize-succeeded": H, "next-kernel-revived": H, "luo-file-restored": H}

PINNED = {
    (("race", True), ("close", True)):
        (3759, {**BASE, "luo-preserved-restorable": V, "luo-nothing-unpreserved-handed-over": V}),
    (("race", True), ("close", False)):
        (1472, {**BASE, "luo-preserved-restorable": V, "luo-nothing-unpreserved-handed-over": H}),
    (("race", False), ("close", True)):
        (279, {**BASE, "luo-preserved-restorable": H, "luo-nothing-unpreserved-handed-over": H}),
    (("race", False), ("close", True), ("nr_folios", 2)):
        (300, {**BASE, "luo-preserved-restorable": H, "luo-nothing-unpreserved-handed-over": H}),
    (("race", False), ("close", True), ("fail_allocs", 1)):
        (893, {**BASE, "deadlock-free": V, "no-preserved-page-lost": V,
               "luo-preserved-restorable": H, "luo-nothing-unpreserved-handed-over": H}),
}


@pytest.mark.parametrize("params", sorted(PINNED), ids=lambda p: ",".join(f"{k}={v}" for k, v in p))
def test_luo_session_race_pins(params):
    distinct, expected = PINNED[params]
    r = check(build("k6.19", "luo-session-race", dict(params)))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


STATELESS = {k: v for k, v in BASE.items() if k != "finalize-succeeded"}
LATER = {
    # (spec, params): (distinct states, verdicts)
    ("k7.1", ()): (2313, {**STATELESS, "luo-preserved-restorable": V,
                          "luo-nothing-unpreserved-handed-over": V}),
    ("k7.1", (("close", False),)): (857, {**STATELESS, "luo-preserved-restorable": V,
                                          "luo-nothing-unpreserved-handed-over": H}),
    ("k7.1", (("race", False),)): (258, {**STATELESS, "luo-preserved-restorable": H,
                                         "luo-nothing-unpreserved-handed-over": H}),
    ("k7.1", (("fail_allocs", 1), ("race", False))):
        (810, {**STATELESS, "deadlock-free": V, "luo-preserved-restorable": H,
               "luo-nothing-unpreserved-handed-over": H}),
    ("mainline-2026-04", ()): (2391, {**STATELESS, "luo-preserved-restorable": V,
                                      "luo-nothing-unpreserved-handed-over": V}),
    ("mainline-2026-04", (("close", False),)): (882, {**STATELESS, "luo-preserved-restorable": V,
                                                      "luo-nothing-unpreserved-handed-over": H}),
    ("mainline-2026-04", (("race", False),)): (264, {**STATELESS, "luo-preserved-restorable": H,
                                                     "luo-nothing-unpreserved-handed-over": H}),
    ("mainline-2026-04", (("fail_allocs", 1), ("race", False))):
        (825, {**STATELESS, "deadlock-free": V, "luo-preserved-restorable": H,
               "luo-nothing-unpreserved-handed-over": H}),
}


@pytest.mark.parametrize("spec,params", sorted(LATER),
                         ids=lambda x: x if isinstance(x, str) else ",".join(f"{k}={v}" for k, v in x))
def test_luo_session_race_later_eras(spec, params):
    distinct, expected = LATER[(spec, params)]
    r = check(build(spec, "luo-session-race", dict(params)))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


def test_serialized_sessions_round_trip():
    """The session array and the file array as luo_session_serialize / luo_file_freeze write
    them read back as the next kernel's deserialize reads them."""
    from khomc.kernel.alloc import Obj
    from khomc.kho.k6_19 import ERA
    k = ERA.namespace()
    luo_file_ser, luo_session_ser = k.luo_file_ser, k.luo_session_ser
    header = (1).to_bytes(8, "little") + luo_session_ser("s0") + (1).to_bytes(8, "little") + \
        (0x2000).to_bytes(8, "little")
    files = luo_file_ser("memfd-v1", 0x3000, 7)
    mk = lambda data: Obj("folio", 1, 4096, True, 0, "t", None, None, data)   # noqa: E731
    pages = (None, mk(header), mk(files), None)
    assert k.luo_session_deserialize_in(pages, 0x1000) == (("s0", (("memfd-v1", 7, 0x3000),)),)
